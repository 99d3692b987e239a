/*
 * threads.c — the thread registry, attach/detach, stopping and restarting
 * the world with SIGPWR, mgc_pthread_create, and the start and end of
 * internal threads (threads.h has the protocol).
 *
 * Invariants:
 *   - Registered threads take the central, heap, meta and roots locks only
 *     inside a no-suspend section: the collector takes them with the world
 *     stopped. The registry lock is different: the collector takes it
 *     before it stops anyone, so a thread may hold it anywhere. Threads not
 *     (yet) registered are never stopped and may hold any lock.
 *   - With the world stopped the collector never calls malloc, stdio,
 *     pthread_create or dl_iterate_phdr: a stopped thread may hold their
 *     locks. A cycle stops the world holding the loader's lock (roots.c),
 *     taken before anyone is stopped, so no stopped thread holds that one.
 *   - A thread is on the registry list iff mgc__self is set in it; it is
 *     inserted after mgc__self is set (so its handler can always find it)
 *     and removed under the registry lock (so a stop never signals a thread
 *     that is gone). One exception: a thread that exits still attached,
 *     attached again by a pthread key destructor after mgc's own ran in
 *     glibc's last round. Its robust `alive` mutex tells: a stop takes such
 *     records off the list before it signals anyone, and while it waits
 *     for acknowledgements (the exit may race with the stop); their caches
 *     are flushed and records freed once the world is stopped.
 *   - Internal threads start and end under the gc lock; one that ended is
 *     on `retired` until it is seen gone, and fork's prepare handler waits
 *     for that, at most RETIRED_EXIT_MAX_NS (a fork never sees one half
 *     started or half ended; a tid alive longer is a new thread's).
 *   - The collector holds the registry lock from stop to start: the set of
 *     threads cannot change while the world is stopped.
 *   - Per stop epoch a thread acknowledges at most once (stopped_epoch).
 *   - The epoch is odd exactly while a stop is in progress; a SIGPWR that
 *     arrives when it is even is ignored, and so is one taken by the thread
 *     stopping the world (reg.stopper), whatever sent it.
 *   - A thread is never unwound out of the stop: the handler runs with the
 *     C library's cancellation signal blocked (mask_cancel_signal).
 *   - SIGPWR is unblocked in a thread from its attach on, and in detach
 *     until the thread has left the list.
 *   - An attach that fails (no metadata for the record or its TLS list,
 *     pthread_getattr_np failing) leaves nothing: no record, the thread's
 *     signal mask as it was. A thread is attached by its first allocation
 *     or first call that hands it a heap pointer (mgc__attach_caller).
 *   - One mgc per process: the SIGPWR handler of another copy (its mask
 *     carries the hand-set cancellation bit) stops this one at start.
 */
#include "internal/threads.h"
#include "internal/cache.h"
#include "internal/env.h"
#include "internal/gc.h"
#include "internal/meta.h"
#include "internal/os.h"

#include <errno.h>
#include <link.h>
#include <sched.h>
#include <signal.h>

#define MGC_SIG_SUSPEND SIGPWR

typedef struct start_rec {
    void *(*fn)(void *);
    void *arg; /* a root until the new thread has it on its own stack */
    struct start_rec *next, *prev;
} start_rec;

static struct {
    mgc_lock lock;            /* the registry lock */
    mgc_thread *list;         /* lock */
    uint32_t count;           /* lock */
    start_rec *starting;      /* lock */
    _Atomic uint32_t epoch;   /* odd while stopping/stopped; see above */
    _Atomic uint32_t acks;    /* acknowledgements in this epoch */
    pthread_key_t key;        /* destructor detaches exiting threads */
    /* The thread stopping the world, from before the epoch turns odd until
       after it turns even again: its own handler must never stop it (a
       SIGPWR it takes then, one sent from outside, would make it wait for
       itself for ever). Written by that thread under the lock; read by any
       handler after its acquire of epoch, which orders the write first. */
    _Atomic(mgc_thread *) stopper;
    /* Held by a thread attaching while it walks the loaded objects for its
       TLS (dl_iterate_phdr, the loader's lock), and by fork's prepare
       handler: a child never inherits the loader's lock taken by an
       attaching thread (glibc 2.36 leaves it held in the child, whose next
       cycle then waited for it for ever). Taken by unregistered threads
       only; order: gc -> attach -> registry. */
    mgc_lock attach_lock;
} reg MGC_STATE;

