/*
 * gc.c — one collection cycle from trigger to sweep (gc.h has the phases),
 * the allocation trigger, mgc_collect, the number of mark workers, and the
 * stop and restart of the world for everyone who stops it (stats.c too):
 * every stop pauses the background sweeper with it, and the sweeper is
 * woken only once the world runs again.
 *
 * Invariants:
 *   - Cycles run one at a time, under mgc__gc.lock, on the thread that
 *     triggered them (an attached thread, outside any no-suspend section).
 *   - When the world stops, the previous cycle's sweep is complete
 *     (unswept == 0), so every span's mark bits are clear and its sweepgen
 *     is sg or sg+3.
 *   - After the caches are flushed every span is on a central list; slots
 *     below freeindex are real objects. Marking reads, never moves, spans.
 *   - The collector, while the world is stopped, uses only metadata memory,
 *     futexes and its own locks (threads.c lists what it must not call).
 *   - The gc lock is held only with the holder's cancellation disabled
 *     (mgc__gc_lock): nothing under it is a cancellation point.
 */
#include "internal/gc.h"
#include "internal/arch.h"
#include "internal/env.h"
#include "internal/heap.h"
#include "internal/mark.h"
#include "internal/os.h"
#include "internal/pacer.h"
#include "internal/roots.h"
#include "internal/stats.h"
#include "internal/sweep.h"
#include "internal/threads.h"
#include "internal/trace.h"

mgc_gc mgc__gc MGC_STATE;
void (*mgc__test_after_mark)(void);
mgc_mark_result mgc__gc_last_mark;

/* Waking helpers costs tens of microseconds; below about a megabyte of
   scanning per worker, one worker finishes first. The work is what the
   last mark scanned: noscan objects are marked without being read, so a
   heap of large strings needs no helpers however big it is. */
int mgc__gc_workers_for(uint64_t scan_work)
{
    uint64_t want = 1 + scan_work / MGC_MiB;
    int n = mgc__opts.gomaxprocs;
    return want < (uint64_t)n ? (int)want : n;
}

void mgc__gc_stop_world(void)
{
    mgc__stw_stop();
    mgc__sweep_pause(); /* the background sweeper stops with the world */
}

uint64_t mgc__gc_start_world(void)
{
    mgc__sweep_resume();
    mgc__stw_start();
    uint64_t t = mgc__os_nanotime();
    mgc__sweep_kick(); /* the world runs meanwhile: not part of the pause */
    return t;
}

typedef struct cycle_ctx {
    mgc_cycle *c;
    mgc_thread *self;
    int nworkers;
    uintptr_t sp; /* cycle()'s stack pointer: the program's frames are above */
} cycle_ctx;

/* Steps 2 to 4, with the loader's lock held (mgc__roots_with_loader_held):
   the data segments found here stay mapped, and no library joins them,
   until the world runs again. Without it a dlclose (on any thread, even
   one mgc never stops) between the walk and the stop left an unmapped
   range among the roots, and the marker faulted on it. */
static void stop_mark_start(void *arg)
{
    cycle_ctx *x = arg;
    mgc_cycle *c = x->c;
    mgc__roots_refresh_segments();
    atomic_fetch_add_explicit(&mgc__gc.cycles_started, 1, memory_order_relaxed);
    c->num = mgc__stats.num_gc + 1;
    c->heap0 = atomic_load_explicit(&mgc__pacer.heap_live, memory_order_relaxed);
    /* This cycle's goal, as Go's gctrace prints (work.heapGoal), not the
       next one mark termination sets. */
    c->goal = atomic_load_explicit(&mgc__pacer.goal, memory_order_relaxed);
    c->t_start = mgc__os_nanotime();

    /* 2. Stop the world; bring every cached span home. */
    mgc__gc_stop_world();
    /* Our stack is scanned from cycle()'s frame up, not from here: the
       loader's frames in between hold no pointer of the program's, only
       stale words that would keep garbage alive. */
    mgc__thread_save_self(x->self, x->sp);
    MGC_FOR_EACH_THREAD(t) mgc__cache_flush(&t->cache);
    MGC_CHECK(mgc__sweep_done(), "a cycle started before the previous sweep finished");
    c->t_mark = mgc__os_nanotime();

    /* 3. Mark. */
    atomic_store_explicit(&mgc__gc.phase, MGC_PHASE_MARK, memory_order_relaxed);
    mgc_root *roots;
    size_t nroots = mgc__roots_collect(&roots);
    mgc_mark_result res;
    mgc__mark(roots, nroots, x->nworkers, &res);
    mgc__gc_last_mark = res;
    if (mgc__test_after_mark)
        mgc__test_after_mark();
    if (mgc__opts.gccheckmark)
        mgc__mark_check(roots, nroots);
    c->t_markterm = mgc__os_nanotime();

    /* 4. Mark termination: every span becomes unswept; set the next goal. */
    atomic_store_explicit(&mgc__gc.phase, MGC_PHASE_OFF, memory_order_relaxed);
    c->heap1 = atomic_load_explicit(&mgc__pacer.heap_live, memory_order_relaxed);
    c->heap2 = res.marked_bytes;
    c->stack_bytes = res.stack_bytes;
    c->global_bytes = res.global_bytes;
    c->mark_cpu_ns = res.cpu_ns;
    c->nworkers = res.nworkers;
    uint64_t sys, inuse, nspans;
    mgc__heap_read_stats(&sys, &inuse, &nspans);
    atomic_fetch_add_explicit(&mgc__gc.sweepgen, 2, memory_order_release);
    mgc__pacer_commit(res.marked_bytes, res.scanned_bytes, res.stack_bytes, res.global_bytes);
    mgc__sweep_begin(nspans);
    c->t_end = mgc__gc_start_world();
    c->pause_ns = c->t_end - c->t_start;
}

