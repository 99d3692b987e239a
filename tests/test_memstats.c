/* MemStats: exact object and byte counts (the caches are counted with the
   world stopped), per-class counts, frees after collection, the pause
   ring, and the identities between fields. */
#include "testing.h"
#include <mgc.h>

#define N 10000

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Far below the caller's frame, gone before the collection that must find
   the objects unreachable: a stale copy of an address left in a dead
   frame is below where the collector's own frames reach, so its scan of
   this thread's stack (from its own frames up) cannot see it. In a frame
   of its own only, a copy 0x90 bytes below main survived the scrub under
   ASan (in the scrubber's frame header) and the collector's frame over
   it kept the last object (9999 of 10000 freed). */
static __attribute__((noinline)) void fill_40_here(void **arr, int n)
{
    for (int i = 0; i < n; i++)
        arr[i] = mgc_alloc(40);
}

static __attribute__((noinline)) void fill_40(void **arr, int n)
{
    volatile char gap[256 * 1024];
    gap[0] = 0;
    fill_40_here(arr, n);
    __asm__ __volatile__("" ::"r"(gap) : "memory");
}

static void identities(const mgc_memstats *m)
{
    CHECK_EQ(m->alloc, m->heap_alloc);
    CHECK_EQ(m->heap_objects, m->mallocs - m->frees);
    CHECK_EQ(m->heap_idle, m->heap_sys - m->heap_inuse);
    CHECK_EQ(m->sys, m->heap_sys + m->stack_sys + m->mspan_sys + m->mcache_sys + m->buck_hash_sys +
                         m->gc_sys + m->other_sys);
    CHECK(m->heap_inuse >= m->heap_alloc);
    CHECK(m->total_alloc >= m->heap_alloc);
    CHECK(m->mspan_sys >= m->mspan_inuse && m->mspan_inuse > 0);
    CHECK(m->mcache_sys >= m->mcache_inuse && m->mcache_inuse > 0);
    CHECK_EQ(m->enable_gc, 1);
    uint64_t by = 0;
    for (int c = 0; c < 61; c++)
        by += m->by_size[c].mallocs;
    CHECK(by <= m->mallocs);
}

int main(void)
{
    CHECK_EQ(mgc_init(), 0);
    mgc_memstats a, b, c;
    /* 80000 bytes: large. In a global, a root: a local the compiler no
       longer needs after the last loop was dropped, and counted freed. */
    static void **arr;
    arr = mgc_alloc(N * sizeof(void *));
    mgc_collect();
    mgc_read_memstats(&a);
    identities(&a);
    CHECK_EQ(a.by_size[5].size, 48);

    /* N objects of 40 bytes (the 48-byte class), kept alive. */
    fill_40(arr, N);
    mgc_read_memstats(&b);
    identities(&b);
    CHECK_EQ(b.mallocs - a.mallocs, N);
    CHECK_EQ(b.by_size[5].mallocs - a.by_size[5].mallocs, N);
    CHECK_EQ(b.total_alloc - a.total_alloc, N * 48);
    CHECK_EQ(b.heap_alloc - a.heap_alloc, N * 48);
    CHECK_EQ(b.heap_objects - a.heap_objects, N);
    CHECK_EQ(b.frees, a.frees);
    CHECK_EQ(b.num_gc, a.num_gc);

    /* Drop them; a collection frees exactly those (fill_40 made them far
       below this frame: no stale copy of an address is in reach). */
    for (int i = 0; i < N; i++)
        arr[i] = NULL;
    uint32_t forced0 = b.num_forced_gc;
    mgc_collect();
    mgc_read_memstats(&c);
    identities(&c);
    CHECK_EQ(c.num_gc, b.num_gc + 1);
    CHECK_EQ(c.num_forced_gc, forced0 + 1);
    CHECK_EQ(c.frees - b.frees, N);
    CHECK_EQ(c.by_size[5].frees - b.by_size[5].frees, N);
    CHECK_EQ(c.heap_alloc, a.heap_alloc);
    CHECK_EQ(c.heap_objects, a.heap_objects);

    /* Tiny objects count in both mallocs and frees. */
    for (int i = 0; i < 1000; i++)
        (void)!mgc_alloc_noscan(4);
    mgc_memstats d;
    mgc_read_memstats(&d);
    CHECK_EQ(d.mallocs - c.mallocs, 1000);
    CHECK(d.frees - c.frees >= 500); /* the sub-objects packed in shared blocks */

    /* Large objects (no automatic cycle may free spans in between). */
    int gogc = mgc_set_gc_percent(-1);
    void *big = mgc_alloc(5 << 20);
    mgc_memstats e;
    mgc_read_memstats(&e);
    CHECK_EQ(e.mallocs - d.mallocs, 1);
    CHECK_EQ(e.total_alloc - d.total_alloc, 5 << 20);
    CHECK(e.heap_inuse - d.heap_inuse >= (5 << 20));
    big = NULL;
    (void)big;
    mgc_set_gc_percent(gogc);

    /* The pause ring: latest at (num_gc + 255) % 256, ends in the recent
       past, total and max consistent. */
    /* The clock mgc reads: time() reads a coarse clock that can still show
       the last second a few milliseconds into the next one. */
    uint64_t before = wall_ns();
    for (int i = 0; i < 300; i++)
        mgc_collect();
    uint64_t after = wall_ns();
    mgc_memstats f;
    mgc_read_memstats(&f);
    CHECK(f.num_gc >= e.num_gc + 300);
    uint32_t latest = (f.num_gc + 255) % 256;
    CHECK(f.pause_ns[latest] > 0);
    CHECK_EQ(f.last_gc, f.pause_end[latest]);
    CHECK(f.last_gc >= before && f.last_gc <= after);
    uint64_t ring_total = 0, ring_max = 0;
    for (int i = 0; i < 256; i++) {
        CHECK(f.pause_ns[i] > 0);
        ring_total += f.pause_ns[i];
        if (f.pause_ns[i] > ring_max)
            ring_max = f.pause_ns[i];
        if (i != (int)latest)
            CHECK(f.pause_end[i] <= f.pause_end[latest]);
    }
    CHECK(f.pause_total_ns >= ring_total);
    CHECK(f.pause_max_ns >= ring_max);
    CHECK(f.gc_cpu_fraction > 0 && f.gc_cpu_fraction < 1);
    CHECK(f.num_threads == 1);

    /* Metadata freed by one category and reused by another moves its
       bytes: the bitmaps of dropped spans of 48-byte objects (208-byte
       blocks, counted in gc_sys) become the records of large spans
       (208 bytes too, counted in mspan_sys), and mspan_inuse stayed over
       mspan_sys by what they took. */
    enum { NS = 34000, NL = 400 };
    void **hold = mgc_alloc(NS * sizeof(void *));
    for (int i = 0; i < NS; i++)
        hold[i] = mgc_alloc_noscan(48);
    mgc_memstats g, h;
    mgc_read_memstats(&g);
    identities(&g);
    for (int i = 0; i < NS; i++)
        hold[i] = NULL;
    mgc_collect();
    for (int i = 0; i < NL; i++)
        hold[i] = mgc_alloc_noscan(40000);
    mgc_read_memstats(&h);
    identities(&h);
    CHECK(h.mspan_inuse > g.mspan_inuse); /* the large spans' records are in use */
    return 0;
}
