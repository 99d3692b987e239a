// ctest-timeout: 120
/*
 * test_detach.c — threads coming and going while collections run
 * (threads.c: attach, detach at exit through the key destructor,
 * mgc_thread_detach; DESIGN.md section 2, invariant 1).
 *
 * Two threads collect in a loop (mgc_collect plus garbage) while the main
 * thread starts hundreds of short-lived threads, a few at a time, of many
 * kinds: started with mgc_pthread_create or plain pthread_create, attached
 * explicitly or by their first allocation, joinable or detached, ending by
 * returning, by pthread_exit, after mgc_thread_detach (and then running on
 * without mgc for a while), after detaching and re-attaching, or with a
 * thread-specific-data destructor of the test's own that allocates after
 * mgc's destructor has detached the thread. Each publishes a chain of
 * objects to a shared root array before it goes; every chain must survive
 * to the end. The collector must never hang (the ctest timeout is the
 * watchdog) nor abort on a thread that is gone; at the end the attached
 * thread count comes back to the threads still running. Last, threads
 * whose destructor attaches them again in glibc's last round exit still
 * attached: collections go on and the count comes back.
 *
 * Randomised: prints its seed; re-run with MGC_TEST_SEED=n.
 */
#include "testing.h"
#include <mgc.h>
#include <pthread.h>
#include <stdatomic.h>

#define NOINLINE __attribute__((noinline))

static int g_sanitized;
static uint64_t g_seed;

/* A chain of n nodes for thread idx: node {next, idx << 32 | i, payload}.
   Kinds alternate: conservative, typed (pointer word 0 only), and the
   payload word of noscan leaves hanging off word 3 of conservative ones. */
static const uint8_t tmask[] = {0x01};
static const mgc_type TNODE = {32, 8, tmask, "detach-node"};

static NOINLINE void *make_chain(int idx, int n)
{
    uint64_t *head = NULL;
    for (int i = 0; i < n; i++) {
        uint64_t *p = i % 2 ? mgc_alloc_typed(&TNODE) : mgc_alloc(32);
        CHECK(p);
        p[0] = (uint64_t)(uintptr_t)head;
        p[1] = (uint64_t)idx << 32 | (uint64_t)i;
        p[2] = mix64((uint64_t)idx * 100003 + (uint64_t)i) | 1ull << 63;
        if (i % 2 == 0) {
            uint64_t *leaf = mgc_alloc_noscan(24);
            CHECK(leaf);
            leaf[0] = leaf[1] = leaf[2] = p[2];
            p[3] = (uint64_t)(uintptr_t)leaf;
        }
        head = p;
    }
    return head;
}

static void check_chain(const void *head, int idx, int n)
{
    const uint64_t *p = head;
    for (int i = n - 1; i >= 0; i--) {
        CHECK_MSG(p && mgc_base(p) == p, "thread %d's chain: node %d missing", idx, i);
        CHECK_MSG(p[1] == ((uint64_t)idx << 32 | (uint64_t)i), "thread %d's chain: node %d has %#llx: reclaimed?",
                  idx, i, (unsigned long long)p[1]);
        uint64_t want = mix64((uint64_t)idx * 100003 + (uint64_t)i) | 1ull << 63;
        CHECK_MSG(p[2] == want, "thread %d's chain: node %d payload corrupted", idx, i);
        if (i % 2 == 0) {
            const uint64_t *leaf = (const uint64_t *)(uintptr_t)p[3];
            CHECK_MSG(leaf && mgc_base(leaf) == leaf && leaf[0] == want && leaf[1] == want && leaf[2] == want,
                      "thread %d's chain: leaf of node %d corrupted or reclaimed", idx, i);
        }
        p = (const uint64_t *)(uintptr_t)p[0];
    }
    CHECK_MSG(p == NULL, "thread %d's chain is too long", idx);
}

/* ---- shared roots ---------------------------------------------------------------- */

#define MAXT 4096
#define CHAIN 40
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static void *g_pub[MAXT];      /* g_mu; a global: a root */
static void *g_pub_late[MAXT]; /* published from the TSD destructor */
static _Atomic int g_running;  /* short-lived threads not yet finished */
static _Atomic int g_done;
static _Atomic int g_stop;
static pthread_key_t g_key;

static void publish(void **arr, int idx, void *p)
{
    t_mutex_lock(&g_mu);
    arr[idx] = p;
    pthread_mutex_unlock(&g_mu);
}

enum {
    E_RETURN,        /* return from the thread function */
    E_PTHREAD_EXIT,  /* pthread_exit */
    E_DETACH,        /* mgc_thread_detach, then run on without mgc */
    E_REATTACH,      /* detach, allocate again (re-attach), return */
    E_TSD,           /* a TSD destructor that allocates after mgc's has run */
    E_NKINDS
};

