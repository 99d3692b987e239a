/*
 * cache.c — the per-thread cache's slow paths (cache.h): refill from
 * mcentral, flush at each collection and at thread exit.
 *
 * Invariant: a cache slot holds &mgc__empty_span or a span whose sweepgen
 * is sg+3 (swept and cached). A span leaves its slot and enters a central
 * list in one step under the class lock (central.c), so it is never in both
 * places and never in neither (fork relies on the latter).
 */
#include "internal/cache.h"
#include "internal/central.h"
#include "internal/pacer.h"
#include "internal/stats.h"
#include "internal/threads.h"

/* nelems 0 and alloc_cache 0: the fast path always falls through. */
mgc_span mgc__empty_span;

void mgc__cache_init(mgc_mcache *c)
{
    for (unsigned i = 0; i < MGC_NUM_SPAN_CLASSES; i++) {
        c->cls[i].span = &mgc__empty_span;
        c->cls[i].reuse = 0;
    }
    c->tiny = 0;
    c->tinyoffset = MGC_TINY_SIZE;
    c->tiny_desc = NULL;
    c->tiny_allocs = 0;
}

void *mgc__cache_refill(mgc_thread *t, unsigned spc)
{
    mgc_span **slot = &t->cache.cls[spc].span;
    mgc_span *s = *slot;
    if (s != &mgc__empty_span) {
        /* alloc_cache ran out at a 64-slot boundary: reload it from
           alloc_bits (no lock, Go's nextFreeIndex). */
        if (mgc__span_refill_cache(s))
            return mgc__cache_take(s);
        mgc__central_uncache_span(slot);
    }
    if (!mgc__central_cache_span(spc, slot))
        return NULL;
    s = *slot;
    if (mgc__pacer_should_trigger())
        t->gc_wanted = 1;
    mgc__span_refill_cache(s);
    return mgc__cache_take(s);
}

void mgc__cache_flush_spans(mgc_mcache *c)
{
    for (unsigned i = 0; i < MGC_NUM_SPAN_CLASSES; i++) {
        c->cls[i].reuse = 0;
        if (c->cls[i].span != &mgc__empty_span)
            mgc__central_uncache_span(&c->cls[i].span);
    }
    /* The tiny block may have room left, but its span just went back and
       will be swept: a block nobody references must not be bumped into. */
    c->tiny = 0;
    c->tinyoffset = MGC_TINY_SIZE;
    c->tiny_desc = NULL;
}

void mgc__cache_flush(mgc_mcache *c)
{
    mgc__cache_flush_spans(c);
    mgc__cache_flush_counts(c);
}

void (*mgc__test_flush_counts_hook)(void);

void mgc__cache_flush_counts(mgc_mcache *c)
{
    /* A reused slot was freed and allocated again: count both. Slots still
       on the lists are dropped uncounted: the sweeper will count them freed. */
    for (unsigned sc = 0; sc < MGC_NUM_SIZE_CLASSES; sc++) {
        if (c->nreuse[sc]) {
            mgc__stat_add(&mgc__stats.nmalloc[sc], c->nreuse[sc]);
            mgc__stat_add(&mgc__stats.nfree[sc], c->nreuse[sc]);
            c->nreuse[sc] = 0;
        }
    }
    mgc__stat_add(&mgc__stats.nfree_explicit, c->nfree_explicit);
    if (mgc__test_flush_counts_hook)
        mgc__test_flush_counts_hook();
    c->nfree_explicit = 0;
    mgc__stat_add(&mgc__stats.tiny_allocs, c->tiny_allocs);
    c->tiny_allocs = 0;
}

void mgc__cache_count(const mgc_mcache *c, mgc_cache_counts *out)
{
    for (unsigned i = 0; i < MGC_NUM_SPAN_CLASSES; i++) {
        const mgc_span *s = c->cls[i].span;
        if (s != &mgc__empty_span)
            out->nmalloc[s->sizeclass] += mgc__span_count_alloc(s) - s->cache_alloc_count;
    }
    for (unsigned sc = 0; sc < MGC_NUM_SIZE_CLASSES; sc++)
        out->nreuse[sc] += c->nreuse[sc];
    out->tiny_allocs += c->tiny_allocs;
    out->nfree_explicit += c->nfree_explicit;
}
