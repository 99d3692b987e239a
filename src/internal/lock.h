/*
 * lock.h — mgc's mutex: a futex word (0 unlocked, 1 locked, 2 locked with
 * waiters), as in Go's lock_futex.go and Drepper's "Futexes are tricky".
 *
 * Rules every caller keeps (docs/design.md#locks):
 *   - A mutator thread takes an mgc lock only inside a no-suspend section
 *     (threads.h), so a thread stopped for a collection never holds one.
 *   - Lock order: gc -> registry -> central[i] (one at a time) -> heap ->
 *     meta, and gc -> registry -> roots -> meta (the roots lock is never
 *     held with a central or the heap lock). Stats are atomics and take no
 *     lock.
 *   - After fork the child re-initialises every lock (mgc__lock_init).
 */
#ifndef MGC_LOCK_H
#define MGC_LOCK_H

#include "base.h"

typedef struct mgc_lock {
    _Atomic uint32_t v;
} mgc_lock;

MGC_INTERNAL void mgc__lock_slow(mgc_lock *l);
MGC_INTERNAL void mgc__lock_wake(mgc_lock *l);

MGC_INLINE void mgc__lock_init(mgc_lock *l) { atomic_store_explicit(&l->v, 0, memory_order_relaxed); }

MGC_INLINE void mgc__lock(mgc_lock *l)
{
    uint32_t z = 0;
    /* acquire: the critical section must see the previous holder's writes. */
    if (likely(atomic_compare_exchange_strong_explicit(&l->v, &z, 1, memory_order_acquire,
                                                       memory_order_relaxed)))
        return;
    mgc__lock_slow(l);
}

/* Take l if it is free; never waits. */
MGC_INLINE bool mgc__trylock(mgc_lock *l)
{
    uint32_t z = 0;
    /* acquire: as mgc__lock. */
    return atomic_compare_exchange_strong_explicit(&l->v, &z, 1, memory_order_acquire, memory_order_relaxed);
}

MGC_INLINE void mgc__unlock(mgc_lock *l)
{
    /* release: publish the critical section to the next holder. */
    if (unlikely(atomic_exchange_explicit(&l->v, 0, memory_order_release) == 2))
        mgc__lock_wake(l);
}

#endif /* MGC_LOCK_H */
