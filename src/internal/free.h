/*
 * free.h — explicit free (Go's runtime.freegc, issue 74299): the reuse
 * lists that hand a freed slot back to the freeing thread's next allocation
 * of its span class, LIFO.
 *
 * A freed small slot stays allocated as far as its span knows; it sits on
 * the thread's list for its span class. Its words at link_off (0, or 16 for
 * objects with a type header, which stays intact for the marker) hold:
 *   word 0: the next slot XOR mgc__free_cookie — never a pointer the
 *           collector could trace;
 *   word 1: the slot's address XOR mgc__free_cookie — the freed mark that
 *           catches a double free without a bitmap or an atomic.
 * The lists are dropped at every cache flush (each cycle, world stopped):
 * from then on an unreused freed slot is ordinary garbage, swept like any
 * other. So a slot is on at most one list, a listed slot is never in an
 * alloc cache, and nothing is handed out twice. The mark outlives a sweep
 * in the slot's bytes; a zeroed allocation wipes it, the raw one clears it
 * (mgc__free_clear_mark).
 *
 * Also here, as free's contract with the rest: what a slot is
 * (mgc__slot_state, mgc__large_dead), the checks and abort lines that
 * free, realloc and usable_size share (mgc__check_live, mgc__no_object),
 * and which sizes name an object (mgc__size_fits_span: free_sized's check
 * and realloc's test for staying in place).
 */
#ifndef MGC_FREE_H
#define MGC_FREE_H

#include "base.h"
#include "cache.h"
#include "gc.h"
#include "heap.h"
#include "sizeclass.h"
#include "span.h"
#include "track.h"

extern MGC_INTERNAL uintptr_t mgc__free_cookie;

MGC_INTERNAL void mgc__free_init(void);

/* Where the link words of a freed slot of span class spc start. */
MGC_INLINE uintptr_t mgc__free_link_off(unsigned spc)
{
    return mgc__spanclass_kind(spc) == MGC_KIND_TYPED &&
                   mgc__class_size[mgc__spanclass_sizeclass(spc)] > MGC_TYPED_BITS_MAX
               ? MGC_TYPED_HEADER
               : 0;
}

/* Would a request of size bytes, of the kind of span s's objects (for a
   typed object: type size x count), get an object of s: its size class,
   or for a large span its number of pages? mgc_free_sized's check, and
   mgc_realloc's test for staying in place, so that the size given to the
   last mgc_realloc (for a typed object, rounded up to whole elements) is
   one mgc_free_sized accepts. Tiny: any size under 16 bytes. */
MGC_INLINE bool mgc__size_fits_span(const mgc_span *s, size_t size)
{
    /* Large: its pages, and a request that would be large (one that would
       get a size class instead is another block, however the pages
       round), except 32 KiB exactly, the size of an mgc_buf's storage,
       which is a span of its own from there (buf.c). */
    if (s->large)
        return mgc__round_up(size, MGC_PAGE_SIZE) == s->elemsize &&
               (mgc__alloc_need(size, s->kind) > MGC_SMALL_MAX || size == MGC_SMALL_MAX);
    if (s->kind == MGC_KIND_TINY)
        return size < MGC_TINY_SIZE;
    size_t need = mgc__alloc_need(size, s->kind);
    return need <= MGC_SMALL_MAX && mgc__size_to_class(need) == s->sizeclass;
}

/* A slot handed out raw (not zeroed) from its span's free slots, of a span
   that may hold old data (needzero): clear the freed mark. A slot freed by
   hand and not reused before the next cycle is swept as garbage with the
   mark still in its bytes; handed out raw again, it would make the live
   object's next free look like a double free (and mgc_base disown it).
   Zeroed slots lose it with the rest; fresh pages never held one. */
MGC_INLINE void mgc__free_clear_mark(uintptr_t slot, unsigned spc)
{
    ((uintptr_t *)(slot + mgc__free_link_off(spc)))[1] = 0;
}

/* Concurrent marking will need a reused slot marked (allocate-black);
   a stopped-world mark never runs beside an allocation. */
MGC_INTERNAL void mgc__free_reuse_black(uintptr_t slot);

/* Pop the head of entry e's reuse list (e->reuse != 0): the slot,
   unpoisoned, and zeroed unless the caller asked for raw memory (then its
   link words are cleared, so it carries no freed mark). Inside a
   no-suspend section. */
