/*
 * mark.c — marking (mark.h), Go's mgcmark.go and mgcwork.go in one file.
 *
 * Work is a (pointer, length, kind) item: "scan these bytes conservatively"
 * or "scan this typed object (or part of it) by its pointer map". Each
 * worker keeps a local LIFO stack; when it overflows, or when another worker
 * is idle, it hands half to the global list of 512-entry work buffers.
 * Objects larger than 128 KiB are scanned in 128 KiB oblets, all pushed when
 * the first is scanned, so one big array never serialises marking.
 *
 * A small FIFO ring sits between the stack and the scanner: an item is
 * prefetched when it enters the ring and scanned 32 items later, by which
 * time its cache line has usually arrived (Cher, Hosking and Vijaykumar,
 * "Software prefetching for mark-sweep garbage collection", 2004).
 *
 * Marking a candidate word: heap range check, span (the last one used, else
 * the span map), slot index by the class's division magic, skip free slots
 * (a stale pointer must not resurrect one), then set the slot's mark byte
 * with a plain store (span.h says why bytes). Termination: a worker with no
 * local work and an empty global list goes idle; when all are idle, marking
 * is done.
 *
 * Helper threads end after MGC_INTERNAL_IDLE_NS without a mark, the
 * highest-numbered first, under the gc lock (helper_retire); the next mark
 * that wants them starts them again (mgc__mark_prepare).
 *
 * GODEBUG=gccheckmark=1 re-marks serially into separate bits (MODE_CHECK),
 * scanning roots word by word and objects whole: none of the root filters
 * or oblets it checks, so a word they skip is found missed.
 *
 * Everything here reads the program's memory word by word (stacks, data,
 * objects past their requested size): excluded from AddressSanitizer.
 */
#include "internal/mark.h"
#include "internal/arch.h"
#include "internal/env.h"
#include "internal/gc.h"
#include "internal/heap.h"
#include "internal/meta.h"
#include "internal/os.h"
#include "internal/threads.h"
#include "internal/track.h"

#include <pthread.h>

#define OBLET (128 * 1024)
#define WB_N 512
#define LOCAL_CAP 8192
#define RING 32 /* prefetch distance, in objects: measured best on binary trees */

enum { MODE_SERIAL, MODE_PARALLEL, MODE_CHECK };
enum { W_CONS = 0, W_TYPED = 1 };

typedef struct work {
    uintptr_t p;
    uintptr_t desc; /* length << 1 | W_TYPED */
} work;

typedef struct workbuf {
    struct workbuf *next;
    size_t n;
    work e[WB_N];
} workbuf;

typedef struct marker {
    /* Copies of the heap's lookup state for the duration of a mark. */
    uintptr_t base, mapped;
    _Atomic(mgc_span *) *spanmap;
    /* The span of the last marked pointer: neighbours in the object graph
       are usually neighbours in memory, and this skips the span map. */
    mgc_span *last;
    uintptr_t last_base, last_bytes;
    work *stk; /* local stack, LOCAL_CAP entries; this worker only */
    size_t n;
    uint64_t marked_bytes, noscan_bytes, stack_bytes, global_bytes, cpu_ns;
    uint32_t gen_seen; /* helpers: the start word they last acted on */
} marker;

static struct {
    pthread_mutex_t mu; /* guards full, freebufs, nidle */
    pthread_cond_t cv;
    workbuf *full, *freebufs;
    int nidle; /* marking is over when it reaches nworkers: no one leaves idle then */
    _Atomic int idle_hint; /* mirror of nidle, read without the lock */
    /* One mark's set-up: written by the collector before it bumps start
       (release), read by helpers after their acquire load of it. */
    int nworkers; /* workers this mark, the collector included */
    bool wide;    /* the root filter's wide vectors may run (arch.h) */
    const mgc_root *roots;
    size_t nroots;
    int mode;
    _Atomic size_t next_root; /* roots handed out; relaxed fetch-add */
    /* Helper threads 1..nhelpers: started by mgc__mark_prepare, ended by
       themselves when idle (helper_retire), both under the gc lock, the
       highest-numbered first. Woken per mark by `start`:
       the mark's number above START_NBITS, its worker count below, in one
       word, so a helper reads the two together. Read apart, a helper that
       took mark g's number and then, late, mark g+1's count joined g+1
       under g's number, and ran g+1 again after it ended: it waited in
       get_work for ever holding W.mu, and the world stayed stopped.
       Written only by the collector (gc lock), with release. */
    int nhelpers; /* gc lock */
    _Atomic uint32_t start;
    _Atomic uint32_t finished;
    marker *markers[MGC_MAX_PROCS];
} W MGC_STATE = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* ---- the global list --------------------------------------------------- */

