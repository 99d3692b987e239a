/*
 * cache.h — the per-thread cache (Go's mcache): one span per span class and
 * the tiny block. It belongs to its thread, which touches it only inside a
 * no-suspend section (threads.h); a stopped world may flush it.
 *
 * The fast path (mgc__cache_take) takes the lowest free slot of the cached
 * span with count-trailing-zeros on alloc_cache: no lock, no atomic
 * read-modify-write, one cache line of span state.
 */
#ifndef MGC_CACHE_H
#define MGC_CACHE_H

#include "base.h"
#include "span.h"

/* One span class's state: the cached span and the reuse list of slots this
   thread freed by hand (free.c), side by side so the fast path reads both
   from one cache line. */
typedef struct mgc_cache_entry {
    mgc_span *span;  /* &mgc__empty_span when none */
    uintptr_t reuse; /* first freed slot, 0 if none; links are encoded (free.c) */
} mgc_cache_entry;

typedef struct mgc_mcache {
    mgc_cache_entry cls[MGC_NUM_SPAN_CLASSES];
    uintptr_t tiny;        /* current tiny block, 0 if none */
    uintptr_t tinyoffset;  /* first free byte in it (16 when none) */
    uint8_t *tiny_desc;    /* the block's descriptor in its span (below) */
    uint64_t tiny_allocs;  /* tiny objects allocated, not yet in stats */
    /* Explicit frees since the last flush (free.c): slots pushed on the
       reuse lists, and slots popped again by allocations, by size class. */
    uint64_t nfree_explicit;
    uint64_t nreuse[MGC_NUM_SIZE_CLASSES];
} mgc_mcache;

/* Tiny block descriptor, one byte per 16-byte block in a tiny span's side
   table. Tiny objects are 8-byte aligned, so a block holds at most two:
   bit 0 / bit 1 = an object starts at byte 0 / byte 8; bit 3 = bytes 8..15
   belong to an object. It makes mgc_usable_size exact for a sub-object
   without recording sizes: the object at byte 0 may use 16 bytes only if it
   already owns the second half. */
#define MGC_TINY_OWN_HI 8u
MGC_INLINE uint8_t mgc__tiny_desc_bits(uintptr_t off, size_t size)
{
    return (uint8_t)(1u << (off >> 3) | (off + size > 8 ? MGC_TINY_OWN_HI : 0));
}
MGC_INLINE bool mgc__tiny_is_start(uint8_t d, uintptr_t off)
{
    return (off == 0 || off == 8) && ((d >> (off >> 3)) & 1);
}
MGC_INLINE size_t mgc__tiny_usable(uint8_t d, uintptr_t off)
{
    return off == 0 && (d & MGC_TINY_OWN_HI) && !(d & 2) ? 16 : 8;
}

/* The sentinel: no free slot, never uncached. */
extern MGC_INTERNAL mgc_span mgc__empty_span;

/* Zero a slot (a multiple of 16 bytes). Small slots inline: a libc call
   costs more than the stores. */
MGC_INLINE void mgc__zero_slot(void *p, uintptr_t n)
{
    if (n <= 64) {
        uint64_t *q = p;
        q[0] = 0;
        q[1] = 0;
        if (n > 16) {
            q[2] = 0;
            q[3] = 0;
            if (n > 32) {
                q[4] = 0;
                q[5] = 0;
                if (n > 48) {
                    q[6] = 0;
                    q[7] = 0;
                }
            }
        }
        return;
    }
    memset(p, 0, n);
}

/* Take the next free slot of s by its alloc_cache, or NULL. */
MGC_INLINE void *mgc__cache_take(mgc_span *s)
{
    uint64_t c = s->alloc_cache;
    if (likely(c != 0)) {
        unsigned b = mgc__ctz64(c);
        uint32_t r = s->freeindex + b;
        if (likely(r < s->nelems)) {
            s->alloc_cache = (c >> b) >> 1;
            mgc__span_set_freeindex(s, r + 1);
            return (void *)(s->base + (uintptr_t)r * s->elemsize);
        }
    }
    return NULL;
}

struct mgc_thread;
/* The slow path for a slot of class spc: reload alloc_cache, or swap the
   cached span for another from mcentral. Sets t->gc_wanted when heap_live
   crossed the trigger. NULL when the heap cannot grow. Inside a no-suspend
   section. The slot is not yet zeroed or unpoisoned. */
MGC_INTERNAL void *mgc__cache_refill(struct mgc_thread *t, unsigned spc);
/* Give every cached span back, drop the tiny block and the reuse lists (at
   each collection, at thread exit, and for dead threads after fork). A
   dropped freed slot is garbage the sweeper will reclaim. */
MGC_INTERNAL void mgc__cache_flush(mgc_mcache *c);
/* The two halves of a flush: the spans, reuse lists and tiny block; then
   the counters (reuses, explicit frees, tiny allocations) into MemStats.
   A detaching thread moves its counters under the registry lock, as it
   leaves the registry: fork's prepare takes that lock, so a child either
   still lists the thread and flushes the counters once, or sees them
   moved (a fork between the halves of an unlocked flush counted them
   twice in the child). */
MGC_INTERNAL void mgc__cache_flush_spans(mgc_mcache *c);
MGC_INTERNAL void mgc__cache_flush_counts(mgc_mcache *c);
/* Test hook: called by mgc__cache_flush_counts between adding the explicit
   frees to MemStats and clearing the cache's count. */
extern MGC_INTERNAL void (*mgc__test_flush_counts_hook)(void);
MGC_INTERNAL void mgc__cache_init(mgc_mcache *c);
/* What a cache holds that MemStats has not seen yet (for exact figures in
   a stopped world): objects allocated from cached spans since they were
   cached and slots reused from the free lists, by size class; tiny objects;
   explicit frees. */
typedef struct mgc_cache_counts {
    uint64_t nmalloc[MGC_NUM_SIZE_CLASSES];
    uint64_t nreuse[MGC_NUM_SIZE_CLASSES];
    uint64_t tiny_allocs, nfree_explicit;
} mgc_cache_counts;
MGC_INTERNAL void mgc__cache_count(const mgc_mcache *c, mgc_cache_counts *out);

#endif /* MGC_CACHE_H */
