/*
 * sweep.c — sweeping (sweep.h): mark bits become alloc bits, dead slots are
 * counted as freed, empty spans go back to the page heap.
 *
 * Sweeping a small span touches only its bitmaps (a popcount, new alloc
 * bits written over the old in place, and a clear; span.c's inline_bits
 * rely on nothing ever swapping the arrays), never the objects: dead slots
 * keep their bytes until they are reused and zeroed then (needzero). That
 * keeps the sweeper cheap enough to run lazily inside allocation
 * (central.c: refills sweep their class, large allocations sweep large
 * objects); the background sweeper takes the rest, and is woken only for
 * heaps of MGC_SWEEP_BG_MIN_SPANS or more, or to finish a sweep a stop
 * interrupted (`interrupted`, bg_sweep). A mutator in mgc__sweep_finish
 * sweeps too until the count is zero. The background sweeper ends after
 * MGC_INTERNAL_IDLE_NS without a kick (bg_retire) and the next cycle starts
 * it again (mgc__sweep_prepare). A live large span made before
 * the last cycle gives back its reserve of pages (heap.c), under the heap
 * lock taken inside the span's central lock, the usual order.
 *
 * Invariants: `unswept` is the number of spans still to sweep this cycle; it
 * is set at mark termination (world stopped, every span on a central list)
 * and drops when a span's sweep is complete, so it reaches zero exactly
 * when every span is swept. `active` counts mgc__sweep_one calls in
 * progress, the background sweeper's and mgc__sweep_finish's (Go's
 * sweepLocker): a sweeper registers before it reads `paused`,
 * `unswept` and the sweep generation; whoever stops the world sets `paused`
 * and waits for `active` to drain — so no sweeper works with a stale
 * generation, overlaps marking, or changes counters under a MemStats
 * snapshot, just as Go's sweeper goroutine stops with the world. Lazy
 * sweeps by the allocator (central.c) run inside no-suspend sections,
 * which a stop already excludes.
 */
#include "internal/sweep.h"
#include "internal/arch.h"
#include "internal/central.h"
#include "internal/free.h"
#include "internal/gc.h"
#include "internal/heap.h"
#include "internal/os.h"
#include "internal/stats.h"
#include "internal/threads.h"
#include "internal/track.h"

#include <sched.h>

static bool sweep_one(void);

static struct {
    _Atomic uint64_t unswept; /* spans left to sweep this cycle */
    _Atomic uint32_t active;  /* sweep_one calls in progress (seq_cst, see above) */
    _Atomic uint32_t paused;  /* set while the world is stopped: no new sweeps */
    _Atomic uint32_t cursor;  /* class where the next sweep_one starts; a hint */
    _Atomic uint32_t gen;     /* bumped to wake the background sweeper; gc lock */
    /* Set by the background sweeper when a stop paused it with spans left:
       the restart's kick wakes it however few (seq_cst, see bg_sweep). */
    _Atomic uint32_t interrupted;
    bool bg_started;          /* a sweeper runs, or will once it sees a kick; gc lock */
} SW MGC_STATE;

/* Tell AddressSanitizer / Valgrind about the objects this sweep frees
   (live: the marked slots, one bit each). */
static void track_dead(const mgc_span *s, const uint64_t *live)
{
    if (!MGC_TRACKING)
        return;
    for (uint32_t i = 0; i < s->nelems; i++) {
        uintptr_t slot = s->base + (uintptr_t)i * s->elemsize;
        /* A slot freed by hand was reported freed then. */
        if (mgc__span_allocated(s, i) && !((live[i >> 6] >> (i & 63)) & 1) &&
            (s->kind == MGC_KIND_TINY || !mgc__freed_by_hand(slot, s->spanclass)))
            MGC_TRACK_FREE(slot, s->elemsize);
    }
}

/* Eight mark bytes (each 0 or 1) to eight bits, byte i to bit i. */
MGC_INLINE uint64_t pack8(uint64_t x) { return (x * 0x0102040810204080ull) >> 56; }

static enum mgc_sweep_result sweep_span(mgc_span *s, uint32_t sg);

enum mgc_sweep_result mgc__sweep_span(mgc_span *s, uint32_t sg)
{
    /* The caller's claim (sweepgen sg-1) becomes visible before any change
       below: readers of the bits use sweepgen as a seqlock (alloc.c). */
    atomic_thread_fence(memory_order_release);
    enum mgc_sweep_result r = sweep_span(s, sg);
    /* Only now: a cycle may start as soon as this reaches zero. */
    atomic_fetch_sub_explicit(&SW.unswept, 1, memory_order_release);
    return r;
}