/* Internal threads that retired and may still be exiting: their tids,
   until they are seen gone or RETIRED_EXIT_MAX_NS has passed in
   mgc__threads_await_retired (or pruned at the
   next retirement). Gc lock. More than MGC_MAX_PROCS (every helper and the
   sweeper) only when retirements outrun exits: the retiring thread then
   waits for the others first. */
static struct {
    int tid[MGC_MAX_PROCS];
    int n;
} retired MGC_STATE;

__thread mgc_thread *mgc__self __attribute__((tls_model("initial-exec")));

/* ---- stopping ---------------------------------------------------------- */

/* Acknowledge the stop of epoch e and sleep until it ends. sp is the lowest
   stack address that may hold the program's data. */
static void stop_self(mgc_thread *t, uint32_t seen, uint32_t e, uintptr_t sp)
{
    /* Claim epoch e's acknowledgement, once: the caller saw stopped_epoch
       == seen. The handler, run for a re-sent signal between
       mgc__thread_stop_deferred's check and here, may have claimed it, and
       stopped and resumed already; a second acknowledgement would count
       toward a later stop, which this thread would not wait for. Relaxed:
       only this thread writes the field; the CAS orders it against its own
       signal handler. */
    if (!atomic_compare_exchange_strong_explicit(&t->stopped_epoch, &seen, e, memory_order_relaxed,
                                                 memory_order_relaxed))
        return;
    t->stop_sp = sp;
    /* release: stop_sp, regs and every write the thread made to its cache
       and the heap happen-before the collector's acquire of acks. */
    atomic_fetch_add_explicit(&reg.acks, 1, memory_order_release);
    mgc__os_futex_wake(&reg.acks, 1);
    /* acquire: the collector's changes (flushed cache) are visible on return. */
    while (atomic_load_explicit(&reg.epoch, memory_order_acquire) == e)
        mgc__os_futex_wait(&reg.epoch, e, 0);
}

static void suspend_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    int saved_errno = errno;
    mgc_thread *t = mgc__self;
    uint32_t e = atomic_load_explicit(&reg.epoch, memory_order_acquire);
    uint32_t seen = t ? atomic_load_explicit(&t->stopped_epoch, memory_order_relaxed) : 0;
    /* listed: a signal re-sent by an earlier stop can arrive after the
       thread left the registry (detach), during a stop that does not count
       it: no acknowledgement then. stopper: the thread stopping the world
       never stops itself. It gets a SIGPWR only from elsewhere: kill(2)
       from another process (a UPS daemon, `kill -PWR`), which the kernel
       may hand to any thread, or the program's own pthread_kill. Such a
       signal taken by another thread during a stop only stops it early,
       once per epoch like any other, so its sender is not checked
       (si_code SI_TKILL and si_pid): how pthread_kill's signal is marked
       under an emulator or a sanitizer is not ours to rely on, and a
       thread whose stop signal were dropped would hang every cycle. */
    if (t && (e & 1) && seen != e && atomic_load_explicit(&t->listed, memory_order_relaxed) &&
        atomic_load_explicit(&reg.stopper, memory_order_relaxed) != t) {
        if (atomic_load_explicit(&t->in_cs, memory_order_relaxed)) {
            /* Mid-allocation: finish it, stop at mgc__cs_exit. */
            atomic_store_explicit(&t->suspend_pending, 1, memory_order_relaxed);
        } else {
            t->nregs = mgc__arch_copy_regs(uc, t->regs);
            /* The handler runs below the interrupted frame and the
               kernel's saved context, on whatever stack the thread was
               using: its own, an alternate signal stack (the program's
               handler was running there) or a coroutine's. */
            uintptr_t sp = MGC_ARCH_SP();
            t->alt_lo = t->alt_hi = 0;
            t->alt_inside = false;
            if (sp >= t->stack_lo && sp < t->stack_hi) {
                /* Its own stack, or an alternate signal stack that is a
                   buffer in one of its own frames: then the frames the
                   signal interrupted lie below the buffer, under the stop
                   point, and roots.c scans the stack whole (they were
                   skipped: a live object reclaimed). */
                stack_t ss;
                if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK)) {
                    t->alt_lo = (uintptr_t)ss.ss_sp;
                    t->alt_hi = (uintptr_t)ss.ss_sp + ss.ss_size;
                    t->alt_inside = true;
                }
            } else {
                /* Not its own: roots.c scans the thread's whole stack, since
                   we cannot know how deep it was, and this one from sp up.
                   On an alternate stack sigaltstack says where it ends
                   (SS_ONSTACK), unless it was set up with SS_AUTODISARM,
                   which the kernel disarms on entry; then, as for a
                   coroutine's, the collector looks the end up in
                   /proc/self/maps (not here: that needs 4.5 KiB of stack,
                   more than a small alternate stack may have left). */
                stack_t ss;
                if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK)) {
                    t->alt_lo = (uintptr_t)ss.ss_sp;
                    t->alt_hi = (uintptr_t)ss.ss_sp + ss.ss_size;
                }
            }
            stop_self(t, seen, e, sp);
        }
    }
    errno = saved_errno;
}

