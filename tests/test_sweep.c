// ctest-tsan: no (it needs a small heap: TSan's runtime brings 48 MB of globals, which the pacer adds to the goal as Go's does)
/*
 * test_sweep.c — who sweeps after a cycle (sweep.c, central.c).
 *
 *   - A small heap (under MGC_SWEEP_BG_MIN_SPANS spans) is swept by the program
 *     as it allocates: the background sweeper is not woken, so after a
 *     cycle the sweep stays unfinished while the program sleeps.
 *   - A large allocation first sweeps the large objects dropped last
 *     (reclaim_large), so a program that drops a 64 KiB object after
 *     another keeps its heap at the goal: without it the dead objects sit
 *     unswept while new ones take fresh pages, and the pages in use reach
 *     twice the goal.
 *   - A heap of many spans is swept in the background: after a cycle the
 *     sweep finishes while the program allocates nothing.
 */
#include "internal/heap.h"
#include "internal/sweep.h"
#include "internal/threads.h"
#include "testing.h"
#include <mgc.h>


static void small_heap(void)
{
    mgc_collect();
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    uint32_t gc0 = ms.num_gc, seen = ms.num_gc;
    uint64_t max_inuse = 0, max_goal = 0;
    int lazy_checked = 0;
    for (int i = 0; i < 8000; i++) {
        char *p = mgc_alloc_noscan(64 << 10);
        CHECK(p != NULL);
        p[0] = 1;
        mgc_read_memstats(&ms);
        if (ms.heap_inuse > max_inuse)
            max_inuse = ms.heap_inuse;
        if (ms.next_gc > max_goal)
            max_goal = ms.next_gc;
        if (ms.num_gc != seen && lazy_checked < 3) {
            /* A cycle ran inside that allocation and nothing has swept
               since; the heap is small, so nothing will until we allocate. */
            seen = ms.num_gc;
            uint64_t n = t_heap_spans();
            if (n >= MGC_SWEEP_BG_MIN_SPANS) {
                printf("small_heap: %llu spans at the cycle, the laziness check is skipped\n",
                       (unsigned long long)n);
                lazy_checked = 3;
                continue;
            }
            CHECK(!mgc__sweep_done());
            usleep(50 * 1000);
            CHECK_MSG(!mgc__sweep_done(), "%llu spans: swept in the background", (unsigned long long)n);
            lazy_checked++;
        }
    }
    CHECK_MSG(ms.num_gc - gc0 >= 20, "%u cycles", ms.num_gc - gc0);
    /* The goal is reached, not doubled: the dead 64 KiB objects are swept
       as their pages are wanted. */
    CHECK_MSG(max_inuse <= max_goal + max_goal / 4, "heap_inuse reached %llu with a goal of %llu",
              (unsigned long long)max_inuse, (unsigned long long)max_goal);
    printf("small_heap: %u cycles, heap_inuse at most %.1f MiB, goal %.1f MiB\n", ms.num_gc - gc0,
           max_inuse / 1048576.0, max_goal / 1048576.0);
}

/* From a swept heap, 40 KiB objects (a span each) are dropped until the
   pacer runs a cycle (GOGC 1600, set by the caller: a goal of 64 MiB or
   more, so well past MGC_SWEEP_BG_MIN_SPANS spans). Returns the spans
   there were before the allocation that ran it. */
static uint64_t cycle_with_many_spans(void)
{
    mgc_collect();
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    uint32_t gc0 = ms.num_gc;
    uint64_t n = 0;
    while (ms.num_gc == gc0) {
        n = t_heap_spans();
        char *p = mgc_alloc_noscan(40 << 10);
        CHECK(p != NULL);
        p[0] = 1;
        mgc_read_memstats(&ms);
    }
    return n;
}

static void big_heap(void)
{
    int gogc = mgc_set_gc_percent(1600);
    uint64_t n = cycle_with_many_spans();
    CHECK_MSG(n >= MGC_SWEEP_BG_MIN_SPANS, "%llu spans", (unsigned long long)n);
    /* Nothing allocates from here on: only the background sweeper can. */
    int waited = 0;
    while (!mgc__sweep_done() && waited < 10000) {
        usleep(1000);
        waited++;
    }
    CHECK_MSG(mgc__sweep_done(), "%llu spans still unswept after 10 s", (unsigned long long)n);
    printf("big_heap: %llu spans swept in the background in about %d ms\n", (unsigned long long)n, waited);
    mgc_set_gc_percent(gogc);
}

/* A stop that pauses the background sweep must not end it: when fewer
   than MGC_SWEEP_BG_MIN_SPANS spans are left at the restart, the usual
   kick wakes no one, and the sweeper has to be resumed as interrupted.
   The test makes a stop's part in sweeping by hand, as mgc__gc_stop_world
   and mgc__gc_start_world do (pause; resume, then kick), without stopping
   the world, and in an order that needs no luck: pause right after a
   cycle left ~1600 spans to the sweeper, wait until the sweeper has
   stopped for it, resume without a kick (it stays asleep), sweep by hand
   until fewer than the threshold are left, then kick: the sweeper alone
   must finish them. Nothing allocates meanwhile, so nothing else sweeps.
   A round where the sweeper finished before the pause proves nothing and
   is repeated (at most 50). */
static void interrupted_sweep(void)
{
    int gogc = mgc_set_gc_percent(1600);
    int caught = 0, round;
    mgc_thread *t = mgc__thread_current();
    for (round = 0; round < 50 && caught < 3; round++) {
        cycle_with_many_spans();
        mgc__sweep_pause();
        double t0 = t_now();
        while (!mgc__sweep_interrupted() && mgc__sweep_left() > 0 && t_now() - t0 < 10)
            usleep(100); /* the sweeper, woken for this cycle, finds the pause */
        CHECK_MSG(mgc__sweep_interrupted() || mgc__sweep_left() == 0,
                  "the sweeper did not stop for the pause in 10 s (%llu spans left)",
                  (unsigned long long)mgc__sweep_left());
        usleep(1000); /* past its re-read of `paused`: asleep now */
        mgc__sweep_resume();
        uint64_t left;
        bool more = true;
        while (more && (left = mgc__sweep_left()) >= MGC_SWEEP_BG_MIN_SPANS / 2) {
            mgc__cs_enter(t);
            more = mgc__sweep_one();
            mgc__cs_exit(t);
        }
        if (!more || mgc__sweep_left() == 0 || !mgc__sweep_interrupted()) {
            /* It finished before the pause, or (a 1 ms window) read
               `paused` after the resume and went on sweeping. */
            mgc__sweep_kick();
            mgc__sweep_finish();
            continue;
        }
        mgc__sweep_kick();
        caught++;
        t0 = t_now();
        while (!mgc__sweep_done() && t_now() - t0 < 5)
            usleep(1000);
        CHECK_MSG(mgc__sweep_done(), "round %d: a stop left the background sweep with %llu spans for 5 s", round,
                  (unsigned long long)mgc__sweep_left());
    }
    CHECK_MSG(caught >= 1, "in %d rounds the sweeper never stopped for a pause with spans left", round);
    printf("interrupted_sweep: %d of %d rounds stopped the sweep with spans left; each finished\n", caught, round);
    mgc_set_gc_percent(gogc);
}

int main(void)
{
    CHECK_EQ(mgc_init(), 0);
    setvbuf(stdout, NULL, _IOLBF, 0);
    small_heap();
    big_heap();
    interrupted_sweep();
    return 0;
}