static MGC_NOINLINE void cycle(bool forced)
{
    mgc_cycle c;
    memset(&c, 0, sizeof c);
    c.forced = forced;
    /* Go's work.stwprocs: with GOMAXPROCS above the CPUs, a stopped world
       still idles only the CPUs there are. */
    c.maxprocs = mgc__opts.gomaxprocs;
    c.stwprocs = mgc__opts.gomaxprocs < mgc__opts.ncpu ? mgc__opts.gomaxprocs : mgc__opts.ncpu;
    cycle_ctx x = {&c, mgc__self, mgc__gc_workers_for(mgc__pacer_scan_work()), 0};

    /* 1. Sweep termination, world running: pay off the last cycle's sweep,
       and do everything that may take a lock a stopped thread could hold
       (helper threads are started here, before the loader's lock). */
    mgc__sweep_finish();
    mgc__mark_prepare(x.nworkers);
    mgc__sweep_prepare();

    /* 2-4. The program's registers onto this frame first, for the scan of
       our own stack. */
    __builtin_unwind_init();
    x.sp = MGC_ARCH_SP();
    mgc__roots_with_loader_held(stop_mark_start, &x);

    /* 5. Sweeping runs from here, lazily and in the background. */
    mgc__stats_cycle(&c);
    atomic_fetch_add_explicit(&mgc__gc.cycles_done, 1, memory_order_release);
    if (mgc__opts.gctrace)
        mgc__trace_cycle(&c);
}

int mgc__gc_lock(void)
{
    /* One pair per cycle (or memstats read): pthread_setcancelstate is a
       store to the thread's own descriptor, no system call. */
    int cs;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
    mgc__lock(&mgc__gc.lock);
    return cs;
}

void mgc__gc_unlock(int cancel_state)
{
    mgc__unlock(&mgc__gc.lock);
    /* A cancel that came meanwhile stays pending: acted on at the
       program's next cancellation point, not here (this is not one). */
    pthread_setcancelstate(cancel_state, NULL);
}

void mgc__gc_maybe(void)
{
    if (!mgc__pacer_should_trigger())
        return;
    mgc__thread_current();
    int cs = mgc__gc_lock();
    /* Another thread may have just collected. */
    if (mgc__pacer_should_trigger())
        cycle(false);
    mgc__gc_unlock(cs);
}

/* Return once a whole cycle that began after the call has finished and
   been swept; callers at the same time share one cycle. forced: counted
   as a user's collection (MemStats.num_forced_gc). */
static void collect(bool forced)
{
    mgc__thread_current();
    /* Any cycle counted after this load started after the call. */
    uint64_t n = atomic_load_explicit(&mgc__gc.cycles_started, memory_order_relaxed);
    int cs = mgc__gc_lock();
    if (atomic_load_explicit(&mgc__gc.cycles_started, memory_order_relaxed) == n)
        cycle(forced);
    mgc__gc_unlock(cs);
    mgc__sweep_finish();
}

void mgc__gc_full(void) { collect(false); }

void mgc_collect(void) { collect(true); }

void mgc__gc_fork_prepare(void)
{
    mgc__lock(&mgc__gc.lock);
    /* No internal thread is left half exited in the child. */
    mgc__threads_await_retired();
}
void mgc__gc_fork_parent(void) { mgc__unlock(&mgc__gc.lock); }
void mgc__gc_fork_child(void) { mgc__lock_init(&mgc__gc.lock); }