MGC_NOINLINE void mgc__thread_stop_deferred(mgc_thread *t)
{
    atomic_store_explicit(&t->suspend_pending, 0, memory_order_relaxed);
    uint32_t e = atomic_load_explicit(&reg.epoch, memory_order_acquire);
    uint32_t seen = atomic_load_explicit(&t->stopped_epoch, memory_order_relaxed);
    if (!(e & 1) || seen == e)
        return;
    /* Spill callee-saved registers into this frame so the stack scan from
       here up sees every value the program holds. */
    __builtin_unwind_init();
    t->nregs = 0;
    t->alt_lo = t->alt_hi = 0; /* a coroutine's stack perhaps, never a signal handler's */
    t->alt_inside = false;
    stop_self(t, seen, e, MGC_ARCH_SP());
    /* Not a tail call: a sibling call would pop the spill before stop_self
       sleeps, leaving callers' values only in registers nobody scans (seen
       under ASan, where stop_self is not inlined: a new thread's argument,
       held in r15 by thread_start, was reclaimed). */
    __asm__ __volatile__("" ::: "memory");
}

/* Has t exited (still registered)? Then its record leaves the list, onto
   *dead. Registry lock held. */
static bool reap_if_exited(mgc_thread *t, mgc_thread **dead)
{
    if (pthread_mutex_trylock(&t->alive) != EOWNERDEAD)
        return false; /* EBUSY: it lives */
    pthread_mutex_consistent(&t->alive);
    pthread_mutex_unlock(&t->alive);
    pthread_mutex_destroy(&t->alive);
    MGC_DLIST_REMOVE(reg.list, t);
    atomic_store_explicit(&t->listed, 0, memory_order_relaxed);
    reg.count--;
    t->next = *dead;
    *dead = t;
    return true;
}

/* A thread record and what hangs from it go back to the metadata. */
static void record_free(mgc_thread *t)
{
    if (t->tls)
        mgc__meta_free(t->tls, t->tls_cap * sizeof *t->tls, MGC_META_MCACHE);
    mgc__meta_free(t, sizeof *t, MGC_META_MCACHE);
}

/* World stopped: the exited threads' caches go back (as fork's child does
   for threads that are gone), their records are freed. */
static void free_reaped(mgc_thread *dead)
{
    while (dead) {
        mgc_thread *next = dead->next;
        mgc__cache_flush(&dead->cache);
        record_free(dead);
        dead = next;
    }
}

/* Is SIGPWR's disposition still mgc's handler? (sigaction is a system
   call: safe with threads stopped.) */
