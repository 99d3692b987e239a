/*
 * free.c — mgc_free and mgc_free_sized (free.h has the reuse-list layout).
 *
 * What a free does, by object:
 *   - small: validated, marked freed, pushed on this thread's reuse list for
 *     its span class; the next allocation of that class on this thread gets
 *     it back first (LIFO), zeroed. Unreused, it is swept as garbage after
 *     the next collection.
 *   - large: its span leaves its central list and its pages go back to the
 *     page heap at once.
 *   - tiny (noscan < 16 bytes): left to the collector; a block is shared.
 *
 * The rule that makes it safe in every phase (docs/design.md#explicit-free):
 *   1. A free happens inside a no-suspend section, so a stop never sees a
 *      half-done free, and the lists are dropped at the flush that opens each
 *      cycle: a freed slot is either on one list or plain garbage.
 *   2. A slot is freed only if it is LIVE: allocated, and, if its span is not
 *      yet swept, marked by the last cycle. A slot the collector found
 *      unreachable will be swept, so freeing it too would hand it out twice;
 *      that is refused (a pointer must have been hidden from the collector).
 *   3. A freed slot is never traced through: its link words are encoded, and
 *      a type header is left intact for the marker.
 *   4. When marking runs beside the program (a later mode), a reused slot is
 *      marked as it is handed out (allocate-black), and a large free during a
 *      mark must wait for mark termination to release its pages, because a
 *      marker may hold a pointer into them. Stop-the-world marking never
 *      overlaps a mutator, which the check in free_large asserts.
 *
 * MemStats: an explicit free counts in frees only when its slot is reused
 * (or, for large objects, at once); a dropped slot is counted by the
 * sweeper instead, so nothing is counted twice. nfree_explicit counts every
 * free that took effect.
 */
#include "internal/free.h"
#include "internal/central.h"
#include "internal/heap.h"
#include "internal/os.h"
#include "internal/pacer.h"
#include "internal/stats.h"
#include "internal/sweep.h"
#include "internal/threads.h"

#include <sys/random.h>

uintptr_t mgc__free_cookie MGC_STATE;

void mgc__free_init(void)
{
    uintptr_t c = 0;
    if (getrandom(&c, sizeof c, GRND_NONBLOCK) != (ssize_t)sizeof c)
        c = (uintptr_t)mgc__os_nanotime() * 0x9E3779B97F4A7C15ull ^ (uintptr_t)&c;
    /* Odd and with high bits set: an encoded link never looks like a heap
       address, and no slot's freed mark is 0. */
    mgc__free_cookie = c | ((uintptr_t)0xA5 << 56) | 1;
}

/* Two seqlocks: sweepgen against a sweep of the span (sg-1 while it
   runs), incarnation against its record being freed (a sweep that frees
   the span leaves it at sg-1 for good: the wait ends there). The bitmap
   reads may be of a freed block, or another span's: mapped memory either
   way (span.h), and then one of the two numbers has moved. */
MGC_SPECULATIVE static bool read_bits(const mgc_span *s, uintptr_t idx, bool *marked)
{
    uint32_t fi = __atomic_load_n(&s->freeindex, __ATOMIC_ACQUIRE);
    const uint64_t *ab = __atomic_load_n(&s->alloc_bits, __ATOMIC_ACQUIRE);
    *marked = __atomic_load_n(&s->mark_bytes[idx], __ATOMIC_RELAXED);
    return idx < fi || ((__atomic_load_n(&ab[idx >> 6], __ATOMIC_RELAXED) >> (idx & 63)) & 1);
}

enum mgc_slot_state mgc__slot_state(const mgc_span *s, uintptr_t idx, uint32_t inc)
{
    for (;;) {
        uint32_t g1 = atomic_load_explicit(&s->sweepgen, memory_order_acquire);
        uint32_t sg = atomic_load_explicit(&mgc__gc.sweepgen, memory_order_relaxed);
        if (g1 == sg - 1) {
            if (atomic_load_explicit(&s->incarnation, memory_order_relaxed) != inc)
                return MGC_SLOT_FREE;
            mgc__arch_pause();
            continue;
        }
        bool marked, alloc = read_bits(s, idx, &marked);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->incarnation, memory_order_relaxed) != inc)
            return MGC_SLOT_FREE;
        if (atomic_load_explicit(&s->sweepgen, memory_order_relaxed) != g1)
            continue;
        if (!alloc)
            return MGC_SLOT_FREE;
        return g1 == sg - 2 && !marked ? MGC_SLOT_DEAD : MGC_SLOT_LIVE;
    }
}

