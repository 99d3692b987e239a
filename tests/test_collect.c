/* mgc_collect: returns only after a full cycle that started after the call,
   sweeping included; callers at the same time share one cycle. */
#include "internal/gc.h"
#include "internal/sweep.h"
#include "testing.h"
#include <mgc.h>
#include <pthread.h>

#define NT 4
static pthread_barrier_t barrier;
static _Atomic int errors;

static void *caller(void *arg)
{
    (void)arg;
    for (int round = 0; round < 50; round++) {
        pthread_barrier_wait(&barrier);
        uint64_t started = atomic_load(&mgc__gc.cycles_started);
        mgc_collect();
        if (atomic_load(&mgc__gc.cycles_done) <= started)
            errors++; /* returned without a cycle that began after the call */
        if (!mgc__sweep_done())
            errors++; /* returned before sweeping finished */
        for (int i = 0; i < 2000; i++)
            (void)!mgc_alloc(64);
    }
    return NULL;
}

int main(void)
{
    CHECK_EQ(mgc_init(), 0);
    pthread_barrier_init(&barrier, NULL, NT);
    mgc_memstats m0, m1;
    mgc_read_memstats(&m0);
    pthread_t t[NT];
    for (int i = 0; i < NT; i++)
        CHECK_EQ(mgc_pthread_create(&t[i], NULL, caller, NULL), 0);
    for (int i = 0; i < NT; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(atomic_load(&errors), 0);
    mgc_read_memstats(&m1);
    uint32_t forced = m1.num_forced_gc - m0.num_forced_gc;
    /* 4 x 50 calls; callers that arrive together share cycles. */
    CHECK_MSG(forced >= 50 && forced < 4 * 50, "%u forced cycles for 200 calls in 50 rounds", forced);
    printf("%u forced cycles for %d calls\n", forced, NT * 50);
    return 0;
}
