/*
 * stats.h — the counters behind MemStats (Go's mstats.go). Allocation
 * counts are taken when a span leaves a thread's cache (or, for exact
 * figures, from the caches themselves with the world stopped), frees when
 * the sweeper frees; none of it touches the allocation fast path.
 */
#ifndef MGC_STATS_H
#define MGC_STATS_H

#include "base.h"
#include "gc.h"
#include "sizeclass.h"

typedef struct mgc_stats {
    /* Atomic counters, relaxed: totals read in a stopped world. */
    _Atomic uint64_t nmalloc[MGC_NUM_SIZE_CLASSES]; /* small slots allocated */
    _Atomic uint64_t nfree[MGC_NUM_SIZE_CLASSES];   /* small slots freed by sweep */
    _Atomic uint64_t large_nmalloc, large_nfree;
    _Atomic uint64_t large_alloc_bytes, large_free_bytes;
    _Atomic uint64_t tiny_allocs;
    _Atomic uint64_t nfree_explicit;      /* slots freed by mgc_free (small and large) */
    _Atomic uint64_t large_nfree_explicit; /* of the large frees, those by mgc_free */
    /* Collector history; gc lock. */
    uint64_t pause_ns[256], pause_end[256];
    uint32_t num_gc, num_forced_gc;
    uint64_t pause_total_ns, last_gc;
    uint64_t pause_max_ns, heap_live_peak;
    uint64_t gc_cpu_ns;          /* STW time x GOMAXPROCS, summed */
    mgc_cycle last;              /* the last cycle's record */
} mgc_stats;

extern MGC_INTERNAL mgc_stats mgc__stats;

MGC_INLINE void mgc__stat_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* Mark termination (gc lock held): record the cycle. */
MGC_INTERNAL void mgc__stats_cycle(const mgc_cycle *c);
/* GC CPU fraction since start-up. */
MGC_INTERNAL double mgc__stats_gc_cpu_fraction(void);

#endif /* MGC_STATS_H */