MGC_INLINE uintptr_t mgc__reuse_pop(mgc_mcache *c, mgc_cache_entry *e, unsigned spc, bool zeroed)
{
    uintptr_t r = e->reuse;
    uintptr_t size = mgc__class_size[mgc__spanclass_sizeclass(spc)];
    MGC_TRACK_ALLOC(r, size);
    uintptr_t *w = (uintptr_t *)(r + mgc__free_link_off(spc));
    e->reuse = w[0] ^ mgc__free_cookie;
    if (zeroed) {
        mgc__zero_slot((void *)r, size);
    } else {
        w[0] = 0; /* no freed mark left behind */
        w[1] = 0;
        MGC_TRACK_UNDEFINED(r, size);
    }
    c->nreuse[mgc__spanclass_sizeclass(spc)]++;
    if (unlikely(atomic_load_explicit(&mgc__gc.phase, memory_order_relaxed) == MGC_PHASE_MARK))
        mgc__free_reuse_black(r);
    return r;
}

/* What a slot is, read as a seqlock against a concurrent sweep of its span
   (sweepgen is sg-1 while it runs): FREE (not allocated), DEAD (allocated,
   but its span is unswept and the last mark did not reach it: garbage the
   sweeper has not taken yet), or LIVE. */
enum mgc_slot_state { MGC_SLOT_FREE, MGC_SLOT_DEAD, MGC_SLOT_LIVE };

/* Does slot (of span class spc, not tiny) carry the freed mark? */
MGC_INTERNAL bool mgc__freed_by_hand(uintptr_t slot, unsigned spc);

/* A lock-free reader's first step on a span it found with mgc__span_of:
   the record's incarnation (span.h), which it passes to mgc__slot_state.
   Odd: the span was freed since the lookup (there is no object). The
   fields the reader reads after this (geometry, bitmap pointers) may be a
   later span's if the record is freed and set up again meanwhile, but
   mgc__slot_state then answers FREE: a decision to use an object is taken
   only on what its answer LIVE vouches for, and a caller that holds a
   live object's pointer never sees its span change. */
MGC_INLINE uint32_t mgc__span_pin(const mgc_span *s)
{
    return atomic_load_explicit(&s->incarnation, memory_order_acquire);
}

/* The in-use span holding p, pinned (*inc), for a caller that will act on
   p (free, realloc, usable_size): NULL when there is none, when it was
   freed since the lookup, or when its record was set up for a span
   elsewhere (p is not in it). */
MGC_INLINE mgc_span *mgc__span_pinned(uintptr_t p, uint32_t *inc)
{
    mgc_span *s = mgc__span_of(p);
    if (!s || ((*inc = mgc__span_pin(s)) & 1) || p - s->base >= (uintptr_t)s->npages * MGC_PAGE_SIZE)
        return NULL;
    return s;
}

/* The state of slot idx of s, s still the incarnation inc (else FREE: the
   span was freed, and whatever the caller read of it is stale). For a
   large span, slot 0 (freeindex is 1 from its allocation; the sweep of a
   live large span clears its mark before it publishes sweepgen, which the
   seqlock waits out): DEAD when the last mark did not reach the object.
   Exact for a pointer the caller holds: mark bits change only with the
   world stopped. */
MGC_INTERNAL enum mgc_slot_state mgc__slot_state(const mgc_span *s, uintptr_t idx, uint32_t inc);
/* Abort naming p (given to fn), whose slot is in state st (not LIVE). */
MGC_INTERNAL MGC_COLD MGC_NORETURN void mgc__not_live(const char *fn, uintptr_t p, enum mgc_slot_state st);
/* Abort naming p (given to fn), which no in-use span holds. */
MGC_INTERNAL MGC_COLD MGC_NORETURN void mgc__no_object(const char *fn, uintptr_t p);
/* Abort naming p (given to fn) unless its slot (idx of s, at slot; s
   pinned as inc) is allocated, was reached by the last mark if s is
   unswept, and carries no freed mark; freed_why ends the freed line.
   Inside a no-suspend section. */
MGC_INTERNAL void mgc__check_live(const char *fn, uintptr_t p, const mgc_span *s, uint32_t inc, uintptr_t idx,
                                  uintptr_t slot, const char *freed_why);

#endif /* MGC_FREE_H */