static enum mgc_sweep_result sweep_span(mgc_span *s, uint32_t sg)
{
    if (s->large) {
        if (!s->mark_bytes[0]) {
            mgc__stat_add(&mgc__stats.large_nfree, 1);
            mgc__stat_add(&mgc__stats.large_free_bytes, s->elemsize);
            mgc__heap_free_span(s);
            return MGC_SWEEP_FREED;
        }
        /* Atomic: mgc_base and object_at read it (mgc__large_dead, through
           mgc__slot_state), retrying while sweepgen is sg-1, as for small
           spans below. */
        __atomic_store_n(&s->mark_bytes[0], 0, __ATOMIC_RELAXED);
        /* Allocated before the last cycle and live through it: done
           growing. One allocated since may be a buffer still growing
           (reclaim_large sweeps the newest first). */
        if (__atomic_load_n(&s->reserved, __ATOMIC_RELAXED) && s->reserve_sg != sg - 2)
            mgc__heap_trim_reserve(s);
        atomic_store_explicit(&s->sweepgen, sg, memory_order_release);
        return MGC_SWEEP_FULL;
    }
    /* New alloc bits from the mark bytes, eight at a time, clearing the
       mark bytes for the next cycle as they are read. Readers of the bits
       (mgc_base, mgc__slot_state) retry while sweepgen is sg-1, so they may
       read these words as they change: the stores here and below are
       atomic (relaxed; the sweepgen store at the end publishes them), as
       a plain store or memset would be a data race with those reads. */
    uint64_t live[MGC_MAX_OBJS_PER_SPAN / 64];
    uint64_t *mb = (uint64_t *)s->mark_bytes;
    uint32_t nlive = 0;
    for (uint32_t w = 0; w < s->nbitwords; w++) {
        uint64_t bits = 0;
        for (uint32_t k = 0; k < 8 && w * 8 + k < s->nmarkwords; k++) {
            uint64_t x = mb[w * 8 + k];
            if (x) {
                bits |= pack8(x) << (8 * k);
                __atomic_store_n(&mb[w * 8 + k], 0, __ATOMIC_RELAXED);
            }
        }
        live[w] = bits;
        nlive += mgc__popcount64(bits);
    }
    MGC_CHECK(nlive <= s->alloc_count,
              "sweep: span %p (class %u) has %u marked objects but only %u allocated", (void *)s->base,
              s->sizeclass, nlive, s->alloc_count);
    uint32_t nfreed = s->alloc_count - nlive;
    if (nfreed) {
        mgc__stat_add(&mgc__stats.nfree[s->sizeclass], nfreed);
        track_dead(s, live);
    }
    if (nlive == 0) {
        mgc__heap_free_span(s);
        return MGC_SWEEP_FREED;
    }
    for (uint32_t w = 0; w < s->nbitwords; w++)
        __atomic_store_n(&s->alloc_bits[w], live[w], __ATOMIC_RELAXED);
    mgc__span_set_freeindex(s, 0);
    s->alloc_cache = ~live[0];
    s->alloc_count = nlive;
    if (nfreed)
        s->needzero = 1;
    atomic_store_explicit(&s->sweepgen, sg, memory_order_release);
    return nlive == s->nelems ? MGC_SWEEP_FULL : MGC_SWEEP_PARTIAL;
}

bool mgc__sweep_one(void)
{
    /* Register first (seq_cst, pairing with mgc__sweep_pause's store of
       paused and load of active): either the collector sees us and waits
       for us, or we see paused set and sweep nothing. */
    atomic_fetch_add_explicit(&SW.active, 1, memory_order_seq_cst);
    bool swept = !atomic_load_explicit(&SW.paused, memory_order_seq_cst) && sweep_one();
    atomic_fetch_sub_explicit(&SW.active, 1, memory_order_release);
    return swept;
}

void mgc__sweep_pause(void)
{
    atomic_store_explicit(&SW.paused, 1, memory_order_seq_cst);
    while (atomic_load_explicit(&SW.active, memory_order_seq_cst) != 0)
        mgc__arch_pause();
}

