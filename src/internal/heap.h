/*
 * heap.h — the page heap (Go's mheap and page allocator): one contiguous
 * reservation of address space carved into 64 MiB arenas, committed in
 * 4 MiB chunks as the heap grows, handed out as spans of 8 KiB pages, with
 * an O(1) map from any address to its span.
 *
 * Why one reservation: "is this a heap pointer?" is one subtraction and one
 * compare, the span map is one flat array, and the concurrent collector can
 * later register the heap with userfaultfd once (DESIGN.md section 4).
 */
#ifndef MGC_HEAP_H
#define MGC_HEAP_H

#include "base.h"
#include "lock.h"
#include "span.h"

#define MGC_ARENA_SIZE (64 * MGC_MiB)
#define MGC_CHUNK_PAGES 512 /* 4 MiB: commit and summary granule */
#define MGC_CHUNK_BYTES ((uintptr_t)MGC_CHUNK_PAGES * MGC_PAGE_SIZE)

typedef struct mgc_chunk_sum {
    uint16_t start, max, end; /* free pages at the start, longest run, at the end */
    uint16_t stale;           /* 1: the bits changed since; recomputed when next read */
} mgc_chunk_sum;

typedef struct mgc_heap {
    mgc_lock lock;
    uintptr_t base;             /* reservation start, 64 MiB aligned; immutable after init */
    uintptr_t reserved;         /* reservation bytes; immutable after init */
    /* Bytes committed from base (heap_sys). Grows under lock; read without it
       by markers and lookups (relaxed: a reader that sees an old value only
       rejects a pointer into memory nobody could have allocated yet). */
    _Atomic uintptr_t mapped;
    /* One entry per page of the reservation: the in-use span holding it, or
       NULL. Written under lock with release stores; read anywhere. */
    _Atomic(mgc_span *) *spanmap;
    uint64_t *pagebits;   /* 1 = page in use; lock */
    mgc_chunk_sum *sums;  /* per 512-page chunk; lock */
    uintptr_t search;     /* no free page below this page index; lock */
    uintptr_t zeroed;     /* pages at or above were never handed out; lock */
    uint64_t pages_inuse; /* lock */
    mgc_span **allspans;  /* every in-use span, for heap walks; lock */
    size_t nallspans, allspans_cap; /* lock */
    /* Freed span records, linked by next, for spans only (span.h,
       incarnation: a lock-free reader may still hold one); lock */
    mgc_span *spare;
} mgc_heap;

extern MGC_INTERNAL mgc_heap mgc__heap;

MGC_INTERNAL int mgc__heap_init(void);
/* The summary of one chunk's 512 page bits (exposed for tests). */
MGC_INTERNAL mgc_chunk_sum mgc__chunk_summary(const uint64_t *words);
/* A span of npages for spanclass, initialised (span_init) and published in
   the span map; for class 0, elemsize is npages pages. room > npages asks
   for a place with room pages free from its start, if the mapped heap has
   one, the pages after the span held as its reserve for growth in place
   (s->reserved; without such a place, none; when the heap grows for the
   span, it grows by the room). owner: a token for whoever asks (a
   thread); prev, if not 0: first give back the reserve of the span that
   starts there if owner gave it (its last growable span, which may have
   been freed since). NULL when the heap cannot grow. Takes the heap lock. */
MGC_INTERNAL mgc_span *mgc__heap_alloc_span(uintptr_t npages, unsigned spanclass, uintptr_t room, uintptr_t prev,
                                            uintptr_t owner);
/* Grow a large span in place to npages over its reserve, then over the
   pages after it if they are free (or can be committed at the top of the
   heap). *dirty: how many of the new pages, from the first, may hold old
   data (the rest read zero). Takes the heap lock; the caller holds the
   span's central lock, so no sweep runs on it meanwhile. */
MGC_INTERNAL bool mgc__heap_extend_span(mgc_span *s, uintptr_t npages, uintptr_t *dirty);
/* Return a span's pages; the span must be unreachable from any list or
   cache. Takes the heap lock. */
MGC_INTERNAL void mgc__heap_free_span(mgc_span *s);
/* Give a large span's reserve back to the free set (it stopped growing).
   Takes the heap lock. */
MGC_INTERNAL void mgc__heap_trim_reserve(mgc_span *s);
MGC_INTERNAL void mgc__heap_read_stats(uint64_t *sys, uint64_t *inuse, uint64_t *nspans);
MGC_INTERNAL void mgc__heap_fork_prepare(void);
MGC_INTERNAL void mgc__heap_fork_parent(void);
MGC_INTERNAL void mgc__heap_fork_child(void);

/* The in-use span containing p, or NULL. */
MGC_INLINE mgc_span *mgc__span_of(uintptr_t p)
{
    uintptr_t off = p - mgc__heap.base;
    if (off >= atomic_load_explicit(&mgc__heap.mapped, memory_order_relaxed))
        return NULL;
    return atomic_load_explicit(&mgc__heap.spanmap[off >> MGC_PAGE_SHIFT], memory_order_acquire);
}

#endif /* MGC_HEAP_H */
