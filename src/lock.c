/*
 * lock.c — the contended half of mgc's futex mutex (lock.h has the rules).
 * Spins briefly (a holder is usually a few hundred nanoseconds from
 * releasing), then sleeps in the kernel with the word set to 2 so the
 * releaser knows to wake someone.
 */
#include "internal/lock.h"
#include "internal/arch.h"
#include "internal/os.h"

void mgc__lock_slow(mgc_lock *l)
{
    for (int i = 0; i < 100; i++) {
        uint32_t z = 0;
        if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&l->v, &z, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
        mgc__arch_pause();
    }
    /* From here on we always leave 2 behind us: we cannot know whether other
       sleepers remain, so the releaser must assume they do. */
    while (atomic_exchange_explicit(&l->v, 2, memory_order_acquire) != 0)
        mgc__os_futex_wait(&l->v, 2, 0);
}

void mgc__lock_wake(mgc_lock *l) { mgc__os_futex_wake(&l->v, 1); }