static bool handler_is_ours(void)
{
    struct sigaction cur;
    return sigaction(MGC_SIG_SUSPEND, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
           cur.sa_sigaction == suspend_handler;
}

void mgc__stw_stop(void)
{
    mgc_thread *self = mgc__self;
    mgc__lock(&reg.lock);
    /* Before the epoch turns odd: from then on our own handler returns at
       once (same thread: program order is enough for it; other threads'
       handlers see it through their acquire of the epoch). */
    atomic_store_explicit(&reg.stopper, self, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&reg.acks, 0, memory_order_relaxed);
    uint32_t e = atomic_fetch_add_explicit(&reg.epoch, 1, memory_order_acq_rel) + 1;
    MGC_CHECK(e & 1, "stop-the-world epoch %u is even", e);
    uint32_t n = 0;
    mgc_thread *dead = NULL;
    for (mgc_thread *t = reg.list, *next; t; t = next) {
        next = t->next;
        if (t == self || reap_if_exited(t, &dead))
            continue;
        int err = pthread_kill(t->pthread, MGC_SIG_SUSPEND);
        MGC_CHECK(err == 0, "cannot signal attached thread %d to stop: %s (exited without detaching?)",
                  t->tid, strerror(err));
        n++;
    }
    uint64_t t0 = mgc__os_nanotime(), next_resend = t0 + 100000000u, next_warn = t0 + 2000000000u;
    uint32_t a;
    while ((a = atomic_load_explicit(&reg.acks, memory_order_acquire)) < n) {
        mgc__os_futex_wait(&reg.acks, a, 10000000u);
        uint64_t now = mgc__os_nanotime();
        if (now < next_resend)
            continue;
        /* A thread that has not answered in 100 ms gets the signal again
           (it may have had it blocked); after 2 s we say so, and again
           every 4 s while it does not answer (a hang that began after the
           first line scrolled away is still named). */
        next_resend = now + 100000000u;
        bool warn = now >= next_warn;
        if (warn)
            next_warn = now + 4000000000u;
        for (mgc_thread *t = reg.list, *next; t; t = next) {
            next = t->next;
            if (t == self || atomic_load_explicit(&t->stopped_epoch, memory_order_relaxed) == e)
                continue;
            if (reap_if_exited(t, &dead)) { /* exited since it was signalled */
                n--;
                continue;
            }
            pthread_kill(t->pthread, MGC_SIG_SUSPEND);
            if (warn) {
                unsigned secs = (unsigned)((now - t0) / 1000000000u);
                if (!handler_is_ours())
                    mgc__warn("thread %d has not stopped for a collection after %u s: the program "
                              "replaced mgc's SIGPWR handler (mgc stops threads with SIGPWR); "
                              "still waiting",
                              t->tid, secs);
                else
                    mgc__warn("thread %d has not stopped for a collection after %u s "
                              "(is SIGPWR blocked in it?); still waiting",
                              t->tid, secs);
            }
        }
    }
    free_reaped(dead);
}

void mgc__stw_start(void)
{
    uint32_t e = atomic_fetch_add_explicit(&reg.epoch, 1, memory_order_release) + 1;
    MGC_CHECK(!(e & 1), "stop-the-world epoch %u is odd after restart", e);
    /* Cleared only now that the epoch is even: a signal in between is
       ignored for that reason. */
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&reg.stopper, NULL, memory_order_relaxed);
    mgc__os_futex_wake(&reg.epoch, INT32_MAX);
    mgc__unlock(&reg.lock);
}

mgc_thread *mgc__threads_first(void) { return reg.list; }
uint32_t mgc__threads_count(void) { return reg.count; }

void mgc__thread_save_self(mgc_thread *t, uintptr_t sp)
{
    t->stop_sp = sp;
    t->nregs = 0;
    t->alt_inside = false; /* not from an earlier stop in a handler */
}

void mgc__threads_starting_roots(void (*fn)(void *ctx, uintptr_t lo, uintptr_t hi), void *ctx)
{
    for (start_rec *r = reg.starting; r; r = r->next)
        fn(ctx, (uintptr_t)&r->arg, (uintptr_t)(&r->arg + 1));
}

/* ---- attach and detach ------------------------------------------------- */

/* Static TLS blocks of the loaded modules: recorded while there is room
   (tls_cap), counted all the same (tls_seen). */
static int tls_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    mgc_thread *t = data;
    if (!info->dlpi_tls_data)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_TLS || !ph->p_memsz)
            continue;
        if (t->ntls < t->tls_cap) {
            uintptr_t lo = (uintptr_t)info->dlpi_tls_data;
            t->tls[t->ntls].lo = lo;
            t->tls[t->ntls].hi = lo + ph->p_memsz;
            t->ntls++;
        }
        t->tls_seen++;
    }
    return 0;
}

