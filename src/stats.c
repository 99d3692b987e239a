/*
 * stats.c — MemStats (stats.h, Go's mstats.go). mgc_read_memstats stops the
 * world as Go's ReadMemStats does, so that the objects allocated from spans
 * still sitting in thread caches are counted exactly, not at the next flush.
 *
 * Definitions (Go's): heap_alloc = bytes allocated - bytes freed by sweep
 * (so it includes dead objects not yet swept); heap_inuse = bytes of spans
 * holding objects; heap_idle = heap_sys - heap_inuse; tiny objects count in
 * both mallocs and frees.
 */
#include "internal/stats.h"
#include "internal/sweep.h"
#include "internal/env.h"
#include "internal/heap.h"
#include "internal/meta.h"
#include "internal/os.h"
#include "internal/pacer.h"
#include "internal/threads.h"

mgc_stats mgc__stats MGC_STATE;

void mgc__stats_cycle(const mgc_cycle *c)
{
    mgc_stats *st = &mgc__stats;
    /* The wall clock now, as Go stamps LastGC (a monotonic time converted
       with the start-up offset drifts when the system clock is adjusted). */
    uint64_t end_wall = mgc__os_walltime();
    st->pause_ns[st->num_gc % 256] = c->pause_ns;
    st->pause_end[st->num_gc % 256] = end_wall;
    st->num_gc++;
    if (c->forced)
        st->num_forced_gc++;
    st->pause_total_ns += c->pause_ns;
    if (c->pause_ns > st->pause_max_ns)
        st->pause_max_ns = c->pause_ns;
    if (c->heap0 > st->heap_live_peak)
        st->heap_live_peak = c->heap0;
    st->last_gc = end_wall;
    /* The world is stopped for the whole pause: every CPU the Ps can run
       on is the GC's, min(GOMAXPROCS, ncpu) (Go's work.stwprocs); the
       fraction divides by GOMAXPROCS all the same, as Go's does. */
    st->gc_cpu_ns += c->pause_ns * (uint64_t)c->stwprocs;
    st->last = *c;
}

double mgc__stats_gc_cpu_fraction(void)
{
    uint64_t wall = mgc__os_nanotime() - mgc__gc.start_ns;
    if (wall == 0)
        return 0;
    return (double)mgc__stats.gc_cpu_ns / ((double)wall * mgc__opts.gomaxprocs);
}

void mgc_read_memstats(mgc_memstats *ms)
{
    mgc__thread_current(); /* attach the caller, as every mgc entry point does */
    mgc_cache_counts cc;
    memset(&cc, 0, sizeof cc);
    memset(ms, 0, sizeof *ms);

    /* A snapshot: the world and the background sweeper stopped while every
       counter is read. */
    int cs = mgc__gc_lock();
    mgc__gc_stop_world();
    MGC_FOR_EACH_THREAD(t) mgc__cache_count(&t->cache, &cc);
    ms->num_threads = mgc__threads_count();
    mgc_stats *st = &mgc__stats;
    uint64_t mallocs = 0, frees = 0, alloc_bytes = 0, free_bytes = 0;
    for (int c = 1; c < MGC_NUM_SIZE_CLASSES; c++) {
        /* A slot reused from a free list was freed and allocated again. */
        uint64_t nm = atomic_load_explicit(&st->nmalloc[c], memory_order_relaxed) + cc.nmalloc[c] + cc.nreuse[c];
        uint64_t nf = atomic_load_explicit(&st->nfree[c], memory_order_relaxed) + cc.nreuse[c];
        mallocs += nm;
        frees += nf;
        alloc_bytes += nm * mgc__class_size[c];
        free_bytes += nf * mgc__class_size[c];
        if (c < (int)(sizeof ms->by_size / sizeof ms->by_size[0])) {
            ms->by_size[c].size = mgc__class_size[c];
            ms->by_size[c].mallocs = nm;
            ms->by_size[c].frees = nf;
        }
    }
    uint64_t lm = atomic_load_explicit(&st->large_nmalloc, memory_order_relaxed);
    uint64_t lf = atomic_load_explicit(&st->large_nfree, memory_order_relaxed);
    mallocs += lm;
    frees += lf;
    alloc_bytes += atomic_load_explicit(&st->large_alloc_bytes, memory_order_relaxed);
    free_bytes += atomic_load_explicit(&st->large_free_bytes, memory_order_relaxed);
    uint64_t tiny = cc.tiny_allocs + atomic_load_explicit(&st->tiny_allocs, memory_order_relaxed);

    ms->mallocs = mallocs + tiny;
    ms->frees = frees + tiny;
    ms->total_alloc = alloc_bytes;
    ms->heap_alloc = alloc_bytes - free_bytes;
    ms->alloc = ms->heap_alloc;
    ms->heap_objects = mallocs - frees;

    uint64_t nspans;
    mgc__heap_read_stats(&ms->heap_sys, &ms->heap_inuse, &nspans);
    ms->heap_idle = ms->heap_sys - ms->heap_inuse;
    ms->heap_released = 0;
    uint64_t inuse[MGC_META_NCAT], sys[MGC_META_NCAT];
    mgc__meta_read(inuse, sys);
    ms->frees_explicit = cc.nfree_explicit + atomic_load_explicit(&st->nfree_explicit, memory_order_relaxed);
    ms->frees_explicit_large = atomic_load_explicit(&st->large_nfree_explicit, memory_order_relaxed);
    mgc__gc_start_world();

    ms->mspan_inuse = inuse[MGC_META_MSPAN];
    ms->mspan_sys = sys[MGC_META_MSPAN];
    ms->mcache_inuse = inuse[MGC_META_MCACHE];
    ms->mcache_sys = sys[MGC_META_MCACHE];
    ms->gc_sys = sys[MGC_META_GC];
    ms->other_sys = sys[MGC_META_OTHER];
    ms->sys = ms->heap_sys + ms->stack_sys + ms->mspan_sys + ms->mcache_sys + ms->buck_hash_sys +
              ms->gc_sys + ms->other_sys;

    ms->next_gc = atomic_load_explicit(&mgc__pacer.goal, memory_order_relaxed);
    ms->last_gc = st->last_gc;
    ms->pause_total_ns = st->pause_total_ns;
    memcpy(ms->pause_ns, st->pause_ns, sizeof ms->pause_ns);
    memcpy(ms->pause_end, st->pause_end, sizeof ms->pause_end);
    ms->num_gc = st->num_gc;
    ms->num_forced_gc = st->num_forced_gc;
    ms->gc_cpu_fraction = mgc__stats_gc_cpu_fraction();
    ms->enable_gc = 1;
    ms->debug_gc = 0;
    ms->gc_scan_stack_bytes = st->last.stack_bytes;
    ms->gc_scan_global_bytes = st->last.global_bytes;
    ms->heap_marked = st->last.heap2;
    ms->pause_max_ns = st->pause_max_ns;
    ms->heap_live_peak = st->heap_live_peak;
    ms->gc_workers = (uint64_t)mgc__opts.gomaxprocs;
    mgc__gc_unlock(cs);
}