/* Move the oldest half of m's stack (the bottom: bigger subgraphs) to the
   global list. */
static void share(marker *m)
{
    size_t give = m->n / 2;
    if (give == 0)
        return;
    pthread_mutex_lock(&W.mu);
    size_t off = 0;
    while (off < give) {
        workbuf *b = W.freebufs;
        if (b)
            W.freebufs = b->next;
        else
            b = mgc__meta_alloc(sizeof *b, MGC_META_GC);
        size_t k = give - off > WB_N ? WB_N : give - off;
        memcpy(b->e, m->stk + off, k * sizeof(work));
        b->n = k;
        b->next = W.full;
        W.full = b;
        off += k;
    }
    if (W.nidle)
        pthread_cond_broadcast(&W.cv);
    pthread_mutex_unlock(&W.mu);
    memmove(m->stk, m->stk + give, (m->n - give) * sizeof(work));
    m->n -= give;
}

/* Refill m's empty stack from the global list, or wait. False when every
   worker is idle and no work is left: marking is over. */
static bool get_work(marker *m)
{
    pthread_mutex_lock(&W.mu);
    for (;;) {
        workbuf *b = W.full;
        if (b) {
            W.full = b->next;
            memcpy(m->stk, b->e, b->n * sizeof(work));
            m->n = b->n;
            b->next = W.freebufs;
            W.freebufs = b;
            pthread_mutex_unlock(&W.mu);
            return true;
        }
        if (atomic_load_explicit(&W.next_root, memory_order_relaxed) < W.nroots) {
            pthread_mutex_unlock(&W.mu);
            return true;
        }
        W.nidle++;
        atomic_store_explicit(&W.idle_hint, W.nidle, memory_order_relaxed);
        if (W.nidle == W.nworkers) {
            pthread_cond_broadcast(&W.cv);
            pthread_mutex_unlock(&W.mu);
            return false;
        }
        /* A cancellation point: on the collecting thread, cancellation
           is disabled for the whole cycle (mgc__gc_lock); helpers are
           mgc's own, which the program has no handle to cancel. */
        while (!W.full && W.nidle < W.nworkers)
            pthread_cond_wait(&W.cv, &W.mu);
        if (W.nidle == W.nworkers) {
            pthread_mutex_unlock(&W.mu);
            return false;
        }
        W.nidle--;
        atomic_store_explicit(&W.idle_hint, W.nidle, memory_order_relaxed);
    }
}

/* ---- marking one word -------------------------------------------------- */

static MGC_COLD MGC_NORETURN void checkmark_fail(const mgc_span *s, uintptr_t idx, uintptr_t p)
{
    static const char *kinds[] = {"scan", "noscan", "typed", "tiny"};
    mgc__fatal("gccheckmark: object %p (pointer %p; span %p, size class %u, %zu-byte slots, %s) "
               "is reachable but was not marked",
               (void *)(s->base + idx * s->elemsize), (void *)p, (void *)s->base, s->sizeclass,
               (size_t)s->elemsize, kinds[s->kind]);
}

static MGC_NOINLINE void overflow(marker *m) { share(m); }

MGC_INLINE void push(marker *m, uintptr_t p, uintptr_t desc)
{
    if (unlikely(m->n == LOCAL_CAP))
        overflow(m);
    m->stk[m->n].p = p;
    m->stk[m->n].desc = desc;
    m->n++;
}

