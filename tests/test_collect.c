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

static _Atomic int queued;

static void *queue_collect(void *arg)
{
    (void)arg;
    atomic_fetch_add(&queued, 1);
    mgc_collect();
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
    /* Every round ran at least one cycle (how many callers shared one
       depends on timing). */
    CHECK_MSG(forced >= 50 && forced <= 4 * 50, "%u forced cycles for 200 calls in 50 rounds", forced);
    printf("%u forced cycles for %d calls\n", forced, NT * 50);

    /* Sharing, deterministically: while the gc lock is held (as by a cycle
       in progress) four callers queue up; when it is released, one cycle
       serves all four. */
    mgc_read_memstats(&m0);
    mgc__lock(&mgc__gc.lock);
    for (int i = 0; i < NT; i++)
        CHECK_EQ(mgc_pthread_create(&t[i], NULL, queue_collect, NULL), 0);
    while (atomic_load(&queued) < NT)
        usleep(1000);
    usleep(300000); /* from "queued" to waiting on the lock is a few instructions */
    mgc__unlock(&mgc__gc.lock);
    for (int i = 0; i < NT; i++)
        pthread_join(t[i], NULL);
    mgc_read_memstats(&m1);
    CHECK_EQ(m1.num_forced_gc - m0.num_forced_gc, 1);
    return 0;
}
