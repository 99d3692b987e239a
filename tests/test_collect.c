/* mgc_collect: returns only after a full cycle that started after the call,
   sweeping included; callers at the same time share one cycle. The number
   of mark workers follows the last cycle's scan work, not the marked
   bytes: a heap of large noscan objects adds no workers. */
#include "internal/env.h"
#include "internal/gc.h"
#include "internal/pacer.h"
#include "internal/stats.h"
#include "internal/sweep.h"
#include "testing.h"
#include <mgc.h>
#include <pthread.h>

#define NT 4
static t_barrier barrier;
static _Atomic int errors, sweep_checked;

static void *caller(void *arg)
{
    (void)arg;
    for (int round = 0; round < 50; round++) {
        t_barrier_wait(&barrier);
        uint64_t started = atomic_load(&mgc__gc.cycles_started);
        mgc_collect();
        if (atomic_load(&mgc__gc.cycles_done) <= started)
            errors++; /* returned without a cycle that began after the call */
        /* Another caller's later cycle (or one the allocations below
           trigger) may be sweeping by now, so sweep_done is only owed
           while the one cycle begun since the call is the one waited for.
           Read sweep_done first: a cycle that begins after that read
           cannot make it false. */
        bool swept = mgc__sweep_done();
        if (atomic_load(&mgc__gc.cycles_started) == started + 1) {
            sweep_checked++;
            if (!swept)
                errors++; /* returned before sweeping finished */
        }
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

/* Live data for the worker choice, reachable from these globals. */
typedef struct cell {
    struct cell *next;
    uint64_t pad[7];
} cell;
static cell *g_list;
static void *g_blobs[64];

static void workers_follow_scan_work(void)
{
    if (mgc__opts.gomaxprocs < 2) {
        printf("workers_follow_scan_work: skipped, GOMAXPROCS=%d\n", mgc__opts.gomaxprocs);
        return;
    }
    /* First 8 MiB of noscan blobs and no other new data (nothing has to
       die, so no stale stack word can keep scan objects alive): the work
       is the roots (data segments and stacks; under ASan its own run to
       megabytes) and the few objects of earlier tests, not the blobs. */
    for (int i = 0; i < 64; i++)
        CHECK((g_blobs[i] = mgc_alloc_noscan(128 << 10)) != NULL);
    mgc_collect();
    uint64_t work = mgc__pacer_scan_work(); /* what the next cycle is sized by */
    mgc_memstats ms;
    mgc_read_memstats(&ms); /* the same cycle's roots */
    CHECK_MSG(ms.heap_marked >= (8u << 20), "heap_marked %llu", (unsigned long long)ms.heap_marked);
    uint64_t roots = ms.gc_scan_stack_bytes + ms.gc_scan_global_bytes;
    CHECK(work >= roots);
    mgc_collect();
    CHECK_MSG(work - roots < (1u << 20), "scan work %llu with %llu of roots: the noscan blobs counted",
              (unsigned long long)work, (unsigned long long)roots);
    int want = mgc__gc_workers_for(work);
    /* Fewer if a helper thread could not start (mark.c runs with the
       workers it has). */
    CHECK_MSG(mgc__stats.last.nworkers <= want,
              "8 MiB of noscan objects (%llu bytes of scan work) marked by %d workers", (unsigned long long)work,
              mgc__stats.last.nworkers);
    /* Then 4 MiB of conservatively scanned cells: work for more than one. */
    for (size_t i = 0; i < (4u << 20) / sizeof(cell); i++) {
        cell *c = mgc_alloc(sizeof *c);
        CHECK(c != NULL);
        c->next = g_list;
        g_list = c;
    }
    mgc_collect(); /* measures the work */
    work = mgc__pacer_scan_work();
    mgc_collect(); /* sized by it */
    CHECK_MSG(work >= (4u << 20), "scan work %llu", (unsigned long long)work);
    want = mgc__gc_workers_for(work);
    CHECK_MSG(want >= 2 && mgc__stats.last.nworkers >= 2 && mgc__stats.last.nworkers <= want,
              "4 MiB of scan objects marked by %d workers (at most %d)", mgc__stats.last.nworkers, want);
    g_list = NULL;
    memset(g_blobs, 0, sizeof g_blobs);
}

int main(void)
{
    CHECK_EQ(mgc_init(), 0);
    /* Alone, with the background sweeper running: swept on return. */
    for (int i = 0; i < 20; i++) {
        for (int j = 0; j < 20000; j++)
            (void)!mgc_alloc(64);
        mgc_collect();
        CHECK(mgc__sweep_done());
    }
    t_barrier_init(&barrier, NT);
    mgc_memstats m0, m1;
    mgc_read_memstats(&m0);
    pthread_t t[NT];
    for (int i = 0; i < NT; i++)
        CHECK_EQ(mgc_pthread_create(&t[i], NULL, caller, NULL), 0);
    for (int i = 0; i < NT; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(atomic_load(&errors), 0);
    /* Each round's last cycle is shared by callers that saw no other
       begin, unless an allocation-triggered cycle came between. */
    printf("sweep checked on %d of %d returns\n", atomic_load(&sweep_checked), NT * 50);
    CHECK_MSG(atomic_load(&sweep_checked) >= 50, "sweep checked on only %d returns", atomic_load(&sweep_checked));
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

    workers_follow_scan_work();
    return 0;
}
