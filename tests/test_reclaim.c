// ctest-timeout: 300
/*
 * test_reclaim.c — the heap stays bounded when almost everything allocated
 * dies (DESIGN.md section 2, invariant 4, and the GOGC pacer).
 *
 * 20 GiB are allocated in total (6 GiB under the sanitizers, where
 * MGC_TEST_SANITIZE=1), in mixed small sizes of all three kinds plus large
 * objects (32 KiB - 2 MiB), while at most LIVE_MAX (10 MiB) stays reachable:
 * each allocation replaces a random slot of a live window. Two threads do
 * it, each with its own window. Every 128 MiB MemStats are read and
 * heap_sys, the heap goal and the bytes in use must stay under the bounds
 * below; at the end, after the windows are dropped and two collections,
 * frees must have caught up with mallocs.
 *
 * The bound. With GOGC=100 the heap goal is
 *     goal = M + (M + S + G),  at least 4 MiB,
 * M = bytes marked (<= 10 MiB live as asked, ~11.5 MiB in slots and
 * pages, plus what conservative scanning keeps by accident), S + G = stack
 * and global bytes the last cycle scanned (MemStats gc_scan_stack_bytes and
 * gc_scan_global_bytes: under 1 MiB in the release build; under ASan the
 * sanitizer runtime's own data adds ~11 MiB of globals). So
 * goal <= ~27 MiB + S + G (27 seen): GOAL_MAX = 36 MiB + S + G leaves
 * room for conservative retention (M up to 18 MiB). The heap mapped from the OS (heap_sys) holds that
 * goal plus: size-class rounding (<= 12.5% per class), partly filled spans
 * and spans sitting in the two threads' caches (one per span class in
 * use), page fragmentation around large objects, dead objects in spans not
 * yet swept when the next allocation needs room, and the 4 MiB granule in
 * which the heap grows. Those stay well under the goal again:
 * HEAP_SYS_MAX = 64 MiB + S + G (64 MiB in the release build; ~40 MiB
 * seen). A heap
 * that does not reclaim (or a pacer that lets it grow) passes it within the
 * first few hundred MiB of the 20 GiB.
 */
#include "testing.h"
#include <mgc.h>
#include <pthread.h>
#include <stdatomic.h>

#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)
#define LIVE_MAX (10 * MiB)  /* both windows together */
#define GOAL_MAX (36 * MiB)     /* + S + G, see above */
#define HEAP_SYS_MAX (64 * MiB) /* + S + G, see above */
#define NTHREADS 2

static const uint8_t tmask[] = {0x05}; /* words 0 and 2 */
static const mgc_type T24 = {24, 24, tmask, "reclaim-t24"};

/* A window of live objects: slot i holds an object of size[i] bytes whose
   first word is its tag. Malloc'd bookkeeping plus a registered root
   range for the pointers. */
typedef struct window {
    void **obj;       /* registered with mgc_add_roots */
    size_t *size;
    size_t n;
    uint64_t bytes;   /* sizes asked, live now */
    uint64_t cap;     /* bytes allowed */
} window;

static uint64_t g_total;      /* bytes to allocate per thread */
static uint64_t g_seed;
static _Atomic uint64_t g_allocated, g_objects;
static _Atomic uint64_t g_max_heap_sys, g_max_goal, g_max_inuse, g_checks;

static size_t pick_size(rng *r)
{
    uint64_t q = r_below(r, 10000);
    if (q < 3000)
        return 2 + r_below(r, 14);   /* tiny (when noscan); 2+ so the two tag bytes differ */
    if (q < 8000)
        return 16 + r_below(r, 500);
    if (q < 9800)
        return 512 + r_below(r, 7680);
    if (q < 9990)
        return 8192 + r_below(r, 24577); /* up to 32 KiB */
    if (q < 9998)
        return 32769 + r_below(r, 300000);
    return 1000000 + r_below(r, 1100000); /* 1-2 MiB */
}