/* Record every module's static TLS block for t (the calling thread): as
   many as there are, in metadata sized from a first walk. The array is
   allocated with no lock held (the metadata lock is not ordered against
   the attach lock or the loader's); a module loaded between two walks
   makes it walk again with more room. ENOMEM when the OS has no memory
   for it. */
static int tls_find(mgc_thread *t)
{
    for (;;) {
        t->ntls = t->tls_seen = 0;
        mgc__lock(&reg.attach_lock);
        dl_iterate_phdr(tls_cb, t);
        mgc__unlock(&reg.attach_lock);
        if (t->tls_seen <= t->tls_cap)
            return 0;
        if (t->tls)
            mgc__meta_free(t->tls, t->tls_cap * sizeof *t->tls, MGC_META_MCACHE);
        t->tls_cap = t->tls_seen + 4;
        t->tls = mgc__meta_alloc_or_null(t->tls_cap * sizeof *t->tls, MGC_META_MCACHE);
        if (!t->tls) {
            t->tls_cap = 0;
            return ENOMEM;
        }
    }
}

/* t's robust mutex, held by the calling thread (t's owner) until detach
   or exit. 0 or an errno. */
static int alive_init(mgc_thread *t)
{
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    int err = pthread_mutex_init(&t->alive, &ma);
    pthread_mutexattr_destroy(&ma);
    if (err)
        return err;
    if ((err = pthread_mutex_lock(&t->alive)) != 0)
        pthread_mutex_destroy(&t->alive);
    return err;
}

/* A set holding SIGPWR alone. */
static sigset_t suspend_set(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, MGC_SIG_SUSPEND);
    return s;
}

/* Attach the calling thread: its record in *out, or an errno (ENOMEM
   when the OS has no memory for the record or its TLS list, or
   pthread_getattr_np's error), with nothing left half set up. */
static int attach_self(mgc_thread **out)
{
    /* A thread that blocks SIGPWR can never be stopped: the next stop
       waits for ever. Threads the C library starts behind the program's
       back block every signal (glibc's timer_create and aio SIGEV_THREAD
       callbacks): a callback that allocated attached its thread so, and
       hung the next collection. Unblocked before the thread is listed; a
       program that blocks it again afterwards breaks mgc.h's contract. */
    sigset_t pwr = suspend_set(), old;
    pthread_sigmask(SIG_UNBLOCK, &pwr, &old);
    mgc_thread *t = mgc__meta_alloc_or_null(sizeof *t, MGC_META_MCACHE);
    if (!t) {
        pthread_sigmask(SIG_SETMASK, &old, NULL); /* not attached: its mask as it was */
        return ENOMEM;
    }
    mgc__cache_init(&t->cache);
    t->pthread = pthread_self();
    t->tid = mgc__os_gettid();
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;
    int err = pthread_getattr_np(t->pthread, &attr); /* ENOMEM when the C library has no memory */
    if (err == 0) {
        pthread_attr_getstack(&attr, &addr, &size);
        pthread_attr_destroy(&attr);
        if (!addr)
            err = EINVAL;
    }
    t->stack_lo = (uintptr_t)addr;
    t->stack_hi = (uintptr_t)addr + size;
    /* Static TLS blocks of every module loaded now: __thread variables can
       hold heap pointers too. */
    if (!err)
        err = tls_find(t);
    if (!err)
        err = alive_init(t);
    if (err) {
        record_free(t);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return err;
    }
    pthread_setspecific(reg.key, t);
    mgc__self = t;
    mgc__lock(&reg.lock);
    MGC_DLIST_PUSH(reg.list, t);
    atomic_store_explicit(&t->listed, 1, memory_order_relaxed);
    reg.count++;
    mgc__unlock(&reg.lock);
    *out = t;
    return 0;
}

mgc_thread *mgc__thread_try_current(int *err)
{
    mgc_thread *t = mgc__self;
    if (likely(t != NULL))
        return t;
    if ((*err = mgc__try_init()) != 0) /* no heap: nothing to attach to */
        return NULL;
    *err = attach_self(&t);
    return t;
}

mgc_thread *mgc__thread_current(void)
{
    int err = 0;
    mgc_thread *t = mgc__thread_try_current(&err);
    MGC_CHECK(t != NULL, "cannot attach thread %d: %s", mgc__os_gettid(), strerror(err));
    return t;
}

