// ctest-timeout: 180
/*
 * test_threads.c — many threads sharing one heap (DESIGN.md section 2,
 * invariant 1, with the world stopped by SIGPWR).
 *
 * Six workers of three kinds — started with mgc_pthread_create, started with
 * plain pthread_create and attached with mgc_thread_attach, started with
 * plain pthread_create and attached by their first allocation — build nodes
 * of all three kinds (conservative, noscan, typed; small and large),
 * publish them in a shared root array under a mutex, read and verify nodes
 * other threads made, rewrite pointer words in shared nodes (so that an
 * object may stay reachable only from the stack of a thread that just read
 * it), make garbage, and call mgc_collect and mgc_read_memstats
 * concurrently. Every node's non-pointer words are a function of its id and
 * are checked whenever a node is visited, and all of them at the end.
 *
 * MemStats: consistent in every read (mallocs >= frees, heap_objects ==
 * mallocs - frees, heap_alloc <= heap_inuse <= heap_sys, num_gc monotonic),
 * num_threads exact when the set of attached threads is known, and
 * mgc_collect waits for a cycle that started after the call (num_gc grows).
 *
 * Then mgc_pthread_create's argument: threads started with a freshly
 * allocated object as the only reference to it, while other threads force
 * collections; each new thread verifies its argument.
 *
 * Randomised: prints its seed; re-run with MGC_TEST_SEED=n.
 */
#include "testing.h"
#include "graph.h"
#include <mgc.h>
#include <pthread.h>
#include <stdatomic.h>

#define NOINLINE __attribute__((noinline))

static int g_asan;
static uint64_t g_seed;

/* ---- nodes and the walker: graph.h ----------------------------------------- */

/* ---- shared state ----------------------------------------------------------- */

#define NSHARED 512
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static void *g_shared[NSHARED]; /* g_mu; a global: the collector's root */
static _Atomic int g_stop;
static _Atomic int g_attached;  /* workers attached and not yet finished */
static _Atomic uint64_t g_collects, g_reads, g_made, g_verified;

static void *shared_get(size_t i)
{
    t_mutex_lock(&g_mu);
    void *p = __atomic_load_n(&g_shared[i], __ATOMIC_RELAXED);
    pthread_mutex_unlock(&g_mu);
    return p;
}

static void shared_set(size_t i, void *p)
{
    t_mutex_lock(&g_mu);
    __atomic_store_n(&g_shared[i], p, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&g_mu);
}

static void check_stats(const mgc_memstats *ms, uint32_t *last_gc)
{
    CHECK_MSG(ms->mallocs >= ms->frees, "mallocs %llu < frees %llu", (unsigned long long)ms->mallocs,
              (unsigned long long)ms->frees);
    CHECK_EQ(ms->heap_objects, ms->mallocs - ms->frees);
    CHECK_MSG(ms->heap_alloc <= ms->heap_inuse, "heap_alloc %llu > heap_inuse %llu",
              (unsigned long long)ms->heap_alloc, (unsigned long long)ms->heap_inuse);
    CHECK(ms->heap_inuse <= ms->heap_sys);
    CHECK_EQ(ms->heap_idle, ms->heap_sys - ms->heap_inuse);
    CHECK(ms->total_alloc >= ms->heap_alloc);
    CHECK(ms->sys >= ms->heap_sys);
    CHECK(ms->num_threads >= 1);
    CHECK_MSG(ms->num_gc >= *last_gc, "num_gc went back from %u to %u", *last_gc, ms->num_gc);
    *last_gc = ms->num_gc;
}

typedef struct worker_arg {
    int idx;
    int how; /* 0 mgc_pthread_create, 1 attach, 2 first allocation */
} worker_arg;