typedef struct targ {
    int idx;
    int how_exit;
    int attach;     /* call mgc_thread_attach first */
    int collect;    /* call mgc_collect itself */
} targ;

static targ g_args[MAXT];

static void tsd_destructor(void *v)
{
    /* Runs at thread exit, possibly after mgc's own destructor detached the
       thread: this allocation attaches it again, and it must be detached
       again before it is gone. */
    int idx = (int)(intptr_t)v - 1;
    publish(g_pub_late, idx, make_chain(idx + MAXT, 8));
    atomic_fetch_sub(&g_running, 1);
    atomic_fetch_add(&g_done, 1);
}

static NOINLINE void spin_without_mgc(int us)
{
    double t0 = t_now();
    volatile uint64_t x = 1;
    while (t_now() - t0 < us / 1e6)
        x = x * 3 + 1;
}

static void *short_lived(void *arg)
{
    targ *a = arg;
    if (a->attach) {
        CHECK_EQ(mgc_thread_attach(), 0);
        CHECK_EQ(mgc_thread_attach(), 0); /* idempotent */
    }
    void *c = make_chain(a->idx, CHAIN);
    if (a->collect)
        mgc_collect();
    check_chain(c, a->idx, CHAIN);
    publish(g_pub, a->idx, c);
    c = NULL;
    switch (a->how_exit) {
    case E_RETURN:
        break;
    case E_PTHREAD_EXIT:
        atomic_fetch_sub(&g_running, 1);
        atomic_fetch_add(&g_done, 1);
        pthread_exit(NULL);
    case E_DETACH:
        mgc_thread_detach();
        mgc_thread_detach(); /* a no-op now */
        spin_without_mgc(200 + a->idx % 500);
        break;
    case E_REATTACH: {
        mgc_thread_detach();
        spin_without_mgc(100);
        void *late = make_chain(a->idx + MAXT, 8); /* attaches again */
        if (a->collect)
            mgc_collect();
        publish(g_pub_late, a->idx, late);
        break;
    }
    case E_TSD:
        CHECK_EQ(pthread_setspecific(g_key, (void *)(intptr_t)(a->idx + 1)), 0);
        return NULL; /* the destructor counts this thread done */
    }
    atomic_fetch_sub(&g_running, 1);
    atomic_fetch_add(&g_done, 1);
    return NULL;
}

/* ---- collectors ------------------------------------------------------------------ */

static _Atomic uint64_t g_cycles_by_collectors;

static void *collector(void *arg)
{
    uint64_t k = (uintptr_t)arg;
    while (!atomic_load(&g_stop)) {
        mgc_collect();
        atomic_fetch_add(&g_cycles_by_collectors, 1);
        for (int i = 0; i < 30; i++) {
            void *p = (k++ % 3) ? mgc_alloc(16 + (size_t)(k * 53 % 2000)) : mgc_alloc_noscan(100);
            CHECK(p);
        }
        if (k % 64 == 0) {
            mgc_memstats ms;
            mgc_read_memstats(&ms);
            CHECK(ms.mallocs >= ms.frees);
            CHECK(ms.num_threads >= 2); /* this thread and main; the other collector may be gone */
        }
    }
    return NULL;
}

static void *exit_at_once(void *arg) { pthread_exit(arg); }

/* A destructor that allocates and sets its key again each time runs in
   every one of glibc's rounds, the last one after mgc's: the thread exits
   still attached. The next stop must not signal it (it hung: the signal
   went nowhere, or to the new thread that reused its pthread_t) and its
   record must go, so the count comes back. */
static pthread_key_t g_rearm_key;
static void rearm_destructor(void *v)
{
    void **p = mgc_alloc(64); /* attaches the exiting thread again */
    p[0] = v;
    pthread_setspecific(g_rearm_key, (void *)((uintptr_t)v + 1));
}
static void *rearm_thread(void *a)
{
    (void)a;
    (void)!mgc_alloc(16);
    pthread_setspecific(g_rearm_key, (void *)1);
    return NULL;
}
static void exit_attached(void)
{
    if (T_TSAN) {
        /* TSan finishes a thread in its own last destructor round; a call
           it intercepts after that (here, the re-attach) crashes in TSan. */
        fprintf(stderr, "exit_attached: skipped under ThreadSanitizer\n");
        return;
    }
    t_watchdog(30, "exit_attached (a collection waiting for a thread that had exited?)");
    CHECK_EQ(pthread_key_create(&g_rearm_key, rearm_destructor), 0); /* after mgc's */
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    uint64_t n0 = ms.num_threads;
    for (int i = 0; i < 8; i++) {
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, rearm_thread, NULL), 0);
        CHECK_EQ(pthread_join(t, NULL), 0);
        if (i % 2)
            mgc_collect(); /* else the next thread may reuse its pthread_t first */
    }
    mgc_read_memstats(&ms);
    CHECK_EQ(ms.num_threads, n0);
    mgc_collect();
    alarm(0);
    fprintf(stderr, "exit_attached: 8 threads left attached by a destructor, reaped\n");
}