int mgc_thread_attach(void)
{
    int err = 0;
    return mgc__thread_try_current(&err) ? 0 : err;
}

static void detach(mgc_thread *t)
{
    /* Still registered while waiting for the lock below: a collection that
       holds it stops this thread like any other, which takes SIGPWR. A
       thread that blocked it (against mgc.h's contract, or unwound out of
       a signal handler that ran with it blocked) would wait for the lock
       while the collection waited for it, for ever: SIGPWR is unblocked
       until the thread has left, and the program's mask then restored (a
       SIGPWR taken after it left is ignored: `listed`). */
    sigset_t pwr = suspend_set(), old;
    pthread_sigmask(SIG_UNBLOCK, &pwr, &old);
    mgc__cs_enter(t);
    mgc__cache_flush_spans(&t->cache);
    mgc__cs_exit(t);
    /* The counters go with the thread's leaving (cache.h); what its cache
       still holds is counted by a stop while it waits. */
    mgc__lock(&reg.lock);
    mgc__cache_flush_counts(&t->cache);
    MGC_DLIST_REMOVE(reg.list, t);
    atomic_store_explicit(&t->listed, 0, memory_order_relaxed);
    reg.count--;
    mgc__unlock(&reg.lock);
    if (sigismember(&old, MGC_SIG_SUSPEND))
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    mgc__self = NULL;
    pthread_setspecific(reg.key, NULL);
    pthread_mutex_unlock(&t->alive);
    pthread_mutex_destroy(&t->alive);
    record_free(t);
}

void mgc_thread_detach(void)
{
    mgc_thread *t = mgc__self;
    if (t)
        detach(t);
}

static void key_destructor(void *p)
{
    /* The thread is exiting; if a later destructor allocates again it will
       re-attach and this destructor will run once more. */
    if (p && mgc__self == p)
        detach(p);
}

/* ---- thread creation --------------------------------------------------- */

static void unlink_start(start_rec *r)
{
    mgc__lock(&reg.lock);
    MGC_DLIST_REMOVE(reg.starting, r);
    mgc__unlock(&reg.lock);
}

static void *thread_start(void *p)
{
    start_rec *r = p;
    mgc_thread *t = mgc__thread_current();
    void *(*fn)(void *) = r->fn;
    void *arg = r->arg; /* now on this thread's stack, scanned */
    unlink_start(r);
    /* Registered now: metadata locks only inside a no-suspend section. */
    mgc__cs_enter(t);
    mgc__meta_free(r, sizeof *r, MGC_META_OTHER);
    mgc__cs_exit(t);
    return fn(arg);
}

int mgc_pthread_create(pthread_t *pt, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
    int err = 0;
    mgc_thread *t = mgc__thread_try_current(&err); /* a caller mgc cannot attach: its errno */
    if (!t)
        return err;
    mgc__cs_enter(t);
    start_rec *r = mgc__meta_alloc(sizeof *r, MGC_META_OTHER);
    mgc__cs_exit(t);
    /* arg moves into the record only under the registry lock, which a stop
       takes first: until then arg is live in this frame (scanned), after it
       the record is on the root list. Stored earlier, arg could sit only in
       unscanned metadata for a moment, and a stop then would lose it. */
    mgc__lock(&reg.lock);
    r->fn = fn;
    r->arg = arg;
    MGC_DLIST_PUSH(reg.starting, r);
    mgc__unlock(&reg.lock);
    err = pthread_create(pt, a, thread_start, r);
    if (err) {
        unlink_start(r);
        mgc__cs_enter(t);
        mgc__meta_free(r, sizeof *r, MGC_META_OTHER);
        mgc__cs_exit(t);
    }
    return err;
}

/* An internal thread's start, on its spawner's stack until started is
   set: the spawner waits for it. */
typedef struct internal_start {
    void *(*fn)(void *);
    void *arg;
    _Atomic uint32_t started;
} internal_start;

static void *internal_main(void *p)
{
    internal_start *st = p;
    void *(*fn)(void *) = st->fn;
    void *arg = st->arg;
    /* release: fn and arg are read before the spawner's frame goes. */
    atomic_store_explicit(&st->started, 1, memory_order_release);
    mgc__os_futex_wake(&st->started, 1);
    return fn(arg);
}