MGC_INLINE void mark_word(marker *m, uintptr_t p, const int mode)
{
    mgc_span *s;
    if (p - m->last_base < m->last_bytes) {
        s = m->last;
    } else {
        uintptr_t off = p - m->base;
        if (off >= m->mapped)
            return;
        s = atomic_load_explicit(&m->spanmap[off >> MGC_PAGE_SHIFT], memory_order_relaxed);
        if (!s)
            return;
        m->last = s;
        m->last_base = s->base;
        m->last_bytes = (uintptr_t)s->npages * MGC_PAGE_SIZE;
    }
    uintptr_t idx = mgc__span_index(s, p);
    if (idx >= s->nelems)
        return;
    if (mode == MODE_CHECK) {
        uint64_t *w = &s->check_bits[idx >> 6];
        uint64_t bit = (uint64_t)1 << (idx & 63);
        if ((*w & bit) || !mgc__span_allocated(s, idx))
            return;
        *w |= bit;
        if (!s->mark_bytes[idx])
            checkmark_fail(s, idx, p);
    } else {
        /* Plain byte accesses: a racing worker can only store the same 1.
           Both then count the object and scan it, as Go's greyobject may
           (design.md section 5: the marked bytes may be over). */
        uint8_t *mb = &s->mark_bytes[idx];
        if (__atomic_load_n(mb, __ATOMIC_RELAXED))
            return;
        if (!mgc__span_allocated(s, idx))
            return; /* a free slot: never resurrect it */
        __atomic_store_n(mb, 1, __ATOMIC_RELAXED);
    }
    m->marked_bytes += s->elemsize;
    if (s->kind == MGC_KIND_NOSCAN || s->kind == MGC_KIND_TINY) {
        m->noscan_bytes += s->elemsize; /* counted here, off the scan objects' path */
        return;
    }
    push(m, s->base + idx * s->elemsize, s->elemsize << 1 | (s->kind == MGC_KIND_TYPED));
}

/* ---- scanning ---------------------------------------------------------- */

MGC_NO_SANITIZE MGC_INLINE void scan_range(marker *m, uintptr_t lo, uintptr_t hi, const int mode)
{
    for (const uintptr_t *q = (const uintptr_t *)lo; q < (const uintptr_t *)hi; q++)
        mark_word(m, *q, mode);
}

/* Four words per test: the compares are independent and combine without
   branches, so a run of non-heap words costs one branch per four. */
MGC_NO_SANITIZE MGC_INLINE void scan_fours(marker *m, const uintptr_t *q, uintptr_t nfour, const int mode)
{
    const uintptr_t base = m->base, mapped = m->mapped;
    for (; nfour; nfour--, q += 4) {
        uintptr_t a = q[0], b = q[1], c = q[2], d = q[3];
        if (likely(!((a - base < mapped) | (b - base < mapped) | (c - base < mapped) | (d - base < mapped))))
            continue;
        if (a - base < mapped)
            mark_word(m, a, mode);
        if (b - base < mapped)
            mark_word(m, b, mode);
        if (c - base < mapped)
            mark_word(m, c, mode);
        if (d - base < mapped)
            mark_word(m, d, mode);
    }
}

typedef uint64_t wide_v __attribute__((vector_size(32)));
/* The same, as loaded from a root range: 8-byte aligned only, and
   aliasing whatever the program stored there. A plain load, never a call
   a sanitizer could intercept (a stack's redzones are read on purpose). */
typedef uint64_t wide_load __attribute__((vector_size(32), aligned(8), may_alias));

/* How many words at the start of q[0, n) hold no heap address, in whole
   blocks of 16 (four 4-lane compares and one test per block): it stops at
   the first block that holds a candidate, or when fewer than 16 words are
   left. On an empty-heap mgc_collect (69 KiB of roots, 90% zero words)
   this takes the scan from 4.3 to about 1.5 instructions per word. */
MGC_ARCH_WIDE_TARGET MGC_NO_SANITIZE static size_t wide_skip(const uintptr_t *q, size_t n, uintptr_t base,
                                                              uintptr_t mapped)
{
    const wide_v vb = {base, base, base, base}, vm = {mapped, mapped, mapped, mapped};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const wide_v x0 = *(const wide_load *)(q + i), x1 = *(const wide_load *)(q + i + 4),
                     x2 = *(const wide_load *)(q + i + 8), x3 = *(const wide_load *)(q + i + 12);
        wide_v hit = ((x0 - vb) < vm) | ((x1 - vb) < vm) | ((x2 - vb) < vm) | ((x3 - vb) < vm);
        if (hit[0] | hit[1] | hit[2] | hit[3])
            break;
    }
    return i;
}

