/*
 * threads.h — attached threads, stopping the world, and the no-suspend
 * section that makes stopping safe.
 *
 * Stopping (docs/design.md#stopping-the-world): the collector bumps an epoch
 * to an odd value and sends SIGPWR to every other attached thread. A thread's
 * handler saves its registers, records its stack pointer, acknowledges, and
 * sleeps on a futex until the epoch changes. Restarting bumps the epoch to an
 * even value and wakes them all; no second signal, so no wakeup can be lost.
 *
 * The no-suspend section: every mgc operation that touches the thread's
 * cache, or takes an mgc lock, runs between mgc__cs_enter and mgc__cs_exit. A
 * signal that lands inside one only sets suspend_pending; the thread stops
 * itself at mgc__cs_exit. So a stopped thread is never half-way through an
 * allocation (the collector may flush its cache) and never holds an mgc lock
 * (the collector may take any). The cost on the fast path is two byte stores
 * and one byte load on the thread's own cache line: no atomic RMW, no fence
 * instruction (atomic_signal_fence only orders the compiler).
 */
#ifndef MGC_THREADS_H
#define MGC_THREADS_H

#include "arch.h"
#include "base.h"
#include "cache.h"
#include "lock.h"

#include <pthread.h>

/* One module's static TLS block in one thread. */
typedef struct mgc_tls_range {
    uintptr_t lo, hi;
} mgc_tls_range;

typedef struct mgc_thread {
    mgc_mcache cache; /* owner, inside no-suspend sections; a stopped world */

    _Atomic uint8_t in_cs;           /* owner; read by its own signal handler */
    _Atomic uint8_t suspend_pending; /* set by the handler, cleared by the owner */
    uint8_t gc_wanted;               /* owner: a slow path saw the trigger crossed */
    uintptr_t growable_base;         /* owner: its last growable span's base (alloc.c) */

    pthread_t pthread;   /* immutable */
    int tid;             /* immutable */
    uintptr_t stack_lo;  /* immutable: lowest mapped stack address */
    uintptr_t stack_hi;  /* immutable: one past the highest */
    /* Written by the owner while it stops, read by the collector after the
       acknowledgement (release/acquire through the ack counter). */
    uintptr_t stop_sp;
    uintptr_t regs[MGC_ARCH_MAX_REGS];
    size_t nregs;
    /* When stopped on an alternate signal stack (mgc__thread_stack_unknown)
       that sigaltstack reports (SS_ONSTACK): its range; else 0. Same
       protocol as stop_sp. */
    uintptr_t alt_lo, alt_hi;
    /* That alternate stack lies inside the thread's own stack (a buffer in
       one of its frames): how deep the own stack was is unknown too.
       Same protocol as stop_sp. */
    bool alt_inside;
    _Atomic uint32_t stopped_epoch; /* epoch of its last acknowledged stop; owner, CAS (threads.c) */
    /* On the registry list: set and cleared under the registry lock, read
       by the owner's signal handler (relaxed: the handler runs on the
       owner, after the owner's own stores). */
    _Atomic uint8_t listed;

    /* Static TLS blocks of every module loaded at attach, however many:
       metadata, tls_cap entries, ntls used (tls_seen: found by the last
       walk, threads.c). Immutable once attached. */
    mgc_tls_range *tls;
    size_t ntls, tls_cap, tls_seen;

    /* Robust, held by the owner from attach to detach: a lock attempt gets
       EOWNERDEAD once the thread has exited still registered (a pthread key
       destructor that ran after mgc's, in glibc's last round, allocated
       and so attached it again). Tried by a collector under the registry
       lock; see threads.c. */
    pthread_mutex_t alive;

    struct mgc_thread *next, *prev; /* registry lock */
} mgc_thread;

extern __thread mgc_thread *mgc__self __attribute__((tls_model("initial-exec")));

/* The thread stopped with its stack pointer outside its stack (on an
   alternate signal stack or a coroutine's stack): how deep its own stack
   was is unknown. */
MGC_INLINE bool mgc__thread_stack_unknown(const mgc_thread *t)
{
    return t->stop_sp < t->stack_lo || t->stop_sp >= t->stack_hi;
}

MGC_INTERNAL void mgc__thread_stop_deferred(mgc_thread *t);

