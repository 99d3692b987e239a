/*
 * span.h — the span (Go's mspan): a run of 8 KiB pages holding objects of
 * one span class, or one large object. Its bitmaps say which slots are
 * allocated and which were marked.
 *
 * Slot states (Go's scheme, mbitmap.go):
 *   - slot i is allocated iff i < freeindex or alloc_bits[i] is set;
 *   - alloc_cache holds ~alloc_bits for slots [freeindex, next multiple of
 *     64), shifted so bit 0 is freeindex: the fast path takes ctz of it;
 *   - sweeping packs mark_bytes into alloc_bits, clears mark_bytes and sets
 *     freeindex = 0, so a slot's old contents stay until it is reused
 *     (zeroed then, if needzero).
 * Marks are bytes, not bits (Boehm's choice for parallel marking): workers
 * set them with plain stores, so marking needs no locked instruction and no
 * mark is ever lost; two workers racing on one object only scan it twice.
 * Bits for slots >= nelems are always 0 in alloc_bits and mark_bytes.
 *
 * sweepgen (Go's protocol, relative to the heap's sweepgen sg, which grows
 * by 2 per cycle): sg-2 unswept, sg-1 being swept, sg swept, sg+1 cached
 * but unswept, sg+3 swept and cached. A span is swept exactly once per cycle,
 * by whoever moves it from sg-2 to sg-1 with a compare-and-swap.
 */
#ifndef MGC_SPAN_H
#define MGC_SPAN_H

#include "base.h"
#include "sizeclass.h"

typedef struct mgc_span mgc_span;

struct mgc_span {
    /* Hot allocation fields, one cache line. While the span is cached they
       belong to the caching thread alone (touched only inside its no-suspend
       sections); otherwise to whoever holds the span's central lock; a
       stopped world may read them. One exception: freeindex and alloc_bits
       are also read by any thread validating a pointer (mgc__slot_state in
       free.c, for mgc_free and friends), without a lock, as a seqlock on
       sweepgen; so they are written with relaxed atomic stores
       (mgc__span_set_freeindex; sweep.c for alloc_bits). */
    uint64_t alloc_cache;
    uintptr_t base;     /* first byte; immutable while in use */
    uint32_t freeindex; /* slots below are allocated */
    uint32_t nelems;    /* immutable while in use */
    uintptr_t elemsize; /* slot bytes (large: npages * 8 KiB); immutable, but a large
                           span's grows with npages in mgc__heap_extend_span, under
                           its central lock and the heap lock, while its owner holds it */
    uint32_t divmagic;  /* slot = (off * divmagic) >> 32; 0 for large spans */
    uint8_t needzero;   /* slots may hold old data: zero before handing out */
    uint8_t kind;       /* enum mgc_kind; immutable */
    uint8_t sizeclass;  /* 0 = large; immutable */
    uint8_t large;      /* 1 for a large-object span */
    uint16_t spanclass; /* immutable */

    uint64_t *alloc_bits; /* see above; rewritten by sweep */
    uint8_t *mark_bytes;  /* one per slot, set by markers with plain stores */
    /* Typed spans up to 512-byte slots: one bit per word, 1 = pointer,
       written by the allocating thread with a compare-and-swap per word
       (neighbouring slots may be another thread's), read by markers in a
       stopped world. Tiny spans: a descriptor byte per 16-byte block
       (cache.h), written by the owner and read by any thread validating a
       pointer, both with relaxed atomics. */
    uint64_t *heap_bits;
    /* Typed spans up to 512-byte slots: each slot's type (realloc needs it;
       scanning uses heap_bits). Written by the allocating thread. */
    const mgc_type **slot_types;
    uint64_t *check_bits; /* gccheckmark's second marking; stopped world only */
    uint32_t nbitwords;   /* words of alloc_bits */
    uint32_t nmarkwords;  /* words of mark_bytes (nelems rounded up to 8) */
    uint32_t heapwords;   /* words in heap_bits */