static NOINLINE void make_and_publish(rng *r)
{
    uint64_t q = r_below(r, 1000);
    int kind;
    size_t nwords;
    unsigned nptr = 0;
    if (q < 400) {
        kind = K_SCAN;
        nwords = q < 390 ? 3 + r_below(r, 60) : 4100 + r_below(r, 20000);
        nptr = (unsigned)r_below(r, 4);
    } else if (q < 650) {
        kind = K_NOSCAN;
        nwords = q < 645 ? 2 + r_below(r, 100) : 4100 + r_below(r, 20000);
    } else {
        kind = K_TYPED;
        nwords = 8 * (q < 900 ? 1 + r_below(r, 7) : q < 995 ? 8 + r_below(r, 400) : 600 + r_below(r, 3000));
    }
    uint64_t *p = node_new(kind, nwords, nptr);
    /* Children: references read from the shared roots (about 0.7 per node,
       so what is reachable stays bounded). */
    for (size_t w = 2; w < nwords; w++) {
        if (!is_ptr(kind, nptr, w))
            continue;
        if (r_below(r, 10) < (kind == K_TYPED ? (nwords > 16 ? 0 : 3) : 3)) {
            void *c = shared_get(r_below(r, NSHARED));
            __atomic_store_n(&p[w], (uint64_t)(uintptr_t)c, __ATOMIC_RELAXED);
        }
    }
    if (kind == K_TYPED && nwords > 16 && r_below(r, 2)) {
        size_t e = r_below(r, nwords / 8);
        __atomic_store_n(&p[e * 8 + 5], (uint64_t)(uintptr_t)shared_get(r_below(r, NSHARED)), __ATOMIC_RELAXED);
    }
    /* Sometimes publish an interior pointer. */
    void *ref = r_below(r, 4) ? (void *)p : (void *)((char *)p + r_below(r, nwords * 8));
    shared_set(r_below(r, NSHARED), ref);
    atomic_fetch_add(&g_made, 1);
}

static NOINLINE void garbage(rng *r)
{
    uint64_t q = r_below(r, 1000);
    size_t n = q < 990 ? 1 + r_below(r, 1500) : 33000 + r_below(r, q == 999 ? 1500000 : 100000);
    if (q & 1) {
        uint64_t *p = mgc_alloc(n);
        CHECK(p);
        t_check_zero(p, n, "fresh object");
        for (size_t w = 0; w < n / 8 && w < 16; w++)
            p[w] = (uint64_t)(uintptr_t)__atomic_load_n(&g_shared[r_below(r, NSHARED)], __ATOMIC_RELAXED);
    } else {
        unsigned char *p = mgc_alloc_noscan(n);
        CHECK(p);
        CHECK_MSG((uintptr_t)p % (n < 16 ? 8 : 16) == 0, "noscan %zu bytes at %p misaligned", n, (void *)p);
        t_check_zero(p, n, "fresh object");
        memset(p, 0xCD, n);
    }
}

static void *worker(void *argp)
{
    worker_arg *a = argp;
    if (a->how == 1)
        CHECK_EQ(mgc_thread_attach(), 0);
    rng r = {g_seed * 0x9E3779B97F4A7C15ull + (uint64_t)a->idx * 7919 + 1};
    /* First allocation attaches the third kind of thread (before
       walker_init, whose stack is itself an mgc allocation). */
    make_and_publish(&r);
    walker w;
    walker_init(&w, 1 << 12);
    atomic_fetch_add(&g_attached, 1);
    uint32_t last_gc = 0;
    double t_next_collect = t_now() + 0.01 + r_below(&r, 40) / 1000.0;
    while (!atomic_load(&g_stop)) {
        uint64_t q = r_below(&r, 100);
        if (q < 30) {
            make_and_publish(&r);
        } else if (q < 45) {
            /* Read another thread's node and verify it, holding the only
               reference on this stack while others may drop theirs. */
            void *v = shared_get(r_below(&r, NSHARED));
            if (v) {
                if (r_below(&r, 50) == 0)
                    shared_set(r_below(&r, NSHARED), NULL);
                walker_reset(&w);
                walk(&w, (uintptr_t)v, 200);
                atomic_fetch_add(&g_verified, w.count);
            }
        } else if (q < 50) {
            /* Rewrite a pointer word of a shared node. */
            void *v = shared_get(r_below(&r, NSHARED));
            uint64_t *b = v ? mgc_base(v) : NULL;
            int kind;
            unsigned nptr;
            uint64_t id;
            size_t nwords;
            if (b && node_header(b, &kind, &nptr, &id, &nwords)) {
                size_t k = 2 + r_below(&r, nwords - 2);
                if (is_ptr(kind, nptr, k))
                    __atomic_store_n(&b[k], r_below(&r, 2) ? 0 : (uint64_t)(uintptr_t)shared_get(r_below(&r, NSHARED)),
                                     __ATOMIC_RELEASE); /* walkers load it with acquire (graph.h) */
            }
        } else {
            garbage(&r);
        }
        if (t_now() >= t_next_collect) {
            t_next_collect = t_now() + 0.02 + r_below(&r, 60) / 1000.0;
            if (r_below(&r, 4) == 0) {
                mgc_memstats ms;
                mgc_read_memstats(&ms);
                check_stats(&ms, &last_gc);
                mgc_collect();
                mgc_read_memstats(&ms);
                CHECK_MSG(ms.num_gc > last_gc, "mgc_collect returned but num_gc is still %u", ms.num_gc);
                check_stats(&ms, &last_gc);
                atomic_fetch_add(&g_reads, 2);
            } else {
                /* Hold a reference across our own collection. */
                void *v = shared_get(r_below(&r, NSHARED));
                mgc_collect();
                if (v) {
                    walker_reset(&w);
                    walk(&w, (uintptr_t)v, 50);
                    atomic_fetch_add(&g_verified, w.count);
                }
            }
            atomic_fetch_add(&g_collects, 1);
        }
    }
    walker_free(&w);
    atomic_fetch_sub(&g_attached, 1);
    return NULL;
}

