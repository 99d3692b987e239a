/*
 * gc.h — cycle orchestration (Go's mgc.go): the phases, the sweep
 * generation, triggering and mgc_collect.
 *
 * One cycle today (stop-the-world mode, DESIGN.md section 4):
 *   1. sweep termination, world running: re-read the data segments if a
 *      library was loaded or unloaded, finish the previous cycle's sweep;
 *   2. stop the world; flush every thread's cache (so every span is on a
 *      central list and every slot below freeindex is a real object);
 *   3. mark, in parallel on up to GOMAXPROCS workers (fewer for a small
 *      heap: gc.c's choose_workers), from all roots;
 *   4. mark termination: sweepgen += 2 (every span becomes unswept), the
 *      pacer sets the next goal, statistics; restart the world;
 *   5. sweep lazily (allocating threads) and in the background.
 */
#ifndef MGC_GC_H
#define MGC_GC_H

#include "base.h"
#include "lock.h"

enum mgc_phase { MGC_PHASE_OFF = 0, MGC_PHASE_MARK = 1 };

typedef struct mgc_gc {
    /* Serialises cycles, ReadMemStats, mgc_set_gc_percent and fork. Taken
       outside no-suspend sections only. */
    mgc_lock lock;
    _Atomic uint32_t sweepgen;        /* += 2 at each mark termination, world stopped */
    _Atomic int phase;                /* enum mgc_phase; written with the world stopped */
    _Atomic uint64_t cycles_started;  /* written under lock */
    _Atomic uint64_t cycles_done;     /* written under lock */
    uint64_t start_ns;                /* monotonic time of mgc_init; immutable */
} mgc_gc;

extern MGC_INTERNAL mgc_gc mgc__gc;

/* What one cycle measured, for gctrace and MemStats. */
typedef struct mgc_cycle {
    uint64_t num;
    bool forced;
    uint64_t t_start, t_mark, t_markterm, t_end; /* monotonic ns */
    uint64_t pause_ns;
    uint64_t mark_cpu_ns; /* CPU time of all mark workers */
    int stwprocs;         /* CPUs a stopped world costs: min(GOMAXPROCS, ncpu) */
    int maxprocs;         /* GOMAXPROCS, gctrace's " P" */
    int nworkers;         /* mark workers used */
    uint64_t heap0, heap1, heap2, goal;
    uint64_t stack_bytes, global_bytes;
} mgc_cycle;

/* Test hook: when set, called with the world stopped right after marking
   (tests/test_checkmark.c unmarks a live object to prove gccheckmark sees
   it). NULL in normal use. */
extern MGC_INTERNAL void (*mgc__test_after_mark)(void);
/* The last cycle's mark result (for tests), written with the world stopped
   under the gc lock; read after mgc_collect returns. */
struct mgc_mark_result;
extern MGC_INTERNAL struct mgc_mark_result mgc__gc_last_mark;

/* Take the gc lock, and give it back: the calling thread's cancellation is
   disabled in between (returned by mgc__gc_lock, restored by
   mgc__gc_unlock). No mgc call is a cancellation point (DESIGN.md section
   4): a collection runs under this lock, stops the world and may wait in
   pthread_cond_wait (mark.c) or reach a write; a pending cancel acted on
   there left the gc lock held, or the world stopped, for ever. Every
   program thread takes the gc lock through these (fork's handlers, which
   run no cancellation point, take it directly). */
MGC_INTERNAL int mgc__gc_lock(void);
MGC_INTERNAL void mgc__gc_unlock(int cancel_state);
MGC_INTERNAL void mgc__ensure_init(void);
/* Initialise if not yet done: 0, or the errno initialisation failed with
   (for the entry points that answer one instead of aborting). */
MGC_INTERNAL int mgc__try_init(void);
/* Start a cycle if heap_live has crossed the trigger. Outside no-suspend. */
MGC_INTERNAL void mgc__gc_maybe(void);
/* Run a full cycle and finish its sweep (OOM path). Outside no-suspend. */
MGC_INTERNAL void mgc__gc_full(void);
/* Mark workers for a cycle whose mark is expected to scan scan_work bytes
   (the last mark's, mgc__pacer_scan_work): one per MiB, up to GOMAXPROCS. */
MGC_INTERNAL int mgc__gc_workers_for(uint64_t scan_work);
/* Stop the world and the background sweeper with it (every stop does
   both: sweep.c's invariant); start both again, returning the time the
   world was running again (the background sweeper is woken after it, the
   world running). gc lock held. */
MGC_INTERNAL void mgc__gc_stop_world(void);
MGC_INTERNAL uint64_t mgc__gc_start_world(void);
MGC_INTERNAL void mgc__gc_fork_prepare(void);
MGC_INTERNAL void mgc__gc_fork_parent(void);
MGC_INTERNAL void mgc__gc_fork_child(void);

#endif /* MGC_GC_H */
