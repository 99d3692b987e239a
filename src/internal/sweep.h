/*
 * sweep.h — sweeping (Go's mgcsweep.go): turning mark bits into alloc bits
 * span by span after each cycle, lazily (an allocating thread sweeps the
 * spans of the class it needs) and in the background (one thread sweeps the
 * rest). A span is swept under its central lock, after moving its sweepgen
 * from sg-2 to sg-1; an empty span goes back to the page heap.
 */
#ifndef MGC_SWEEP_H
#define MGC_SWEEP_H

#include "base.h"
#include "span.h"

enum mgc_sweep_result { MGC_SWEEP_FREED, MGC_SWEEP_PARTIAL, MGC_SWEEP_FULL };

/* Sweep one span the caller has claimed (sweepgen sg-1) and taken off its
   list; caller holds its central lock. FREED means s no longer exists. */
MGC_INTERNAL enum mgc_sweep_result mgc__sweep_span(mgc_span *s, uint32_t sg);
/* Sweep one unswept span of any class; false when none is left. */
MGC_INTERNAL bool mgc__sweep_one(void);
/* Sweep until nothing is left (mgc_collect, cycle start). */
MGC_INTERNAL void mgc__sweep_finish(void);
/* World running, gc lock held: start the background sweeper if needed. */
MGC_INTERNAL void mgc__sweep_prepare(void);
/* Mark termination (world stopped): nspans spans now need sweeping. */
MGC_INTERNAL void mgc__sweep_begin(uint64_t nspans);
MGC_INTERNAL bool mgc__sweep_done(void);
/* Spans still to sweep this cycle (a snapshot). */
MGC_INTERNAL uint64_t mgc__sweep_left(void);
/* Whether the background sweeper stopped for a pause with spans left and
   waits for the restart's kick (a snapshot, for tests). */
MGC_INTERNAL bool mgc__sweep_interrupted(void);
/* n unswept spans left the heap unswept (an explicit free of a large
   object): the sweep will not meet them. Under their central lock. */
MGC_INTERNAL void mgc__sweep_forget(uint64_t n);
/* Right after stopping the world: keep background sweeping out until
   mgc__sweep_resume, and wait for any sweep in progress to finish. */
MGC_INTERNAL void mgc__sweep_pause(void);
/* Before restarting the world: let sweeping run again. */
MGC_INTERNAL void mgc__sweep_resume(void);
/* Below this many spans to sweep the background sweeper is not woken: the
   wake costs the collecting thread a futex call (on a VM an interrupt to
   the other CPU, several microseconds), and the sweeper then contends with
   the program for the central and heap locks, while the allocator sweeps
   what it needs lazily anyway (central.c: refills and large allocations)
   and the next cycle sweeps the rest before it starts. A program dropping
   a 64 KiB mgc_buf result 64 times per cycle (about 70 spans) built each
   result 3% faster without the wake (5133-5197 ns against 5280-5368,
   three runs of 21 interleaved reps, the threshold made a variable). At
   256 spans a sweep is 50-100 us of work, which a second CPU should take. */
#define MGC_SWEEP_BG_MIN_SPANS 256

/* After restarting the world: wake the background sweeper if there is
   enough work to pay for it (MGC_SWEEP_BG_MIN_SPANS), or if the stop
   interrupted its sweep, however little is left (sweep.c). Waking a
   sleeping thread costs the waker 10-15 us of system call on a virtual
   machine (the other CPU's interrupt), so it is not done while the world
   is stopped. */
MGC_INTERNAL void mgc__sweep_kick(void);
MGC_INTERNAL void mgc__sweep_fork_child(void);

#endif /* MGC_SWEEP_H */