/* A root range: most of its words (a C library's data segment, a stack)
   are not heap addresses, so a compare against the heap's bounds rejects
   them before mark_word reads the marker: sixteen at a time with wide
   vectors where the CPU has them (wide_skip), four at a time otherwise
   (an empty-heap mgc_collect, mostly this scan of the C library's data:
   74K instructions one word at a time, 57K four at a time, 22K sixteen
   at a time). A block the wide filter stops at goes to the four-word
   loop. test_liveness checks every position of ranges of 1-9 and of 70
   words. Not for objects, whose words are mostly pointers: there
   mark_word's check of the last span hit comes first and is cheaper. */
MGC_NO_SANITIZE MGC_INLINE void scan_root_range(marker *m, uintptr_t lo, uintptr_t hi, const int mode)
{
    if (mode == MODE_CHECK) {
        /* gccheckmark: every word, through none of the filters below, so
           a word they skip is found missed (re-marking with the same
           filters would skip it too). */
        scan_range(m, lo, hi, mode);
        return;
    }
    const uintptr_t base = m->base, mapped = m->mapped;
    const uintptr_t *q = (const uintptr_t *)lo;
    uintptr_t n = (hi - lo + sizeof(uintptr_t) - 1) / sizeof(uintptr_t); /* words starting below hi */
    if (W.wide) {
        for (;;) {
            size_t k = wide_skip(q, n, base, mapped);
            q += k;
            n -= k;
            if (n < 16)
                break;
            scan_fours(m, q, 4, mode);
            q += 16;
            n -= 16;
        }
    }
    scan_fours(m, q, n / 4, mode);
    q += n / 4 * 4;
    for (n %= 4; n; n--, q++)
        if (*q - base < mapped)
            mark_word(m, *q, mode);
}

/* Pointer words of elements of type t laid out from data, within [lo, hi). */
MGC_NO_SANITIZE static void scan_typed_range(marker *m, uintptr_t data, const mgc_type *t, uintptr_t lo,
                                             uintptr_t hi, const int mode)
{
    size_t esz = t->size, nptr = t->ptrdata / sizeof(void *);
    if (nptr == 0 || lo >= hi)
        return;
    const size_t W = sizeof(void *);
    uintptr_t e = data + (lo - data) / esz * esz;
    for (; e < hi; e += esz) {
        /* Only the words in [lo, hi): an oblet deep inside one element
           starts at its own word, not at the element's first (which made
           marking one element of N words O(N^2 / oblet): 25 s for 256 MiB).
           Mask bytes with no pointer are skipped whole. */
        size_t w = e < lo ? (lo - e + W - 1) / W : 0;
        size_t wend = hi - e < esz ? (hi - e + W - 1) / W : nptr;
        if (wend > nptr)
            wend = nptr;
        while (w < wend) {
            unsigned bits = (unsigned)(t->ptrmask[w >> 3] >> (w & 7));
            if (!bits) {
                w = (w | 7) + 1;
                continue;
            }
            w += (size_t)__builtin_ctz(bits);
            if (w >= wend)
                break;
            mark_word(m, *(const uintptr_t *)(e + w * W), mode);
            w++;
        }
    }
}

MGC_NO_SANITIZE MGC_INLINE void scan_typed(marker *m, uintptr_t p, uintptr_t len, const int mode)
{
    mgc_span *s = atomic_load_explicit(&m->spanmap[(p - m->base) >> MGC_PAGE_SHIFT], memory_order_relaxed);
    if (!s->large && s->elemsize <= MGC_TYPED_BITS_MAX) {
        /* Small typed object: its pointer words are in the span's heap bits. */
        uintptr_t w0 = (p - s->base) / sizeof(void *), nw = len / sizeof(void *);
        uint64_t bits = s->heap_bits[w0 >> 6] >> (w0 & 63);
        if ((w0 & 63) + nw > 64)
            bits |= s->heap_bits[(w0 >> 6) + 1] << (64 - (w0 & 63));
        if (nw < 64)
            bits &= ((uint64_t)1 << nw) - 1;
        const uintptr_t *q = (const uintptr_t *)p;
        while (bits) {
            mark_word(m, q[mgc__ctz64(bits)], mode);
            bits &= bits - 1;
        }
        return;
    }
    uintptr_t data;
    const mgc_type *t;
    size_t count;
    if (s->large) {
        data = s->base;
        t = s->large_type;
        count = s->large_count;
    } else {
        uintptr_t obj = s->base + mgc__span_index(s, p) * s->elemsize;
        data = obj + MGC_TYPED_HEADER;
        t = ((const mgc_type *const *)obj)[0];
        count = ((const size_t *)obj)[1];
    }
    if (!t)
        return;
    uintptr_t end = data + t->size * count;
    uintptr_t lo = p > data ? p : data, hi = p + len < end ? p + len : end;
    scan_typed_range(m, data, t, lo, hi, mode);
}

