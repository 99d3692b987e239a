/*
 * central.c — mcentral (central.h): the per-class span lists, the refill
 * that feeds a thread's cache (sweeping lazily on the way, Go's cacheSpan),
 * and large-object spans. Whatever takes fresh pages, a large object or a
 * small span, first sweeps dead large objects (Go's reclaim).
 *
 * Invariant: a span is on exactly one list, or in exactly one cache, or
 * being swept by the holder of its class lock, or on its way to the page
 * heap under that lock. Cache slots are set under the lock too.
 */
#include "internal/central.h"
#include "internal/cache.h"
#include "internal/gc.h"
#include "internal/heap.h"
#include "internal/mark.h"
#include "internal/pacer.h"
#include "internal/stats.h"
#include "internal/sweep.h"

mgc_central mgc__central[MGC_NUM_SPAN_CLASSES] MGC_STATE;

void mgc__list_push(mgc_span **head, mgc_span *s, uint8_t which)
{
    MGC_DLIST_PUSH(*head, s);
    s->list = which;
}

void mgc__list_remove(mgc_span **head, mgc_span *s)
{
    MGC_DLIST_REMOVE(*head, s);
    s->list = MGC_LIST_NONE;
}

mgc_span *mgc__list_pop(mgc_span **head)
{
    mgc_span *s = *head;
    if (s)
        mgc__list_remove(head, s);
    return s;
}

/* Claim an unswept span taken off its list: sg-2 -> sg-1. Under the class
   lock nobody else can hold it, so the CAS cannot fail; it is kept because
   the protocol (span.h) is what a concurrent sweeper will rely on. */
static void claim(mgc_span *s, uint32_t sg)
{
    uint32_t want = sg - 2;
    bool ok = atomic_compare_exchange_strong_explicit(&s->sweepgen, &want, sg - 1,
                                                      memory_order_acquire, memory_order_relaxed);
    MGC_CHECK(ok, "span %p of class %u on an unswept list has sweepgen %u, heap %u", (void *)s->base,
              s->spanclass, want, sg);
}

/* Claim and sweep a span just popped off an unswept list of c; a full one
   goes to the swept full list, a partial one is the caller's to place, a
   freed one is gone. Caller holds c's lock. */
static enum mgc_sweep_result sweep_popped(mgc_central *c, mgc_span *s, uint32_t sg)
{
    claim(s, sg);
    enum mgc_sweep_result r = mgc__sweep_span(s, sg);
    if (r == MGC_SWEEP_FULL)
        mgc__list_push(&c->full[mgc__swept_index(sg)], s, MGC_LIST_FULL);
    return r;
}

/* Spans a refill or a large allocation sweeps before it takes new pages
   instead (Go's spanBudget): past it, growing the heap is cheaper. */
#define SWEEP_BUDGET 100

/* Sweep spans from one unswept list until one has room; spans that fill
   up go to the swept full list. Returns the span with room, or NULL. */
static mgc_span *sweep_for_room(mgc_central *c, mgc_span **unswept, uint32_t sg, int *budget)
{
    mgc_span *s;
    while (*budget > 0 && (s = mgc__list_pop(unswept))) {
        (*budget)--;
        if (sweep_popped(c, s, sg) == MGC_SWEEP_PARTIAL)
            return s;
    }
    return NULL;
}

static void reclaim_large(unsigned kind, uintptr_t want, uint32_t sg);

bool mgc__central_cache_span(unsigned spc, mgc_span **slot)
{
    mgc_central *c = &mgc__central[spc];
    /* Stable: the caller is in a no-suspend section, and sweepgen only
       changes with the world stopped. */
    uint32_t sg = atomic_load_explicit(&mgc__gc.sweepgen, memory_order_relaxed);
    unsigned sw = mgc__swept_index(sg), un = mgc__unswept_index(sg);
    int budget = SWEEP_BUDGET;
    mgc__lock(&c->lock);
    mgc_span *s = mgc__list_pop(&c->partial[sw]);
    if (!s)
        s = sweep_for_room(c, &c->partial[un], sg, &budget);
    if (!s)
        s = sweep_for_room(c, &c->full[un], sg, &budget);
    if (!s) {
        /* Fresh pages: first give back those of dead large objects not yet
           swept, as a large allocation does (reclaim_large). Without it a
           heap of a few large spans (fewer than wake the background
           sweeper) that then allocated only small objects grew past its
           goal by all its dead large objects (1.4-1.7x). Without this
           class's lock: reclaim takes the large classes' locks. */
        unsigned sc = mgc__spanclass_sizeclass(spc), kind = mgc__spanclass_kind(spc);
        if (!mgc__sweep_done()) {
            mgc__unlock(&c->lock);
            reclaim_large(kind < 3 ? kind : MGC_KIND_NOSCAN, mgc__class_npages[sc], sg);
            mgc__lock(&c->lock);
            s = mgc__list_pop(&c->partial[sw]); /* another thread's, meanwhile */
        }
        if (!s)
            s = mgc__heap_alloc_span(mgc__class_npages[sc], spc, 0, 0, 0);
        if (!s) {
            mgc__unlock(&c->lock);
            return false;
        }
    }
    atomic_store_explicit(&s->sweepgen, sg + 3, memory_order_relaxed);
    s->list = MGC_LIST_CACHED;
    s->cache_alloc_count = s->alloc_count;
    if (atomic_load_explicit(&mgc__gc.phase, memory_order_relaxed) == MGC_PHASE_MARK) {
        s->cached_in_mark = 1;
        s->cache_freeindex = s->freeindex;
    }
    *slot = s;
    mgc__unlock(&c->lock);
    /* Count every free slot as live until the span comes back (Go's
       overestimate): the trigger fires before the cache could overshoot. */
    mgc__pacer_add_live((int64_t)((uintptr_t)(s->nelems - s->alloc_count) * s->elemsize));
    return true;
}