int mgc__thread_spawn_internal(pthread_t *pt, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    internal_start st = {fn, arg, 0};
    int err = pthread_create(pt, &attr, internal_main, &st);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    /* Returns once the thread runs fn: its start-up (the C library's, and
       a sanitizer's, which takes the sanitizer's allocator lock) is over
       before the caller lets go of the gc lock, which fork's prepare
       handler takes. A fork in between gave a child whose allocator lock
       was held for ever (AddressSanitizer does not reset it), and the
       child's own helper threads then hung starting. */
    while (err == 0 && !atomic_load_explicit(&st.started, memory_order_acquire))
        mgc__os_futex_wait(&st.started, 0, 0);
    return err;
}

/* Drop the tids of retired threads that have ended. Gc lock. */
static void prune_retired(void)
{
    int k = 0;
    for (int i = 0; i < retired.n; i++)
        if (!mgc__os_thread_gone(retired.tid[i]))
            retired.tid[k++] = retired.tid[i];
    retired.n = k;
}

/* How long a retired thread's tid may stay alive before it is taken for
   a new thread: the kernel gives tids out again, and a program's new
   thread may hold one (a fork then waited for it for ever). A retired
   thread's exit takes microseconds once it runs; a second leaves room for
   a loaded machine. (Joinable internal threads would say it exactly, but
   one retired just before the process ends is never joined, and TSan
   reports it as a leak.) */
#define RETIRED_EXIT_MAX_NS 1000000000u

void mgc__threads_await_retired(void)
{
    uint64_t end = mgc__os_nanotime() + RETIRED_EXIT_MAX_NS;
    for (;;) {
        prune_retired();
        if (retired.n == 0)
            return;
        if (mgc__os_nanotime() > end) {
            retired.n = 0; /* alive that long: tids of new threads */
            return;
        }
        sched_yield();
    }
}

void mgc__thread_retire_internal(void)
{
    prune_retired();
    if (retired.n == MGC_MAX_PROCS)
        mgc__threads_await_retired();
    retired.tid[retired.n++] = mgc__os_gettid();
}

/* ---- init and fork ----------------------------------------------------- */

#ifdef __GLIBC__
/* glibc's cancellation signal, SIGCANCEL: the first real-time signal,
   which it keeps for itself (SIGRTMIN is above it). */
#define GLIBC_SIGCANCEL 32
#endif

/* Add the C library's cancellation signal to the handler's mask s. A
   thread blocked in a cancellation point (read, nanosleep,
   pthread_cond_wait...) runs it with asynchronous cancellation in glibc,
   and a pthread_cancel acted on while it slept stopped in our handler
   unwound it out of the handler: its cleanup ran with the world stopped,
   and it lived on with the handler's mask, SIGPWR blocked, so the next
   stop waited for it for ever. Blocked from the handler's entry, the
   cancel stays pending until the kernel restores the interrupted mask at
   sigreturn, and is acted on there, the world running. glibc's sigfillset
   leaves the signal out and its sigaddset refuses it, but its sigaction
   hands sa_mask to the kernel as it is: the bit is set by hand (bit n-1
   of the kernel's sigset, the first words of glibc's, in unsigned longs).
   musl acts on a cancel only at a cancellation point's own system call,
   never inside a handler: nothing to do there. */
static void mask_cancel_signal(sigset_t *s)
{
#ifdef GLIBC_SIGCANCEL
    unsigned long *w = (unsigned long *)(void *)s;
    const unsigned bits = 8 * sizeof(unsigned long);
    w[(GLIBC_SIGCANCEL - 1) / bits] |= 1UL << ((GLIBC_SIGCANCEL - 1) % bits);
#else
    (void)s;
#endif
}

/* Is this SIGPWR action another copy of mgc's? Its mask has the C
   library's cancellation signal, which only a mask set by hand can have
   (glibc's sigfillset leaves it out and its sigaddset refuses it): the
   fingerprint of mask_cancel_signal. */