MGC_NO_SANITIZE MGC_INLINE void scan_work(marker *m, work w, const int mode)
{
    uintptr_t len = w.desc >> 1;
    if (len > OBLET && mode != MODE_CHECK) { /* gccheckmark: whole, one worker */
        /* Every oblet after the first goes on the stack now, as Go's
           scanobject does: with the rest pushed back as one item, the stack
           held one item at a time, share() (more than 16) never had any to
           give, and one big array was walked by one worker while the others
           idled (a 100 MB array of pointers: 24 ms, helper 0 bytes). */
        for (uintptr_t off = OBLET; off < len; off += OBLET) {
            uintptr_t n = len - off < OBLET ? len - off : OBLET;
            push(m, w.p + off, (n << 1) | (w.desc & 1));
        }
        len = OBLET;
    }
    if (w.desc & W_TYPED)
        scan_typed(m, w.p, len, mode);
    else
        scan_range(m, w.p, w.p + len, mode);
}

MGC_NO_SANITIZE MGC_INLINE void drain(marker *m, const int mode)
{
    work ring[RING];
    unsigned head = 0, cnt = 0, since = 0;
    for (;;) {
        while (cnt < RING && m->n) {
            work w = m->stk[--m->n];
            __builtin_prefetch((const void *)w.p);
            ring[(head + cnt) & (RING - 1)] = w;
            cnt++;
        }
        if (!cnt)
            return;
        work w = ring[head];
        head = (head + 1) & (RING - 1);
        cnt--;
        scan_work(m, w, mode);
        if (mode == MODE_PARALLEL && ++since >= 64) {
            since = 0;
            if (atomic_load_explicit(&W.idle_hint, memory_order_relaxed) && m->n > 16)
                share(m);
        }
    }
}

MGC_NO_SANITIZE MGC_INLINE void worker(marker *m, const int mode)
{
    m->base = mgc__heap.base;
    m->mapped = atomic_load_explicit(&mgc__heap.mapped, memory_order_relaxed);
    m->spanmap = mgc__heap.spanmap;
    m->last = NULL;
    m->last_base = 0;
    m->last_bytes = 0;
    for (;;) {
        size_t i;
        while ((i = atomic_fetch_add_explicit(&W.next_root, 1, memory_order_relaxed)) < W.nroots) {
            const mgc_root *r = &W.roots[i];
            if (r->kind == MGC_ROOT_STACK)
                m->stack_bytes += r->hi - r->lo;
            else
                m->global_bytes += r->hi - r->lo;
            scan_root_range(m, r->lo, r->hi, mode);
            drain(m, mode);
        }
        drain(m, mode);
        if (!get_work(m))
            return;
    }
}

MGC_NO_SANITIZE static void worker_serial(marker *m) { worker(m, MODE_SERIAL); }
MGC_NO_SANITIZE static void worker_parallel(marker *m) { worker(m, MODE_PARALLEL); }
MGC_NO_SANITIZE static void worker_check(marker *m) { worker(m, MODE_CHECK); }

static void run_worker(marker *m, int mode)
{
    /* Conservative scanning reads uninitialised stack words and bytes past
       requested sizes, by design. */
    MGC_TRACK_QUIET_BEGIN();
    uint64_t c0 = mgc__os_thread_cputime();
    if (mode == MODE_PARALLEL)
        worker_parallel(m);
    else if (mode == MODE_CHECK)
        worker_check(m);
    else
        worker_serial(m);
    m->cpu_ns = mgc__os_thread_cputime() - c0;
    MGC_TRACK_QUIET_END();
}