static void *alloc_kind(rng *r, size_t size, int *kind)
{
    uint64_t q = r_below(r, 10);
    void *p;
    if (q < 5) {
        *kind = 1;
        p = mgc_alloc_noscan(size);
    } else if (q < 8 || size < 24) {
        *kind = 0;
        p = mgc_alloc(size);
    } else {
        *kind = 2;
        p = mgc_alloc_array(&T24, (size + 23) / 24);
    }
    CHECK_MSG(p != NULL, "allocation of %zu bytes failed", size);
    return p;
}

static void check_stats(void)
{
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    uint64_t sg = ms.gc_scan_stack_bytes + ms.gc_scan_global_bytes;
    CHECK_MSG(sg < 64 * MiB, "the last cycle scanned %llu MiB of stacks and globals",
              (unsigned long long)(sg / MiB));
    CHECK_MSG(ms.heap_sys <= HEAP_SYS_MAX + sg,
              "heap_sys %llu MiB > %llu MiB after %llu MiB allocated with <= %llu MiB live (next_gc %llu MiB, "
              "heap_inuse %llu MiB, %u cycles)",
              (unsigned long long)(ms.heap_sys / MiB), (unsigned long long)((HEAP_SYS_MAX + sg) / MiB),
              (unsigned long long)(atomic_load(&g_allocated) / MiB), (unsigned long long)(LIVE_MAX / MiB),
              (unsigned long long)(ms.next_gc / MiB), (unsigned long long)(ms.heap_inuse / MiB), ms.num_gc);
    CHECK_MSG(ms.next_gc <= GOAL_MAX + sg, "heap goal %llu MiB > %llu MiB with <= %llu MiB live",
              (unsigned long long)(ms.next_gc / MiB), (unsigned long long)((GOAL_MAX + sg) / MiB),
              (unsigned long long)(LIVE_MAX / MiB));
    CHECK(ms.mallocs >= ms.frees);
    uint64_t v;
    while ((v = atomic_load(&g_max_heap_sys)) < ms.heap_sys && !atomic_compare_exchange_weak(&g_max_heap_sys, &v, ms.heap_sys))
        ;
    while ((v = atomic_load(&g_max_goal)) < ms.next_gc && !atomic_compare_exchange_weak(&g_max_goal, &v, ms.next_gc))
        ;
    while ((v = atomic_load(&g_max_inuse)) < ms.heap_inuse && !atomic_compare_exchange_weak(&g_max_inuse, &v, ms.heap_inuse))
        ;
    atomic_fetch_add(&g_checks, 1);
}

static void *run(void *arg)
{
    int idx = (int)(uintptr_t)arg;
    rng r = {g_seed * 0x9E3779B97F4A7C15ull + (uint64_t)idx + 1};
    window w;
    w.n = 4096;
    w.obj = calloc(w.n, sizeof *w.obj);
    w.size = calloc(w.n, sizeof *w.size);
    CHECK(w.obj && w.size);
    w.bytes = 0;
    w.cap = LIVE_MAX / NTHREADS;
    mgc_add_roots(w.obj, w.obj + w.n);
    uint64_t done = 0, next_check = 128 * MiB, nobj = 0;
    while (done < g_total) {
        size_t size = pick_size(&r);
        int kind;
        unsigned char *p = alloc_kind(&r, size, &kind);
        p[0] = (unsigned char)idx;
        p[size - 1] = 0x5A;
        done += size;
        nobj++;
        /* Keep one object in 8 (large ones: one in 4) if it fits the
           window's budget, replacing a random slot. */
        if (r_below(&r, size > 32768 ? 4 : 8) == 0) {
            size_t i = r_below(&r, w.n);
            if (w.bytes - w.size[i] + size <= w.cap) {
                if (w.obj[i])
                    CHECK_MSG(((unsigned char *)w.obj[i])[0] == (unsigned char)idx &&
                                  ((unsigned char *)w.obj[i])[w.size[i] - 1] == 0x5A,
                              "live object of %zu bytes corrupted", w.size[i]);
                w.bytes = w.bytes - w.size[i] + size;
                w.obj[i] = p;
                w.size[i] = size;
            }
        }
        if (done >= next_check) {
            atomic_fetch_add(&g_allocated, 128 * MiB);
            next_check += 128 * MiB;
            check_stats();
        }
    }
    atomic_fetch_add(&g_objects, nobj);
    /* Everything in the window is intact, then dropped. */
    for (size_t i = 0; i < w.n; i++)
        if (w.obj[i])
            CHECK(((unsigned char *)w.obj[i])[0] == (unsigned char)idx &&
                  ((unsigned char *)w.obj[i])[w.size[i] - 1] == 0x5A);
    mgc_remove_roots(w.obj, w.obj + w.n);
    free(w.obj);
    free(w.size);
    return NULL;
}