static void verify_all(walker *w, uint64_t *count)
{
    walker_reset(w);
    for (size_t i = 0; i < NSHARED; i++)
        walk(w, (uintptr_t)g_shared[i], 0);
    *count = w->count;
}

static void run_workers(double seconds)
{
    enum { NW = 6 };
    pthread_t th[NW];
    worker_arg args[NW];
    for (int i = 0; i < NW; i++) {
        args[i].idx = i;
        args[i].how = i % 3;
        if (args[i].how == 0)
            CHECK_EQ(mgc_pthread_create(&th[i], NULL, worker, &args[i]), 0);
        else
            CHECK_EQ(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    while (atomic_load(&g_attached) < NW)
        sched_yield();
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    CHECK_MSG(ms.num_threads == NW + 1, "num_threads %llu with %d workers and main attached",
              (unsigned long long)ms.num_threads, NW);
    double t0 = t_now();
    uint32_t last_gc = 0;
    while (t_now() - t0 < seconds) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        mgc_read_memstats(&ms);
        check_stats(&ms, &last_gc);
        CHECK_EQ(ms.num_threads, NW + 1);
    }
    atomic_store(&g_stop, 1);
    for (int i = 0; i < NW; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    mgc_read_memstats(&ms);
    CHECK_MSG(ms.num_threads == 1, "num_threads %llu after every worker exited", (unsigned long long)ms.num_threads);

    walker w;
    walker_init(&w, 1 << 20); /* the unbounded walk: room for everything reachable */
    uint64_t before, after;
    verify_all(&w, &before);
    mgc_collect();
    verify_all(&w, &after);
    mgc_read_memstats(&ms);
    check_stats(&ms, &last_gc);
    fprintf(stderr,
            "workers: %.1fs, %llu nodes made, %llu node checks, %llu collections and %llu memstats reads by "
            "workers; %u cycles; %llu node visits reachable at the end (%llu after a collection)\n",
            t_now() - t0, (unsigned long long)g_made, (unsigned long long)g_verified,
            (unsigned long long)g_collects, (unsigned long long)g_reads, ms.num_gc, (unsigned long long)before,
            (unsigned long long)after);
    CHECK_EQ(before, after);
    CHECK_MSG(g_collects >= 10, "only %llu concurrent collections", (unsigned long long)g_collects);
    walker_free(&w);
}

/* ---- mgc_pthread_create keeps its argument alive -------------------------- */

static _Atomic int g_bg_stop;

static void *bg_collector(void *arg)
{
    /* As many stops as possible: collect, with a little garbage. */
    rng r = {g_seed + 77 + (uintptr_t)arg};
    while (!atomic_load(&g_bg_stop)) {
        mgc_collect();
        for (int i = 0; i < 20; i++)
            CHECK(mgc_alloc(16 + r_below(&r, 800)) != NULL);
    }
    return NULL;
}

#define ARG_CHAIN 64
static _Atomic int g_arg_ok, g_arg_window_gc;
/* Cycles completed when the thread whose argument has node id i was
   created, at [i % 4096] (at most 8 threads run at a time). */
static _Atomic uint32_t g_gc_at_create[4096];

static void *arg_checker(void *arg)
{
    /* The argument is a chain of ARG_CHAIN conservative nodes. */
    uint64_t *head = arg;
    CHECK_MSG(mgc_base(head) == head && (head[0] >> 48) == MAGIC,
              "mgc_pthread_create: the new thread's argument %p was reclaimed before the thread started", arg);
    uint64_t id = (head[1] >> 32) & 0x7FFFFFFF;
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    if (ms.num_gc > atomic_load(&g_gc_at_create[id % 4096]))
        atomic_fetch_add(&g_arg_window_gc, 1);
    walker w;
    walker_init(&w, 1 << 12);
    mgc_collect();
    walk(&w, (uintptr_t)arg, 0);
    CHECK_MSG(w.count == ARG_CHAIN, "thread argument: %llu of %d nodes reachable", (unsigned long long)w.count,
              ARG_CHAIN);
    walker_free(&w);
    atomic_fetch_add(&g_arg_ok, 1);
    return NULL;
}

/* The argument travels through a global (a root) until the moment of the
   call: take_handoff() clears it and returns it straight into
   mgc_pthread_create's argument register, so no callee-saved register or
   stack slot of the caller keeps a copy that would hide a bug. */
static void *volatile g_handoff;

static NOINLINE void build_arg(rng *r, uint32_t num_gc)
{
    uint64_t *head = NULL;
    for (int i = 0; i < ARG_CHAIN; i++) {
        uint64_t *n = node_new(K_SCAN, 4 + r_below(r, 30), 1);
        n[2] = (uint64_t)(uintptr_t)head;
        head = n;
    }
    atomic_store(&g_gc_at_create[((head[1] >> 32) & 0x7FFFFFFF) % 4096], num_gc);
    g_handoff = head;
}

static NOINLINE void *take_handoff(void)
{
    void *p = g_handoff;
    g_handoff = NULL;
    return p;
}

static NOINLINE void start_one(pthread_t *t)
{
    int err = mgc_pthread_create(t, NULL, arg_checker, take_handoff());
    CHECK_EQ(err, 0);
}

static void test_pthread_create_arg(void)
{
    enum { NBG = 2 };
    int n = g_asan ? 300 : 1000;
    pthread_t bg[NBG];
    for (int i = 0; i < NBG; i++)
        CHECK_EQ(mgc_pthread_create(&bg[i], NULL, bg_collector, (void *)(uintptr_t)i), 0);
    rng r = {g_seed ^ 0xABCDEF};
    pthread_t *t = malloc(sizeof *t * (size_t)n);
    CHECK(t);
    int sampled = 0;
    for (int i = 0; i < n; i++) {
        /* Every 8th thread: count whether a cycle completed between its
           creation and its start (the window this checks). */
        uint32_t gc = UINT32_MAX;
        if (i % 8 == 0) {
            mgc_memstats ms;
            mgc_read_memstats(&ms);
            gc = ms.num_gc;
            sampled++;
        }
        build_arg(&r, gc);
        t_scrub_stack();
        start_one(&t[i]);
        if (i % 8 == 7)
            for (int k = i - 7; k <= i; k++)
                CHECK_EQ(pthread_join(t[k], NULL), 0);
    }
    for (int k = n - n % 8; k < n; k++)
        CHECK_EQ(pthread_join(t[k], NULL), 0);
    atomic_store(&g_bg_stop, 1);
    for (int i = 0; i < NBG; i++)
        CHECK_EQ(pthread_join(bg[i], NULL), 0);
    free(t);
    fprintf(stderr, "mgc_pthread_create: %d threads verified their argument; %d of %d sampled saw a cycle complete "
            "between creation and start\n", atomic_load(&g_arg_ok), atomic_load(&g_arg_window_gc), sampled);
    CHECK_EQ(atomic_load(&g_arg_ok), n);
}

int main(void)
{
    g_asan = getenv("MGC_TEST_SANITIZE") != NULL;
    g_seed = t_seed();
    CHECK_EQ(mgc_init(), 0);
    run_workers(3.0);
    test_pthread_create_arg();
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    uint32_t last = 0;
    check_stats(&ms, &last);
    CHECK_EQ(ms.num_threads, 1);
    fprintf(stderr, "ok: %u cycles, %llu mallocs, %llu frees\n", ms.num_gc, (unsigned long long)ms.mallocs,
            (unsigned long long)ms.frees);
    return 0;
}