/* seq_cst: the clearing pairs with bg_sweep's store of interrupted and
   mgc__sweep_kick's load of it (a sweeper that sees paused cleared also
   gets what the stop wrote before, which release alone would give). */
void mgc__sweep_resume(void) { atomic_store_explicit(&SW.paused, 0, memory_order_seq_cst); }

void mgc__sweep_kick(void)
{
    /* A sweep a stop interrupted is resumed whatever is left; a new one is
       started only if it is worth the wake. */
    bool resume = atomic_load_explicit(&SW.interrupted, memory_order_seq_cst) &&
                  atomic_exchange_explicit(&SW.interrupted, 0, memory_order_relaxed);
    if (resume || atomic_load_explicit(&SW.unswept, memory_order_acquire) >= MGC_SWEEP_BG_MIN_SPANS) {
        atomic_fetch_add_explicit(&SW.gen, 1, memory_order_release);
        mgc__os_futex_wake(&SW.gen, 1);
    }
}

static bool sweep_one(void)
{
    /* Acquire, pairing with sweep_begin's release: a count set at mark
       termination comes with the lists and sweep generation it counts. */
    if (atomic_load_explicit(&SW.unswept, memory_order_acquire) == 0)
        return false;
    uint32_t sg = atomic_load_explicit(&mgc__gc.sweepgen, memory_order_acquire);
    unsigned un = mgc__unswept_index(sg), sw = mgc__swept_index(sg);
    unsigned start = atomic_load_explicit(&SW.cursor, memory_order_relaxed);
    for (unsigned k = 0; k < MGC_NUM_SPAN_CLASSES; k++) {
        unsigned spc = (start + k) % MGC_NUM_SPAN_CLASSES;
        mgc_central *c = &mgc__central[spc];
        /* Unlocked peek; the decision is made again under the lock. */
        if (!__atomic_load_n(&c->partial[un], __ATOMIC_RELAXED) &&
            !__atomic_load_n(&c->full[un], __ATOMIC_RELAXED))
            continue;
        mgc__lock(&c->lock);
        mgc_span *s = mgc__list_pop(&c->partial[un]);
        if (!s)
            s = mgc__list_pop(&c->full[un]);
        if (!s) {
            mgc__unlock(&c->lock);
            continue;
        }
        uint32_t want = sg - 2;
        bool ok = atomic_compare_exchange_strong_explicit(&s->sweepgen, &want, sg - 1,
                                                          memory_order_acquire, memory_order_relaxed);
        MGC_CHECK(ok, "span %p on an unswept list has sweepgen %u, heap %u", (void *)s->base, want, sg);
        enum mgc_sweep_result r = mgc__sweep_span(s, sg);
        if (r == MGC_SWEEP_PARTIAL)
            mgc__list_push(&c->partial[sw], s, MGC_LIST_PARTIAL);
        else if (r == MGC_SWEEP_FULL)
            mgc__list_push(&c->full[sw], s, MGC_LIST_FULL);
        mgc__unlock(&c->lock);
        atomic_store_explicit(&SW.cursor, spc, memory_order_relaxed);
        return true;
    }
    return false;
}

void mgc__sweep_finish(void)
{
    /* A mutator sweeps inside no-suspend sections (it takes central locks),
       one span per section so a stop is never delayed by more than that. */
    mgc_thread *t = mgc__self;
    MGC_ASSERT(t != NULL); /* called by collect() and cycle(), on attached threads */
    for (;;) {
        mgc__cs_enter(t);
        bool more = mgc__sweep_one();
        mgc__cs_exit(t);
        if (more)
            continue;
        if (mgc__sweep_done())
            return;
        /* Someone still holds the last spans under their locks: a few
           hundred nanoseconds at most. Try again rather than only wait for
           the count: while this thread yields, another may finish the
           sweep, start the next cycle and leave that one's spans (fewer
           than the background sweeper is woken for) to sweepers like this
           one. Two threads in mgc_collect waited so for ever, 242 spans on
           the unswept lists and nobody sweeping them (test_fork, ASan). */
        sched_yield();
    }
}

void mgc__sweep_forget(uint64_t n) { atomic_fetch_sub_explicit(&SW.unswept, n, memory_order_release); }

bool mgc__sweep_done(void) { return atomic_load_explicit(&SW.unswept, memory_order_acquire) == 0; }

uint64_t mgc__sweep_left(void) { return atomic_load_explicit(&SW.unswept, memory_order_relaxed); }