void mgc__central_uncache_span(mgc_span **slot)
{
    mgc_span *s = *slot;
    mgc_central *c = &mgc__central[s->spanclass];
    uint32_t sg = atomic_load_explicit(&mgc__gc.sweepgen, memory_order_relaxed);
    unsigned sw = mgc__swept_index(sg);
    mgc__lock(&c->lock);
    /* Counted under the lock, with the slot emptied: a fork while this
       thread waited for the lock (the prepare handler holds every central
       lock) left the child a cache still holding the span, and the child's
       flush of that thread's cache counted the same mallocs again. */
    uint32_t n = mgc__span_count_alloc(s);
    mgc__stat_add(&mgc__stats.nmalloc[s->sizeclass], n - s->cache_alloc_count);
    if (s->cached_in_mark) {
        mgc__mark_black_range(s, s->cache_freeindex, s->freeindex);
        s->cached_in_mark = 0;
    }
    mgc__pacer_add_live(-(int64_t)((uintptr_t)(s->nelems - n) * s->elemsize));
    *slot = &mgc__empty_span; /* under the lock: never in neither place */
    s->alloc_count = n;
    atomic_store_explicit(&s->sweepgen, sg, memory_order_relaxed);
    if (n == s->nelems)
        mgc__list_push(&c->full[sw], s, MGC_LIST_FULL);
    else
        mgc__list_push(&c->partial[sw], s, MGC_LIST_PARTIAL);
    mgc__unlock(&c->lock);
}

/* Go's mheap.reclaim: before a large allocation takes pages, sweep unswept
   large spans (of every kind, the caller's first) until `want` pages have
   gone back to the page heap or the budget is spent. Each list is LIFO, so
   the objects allocated last are swept first: a program that drops large
   objects gets back the pages it touched last, still in its caches,
   instead of pages a whole heap away. With this, a small heap needs no
   background sweeper (sweep.c). Caller in a no-suspend section. */
static void reclaim_large(unsigned kind, uintptr_t want, uint32_t sg)
{
    MGC_ASSERT(kind < 3);
    if (mgc__sweep_done())
        return;
    unsigned un = mgc__unswept_index(sg);
    uintptr_t freed = 0;
    int budget = SWEEP_BUDGET;
    for (unsigned k = 0; k < 3 && freed < want && budget > 0; k++) {
        /* MGC_KIND_SCAN, NOSCAN and TYPED: the kinds a large object has. */
        mgc_central *c = &mgc__central[mgc__spanclass(0, (kind + k) % 3)];
        if (!__atomic_load_n(&c->full[un], __ATOMIC_RELAXED)) /* a hint; decided under the lock */
            continue;
        mgc__lock(&c->lock);
        mgc_span *s;
        while (freed < want && budget > 0 && (s = mgc__list_pop(&c->full[un]))) {
            budget--;
            uintptr_t n = s->npages + __atomic_load_n(&s->reserved, __ATOMIC_RELAXED);
            if (sweep_popped(c, s, sg) == MGC_SWEEP_FREED) /* else full: large spans are never partial */
                freed += n;
        }
        mgc__unlock(&c->lock);
    }
}

mgc_span *mgc__central_alloc_large(uintptr_t npages, unsigned kind, uintptr_t room, uintptr_t prev,
                                   uintptr_t owner)
{
    unsigned spc = mgc__spanclass(0, kind);
    mgc_central *c = &mgc__central[spc];
    uint32_t sg = atomic_load_explicit(&mgc__gc.sweepgen, memory_order_relaxed);
    reclaim_large(kind, room > npages ? room : npages, sg);
    mgc__lock(&c->lock);
    mgc_span *s = mgc__heap_alloc_span(npages, spc, room, prev, owner);
    if (s) {
        s->reserve_sg = sg;
        atomic_store_explicit(&s->sweepgen, sg, memory_order_relaxed);
        mgc__span_set_freeindex(s, 1); /* the one object is allocated */
        s->alloc_cache = 0;
        s->alloc_count = 1;
        if (atomic_load_explicit(&mgc__gc.phase, memory_order_relaxed) == MGC_PHASE_MARK)
            mgc__mark_black_range(s, 0, 1);
        mgc__list_push(&c->full[mgc__swept_index(sg)], s, MGC_LIST_FULL);
        /* Counted with the span listed, under the lock, so a fork's child
           never has the one without the other. */
        mgc__stat_add(&mgc__stats.large_nmalloc, 1);
        mgc__stat_add(&mgc__stats.large_alloc_bytes, s->elemsize);
    }
    mgc__unlock(&c->lock);
    return s;
}

void mgc__central_fork_prepare(void)
{
    for (unsigned i = 0; i < MGC_NUM_SPAN_CLASSES; i++)
        mgc__lock(&mgc__central[i].lock);
}

void mgc__central_fork_parent(void)
{
    for (unsigned i = 0; i < MGC_NUM_SPAN_CLASSES; i++)
        mgc__unlock(&mgc__central[i].lock);
}

void mgc__central_fork_child(void)
{
    for (unsigned i = 0; i < MGC_NUM_SPAN_CLASSES; i++)
        mgc__lock_init(&mgc__central[i].lock);
}
