/*
 * alloc.c — the public allocation entry points (Go's malloc.go).
 *
 * Paths, fastest first:
 *   - tiny: noscan objects under 16 bytes bump within the thread's current
 *     16-byte block (8-byte aligned, DESIGN.md invariant 6);
 *   - small (<= 32 KiB; inline up to 1 KiB in mgc_alloc/mgc_alloc_noscan,
 *     at every small size in the containers' raw path):
 *     first the slot this thread freed last in that size class (free.c's
 *     reuse list), else ctz on the cached span's alloc_cache; zeroed if
 *     needzero, after the no-suspend section on the inline path;
 *   - refill, and small objects over 1 KiB: swap the cached span for one
 *     from mcentral (cache.c) if needed; the slot is zeroed inside the
 *     section (a stop may wait for up to 32 KiB of memset, a microsecond
 *     or so);
 *   - large (> 32 KiB, and a container's growable storage from 32 KiB,
 *     mgc__alloc_growable_raw, with a reserve of pages after it that the
 *     thread's next growable storage gives back, heap.c): a span of its
 *     own from the page heap, after sweeping dead large objects (central.c),
 *     zeroed outside the no-suspend section so a stop never waits for that
 *     memset.
 * Only what may hold old data is zeroed: fresh pages from the OS are zero.
 *
 * Typed objects: up to 512 bytes their pointer words go into the span's
 * heap bits (and the type into the span's slot table, for realloc); larger
 * small ones carry a 16-byte header {type, count} before the object; large
 * ones keep type and count in the span. The count, like the heap bits, is
 * the array's capacity: every whole element its usable size holds
 * (typed_capacity), never fewer than were asked.
 *
 * Out of memory: collect, retry once, then NULL with errno = ENOMEM.
 */
#include "internal/alloc.h"
#include "internal/barrier.h"
#include "internal/cache.h"
#include "internal/free.h"
#include "internal/central.h"
#include "internal/gc.h"
#include "internal/heap.h"
#include "internal/pacer.h"
#include "internal/sizeclass.h"
#include "internal/stats.h"
#include "internal/threads.h"
#include "internal/track.h"

#include <errno.h>

/* A slot of span class spc, zeroed unless raw, or NULL: one this thread
   freed, first, else the next free slot of its cached span. Inside a
   no-suspend section. */
static void *alloc_small(mgc_thread *t, unsigned spc, bool zeroed)
{
    mgc_cache_entry *e = &t->cache.cls[spc];
    if (e->reuse)
        return (void *)mgc__reuse_pop(&t->cache, e, spc, zeroed);
    mgc_span *s = e->span;
    void *p = mgc__cache_take(s);
    if (unlikely(!p)) {
        p = mgc__cache_refill(t, spc);
        if (!p)
            return NULL;
        s = e->span;
    }
    if (!zeroed) {
        MGC_TRACK_ALLOC_RAW(p, s->elemsize);
        if (s->needzero)
            mgc__free_clear_mark((uintptr_t)p, spc);
        return p;
    }
    MGC_TRACK_ALLOC(p, s->elemsize);
    if (s->needzero)
        mgc__zero_slot(p, s->elemsize);
    return p;
}

/* The tiny allocator, size 1..15, inside a no-suspend section: bump within
   the current 16-byte block (false if it does not fit; inline in
   mgc_alloc_noscan too, and a flag rather than NULL so that the fast path
   tests nothing twice), else a new block. */
MGC_INLINE bool tiny_bump(mgc_mcache *c, size_t size, void **p)
{
    uintptr_t off = mgc__round_up(c->tinyoffset, 8);
    if (unlikely(off + size > MGC_TINY_SIZE))
        return false;
    c->tinyoffset = off + size;
    __atomic_store_n(c->tiny_desc, (uint8_t)(*c->tiny_desc | mgc__tiny_desc_bits(off, size)), __ATOMIC_RELAXED);
    c->tiny_allocs++;
    *p = (void *)(c->tiny + off);
    return true;
}