static bool is_mgc_action(const struct sigaction *a)
{
#ifdef GLIBC_SIGCANCEL
    sigset_t probe;
    sigemptyset(&probe);
    mask_cancel_signal(&probe);
    const unsigned long *w = (const unsigned long *)(const void *)&a->sa_mask,
                        *m = (const unsigned long *)(const void *)&probe;
    const unsigned i = (GLIBC_SIGCANCEL - 1) / (8 * sizeof(unsigned long));
    return (a->sa_flags & SA_SIGINFO) && (w[i] & m[i]) != 0;
#else
    (void)a;
    return false;
#endif
}

void mgc__threads_init(void)
{
    mgc__lock_init(&reg.lock);
    mgc__lock_init(&reg.attach_lock);
    int err = pthread_key_create(&reg.key, key_destructor);
    MGC_CHECK(err == 0, "pthread_key_create: %s", strerror(err));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = suspend_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    /* While stopped, a thread takes no other asynchronous signal, the C
       library's cancellation signal included (mask_cancel_signal); faults
       stay deliverable so a bug is reported, not hidden. */
    sigfillset(&sa.sa_mask);
    sigdelset(&sa.sa_mask, SIGSEGV);
    sigdelset(&sa.sa_mask, SIGBUS);
    sigdelset(&sa.sa_mask, SIGFPE);
    sigdelset(&sa.sa_mask, SIGILL);
    sigdelset(&sa.sa_mask, SIGABRT);
    mask_cancel_signal(&sa.sa_mask);
    struct sigaction old;
    /* Two copies of mgc in one process (a program linked with libmgc.a
       that loads a plugin linked with libmgc.so) would each take SIGPWR
       for its own stops, and their collections deadlock: one line now
       instead (design.md section 4, internal threads). */
    MGC_CHECK(sigaction(MGC_SIG_SUSPEND, NULL, &old) == 0, "sigaction(SIGPWR): %s", strerror(errno));
    MGC_CHECK(!is_mgc_action(&old),
              "another copy of mgc already handles SIGPWR in this process: one mgc per process (link the "
              "shared libmgc wherever a plugin does, or export the program's whole static copy: -rdynamic "
              "-Wl,--whole-archive libmgc.a -Wl,--no-whole-archive)");
    MGC_CHECK(sigaction(MGC_SIG_SUSPEND, &sa, &old) == 0, "sigaction(SIGPWR): %s", strerror(errno));
    /* The program's own use of SIGPWR would stop working without a word. */
    if ((old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != NULL : old.sa_handler != SIG_DFL)
        mgc__warn("replaced the program's SIGPWR %s: mgc stops threads with SIGPWR",
                  !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN ? "setting (ignored)" : "handler");
}

void mgc__threads_fork_prepare(void)
{
    mgc__lock(&reg.attach_lock);
    mgc__lock(&reg.lock);
}
void mgc__threads_fork_parent(void)
{
    mgc__unlock(&reg.lock);
    mgc__unlock(&reg.attach_lock);
}

void mgc__threads_fork_child(void)
{
    /* Only the forking thread exists in the child. The others' caches go
       back to mcentral (whatever they were doing, nothing they cached is
       lost or listed twice: see cache.c), their records are freed. */
    mgc_thread *self = mgc__self;
    mgc_thread *t = reg.list;
    while (t) {
        mgc_thread *next = t->next;
        if (t != self) {
            mgc__cache_flush(&t->cache);
            record_free(t);
        }
        t = next;
    }
    reg.list = self;
    reg.count = self ? 1 : 0;
    if (self) {
        self->next = self->prev = NULL;
        self->tid = mgc__os_gettid();
        /* Locked under the parent thread's tid, and off this thread's robust
           list (glibc's fork resets it): a new one, held by this thread. */
        int err = alive_init(self);
        MGC_CHECK(err == 0, "fork child: cannot set up thread %d's liveness mutex: %s", self->tid, strerror(err));
    }
    start_rec *r = reg.starting;
    while (r) {
        start_rec *next = r->next;
        mgc__meta_free(r, sizeof *r, MGC_META_OTHER);
        r = next;
    }
    reg.starting = NULL;
    retired.n = 0; /* the parent's threads; the prepare handler saw them gone */
    mgc__lock_init(&reg.lock);
    mgc__lock_init(&reg.attach_lock);
    atomic_store_explicit(&reg.acks, 0, memory_order_relaxed);
}