int main(void)
{
    g_sanitized = t_sanitized();
    g_seed = t_seed();
    CHECK_EQ(mgc_init(), 0);
    /* Created after mgc's own key (mgc_init made it): glibc runs this
       destructor after mgc's in each round. */
    CHECK_EQ(pthread_key_create(&g_key, tsd_destructor), 0);
    /* The process's first pthread_exit loads libgcc_s (glibc's unwinder)
       holding the dynamic loader's lock. Under TSan a thread can take the
       stop signal inside that load (at its malloc), and another attached
       thread then blocked on that lock inside glibc, where TSan hands it
       no signal, never stops: the collection waits for ever (seen once in
       about a hundred TSan runs, with gdb). One pthread_exit before any
       collection makes the load happen here. */
    pthread_t first;
    CHECK_EQ(pthread_create(&first, NULL, exit_at_once, NULL), 0);
    CHECK_EQ(pthread_join(first, NULL), 0);

    enum { NCOLL = 2 };
    pthread_t coll[NCOLL];
    for (int i = 0; i < NCOLL; i++)
        CHECK_EQ(mgc_pthread_create(&coll[i], NULL, collector, (void *)(uintptr_t)i), 0);

    int n = g_sanitized ? 500 : 1200;
    CHECK(n <= MAXT);
    uint64_t r = g_seed;
    pthread_t *th = calloc((size_t)n, sizeof *th);
    char *joinable = calloc((size_t)n, 1);
    CHECK(th && joinable);
    pthread_attr_t det;
    pthread_attr_init(&det);
    pthread_attr_setdetachstate(&det, PTHREAD_CREATE_DETACHED);
    double t0 = t_now();
    for (int i = 0; i < n; i++) {
        r = mix64(r);
        targ *a = &g_args[i];
        a->idx = i;
        a->how_exit = (int)(r % E_NKINDS);
        a->attach = (int)((r >> 8) & 1);
        a->collect = ((r >> 9) & 7) == 0;
        int use_mgc_create = (r >> 12) & 1;
        joinable[i] = (r >> 13) & 1;
        /* At most 16 running at a time. */
        while (atomic_load(&g_running) >= 16)
            sched_yield();
        atomic_fetch_add(&g_running, 1);
        const pthread_attr_t *attr = joinable[i] ? NULL : &det;
        int err = use_mgc_create ? mgc_pthread_create(&th[i], attr, short_lived, a)
                                 : pthread_create(&th[i], attr, short_lived, a);
        CHECK_MSG(err == 0, "thread %d: %s", i, strerror(err));
        if (i % 16 == 15)
            for (int k = i - 15; k <= i; k++)
                if (joinable[k]) {
                    CHECK_EQ(pthread_join(th[k], NULL), 0);
                    joinable[k] = 0;
                }
    }
    for (int k = 0; k < n; k++)
        if (joinable[k])
            CHECK_EQ(pthread_join(th[k], NULL), 0);
    while (atomic_load(&g_done) < n)
        sched_yield();
    double t1 = t_now();

    /* Detached threads may still be in their exit path (destructors): wait
       until the attached count is back to main + the collectors. */
    mgc_memstats ms;
    for (;;) {
        mgc_read_memstats(&ms);
        if (ms.num_threads == 1 + NCOLL)
            break;
        CHECK_MSG(t_now() - t1 < 10, "%llu threads attached 10 s after the short-lived ones finished, expected %d",
                  (unsigned long long)ms.num_threads, 1 + NCOLL);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&g_stop, 1);
    for (int i = 0; i < NCOLL; i++)
        CHECK_EQ(pthread_join(coll[i], NULL), 0);
    mgc_read_memstats(&ms);
    CHECK_EQ(ms.num_threads, 1);

    mgc_collect();
    int late = 0;
    for (int i = 0; i < n; i++) {
        check_chain(g_pub[i], i, CHAIN);
        if (g_args[i].how_exit == E_REATTACH || g_args[i].how_exit == E_TSD) {
            check_chain(g_pub_late[i], i + MAXT, 8);
            late++;
        }
    }
    fprintf(stderr, "%d short-lived threads in %.2fs (%d published from after a re-attach), %llu collections by the "
            "collector threads\n", n, t1 - t0, late, (unsigned long long)g_cycles_by_collectors);
    CHECK(g_cycles_by_collectors > 10);
    pthread_attr_destroy(&det);
    free(th);
    free(joinable);
    exit_attached();
    return 0;
}