bool mgc__sweep_interrupted(void) { return atomic_load_explicit(&SW.interrupted, memory_order_relaxed); }

/* The background sweeper's run: sweep until nothing is left to claim.
   mgc__sweep_one also says false while a stop has sweeping paused (a
   MemStats snapshot, say), with spans left. Then the restart's kick must
   wake the sweeper again even below MGC_SWEEP_BG_MIN_SPANS, or the rest
   waits for the program's allocations or the next cycle (it did: a sweep
   of about 1600 spans paused near its end by mgc_read_memstats stopped
   for good in 1 round of 40). So the sweeper says it was interrupted and
   then looks at paused again, seq_cst as mgc__sweep_resume's clearing
   and mgc__sweep_kick's load: either it sees the stop over and goes on,
   or the kick sees interrupted and wakes it. */
static void bg_sweep(void)
{
    for (;;) {
        while (mgc__sweep_one())
            ;
        if (mgc__sweep_done())
            return;
        atomic_store_explicit(&SW.interrupted, 1, memory_order_seq_cst);
        if (atomic_load_explicit(&SW.paused, memory_order_seq_cst))
            return; /* the kick after the restart wakes us */
        /* Not paused (or no longer): try again, the flag still set, so
           that a stop beginning meanwhile wakes us at its end too. False
           again: that stop, or nothing left to claim (other sweepers hold
           the last spans; the flag then costs one early wake at most). */
        if (!mgc__sweep_one())
            return;
        atomic_store_explicit(&SW.interrupted, 0, memory_order_relaxed);
    }
}

/* The background sweeper, idle since it acted on kick `seen`, ends if no
   kick came since: kicks (mgc__gc_start_world) and mgc__sweep_prepare run
   under the gc lock, so holding it, none is under way, and the next cycle's
   prepare starts a sweeper again. A stop that paused a sweep kicks before
   it lets go of the lock, so a paused sweep is never left without one. */
static bool bg_retire(uint32_t seen)
{
    if (!mgc__trylock(&mgc__gc.lock))
        return false;
    bool retire = atomic_load_explicit(&SW.gen, memory_order_relaxed) == seen;
    if (retire) {
        SW.bg_started = false;
        mgc__thread_retire_internal();
    }
    mgc__unlock(&mgc__gc.lock);
    return retire;
}

static void *bg_main(void *arg)
{
    uint32_t seen = (uint32_t)(uintptr_t)arg;
    uint64_t idle_since = mgc__os_nanotime();
    for (;;) {
        uint32_t g = atomic_load_explicit(&SW.gen, memory_order_acquire);
        if (g != seen) {
            seen = g;
            bg_sweep();
            idle_since = mgc__os_nanotime();
            continue;
        }
        /* Idle MGC_INTERNAL_IDLE_NS: end (threads.h says why). */
        uint64_t now = mgc__os_nanotime();
        if (now - idle_since >= MGC_INTERNAL_IDLE_NS) {
            if (bg_retire(seen))
                return NULL;
            idle_since = now;
        }
        mgc__os_futex_wait(&SW.gen, seen, MGC_INTERNAL_IDLE_NS - (now - idle_since));
    }
}

void mgc__sweep_prepare(void)
{
    if (SW.bg_started)
        return;
    pthread_t pt;
    /* The kicks so far are not for it: gen changes only under the gc lock,
       which the caller holds. */
    uint32_t g = atomic_load_explicit(&SW.gen, memory_order_relaxed);
    if (mgc__thread_spawn_internal(&pt, bg_main, (void *)(uintptr_t)g) == 0)
        SW.bg_started = true;
}

void mgc__sweep_begin(uint64_t nspans)
{
    /* The background sweeper starts at mgc__sweep_kick. */
    atomic_store_explicit(&SW.unswept, nspans, memory_order_release);
}

void mgc__sweep_fork_child(void)
{
    /* No background sweeper in the child until the next cycle starts one.
       The parent's may have been registered in `active` (waiting for a
       central lock the fork handler held): it does not exist here. */
    SW.bg_started = false;
    atomic_store_explicit(&SW.gen, 0, memory_order_relaxed);
    atomic_store_explicit(&SW.interrupted, 0, memory_order_relaxed);
    atomic_store_explicit(&SW.active, 0, memory_order_relaxed);
    atomic_store_explicit(&SW.paused, 0, memory_order_relaxed);
}