static void *tiny_new_block(mgc_thread *t, size_t size)
{
    mgc_mcache *c = &t->cache;
    void *block = alloc_small(t, MGC_TINY_SPANCLASS, true);
    if (!block)
        return NULL;
    mgc_span *s = c->cls[MGC_TINY_SPANCLASS].span; /* tiny slots are never freed by hand */
    uint8_t *desc = (uint8_t *)s->heap_bits + ((uintptr_t)block - s->base) / MGC_TINY_SIZE;
    __atomic_store_n(desc, mgc__tiny_desc_bits(0, size), __ATOMIC_RELAXED);
    /* Keep whichever block has more room left (Go's rule). */
    if (!c->tiny || size < c->tinyoffset) {
        c->tiny = (uintptr_t)block;
        c->tinyoffset = size;
        c->tiny_desc = desc;
    }
    return block;
}

static void *alloc_tiny(mgc_thread *t, size_t size)
{
    void *p;
    return tiny_bump(&t->cache, size, &p) ? p : tiny_new_block(t, size);
}

/* After a no-suspend section: the collection a slow path found due. */
MGC_INLINE void gc_if_wanted(mgc_thread *t)
{
    if (unlikely(t->gc_wanted)) {
        t->gc_wanted = 0;
        mgc__gc_maybe();
    }
}

/* Replace the bits under mask in *w, atomically: a heap-bits word covers
   several slots, and with reuse lists (free.c) and in-place realloc another
   thread may be writing a neighbouring slot's bits at the same time. */