MGC_INLINE void mgc__cs_enter(mgc_thread *t)
{
    atomic_store_explicit(&t->in_cs, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
}

/* Leave the section; true when a stop is pending and the caller must call
   mgc__thread_stop_deferred (the fast path does it in a tail call). */
MGC_INLINE bool mgc__cs_leave(mgc_thread *t)
{
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&t->in_cs, 0, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    return unlikely(atomic_load_explicit(&t->suspend_pending, memory_order_relaxed));
}

MGC_INLINE void mgc__cs_exit(mgc_thread *t)
{
    if (mgc__cs_leave(t))
        mgc__thread_stop_deferred(t);
}

MGC_INTERNAL void mgc__threads_init(void);
/* The calling thread's record, attaching it first if needed. */
MGC_INTERNAL mgc_thread *mgc__thread_current(void);
/* The same, but NULL and *err set (ENOMEM, or pthread_getattr_np's error)
   when the thread cannot be attached: for the entry points that can say so
   (allocation: NULL and ENOMEM; mgc_thread_attach: the errno).
   mgc__thread_current aborts with one line naming the thread instead. */
MGC_INTERNAL mgc_thread *mgc__thread_try_current(int *err);

/* For the entry points that hand the caller heap pointers, or take them,
   without allocating (container reads, mgc_base, mgc_write...): attach the
   caller if it is not yet, as mgc.h says of a thread's first mgc call. A
   thread whose first call was mgc_map_get held what it got on a stack
   no collection scanned, and it was freed and handed out again under it.
   One TLS load when attached. */
MGC_INLINE void mgc__attach_caller(void)
{
    if (unlikely(mgc__self == NULL))
        (void)mgc__thread_current();
}

/* Stop every attached thread but the caller (which must be attached and
   hold the gc lock); returns with the registry lock held. */
MGC_INTERNAL void mgc__stw_stop(void);
MGC_INTERNAL void mgc__stw_start(void);
/* Iterate attached threads; only with the world stopped (registry locked). */
#define MGC_FOR_EACH_THREAD(t) for (mgc_thread *t = mgc__threads_first(); t; t = t->next)
MGC_INTERNAL mgc_thread *mgc__threads_first(void);
MGC_INTERNAL uint32_t mgc__threads_count(void);
/* Record the caller's own stack top for scanning (the collector's thread). */
MGC_INTERNAL void mgc__thread_save_self(mgc_thread *t, uintptr_t sp);
/* Arguments of threads started by mgc_pthread_create that have not yet
   attached: call fn(lo, hi) for each (roots). World stopped. */
MGC_INTERNAL void mgc__threads_starting_roots(void (*fn)(void *ctx, uintptr_t lo, uintptr_t hi), void *ctx);

/* Internal (GC-owned) threads: created with every signal blocked, never
   attached, never stopped. Returns once the thread runs fn (started with
   the gc lock held, so that no fork sees one half started). */
MGC_INTERNAL int mgc__thread_spawn_internal(pthread_t *pt, void *(*fn)(void *), void *arg);

/* An internal thread with nothing to do for this long ends, and is started
   again when there is work (docs/design.md#internal-threads): glibc ends a
   process whose main thread called pthread_exit only when its last thread
   ends, so threads that never end kept such a program alive for ever.
   One second: far above the time between the cycles of a program that
   allocates steadily (the pacer's cycles are milliseconds to a fraction of
   a second apart), so such a program starts its threads once; and short
   enough that a program left with only these threads ends promptly. A
   program that collects less often pays one thread start per helper per
   cycle, before the world stops (tens of microseconds each). */
#define MGC_INTERNAL_IDLE_NS 1000000000u
/* Gc lock held: the calling internal thread ends (returns from its
   function) right after it lets go of the gc lock; its tid is kept until
   it is gone, for mgc__threads_await_retired. */
MGC_INTERNAL void mgc__thread_retire_internal(void);
/* Gc lock held (fork's prepare handler): wait until every internal thread
   that retired has ended, so that a fork never happens in the middle of
   one's exit (a sanitizer's thread teardown takes its allocator's locks,
   which a child would inherit held, as for a thread starting). */
MGC_INTERNAL void mgc__threads_await_retired(void);

MGC_INTERNAL void mgc__threads_fork_prepare(void);
MGC_INTERNAL void mgc__threads_fork_parent(void);
MGC_INTERNAL void mgc__threads_fork_child(void);

#endif /* MGC_THREADS_H */