void mgc__free_reuse_black(uintptr_t slot)
{
    mgc_span *s = mgc__span_of(slot);
    __atomic_store_n(&s->mark_bytes[mgc__span_index(s, slot)], 1, __ATOMIC_RELAXED);
}

/* The freed slot's link words may be poisoned for AddressSanitizer, and
   freed for Valgrind. */
MGC_NO_SANITIZE static uintptr_t load_word(uintptr_t a)
{
    MGC_TRACK_QUIET_BEGIN();
    uintptr_t v = *(volatile uintptr_t *)a;
    /* Defined for Valgrind: the word may be bytes a container's raw
       storage never had written, and the caller branches on it (a free of
       a buffer holding "hi" was reported as a jump on uninitialised data;
       hiding errors does not make a value defined). */
    MGC_TRACK_DEFINED(&v, sizeof v);
    MGC_TRACK_QUIET_END();
    return v;
}
MGC_NO_SANITIZE static void store_word(uintptr_t a, uintptr_t v) { *(volatile uintptr_t *)a = v; }

bool mgc__freed_by_hand(uintptr_t slot, unsigned spc)
{
    return load_word(slot + mgc__free_link_off(spc) + sizeof(uintptr_t)) == (slot ^ mgc__free_cookie);
}

static MGC_COLD MGC_NORETURN void bad_size(const char *fn, uintptr_t p, const mgc_span *s, size_t size,
                                           int noscan)
{
    mgc__fatal("%s: %p was freed as %zu %s bytes, but it is a %s object of %zu bytes (size class %u)", fn,
               (void *)p, size, noscan ? "noscan" : "scanned",
               s->kind == MGC_KIND_NOSCAN || s->kind == MGC_KIND_TINY ? "noscan" : "scanned",
               (size_t)s->elemsize, s->sizeclass);
}

/* mgc_free_sized's promise: the object is of kind `noscan` and `size` bytes
   would have been given this span's size class; for a large span, size
   rounded up to pages is the span (any size: a container's growable
   storage is large from 32 KiB). */
static void check_size(const char *fn, uintptr_t p, const mgc_span *s, size_t size, int noscan)
{
    bool span_noscan = s->kind == MGC_KIND_NOSCAN || s->kind == MGC_KIND_TINY;
    if (!!noscan != span_noscan || !mgc__size_fits_span(s, size))
        bad_size(fn, p, s, size, noscan);
}

void mgc__not_live(const char *fn, uintptr_t p, enum mgc_slot_state st)
{
    if (st == MGC_SLOT_FREE)
        mgc__fatal("%s: %p is not allocated (freed already, by mgc_free or by the collector)", fn, (void *)p);
    mgc__fatal("%s: %p was found unreachable by the last collection and will be reclaimed by it; "
               "a pointer to it was hidden from the collector", fn, (void *)p);
}

void mgc__no_object(const char *fn, uintptr_t p)
{
    bool in_heap = p - mgc__heap.base < atomic_load_explicit(&mgc__heap.mapped, memory_order_relaxed);
    mgc__fatal("%s: %p is not %s", fn, (void *)p,
               in_heap ? "allocated (freed already?)" : "a pointer mgc returned (not in the heap)");
}

void mgc__check_live(const char *fn, uintptr_t p, const mgc_span *s, uint32_t inc, uintptr_t idx, uintptr_t slot,
                     const char *freed_why)
{
    enum mgc_slot_state st = mgc__slot_state(s, idx, inc);
    if (st != MGC_SLOT_LIVE)
        mgc__not_live(fn, p, st);
    if (mgc__freed_by_hand(slot, s->spanclass))
        mgc__fatal("%s: %p was already freed (%s)", fn, (void *)p, freed_why);
}