/* ---- helpers and the coordinator --------------------------------------- */

static marker *marker_new(void)
{
    marker *m = mgc__meta_alloc(sizeof *m, MGC_META_GC);
    m->stk = mgc__meta_alloc(LOCAL_CAP * sizeof(work), MGC_META_GC);
    return m;
}

#define START_NBITS 9 /* a worker count up to MGC_MAX_PROCS */
_Static_assert(MGC_MAX_PROCS < (1 << START_NBITS), "the worker count fits below the mark number");

enum { RETIRED, NOT_LAST, BUSY };

/* How long a helper waiting for the one above it to retire sleeps before
   it looks again, wake or no wake: short against the idle second, long
   enough to cost nothing. */
#define HELPER_RECHECK_NS 10000000u

/* Helper id, idle since the mark numbered `seen`, ends if no mark can be
   counting on it: with the gc lock held no mark runs (marks run under it),
   and the next one's mgc__mark_prepare and run() see nhelpers without it.
   Only the highest-numbered helper leaves, so ids stay 1..nhelpers. */
static int helper_retire(int id, uint32_t seen)
{
    if (!mgc__trylock(&mgc__gc.lock))
        return BUSY; /* a cycle or a snapshot: try after another idle spell */
    int r;
    if (atomic_load_explicit(&W.start, memory_order_relaxed) != seen)
        r = BUSY; /* a mark it was not in: look at it first */
    else if (id != W.nhelpers)
        r = NOT_LAST;
    else {
        W.nhelpers--;
        mgc__thread_retire_internal();
        r = RETIRED;
    }
    mgc__unlock(&mgc__gc.lock);
    if (r == RETIRED) /* the next lower helper may leave now: wake it to look */
        mgc__os_futex_wake(&W.start, INT32_MAX);
    return r;
}

static void *helper_main(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint32_t seen = W.markers[id]->gen_seen;
    uint64_t idle_since = mgc__os_nanotime();
    for (;;) {
        uint32_t w = atomic_load_explicit(&W.start, memory_order_acquire);
        if (w != seen) {
            seen = w;
            if (id < (int)(w & ((1u << START_NBITS) - 1))) {
                run_worker(W.markers[id], W.mode);
                atomic_fetch_add_explicit(&W.finished, 1, memory_order_release);
                mgc__os_futex_wake(&W.finished, 1);
            }
            idle_since = mgc__os_nanotime();
            continue;
        }
        /* Idle MGC_INTERNAL_IDLE_NS: end (threads.h says why). A helper
           above this one still there: wait for its retirement's wake (or
           a mark), but not untimed: the wake changes no word, and one that
           came between helper_retire's unlock and this wait was lost (the
           helper then slept until the next mark, for ever after a main
           thread's pthread_exit). HELPER_RECHECK_NS bounds that. */
        uint64_t now = mgc__os_nanotime(), timeout;
        if (now - idle_since >= MGC_INTERNAL_IDLE_NS) {
            int r = helper_retire(id, seen);
            if (r == RETIRED)
                return NULL;
            if (r == BUSY)
                idle_since = now;
            timeout = r == NOT_LAST ? HELPER_RECHECK_NS : MGC_INTERNAL_IDLE_NS;
        } else {
            timeout = MGC_INTERNAL_IDLE_NS - (now - idle_since);
        }
        mgc__os_futex_wait(&W.start, seen, timeout);
    }
}

void mgc__mark_prepare(int n)
{
    W.wide = mgc__arch_wide_ok(); /* libgcc's CPU model, read: a few ns */
    if (n > MGC_MAX_PROCS)
        n = MGC_MAX_PROCS;
    if (!W.markers[0])
        W.markers[0] = marker_new();
    while (W.nhelpers < n - 1) {
        int id = W.nhelpers + 1;
        if (!W.markers[id])
            W.markers[id] = marker_new();
        W.markers[id]->gen_seen = atomic_load_explicit(&W.start, memory_order_relaxed);
        pthread_t pt;
        if (mgc__thread_spawn_internal(&pt, helper_main, (void *)(intptr_t)id) != 0)
            break; /* run with the workers we have */
        W.nhelpers++;
    }
}