int main(void)
{
    int asan = getenv("MGC_TEST_SANITIZE") != NULL;
    g_seed = t_seed();
    /* The bounds and the natural-cycle checks assume Go's defaults. */
    unsetenv("GOGC");
    unsetenv("GOMEMLIMIT");
    CHECK_EQ(mgc_init(), 0);
    uint64_t total = asan ? 6 * GiB : 20 * GiB;
    g_total = total / NTHREADS;
    double t0 = t_now();
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        CHECK_EQ(mgc_pthread_create(&th[i], NULL, run, (void *)(uintptr_t)i), 0);
    for (int i = 0; i < NTHREADS; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    double t1 = t_now();

    mgc_memstats a, b;
    mgc_read_memstats(&a);
    mgc_collect();
    mgc_collect();
    mgc_read_memstats(&b);
    fprintf(stderr,
            "%llu GiB in %llu objects in %.1fs: %u cycles; max heap_sys %llu MiB (bound 64 MiB + S + G = %llu MiB), "
            "max heap goal %llu MiB, max heap_inuse %llu MiB over %llu reads; at the end mallocs %llu, frees %llu, "
            "heap_objects %llu, heap_alloc %llu KiB\n",
            (unsigned long long)(total / GiB), (unsigned long long)g_objects, t1 - t0, a.num_gc,
            (unsigned long long)(g_max_heap_sys / MiB),
            (unsigned long long)((HEAP_SYS_MAX + a.gc_scan_stack_bytes + a.gc_scan_global_bytes) / MiB),
            (unsigned long long)(g_max_goal / MiB), (unsigned long long)(g_max_inuse / MiB),
            (unsigned long long)g_checks, (unsigned long long)b.mallocs, (unsigned long long)b.frees,
            (unsigned long long)b.heap_objects, (unsigned long long)(b.heap_alloc >> 10));
    CHECK(g_checks >= total / (128 * MiB) - NTHREADS);
    CHECK_MSG(b.heap_sys <= HEAP_SYS_MAX + b.gc_scan_stack_bytes + b.gc_scan_global_bytes, "heap_sys %llu MiB at the end",
              (unsigned long long)(b.heap_sys / MiB));
    /* Cycles really ran: 20 GiB through a heap of <= 64 MiB needs hundreds. */
    CHECK_MSG(a.num_gc >= total / HEAP_SYS_MAX, "only %u cycles for %llu GiB", a.num_gc,
              (unsigned long long)(total / GiB));
    /* Frees caught up: every object but a handful (conservative stragglers)
       is freed once nothing refers to it. */
    CHECK_MSG(b.mallocs >= g_objects, "MemStats counts %llu mallocs, the test made %llu",
              (unsigned long long)b.mallocs, (unsigned long long)g_objects);
    CHECK_MSG(b.heap_objects <= 64, "%llu objects still allocated after everything was dropped and two cycles",
              (unsigned long long)b.heap_objects);
    CHECK_MSG(b.heap_alloc <= 4 * MiB, "heap_alloc %llu KiB after everything was dropped and two cycles",
              (unsigned long long)(b.heap_alloc >> 10));
    CHECK_EQ(b.heap_objects, b.mallocs - b.frees);
    return 0;
}