static void set_bits(uint64_t *w, uint64_t mask, uint64_t bits)
{
    uint64_t old = __atomic_load_n(w, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(w, &old, (old & ~mask) | bits, true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
        ;
}

/* Describe the n elements of type ty at p (a slot of a typed span up to 512
   bytes) in the span's heap bits and slot table. Inside a no-suspend
   section, so no marking sees the bits half-written. n elements fit the
   slot's 64 words at most, but with n == 0 (mgc_alloc_array(ty, 0)) ty
   may be any size: no words to describe then, and no mask to build (its
   words past 64 would not fit a uint64_t). */
static void write_heap_bits(uintptr_t p, const mgc_type *ty, size_t n)
{
    mgc_span *s = mgc__span_of(p); /* a reused slot may not be in the cached span */
    uint64_t pat = 0;
    if (n) {
        size_t nptr = ty->ptrdata / sizeof(void *), stride = ty->size / sizeof(void *);
        uint64_t elem = 0;
        for (size_t w = 0; w < nptr; w++)
            if ((ty->ptrmask[w >> 3] >> (w & 7)) & 1)
                elem |= (uint64_t)1 << w;
        for (size_t e = 0; e < n; e++)
            pat |= elem << (e * stride);
    }
    uintptr_t w0 = (p - s->base) / sizeof(void *);
    unsigned nw = (unsigned)(s->elemsize / sizeof(void *)), sh = w0 & 63;
    uint64_t mask = nw == 64 ? ~(uint64_t)0 : (((uint64_t)1 << nw) - 1);
    uint64_t *hb = s->heap_bits + (w0 >> 6);
    set_bits(&hb[0], mask << sh, pat << sh);
    if (sh + nw > 64)
        set_bits(&hb[1], mask >> (64 - sh), pat >> (64 - sh));
    s->slot_types[mgc__span_index(s, p)] = ty;
}

/* A typed array's elements: as many whole elements of ty as its usable
   bytes hold, n (those asked) or more, all of them scanned, as Go's
   growslice gives a slice the capacity of its rounded-up size. So the
   slack that mgc_usable_size reports is elements too: a pointer stored
   there keeps its object, as in an mgc_alloc object. The slack is zeroed
   with the rest of the slot; one division, only when an element more
   fits. */
static inline size_t typed_capacity(const mgc_type *ty, size_t usable, size_t n)
{
    return (n + 1) * ty->size > usable ? n : usable / ty->size;
}

/* A large object is its own pages: no header, no rounding beyond them.
   room: the placement hint of mgc__heap_alloc_span, in pages. Inside a
   no-suspend section; unzeroed, its span in *large. */
static void *alloc_large(mgc_thread *t, size_t size, unsigned kind, const mgc_type *ty, size_t n,
                         uintptr_t room, mgc_span **large)
{
    uintptr_t npages = size / MGC_PAGE_SIZE + (size % MGC_PAGE_SIZE != 0);
    /* A thread builds one growable thing at a time: a new one means the
       last one's reserve is no longer wanted (heap.c). */
    mgc_span *s = mgc__central_alloc_large(npages, kind, room, room ? t->growable_base : 0, (uintptr_t)t);
    if (!s)
        return NULL;
    if (room)
        t->growable_base = s->base;
    if (kind == MGC_KIND_TYPED) {
        s->large_type = ty;
        s->large_count = typed_capacity(ty, s->elemsize, n);
    }
    mgc__pacer_add_live((int64_t)s->elemsize); /* counted in central.c */
    if (mgc__pacer_should_trigger())
        t->gc_wanted = 1;
    *large = s;
    return (void *)s->base;
}

/* Allocate inside a no-suspend section. Large objects come back unzeroed,
   their span in *large. */
static void *alloc_in_cs(mgc_thread *t, size_t size, unsigned kind, const mgc_type *ty, size_t n,
                         mgc_span **large, bool zeroed)
{
    if (kind == MGC_KIND_NOSCAN && size < MGC_TINY_SIZE)
        return alloc_tiny(t, size ? size : 1);
    size_t need = mgc__alloc_need(size, kind);
    bool header = kind == MGC_KIND_TYPED && size > MGC_TYPED_BITS_MAX;
    if (need <= MGC_SMALL_MAX) {
        unsigned spc = mgc__spanclass(mgc__size_to_class(need), kind);
        char *p = alloc_small(t, spc, zeroed);
        if (!p || kind != MGC_KIND_TYPED)
            return p;
        size_t slot = mgc__class_size[mgc__spanclass_sizeclass(spc)];
        if (header) {
            ((const mgc_type **)p)[0] = ty;
            ((size_t *)p)[1] = typed_capacity(ty, slot - MGC_TYPED_HEADER, n);
            return p + MGC_TYPED_HEADER;
        }
        write_heap_bits((uintptr_t)p, ty, typed_capacity(ty, slot, n));
        return p;
    }
    return alloc_large(t, size, kind, ty, n, 0, large);
}

/* zeroed false (raw): only for noscan storage that its user overwrites
   before reading (the containers); the collector never reads it. room
   (pages) > 0: a large object whatever its size, placed by that hint
   (mgc__alloc_growable_raw). */
static MGC_NOINLINE void *alloc_slow(size_t size, unsigned kind, const mgc_type *ty, size_t n, bool zeroed,
                                     uintptr_t room)
{
    int err = 0;
    mgc_thread *t = mgc__thread_try_current(&err);
    if (!t && mgc__try_init())
        mgc__ensure_init(); /* no heap at all: the one-line abort mgc.h promises */
    if (!t || size > mgc__heap.reserved) { /* a thread mgc cannot attach gets no memory */
        errno = ENOMEM;
        return NULL;
    }
    for (int attempt = 0;; attempt++) {
        mgc_span *large = NULL;
        mgc__cs_enter(t);
        void *p = room ? alloc_large(t, size, kind, ty, n, room, &large)
                       : alloc_in_cs(t, size, kind, ty, n, &large, zeroed);
        mgc__cs_exit(t);
        if (large && large->needzero) {
            /* Only the pages that may hold old data (dirty_pages): the
               rest are zero from the OS, and a memset would commit them. */
            size_t dz = (size_t)large->dirty_pages * MGC_PAGE_SIZE;
            if (zeroed)
                memset(p, 0, dz);
            else
                MGC_TRACK_UNDEFINED(p, dz); /* raw: old bytes */
        }
        gc_if_wanted(t);
        if (p)
            return p;
        if (attempt) {
            errno = ENOMEM;
            return NULL;
        }
        mgc__gc_full();
    }
}

/* The inline tiny path found no room in the current block: a new block,
   taken in the no-suspend section the caller entered, without the slow
   path's second lookup; the slow path only when the heap must grow or
   collect first. */
static MGC_NOINLINE void *tiny_miss(mgc_thread *t, size_t size)
{
    void *p = tiny_new_block(t, size);
    mgc__cs_exit(t);
    gc_if_wanted(t);
    if (likely(p != NULL))
        return p;
    return alloc_slow(size, MGC_KIND_NOSCAN, NULL, 1, true, 0);
}

/* After the fast path found a stop pending: stop, then zero the slot. */
static MGC_NOINLINE void *stop_then_zero(mgc_thread *t, void *p, bool zero, uintptr_t n)
{
    mgc__thread_stop_deferred(t);
    if (zero)
        mgc__zero_slot(p, n);
    return p;
}

static MGC_NOINLINE void *alloc_reuse(mgc_thread *t, mgc_cache_entry *e, unsigned spc, bool zeroed)
{
    void *p = (void *)mgc__reuse_pop(&t->cache, e, spc, zeroed);
    mgc__cs_exit(t);
    return p;
}

/* The inline small path of mgc_alloc and mgc_alloc_noscan. Every call in it
   is a tail call, so it needs no stack frame. The slot is zeroed after the
   no-suspend section: it is allocated already and its address is in a
   register, so a stop in between only delays the zeroing (a conservative
   scan of the old bytes can only retain, never corrupt). sizeclass: the
   class of the request, which the caller looks up (the public paths call
   it only up to 1 KiB, where mgc__size_to_class reads one table). */
MGC_INLINE void *alloc_fast(mgc_thread *t, unsigned sizeclass, size_t size, unsigned kind, const bool zeroed)
{
    unsigned spc = sizeclass << 2 | kind;
    mgc_cache_entry *e = &t->cache.cls[spc];
    mgc__cs_enter(t);
    if (unlikely(e->reuse))
        return alloc_reuse(t, e, spc, zeroed);
    /* mgc__cache_take, written out: its NULL result would cost the fast
       path one more test and branch (checked in the object code). */
    mgc_span *s = e->span;
    uint64_t c = s->alloc_cache;
    if (unlikely(c == 0))
        goto slow;
    unsigned b = mgc__ctz64(c);
    uint32_t r = s->freeindex + b;
    if (unlikely(r >= s->nelems))
        goto slow;
    s->alloc_cache = (c >> b) >> 1;
    mgc__span_set_freeindex(s, r + 1);
    uintptr_t n = s->elemsize;
    void *p = (void *)(s->base + (uintptr_t)r * n);
    bool zero = zeroed && s->needzero;
    if (zeroed) {
        MGC_TRACK_ALLOC(p, n);
    } else {
        MGC_TRACK_ALLOC_RAW(p, n);
        if (s->needzero)
            mgc__free_clear_mark((uintptr_t)p, spc);
    }
    if (mgc__cs_leave(t))
        return stop_then_zero(t, p, zero, n);
    if (zero) {
        if (n > 64)
            return memset(p, 0, n);
        mgc__zero_slot(p, n);
    }
    return p;
slow:
    mgc__cs_exit(t);
    return alloc_slow(size, kind, NULL, 1, zeroed, 0);
}

void *mgc_alloc(size_t size)
{
    mgc_thread *t = mgc__self;
    if (likely(t != NULL) && likely(size <= MGC_SMALL_SIZE_MAX))
        return alloc_fast(t, mgc__size_to_class(size), size, MGC_KIND_SCAN, true);
    return alloc_slow(size, MGC_KIND_SCAN, NULL, 1, true, 0);
}

void *mgc_alloc_noscan(size_t size)
{
    mgc_thread *t = mgc__self;
    if (likely(t != NULL)) {
        if (size < MGC_TINY_SIZE) {
            size_t sz = size ? size : 1;
            mgc__cs_enter(t);
            void *p;
            if (likely(tiny_bump(&t->cache, sz, &p))) {
                if (mgc__cs_leave(t))
                    return stop_then_zero(t, p, false, 0);
                return p;
            }
            return tiny_miss(t, sz);
        } else if (size <= MGC_SMALL_SIZE_MAX) {
            return alloc_fast(t, mgc__size_to_class(size), size, MGC_KIND_NOSCAN, true);
        }
    }
    return alloc_slow(size, MGC_KIND_NOSCAN, NULL, 1, true, 0);
}

void (*mgc__test_grown_hook)(void);

bool mgc__grow_in_place(void *ptr, size_t size, bool zeroed)
{
    uintptr_t p = (uintptr_t)ptr;
    mgc_span *s = mgc__span_of(p);
    if (!s || !s->large || p != s->base)
        return false;
    if (size <= s->elemsize)
        return true;
    if (size > mgc__heap.reserved)
        return false;
    uintptr_t npages = size / MGC_PAGE_SIZE + (size % MGC_PAGE_SIZE != 0), old = s->elemsize;
    mgc_thread *t = mgc__thread_current();
    mgc_central *c = &mgc__central[s->spanclass];
    bool ok = false;
    uintptr_t dirty = 0;
    mgc__cs_enter(t);
    mgc__lock(&c->lock); /* no sweep of the span meanwhile */
    uint32_t sg = atomic_load_explicit(&mgc__gc.sweepgen, memory_order_relaxed);
    uint32_t g = atomic_load_explicit(&s->sweepgen, memory_order_relaxed);
    if (g == sg || (g == sg - 2 && s->mark_bytes[0]))
        ok = mgc__heap_extend_span(s, npages, &dirty);
    if (ok && s->large_type)
        s->large_count = s->elemsize / s->large_type->size;
    /* Counted before the unlock, as a large allocation or free is: a fork's
       child never has the pages without the bytes (its heap_alloc fell
       short, and wrapped below zero at the free). */
    if (ok)
        mgc__stat_add(&mgc__stats.large_alloc_bytes, s->elemsize - old);
    mgc__unlock(&c->lock);
    if (ok && mgc__test_grown_hook)
        mgc__test_grown_hook();
    if (ok) {
        mgc__pacer_add_live((int64_t)(s->elemsize - old));
        if (mgc__pacer_should_trigger())
            t->gc_wanted = 1;
    }
    mgc__cs_exit(t);
    if (ok && zeroed) { /* only the pages that may hold old data; the rest are zero from the OS */
        size_t dz = dirty * MGC_PAGE_SIZE;
        if (dz)
            memset((char *)ptr + old, 0, dz);
        if (s->elemsize - old > dz)
            MGC_TRACK_DEFINED((char *)ptr + old + dz, s->elemsize - old - dz);
    }
    gc_if_wanted(t);
    return ok;
}

void *mgc__alloc_noscan_raw(size_t size)
{
    mgc_thread *t = mgc__self;
    if (size < MGC_TINY_SIZE) /* tiny blocks are zeroed anyway: the inline tiny path */
        return mgc_alloc_noscan(size);
    /* Every small size inline: a container's steps from 1 KiB to 32 KiB
       are reused LIFO like the smaller ones (noscan has no header). */
    if (likely(t != NULL) && size <= MGC_SMALL_MAX)
        return alloc_fast(t, mgc__size_to_class(size), size, MGC_KIND_NOSCAN, false);
    return alloc_slow(size, MGC_KIND_NOSCAN, NULL, 1, false, 0);
}

void *mgc__alloc_growable_raw(size_t size, size_t room)
{
    /* A hint beyond the heap finds no run and falls back to first fit. */
    MGC_ASSERT(room >= size && size >= MGC_TINY_SIZE);
    uintptr_t pages = room / MGC_PAGE_SIZE + (room % MGC_PAGE_SIZE != 0);
    return alloc_slow(size, MGC_KIND_NOSCAN, NULL, 1, false, pages);
}

static void check_type(const mgc_type *t, const char *fn)
{
    MGC_CHECK(t != NULL, "%s: type is NULL", fn);
    const char *name = t->name ? t->name : "(unnamed)";
    MGC_CHECK(t->size > 0, "%s: type %s has size 0", fn, name);
    MGC_CHECK(t->ptrdata <= t->size, "%s: type %s has ptrdata %zu > size %zu", fn, name, t->ptrdata, t->size);
    if (t->ptrdata) {
        MGC_CHECK(t->ptrdata % sizeof(void *) == 0 && t->size % sizeof(void *) == 0,
                  "%s: type %s: size %zu and ptrdata %zu must be multiples of %zu", fn, name, t->size,
                  t->ptrdata, sizeof(void *));
        MGC_CHECK(t->ptrmask != NULL, "%s: type %s has pointers but no ptrmask", fn, name);
    }
}

void *mgc_alloc_array(const mgc_type *t, size_t n)
{
    check_type(t, "mgc_alloc_array");
    if (n && t->size > SIZE_MAX / n) {
        errno = ENOMEM;
        return NULL;
    }
    size_t size = t->size * n;
    if (t->ptrdata == 0)
        return mgc_alloc_noscan(size); /* no pointers: never scanned, as in Go */
    return alloc_slow(size, MGC_KIND_TYPED, t, n, true, 0);
}

void *mgc_alloc_typed(const mgc_type *t) { return mgc_alloc_array(t, 1); }

char *mgc_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = mgc_alloc_noscan(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* ---- looking objects up ------------------------------------------------- */

typedef struct objinfo {
    mgc_span *s;
    uintptr_t user;   /* the pointer mgc returned for this object */
    size_t usable;
    unsigned kind;
    const mgc_type *type; /* typed objects */
} objinfo;

/* A small object must be allocated and not freed by hand: realloc would
   otherwise hand back a slot that sits on a reuse list (to be handed out
   twice), usable_size answer for a dead one. Read inside a no-suspend
   section, as free does, so no cycle changes the mark bits meanwhile. */
static void check_live(const char *fn, uintptr_t p, const mgc_span *s, uint32_t inc, uintptr_t idx, uintptr_t slot)
{
    mgc_thread *t = mgc__thread_current();
    mgc__cs_enter(t);
    mgc__check_live(fn, p, s, inc, idx, slot, "by mgc_free");
    mgc__cs_exit(t);
}

/* Describe the object p must be the start of; abort naming p otherwise. */
static void object_at(const char *fn, uintptr_t p, objinfo *o)
{
    uint32_t inc;
    mgc_span *s = mgc__span_pinned(p, &inc);
    if (!s)
        mgc__no_object(fn, p);
    o->s = s;
    o->kind = s->kind;
    o->type = NULL;
    if (s->large) {
        MGC_CHECK(p == s->base, "%s: %p is an interior pointer (object at %p)", fn, (void *)p, (void *)s->base);
        enum mgc_slot_state st = mgc__slot_state(s, 0, inc);
        if (st != MGC_SLOT_LIVE)
            mgc__not_live(fn, p, st);
        o->user = p;
        o->usable = s->elemsize;
        o->type = s->large_type;
        return;
    }
    uintptr_t idx = mgc__span_index(s, p);
    MGC_CHECK(idx < s->nelems, "%s: %p is not a pointer mgc returned (span tail)", fn, (void *)p);
    uintptr_t slot = s->base + idx * s->elemsize;
    if (s->kind == MGC_KIND_TINY) {
        /* The block must be live (a tiny object is never freed by hand,
           but a collection may have taken its block, which the allocator
           then hands out again): the start check alone let realloc return
           a dead object in place. */
        mgc_thread *t = mgc__thread_current();
        mgc__cs_enter(t);
        enum mgc_slot_state st = mgc__slot_state(s, idx, inc);
        mgc__cs_exit(t);
        if (st != MGC_SLOT_LIVE)
            mgc__not_live(fn, p, st);
        uintptr_t off = p - slot;
        uint8_t d = __atomic_load_n((uint8_t *)s->heap_bits + idx, __ATOMIC_RELAXED);
        MGC_CHECK(mgc__tiny_is_start(d, off), "%s: %p is an interior pointer (tiny block at %p)", fn,
                  (void *)p, (void *)slot);
        o->user = p;
        o->usable = mgc__tiny_usable(d, off);
        o->kind = MGC_KIND_NOSCAN;
        return;
    }
    if (s->kind == MGC_KIND_TYPED && s->elemsize > MGC_TYPED_BITS_MAX) {
        MGC_CHECK(p == slot + MGC_TYPED_HEADER, "%s: %p is an interior pointer (object at %p)", fn, (void *)p,
                  (void *)(slot + MGC_TYPED_HEADER));
        check_live(fn, p, s, inc, idx, slot);
        o->user = p;
        o->usable = s->elemsize - MGC_TYPED_HEADER;
        o->type = ((const mgc_type **)slot)[0];
        return;
    }
    MGC_CHECK(p == slot, "%s: %p is an interior pointer (object at %p)", fn, (void *)p, (void *)slot);
    check_live(fn, p, s, inc, idx, slot);
    o->user = p;
    o->usable = s->elemsize;
    if (s->kind == MGC_KIND_TYPED)
        o->type = s->slot_types[idx];
}

size_t mgc_usable_size(const void *p)
{
    mgc__attach_caller(); /* p is on this thread's stack */
    if (!p)
        return 0;
    objinfo o;
    object_at("mgc_usable_size", (uintptr_t)p, &o);
    return o.usable;
}

/* What mgc_base reads of a span before mgc__slot_state vouches for it. */
typedef struct base_view {
    uintptr_t base, bytes, elemsize, idx, nelems;
    unsigned kind, spc;
    bool large;
} base_view;
MGC_SPECULATIVE static void read_view(const mgc_span *s, uintptr_t p, base_view *v)
{
    v->base = s->base;
    v->bytes = (uintptr_t)s->npages * MGC_PAGE_SIZE;
    v->large = s->large;
    v->idx = mgc__span_index(s, p);
    v->nelems = s->nelems;
    v->elemsize = s->elemsize;
    v->kind = s->kind;
    v->spc = s->spanclass;
}

/* Any p, that of an object freed or collected under this call included:
   every field is read before mgc__slot_state vouches for it (free.h,
   mgc__span_pin), and the answer is made of those reads only. */
void *mgc_base(const void *ptr)
{
    mgc__attach_caller(); /* the answer is a heap pointer on this thread's stack */
    return mgc__base_in(mgc__span_of((uintptr_t)ptr), (uintptr_t)ptr);
}

void *mgc__base_in(const mgc_span *s, uintptr_t p)
{
    uint32_t inc;
    if (!s || ((inc = mgc__span_pin(s)) & 1))
        return NULL;
    base_view v;
    read_view(s, p, &v);
    /* The record may have been freed and set up for a span elsewhere
       between the lookup and the pin: then p is not in it. */
    if (p - v.base >= v.bytes)
        return NULL;
    if (v.large)
        return mgc__slot_state(s, 0, inc) == MGC_SLOT_LIVE ? (void *)v.base : NULL;
    if (v.idx >= v.nelems || mgc__slot_state(s, v.idx, inc) != MGC_SLOT_LIVE)
        return NULL;
    uintptr_t slot = v.base + v.idx * v.elemsize;
    if (v.kind != MGC_KIND_TINY && mgc__freed_by_hand(slot, v.spc))
        return NULL;
    if (v.kind == MGC_KIND_TYPED && v.elemsize > MGC_TYPED_BITS_MAX) /* the header is not the object */
        return p < slot + MGC_TYPED_HEADER ? NULL : (void *)(slot + MGC_TYPED_HEADER);
    return (void *)slot;
}

/* The bytes of the object described by o from size to its old usable
   size read zero, as in a fresh object: a later growth in place finds no
   old data there, and a conservative scan no stale pointer. */
static void clear_past(void *ptr, const objinfo *o, size_t size)
{
    if (size >= o->usable)
        return;
    if (o->kind != MGC_KIND_NOSCAN) {                    /* pointers dropped: through the barrier, */
        size_t w = size & ~(sizeof(void *) - 1); /* from the word size cuts */
        mgc__wb_bulk((char *)ptr + w, NULL, o->usable - w);
    }
    memset((char *)ptr + size, 0, o->usable - size);
}

void *mgc_realloc(void *ptr, size_t size)
{
    if (!ptr)
        return mgc_alloc(size);
    int err = 0;
    if (!mgc__thread_try_current(&err)) { /* as an allocation: NULL and ENOMEM, p unchanged */
        errno = ENOMEM;
        return NULL;
    }
    objinfo o;
    object_at("mgc_realloc", (uintptr_t)ptr, &o);
    /* In place when a request of this size would get the same block: its
       size class (jemalloc's rule for small objects), its number of pages
       for a large one. So mgc_free_sized accepts the size given here, and
       a shrink into a smaller class gives the slack back. A typed array
       in place keeps its capacity (typed_capacity: every element its block
       holds is scanned already), and one grown in place gets the new
       pages' elements in its count (mgc__grow_in_place). Size 0: a
       fresh minimal object, as documented. More than the heap can hold:
       NULL and ENOMEM for every kind, the object untouched, as from
       mgc_alloc. */
    if (size > mgc__heap.reserved) {
        errno = ENOMEM;
        return NULL;
    }
    size_t asked = size;
    if (o.kind == MGC_KIND_TYPED) /* whole elements; no overflow below the heap's size */
        asked = (size / o.type->size + (size % o.type->size != 0)) * o.type->size;
    if (size && mgc__size_fits_span(o.s, asked) && (o.s->kind != MGC_KIND_TINY || size <= o.usable)) {
        /* The bytes past the new size read zero, as in a fresh object: a
           later growth in place finds no old data there, and a scan no
           stale pointer. In a tiny block too: its usable size never
           reaches a neighbour (objects start only at 0 and 8, cache.h).
           From size, not from asked: the bytes of a typed array's last
           element past size are gone too. */
        clear_past(ptr, &o, size);
        return ptr;
    }
    /* A large object grows in place when the pages after it are free: as
       many as whole elements take (asked). The new pages are zeroed; the old ones past size are cleared too (a
       typed array's size may round up to an element more than its pages
       held, and the program may have written up to its usable size). */
    if (asked > o.usable && mgc__grow_in_place(ptr, asked, true)) {
        clear_past(ptr, &o, size);
        return ptr;
    }
    void *q;
    switch (o.kind) {
    case MGC_KIND_SCAN:
        q = mgc_alloc(size);
        break;
    case MGC_KIND_TYPED: {
        size_t esz = o.type->size;
        q = mgc_alloc_array(o.type, size / esz + (size % esz != 0)); /* 0: no element, as mgc_free_sized(q, 0, 0) says */
        break;
    }
    default:
        q = mgc_alloc_noscan(size);
        break;
    }
    if (!q)
        return NULL;
    size_t n = size < o.usable ? size : o.usable;
    if (o.kind == MGC_KIND_NOSCAN)
        memcpy(q, ptr, n);
    else
        mgc_memmove(q, ptr, n);
    mgc_free(ptr); /* realloc's contract: the old pointer is dead */
    return q;
}
