/*
 * test_large_reclaim.c — a small span that needs fresh pages first gets
 * back the pages of dead large objects not yet swept (central.c, as a
 * large allocation does; Go's mheap.reclaim before every span). Without
 * it a heap of a few large spans, fewer than wake the background sweeper,
 * that then allocated only small objects kept all its dead large objects
 * for the whole cycle and grew past its goal by them (1.44x at GOGC=100).
 *
 * The live heap is one 16 MiB object. Phase 1 drops 1 MiB objects until a
 * cycle has run (their pages are then dead but unswept); phase 2 drops
 * 512-byte objects until the next cycle. HeapInuse must stay near the
 * goal in phase 2: within 10% and 2 MiB (spans cached by this thread, the
 * 4 MiB granule of growth); it reached the goal plus the dead large
 * objects before.
 */
#include "testing.h"
#include <mgc.h>

static void *volatile g_live;

static __attribute__((noinline)) void drop_large(void) { memset(mgc_alloc_noscan(1 << 20), 1, 64); }
static __attribute__((noinline)) void drop_small(void) { memset(mgc_alloc_noscan(512), 2, 64); }

int main(void)
{
    unsetenv("GOGC");
    CHECK_EQ(mgc_init(), 0);
    g_live = mgc_alloc_noscan(16 << 20);
    mgc_collect();
    mgc_memstats m;
    mgc_read_memstats(&m);
    uint32_t n0 = m.num_gc;
    int large = 0;
    while (m.num_gc == n0) { /* phase 1: until a cycle comes */
        drop_large();
        large++;
        mgc_read_memstats(&m);
        CHECK_MSG(large < 1000, "no cycle after %d MiB of garbage", large);
    }
    uint32_t n1 = m.num_gc;
    uint64_t goal = m.next_gc, peak = m.heap_inuse;
    long small = 0;
    while (m.num_gc == n1) { /* phase 2: only small objects until the next */
        for (int i = 0; i < 2048; i++, small++)
            drop_small();
        mgc_read_memstats(&m);
        if (m.num_gc == n1 && m.heap_inuse > peak)
            peak = m.heap_inuse;
        CHECK_MSG(small < (1L << 22), "no cycle after %ld small objects", small);
    }
    uint64_t bound = goal + goal / 10 + (2 << 20);
    CHECK_MSG(peak <= bound,
              "heap_inuse reached %llu KiB against a goal of %llu KiB (%.2fx) with %d dead 1 MiB objects unswept",
              (unsigned long long)(peak >> 10), (unsigned long long)(goal >> 10), (double)peak / (double)goal, large);
    printf("ok: %d large then %ld small objects; peak heap_inuse %.2fx the goal\n", large, small,
           (double)peak / (double)goal);
    return 0;
}