static void run(const mgc_root *roots, size_t nroots, int nworkers, int mode, mgc_mark_result *res)
{
    if (nworkers > W.nhelpers + 1)
        nworkers = W.nhelpers + 1;
    W.roots = roots;
    W.nroots = nroots;
    atomic_store_explicit(&W.next_root, 0, memory_order_relaxed);
    W.nworkers = nworkers;
    W.nidle = 0;
    atomic_store_explicit(&W.idle_hint, 0, memory_order_relaxed);
    W.mode = nworkers > 1 ? MODE_PARALLEL : mode;
    for (int i = 0; i < nworkers; i++) {
        marker *m = W.markers[i];
        m->n = 0;
        m->marked_bytes = m->noscan_bytes = m->stack_bytes = m->global_bytes = m->cpu_ns = 0;
    }
    atomic_store_explicit(&W.finished, 0, memory_order_relaxed);
    if (nworkers > 1) {
        /* release: the set-up above happens-before the helpers' work. The
           mark number wraps harmlessly: a helper only compares for change. */
        uint32_t old = atomic_load_explicit(&W.start, memory_order_relaxed);
        uint32_t w = ((old >> START_NBITS) + 1) << START_NBITS | (uint32_t)nworkers;
        atomic_store_explicit(&W.start, w, memory_order_release);
        mgc__os_futex_wake(&W.start, INT32_MAX);
    }
    run_worker(W.markers[0], W.mode);
    uint32_t f;
    while ((f = atomic_load_explicit(&W.finished, memory_order_acquire)) < (uint32_t)(nworkers - 1))
        mgc__os_futex_wait(&W.finished, f, 0);
    if (res) {
        memset(res, 0, sizeof *res);
        res->nworkers = nworkers;
        for (int i = 0; i < nworkers; i++) {
            marker *m = W.markers[i];
            res->marked_bytes += m->marked_bytes;
            res->scanned_bytes += m->marked_bytes - m->noscan_bytes;
            res->stack_bytes += m->stack_bytes;
            res->global_bytes += m->global_bytes;
            res->cpu_ns += m->cpu_ns;
            if (i)
                res->helper_marked_bytes += m->marked_bytes;
        }
    }
}

void mgc__mark(const mgc_root *roots, size_t nroots, int nworkers, mgc_mark_result *res)
{
    run(roots, nroots, nworkers < 1 ? 1 : nworkers, MODE_SERIAL, res); /* run() caps it */
}

/* Free the check bitmaps of the first n spans. Heap lock held. */
static void check_bits_free(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mgc_span *s = mgc__heap.allspans[i];
        mgc__meta_free(s->check_bits, s->nbitwords * 8, MGC_META_GC);
        s->check_bits = NULL;
    }
}

void mgc__mark_check(const mgc_root *roots, size_t nroots)
{
    mgc__lock(&mgc__heap.lock);
    /* The bitmaps come from what the OS still has, never from the
       emergency metadata the collector itself may need: without them the
       cycle goes unchecked, with one warning, where a heap capped by
       RLIMIT_AS aborted ("out of memory for metadata") under gccheckmark
       alone. */
    for (size_t i = 0; i < mgc__heap.nallspans; i++) {
        mgc_span *s = mgc__heap.allspans[i];
        s->check_bits = mgc__meta_try_alloc(s->nbitwords * 8, MGC_META_GC);
        if (!s->check_bits) {
            check_bits_free(i);
            mgc__unlock(&mgc__heap.lock);
            static bool warned; /* gc lock */
            if (!warned)
                mgc__warn("gccheckmark: no memory for the check's bitmaps; cycles go unchecked while it lacks");
            warned = true;
            return;
        }
    }
    run(roots, nroots, 1, MODE_CHECK, NULL);
    check_bits_free(mgc__heap.nallspans);
    mgc__unlock(&mgc__heap.lock);
}

void mgc__mark_black_range(mgc_span *s, uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to; i++)
        if (!mgc__bit_get(s->alloc_bits, i))
            __atomic_store_n(&s->mark_bytes[i], 1, __ATOMIC_RELAXED);
}

void mgc__mark_fork_child(void)
{
    /* The helper threads do not exist in the child: start afresh. */
    pthread_mutex_init(&W.mu, NULL);
    pthread_cond_init(&W.cv, NULL);
    W.nhelpers = 0;
    W.full = NULL;
}