    _Atomic uint32_t sweepgen; /* see above */
    uint32_t alloc_count;      /* allocated slots as of the last sweep/uncache; central lock */
    uint32_t cache_alloc_count; /* alloc_count when it was cached (stats); owner */
    uint32_t cache_freeindex;  /* freeindex when cached during mark (allocate-black); owner */
    uint32_t npages;           /* immutable, but grows with a large span's elemsize */
    /* A large span: how many of its pages, from the first, may hold old
       data when it is allocated (needzero); the rest are zero from the OS,
       and zeroing them would commit them all (a 4 GiB object over one
       used MiB: 4 GiB of RSS and 2 s). Set under the heap lock before the
       span is published; read by the allocating thread. */
    uint32_t dirty_pages;
    /* Pages right after a large span held for its growth (heap.c): out of
       the free set, not in use, not in the span map. Written under the
       heap lock (relaxed atomic stores); the sweeper reads it under the
       span's central lock only, as a hint (a relaxed load: the owner may
       be giving the reserve back at the same time). */
    uint32_t reserved;
    uint32_t reserve_sg;   /* the sweepgen when the reserve was given (central lock) */
    uintptr_t reserve_owner; /* who may give it back early (heap.c); heap lock */
    uint32_t allspans_index;   /* heap lock */
    uint8_t list;              /* which central list holds it (MGC_LIST_*); central lock */
    uint8_t cached_in_mark;    /* cached while marking: blacken on uncache; owner */
    mgc_span *next, *prev;     /* central list links; central lock */

    /* Large typed objects: the type and element count (no header). Set at
       allocation, inside the allocating thread's no-suspend section, and by
       mgc_realloc's in-place growth under the central lock; read by markers
       in a stopped world. */
    const mgc_type *large_type;
    size_t large_count;
    /* The bitmaps of a span of at most 8 slots (every large span): one
       word of alloc bits and one of mark bytes, kept here instead of in a
       separate metadata block, so a large object costs one metadata
       allocation, not two. */
    uint64_t inline_bits[2];

    /* The record's life, a seqlock for threads that read a span with no
       lock (free.h: mgc__span_pin, mgc__slot_state; mgc_base, mgc_free and
       friends, given any pointer, the pointer of an object the collector
       already took included): odd while the record is free or being set
       up, even while it is an in-use span; it changes under the heap lock
       only (heap.c), to odd before anything of a freed span is released,
       to even after a new span's fields are set and before the span map
       points at it. Records are kept for spans only, never handed to other
       metadata (heap.c's spare list), and alloc_bits, mark_bytes and
       heap_bits never hold NULL once set: they point at metadata that stays
       mapped (meta.h), so a reader holding a record freed and set up again
       under it reads stale but mapped memory, and learns from this number
       that it must not use what it read. Last in the record, out of the
       reset (heap.c). */
    _Atomic uint32_t incarnation;
};

/* The owner's store of freeindex: relaxed atomic, as other threads read it
   (see the field). A plain mov on x86-64 and aarch64. */
MGC_INLINE void mgc__span_set_freeindex(mgc_span *s, uint32_t fi)
{
    __atomic_store_n(&s->freeindex, fi, __ATOMIC_RELAXED);
}

MGC_INLINE bool mgc__span_allocated(const mgc_span *s, uintptr_t idx)
{
    return idx < s->freeindex || mgc__bit_get(s->alloc_bits, idx);
}

MGC_INLINE uintptr_t mgc__span_index(const mgc_span *s, uintptr_t p)
{
    return (uintptr_t)(((uint64_t)(p - s->base) * s->divmagic) >> 32);
}

/* Allocated slots now: those below freeindex plus alloc_bits at or above. */
MGC_INTERNAL uint32_t mgc__span_count_alloc(const mgc_span *s);
/* Reload alloc_cache from alloc_bits at the first free slot at or after
   freeindex (advancing freeindex over allocated slots). Returns false when the
   span has no free slot left. Go's nextFreeIndex. */
MGC_INTERNAL bool mgc__span_refill_cache(mgc_span *s);
/* Words of bitmaps a span of spanclass over npages has (at most 2 live in
   the span itself, inline_bits). */
MGC_INTERNAL size_t mgc__span_bits_words(unsigned spanclass, uint32_t npages);
/* Set up a fresh span's fields and bitmaps for its span class: bits is a
   zeroed metadata block of mgc__span_bits_words words, or NULL when those
   are at most 2. The caller holds the heap lock. */
MGC_INTERNAL void mgc__span_init(mgc_span *s, unsigned spanclass, uintptr_t base, uint32_t npages, uint64_t *bits);
MGC_INTERNAL void mgc__span_release_bits(mgc_span *s);

#endif /* MGC_SPAN_H */