static void free_large(mgc_span *s, uint32_t inc, uintptr_t p, const char *fn)
{
    MGC_CHECK(p == s->base, "%s: %p is an interior pointer (object at %p)", fn, (void *)p, (void *)s->base);
    MGC_CHECK(atomic_load_explicit(&mgc__gc.phase, memory_order_relaxed) == MGC_PHASE_OFF,
              "%s: large free during marking (rule 4 in free.c)", fn);
    mgc_central *c = &mgc__central[s->spanclass];
    mgc__lock(&c->lock);
    /* Whoever frees a large span (a free, a sweep) holds its class lock:
       with the record still the one pinned, s->spanclass named this lock,
       and the span stays as it is until the unlock. The fence keeps the
       read of spanclass before this second read of the number (the
       seqlock's reader side; the lock's acquire alone does not). */
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&s->incarnation, memory_order_relaxed) != inc) {
        mgc__unlock(&c->lock);
        mgc__not_live(fn, p, MGC_SLOT_FREE);
    }
    uint32_t sg = atomic_load_explicit(&mgc__gc.sweepgen, memory_order_relaxed);
    uint32_t g = atomic_load_explicit(&s->sweepgen, memory_order_relaxed);
    if (g == sg - 2 && !s->mark_bytes[0]) {
        mgc__unlock(&c->lock);
        mgc__not_live(fn, p, MGC_SLOT_DEAD);
    }
    MGC_CHECK(g == sg || g == sg - 2, "%s: large span %p has sweepgen %u, heap %u", fn, (void *)p, g, sg);
    mgc__list_remove(&c->full[g == sg ? mgc__swept_index(sg) : mgc__unswept_index(sg)], s);
    if (g == sg - 2)
        mgc__sweep_forget(1); /* it will never be swept now */
    uintptr_t bytes = s->elemsize;
    mgc__heap_free_span(s);
    /* Counted before the unlock, so a fork's child never has the pages
       back without the free counted. */
    mgc__stat_add(&mgc__stats.large_nfree, 1);
    mgc__stat_add(&mgc__stats.large_nfree_explicit, 1);
    mgc__stat_add(&mgc__stats.nfree_explicit, 1);
    mgc__stat_add(&mgc__stats.large_free_bytes, bytes);
    mgc__unlock(&c->lock);
    mgc__pacer_add_live(-(int64_t)bytes);
}

/* Inside a no-suspend section. */
static void free_object(mgc_thread *t, uintptr_t p, const char *fn, bool sized, size_t size, int noscan)
{
    uint32_t inc;
    mgc_span *s = mgc__span_pinned(p, &inc);
    if (!s)
        mgc__no_object(fn, p);
    if (sized)
        check_size(fn, p, s, size, noscan);
    if (s->large) {
        free_large(s, inc, p, fn);
        return;
    }
    uintptr_t idx = mgc__span_index(s, p);
    MGC_CHECK(idx < s->nelems, "%s: %p is not a pointer mgc returned (span tail)", fn, (void *)p);
    uintptr_t slot = s->base + idx * s->elemsize;
    if (s->kind == MGC_KIND_TINY) {
        uint8_t d = __atomic_load_n((uint8_t *)s->heap_bits + idx, __ATOMIC_RELAXED);
        MGC_CHECK(mgc__tiny_is_start(d, p - slot), "%s: %p is an interior pointer (tiny block at %p)", fn,
                  (void *)p, (void *)slot);
        return; /* tiny blocks are shared: the collector frees them */
    }
    uintptr_t link = slot + mgc__free_link_off(s->spanclass);
    uintptr_t user = s->kind == MGC_KIND_TYPED && s->elemsize > MGC_TYPED_BITS_MAX ? slot + MGC_TYPED_HEADER : slot;
    MGC_CHECK(p == user, "%s: %p is an interior pointer (object at %p)", fn, (void *)p, (void *)user);
    mgc__check_live(fn, p, s, inc, idx, slot, "double free");
    mgc_cache_entry *e = &t->cache.cls[s->spanclass];
    store_word(link, e->reuse ^ mgc__free_cookie);
    store_word(link + sizeof(uintptr_t), slot ^ mgc__free_cookie);
    e->reuse = slot;
    t->cache.nfree_explicit++;
    MGC_TRACK_FREE(slot, s->elemsize);
}

void mgc_free(void *p)
{
    if (!p)
        return;
    mgc_thread *t = mgc__thread_current();
    mgc__cs_enter(t);
    free_object(t, (uintptr_t)p, "mgc_free", false, 0, 0);
    mgc__cs_exit(t);
}

void mgc_free_sized(void *p, size_t size, int noscan)
{
    if (!p)
        return;
    mgc_thread *t = mgc__thread_current();
    mgc__cs_enter(t);
    free_object(t, (uintptr_t)p, "mgc_free_sized", true, size, noscan);
    mgc__cs_exit(t);
}
