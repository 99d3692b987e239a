/*
 * pacer.h — when to collect (Go's mgcpacer.go, the GOGC part).
 *
 *   heap goal = M + (M + S + G) * GOGC/100, at least 4 MiB * GOGC/100
 * with M the bytes marked by the last cycle, S the stack bytes and G the
 * global bytes it scanned. The world is stopped for marking today, so the
 * trigger is the goal itself: there is no concurrent runway to leave.
 */
#ifndef MGC_PACER_H
#define MGC_PACER_H

#include "base.h"

typedef struct mgc_pacer {
    /* Bytes of the heap counted live: marked by the last cycle plus every
       slot of spans cached since (an overestimate, corrected when the span
       is uncached) plus large objects. Atomic adds from allocation slow
       paths; reset at mark termination. */
    _Atomic uint64_t heap_live;
    /* trigger, goal, gc_percent: written under the gc lock (mark
       termination, mgc_set_gc_percent) or at start-up; read anywhere with
       relaxed loads (allocation's trigger check, MemStats). */
    _Atomic uint64_t trigger;   /* heap_live that starts a cycle; UINT64_MAX when off.
                                   Equal to goal while marking stops the world; a
                                   concurrent mark will start before the goal. */
    _Atomic uint64_t goal;      /* the heap goal (MemStats.next_gc) */
    _Atomic int gc_percent;     /* GOGC; < 0 = off */
    /* Inputs of the last commit; gc lock. heap_scan: the marked bytes that
       were scanned (not noscan; an upper bound for typed objects). */
    uint64_t heap_marked, heap_scan, stack_scan, globals_scan;
} mgc_pacer;

extern MGC_INTERNAL mgc_pacer mgc__pacer;

MGC_INTERNAL void mgc__pacer_init(int gogc);
/* Mark termination: set goal and trigger from this cycle's figures. */
MGC_INTERNAL void mgc__pacer_commit(uint64_t marked, uint64_t scanned, uint64_t stacks, uint64_t globals);
/* The bytes the last mark scanned, objects and roots (Go's heapScan plus
   stack and globals scan): what the next mark's workers are sized by. gc
   lock. */
MGC_INLINE uint64_t mgc__pacer_scan_work(void)
{
    return mgc__pacer.heap_scan + mgc__pacer.stack_scan + mgc__pacer.globals_scan;
}

MGC_INLINE void mgc__pacer_add_live(int64_t bytes)
{
    /* relaxed: an approximate running total; the gc lock orders the reset. */
    atomic_fetch_add_explicit(&mgc__pacer.heap_live, (uint64_t)bytes, memory_order_relaxed);
}

MGC_INLINE bool mgc__pacer_should_trigger(void)
{
    return atomic_load_explicit(&mgc__pacer.heap_live, memory_order_relaxed) >=
           atomic_load_explicit(&mgc__pacer.trigger, memory_order_relaxed);
}

#endif /* MGC_PACER_H */
