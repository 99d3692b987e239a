// ctest-timeout: 180
// ctest-tsan: no (TSan does not follow fork while threads run: the child aborts, naming a reused thread id)
/*
 * test_fork.c — fork() in the middle of multi-threaded allocation and
 * collection (init.c's atfork handlers; DESIGN.md section 2, invariant 1 in
 * the child).
 *
 * Worker threads allocate nodes of all three kinds, publish them in a
 * shared root array, make garbage and collect, while the process forks:
 *   1. from the main thread while the workers allocate;
 *   2. from the main thread while a thread loops in mgc_collect;
 *   3. from a worker thread;
 *   4. from a thread that never called mgc (unattached).
 * Each child checks what it inherited (every node reachable from the shared
 * roots, word for word), that it is the only attached thread, then keeps
 * allocating and collecting — also from a thread it starts itself, and
 * every other child in a grandchild it forks — checks the inherited data
 * again and exits 0. A watchdog (alarm) turns a hang in the child into a
 * failure the parent reports; the parent waits for each child, then goes
 * on. Last, children forked beside threads allocating 1 KiB objects check
 * every size class's malloc and free counts against what its spans hold.
 *
 * Randomised: prints its seed; re-run with MGC_TEST_SEED=n.
 */
#include "internal/heap.h"
#include "internal/threads.h"
#include "testing.h"
#include "graph.h"
#include <mgc.h>
#include <pthread.h>
#include <stdatomic.h>

#define NOINLINE __attribute__((noinline))

static int g_sanitized;
static uint64_t g_seed;

/* ---- nodes and the walker: graph.h ----------------------------------------- */

/* ---- shared roots ------------------------------------------------------------ */

#define NSHARED 256
static void *g_shared[NSHARED]; /* written atomically (release), read acquire */
static void *g_fixed[4];        /* built before the first fork, never changed */

static void *shared_get(size_t i) { return __atomic_load_n(&g_shared[i], __ATOMIC_ACQUIRE); }
static void shared_set(size_t i, void *p) { __atomic_store_n(&g_shared[i], p, __ATOMIC_RELEASE); }

static NOINLINE void make_and_publish(rng *r)
{
    uint64_t q = r_below(r, 100);
    int kind = q < 45 ? K_SCAN : q < 70 ? K_NOSCAN : K_TYPED;
    size_t nwords;
    unsigned nptr = 0;
    if (kind == K_TYPED)
        nwords = 8 * (q < 97 ? 1 + r_below(r, 8) : 70 + r_below(r, 600));
    else
        nwords = r_below(r, 50) ? 3 + r_below(r, 60) : 4100 + r_below(r, 8000);
    if (kind == K_SCAN)
        nptr = (unsigned)r_below(r, 3);
    uint64_t *p = node_new(kind, nwords, nptr);
    for (size_t w = 2; w < nwords && w < 64; w++)
        if (is_ptr(kind, nptr, w) && r_below(r, 10) < 3)
            __atomic_store_n(&p[w], (uint64_t)(uintptr_t)shared_get(r_below(r, NSHARED)), __ATOMIC_RELAXED);
    shared_set(r_below(r, NSHARED), r_below(r, 4) ? (void *)p : (void *)((char *)p + r_below(r, nwords * 8)));
}

static NOINLINE void garbage(rng *r, int n)
{
    for (int i = 0; i < n; i++) {
        size_t sz = r_below(r, 200) ? 1 + r_below(r, 2000) : 40000 + r_below(r, 200000);
        void *p = r_below(r, 2) ? mgc_alloc(sz) : mgc_alloc_noscan(sz);
        CHECK(p);
        memset(p, 0xE1, sz < 64 ? sz : 64);
    }
}

/* What the child checks: the fixed structures (exact node counts) and
   everything reachable from the shared roots. */
static uint64_t g_fixed_count[4];

static void verify_inherited(void)
{
    walker w;
    walker_init(&w, 1 << 18);
    for (int i = 0; i < 4; i++) {
        walker_reset(&w);
        walk(&w, (uintptr_t)g_fixed[i], 0);
        CHECK_MSG(w.count == g_fixed_count[i], "fixed structure %d: %llu of %llu nodes reachable", i,
                  (unsigned long long)w.count, (unsigned long long)g_fixed_count[i]);
    }
    walker_reset(&w);
    for (size_t i = 0; i < NSHARED; i++)
        walk(&w, (uintptr_t)shared_get(i), 0);
    walker_free(&w);
}

static NOINLINE void build_fixed(void)
{
    /* A 20000-node conservative chain, a typed chain, a fan-out array of
       noscan leaves, and a large typed array pointing at conservative nodes. */
    uint64_t *head = NULL;
    for (int i = 0; i < 20000; i++) {
        uint64_t *n = node_new(K_SCAN, 3 + (size_t)(i % 5), 1);
        n[2] = (uint64_t)(uintptr_t)head;
        head = n;
    }
    g_fixed[0] = head;
    g_fixed_count[0] = 20000;
    head = NULL;
    for (int i = 0; i < 5000; i++) {
        uint64_t *n = node_new(K_TYPED, 8, 0);
        n[2] = (uint64_t)(uintptr_t)head;
        head = n;
    }
    g_fixed[1] = head;
    g_fixed_count[1] = 5000;
    uint64_t *f = node_new(K_SCAN, 2 + 3000, 3000);
    for (int i = 0; i < 3000; i++)
        f[2 + i] = (uint64_t)(uintptr_t)node_new(K_NOSCAN, 2 + (size_t)(i % 7), 0);
    g_fixed[2] = f;
    g_fixed_count[2] = 3001;
    uint64_t *t = node_new(K_TYPED, 8 * 1000, 0);
    for (int e = 0; e < 1000; e++)
        t[e * 8 + 5] = (uint64_t)(uintptr_t)node_new(K_SCAN, 4, 0) + 8;
    g_fixed[3] = t;
    g_fixed_count[3] = 1001;
}

/* ---- the child ---------------------------------------------------------------- */

static void *child_thread(void *arg)
{
    rng r = {(uintptr_t)arg};
    for (int i = 0; i < 2000; i++) {
        make_and_publish(&r);
        garbage(&r, 5);
        if (i % 500 == 0)
            mgc_collect();
    }
    return NULL;
}

/* Runs in the child right after fork. attached: whether the forking thread
   was attached in the parent. */
static NOINLINE void child_main(int attached, uint64_t seed)
{
    t_watchdog(30, "fork child");
    verify_inherited();
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    CHECK_MSG(ms.num_threads == 1, "child: %llu attached threads, only the forking one exists (was %s)",
              (unsigned long long)ms.num_threads, attached ? "attached" : "not attached");
    CHECK(ms.mallocs >= ms.frees);
    rng r = {seed};
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 1000; i++) {
            make_and_publish(&r);
            garbage(&r, 5);
        }
        mgc_collect();
        verify_inherited();
    }
    /* Every other child forks once more: the grandchild inherits a heap
       that was itself inherited. */
    if (seed & 1) {
        fflush(NULL);
        pid_t g = fork();
        CHECK(g >= 0);
        if (g == 0) {
            t_watchdog(30, "fork grandchild");
            verify_inherited();
            garbage(&r, 2000);
            mgc_collect();
            verify_inherited();
            _exit(0);
        }
        int st;
        while (waitpid(g, &st, 0) < 0)
            CHECK(errno == EINTR);
        CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "grandchild: status %d", st);
    }
    /* A thread of the child's own, allocating and collecting beside us. */
    pthread_t t;
    CHECK_EQ(mgc_pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)(seed | 1)), 0);
    for (int i = 0; i < 20; i++) {
        mgc_collect();
        garbage(&r, 200);
    }
    CHECK_EQ(pthread_join(t, NULL), 0);
    mgc_collect();
    verify_inherited();
    mgc_read_memstats(&ms);
    CHECK_EQ(ms.num_threads, 1);
    CHECK_EQ(ms.heap_objects, ms.mallocs - ms.frees);
    alarm(0);
}

/* Each size class's mallocs - frees against the objects its spans hold,
   right after a collection (nothing cached): a fork must not leave the
   child a cache whose allocations its flush counts a second time (a
   thread that waited for a central lock at the fork had counted them
   already). 16 bytes is left out: tiny objects are counted one by one,
   their blocks by the span. */
static void check_class_counts(const char *who)
{
    mgc_collect();
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    uint64_t held[61] = {0};
    mgc_thread *t = mgc__thread_current();
    mgc__cs_enter(t);
    mgc__lock(&mgc__heap.lock);
    for (size_t i = 0; i < mgc__heap.nallspans; i++) {
        mgc_span *s = mgc__heap.allspans[i];
        if (!s->large && s->sizeclass < 61)
            held[s->sizeclass] += s->alloc_count;
    }
    mgc__unlock(&mgc__heap.lock);
    mgc__cs_exit(t);
    for (int c = 1; c < 61; c++)
        if (ms.by_size[c].size != 16)
            CHECK_MSG(ms.by_size[c].mallocs - ms.by_size[c].frees == held[c],
                      "%s: class %d (%u bytes): %llu mallocs - %llu frees, but its spans hold %llu objects", who, c,
                      ms.by_size[c].size, (unsigned long long)ms.by_size[c].mallocs,
                      (unsigned long long)ms.by_size[c].frees, (unsigned long long)held[c]);
}

/* Threads allocate 1 KiB objects (8 a span: a cache flush every 8) while
   the main thread forks; each child checks the counts. Before the fix a
   child in 12 counted a few dozen objects that existed nowhere. */
static _Atomic int g_stop_small;
/* Forks wait until the threads just started run (came_up, wait_up):
   under AddressSanitizer a thread still starting (the sanitizer's thread
   set-up, the C library's pthread_getattr_np as it attaches) can hold the
   sanitizer's allocator lock, which a child inherits held for ever; the
   child's mark helpers then hang starting (mgc's own threads are running
   before it lets a fork in: threads.c, mgc__thread_spawn_internal). */
static _Atomic int g_up;
static void came_up(void)
{
    (void)!mgc_alloc(16); /* attached */
    atomic_fetch_add(&g_up, 1);
}
static void wait_up(int n)
{
    while (atomic_load(&g_up) < n)
        usleep(1000);
    atomic_fetch_sub(&g_up, n);
}

static void *small_allocator(void *arg)
{
    (void)arg;
    came_up();
    while (!atomic_load(&g_stop_small)) {
        void *p = mgc_alloc(1024);
        __asm__ __volatile__("" ::"r"(p) : "memory");
    }
    return NULL;
}
static void fork_counts(int nforks)
{
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        CHECK_EQ(mgc_pthread_create(&th[i], NULL, small_allocator, NULL), 0);
    wait_up(4);
    for (int f = 0; f < nforks; f++) {
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            t_watchdog(30, "fork_counts child");
            check_class_counts("child");
            _exit(0);
        }
        int st;
        while (waitpid(pid, &st, 0) < 0)
            CHECK(errno == EINTR);
        CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork %d beside 1 KiB allocations: child status %d", f, st);
    }
    atomic_store(&g_stop_small, 1);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    printf("fork: %d children counted every size class exactly\n", nforks);
}

static int g_forks, g_children_ok;

/* Fork here; the child runs child_main and exits; the parent waits and
   checks it exited 0. */
static void fork_and_check(const char *where, int attached, rng *r)
{
    fflush(NULL);
    uint64_t seed = r_next(r);
    pid_t pid = fork();
    CHECK_MSG(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        child_main(attached, seed);
        _exit(0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        CHECK(errno == EINTR);
    g_forks++;
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child forked %s: %s %d", where,
              WIFEXITED(st) ? "exited with" : "killed by signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    g_children_ok++;
}

/* ---- the parent's threads ------------------------------------------------------ */

static _Atomic int g_stop;
static _Atomic int g_fork_request; /* a worker forks when it sees 1 */
static _Atomic int g_fork_done;

static void *worker(void *arg)
{
    int idx = (int)(uintptr_t)arg;
    rng r = {g_seed * 31 + (uint64_t)idx + 1};
    uint64_t n = 0;
    came_up();
    while (!atomic_load(&g_stop)) {
        make_and_publish(&r);
        garbage(&r, 4);
        if (++n % 3000 == 0)
            mgc_collect();
        if (idx == 0 && atomic_load(&g_fork_request) == 1) {
            fork_and_check("from a worker thread", 1, &r);
            atomic_store(&g_fork_request, 0);
            atomic_fetch_add(&g_fork_done, 1);
        }
    }
    return NULL;
}

static void *collector(void *arg)
{
    (void)arg;
    came_up();
    while (!atomic_load(&g_stop))
        mgc_collect();
    return NULL;
}

static _Atomic int g_unattached_go;

static void *unattached(void *arg)
{
    /* Never calls mgc before forking. */
    rng *r = arg;
    while (!atomic_load(&g_unattached_go))
        sched_yield();
    fork_and_check("from an unattached thread", 0, r);
    return NULL;
}

static void pause_ms(rng *r, int lo, int hi)
{
    struct timespec ts = {0, (long)(lo + (int)r_below(r, (uint64_t)(hi - lo))) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A fork while another thread leaves the registry with counts in its
   cache (reuses, explicit frees): the child must count them once. They
   went into MemStats unlocked, before the thread left the registry, and a
   fork between the add and the clear had the child's flush of the gone
   thread's cache add them again. Made deterministic with a hook in the
   middle of that add-and-clear: the detaching thread asks main to fork
   there and waits 100 ms; the counts now move under the registry lock,
   which fork's prepare takes, so the fork waits for the thread to go. */
#include "internal/cache.h"
/* The hook both tests put in mgc: once armed, it records that it ran,
   asks main to fork, and waits 100 ms for the fork. */
static _Atomic int g_hook_armed, g_hook_ran, g_fork_now;
static void fork_here_hook(void)
{
    if (!atomic_exchange(&g_hook_armed, 0))
        return;
    atomic_store(&g_hook_ran, 1);
    atomic_store(&g_fork_now, 1);
    usleep(100000);
}
static void *leaver(void *arg)
{
    (void)arg;
    void *p[1000];
    for (int i = 0; i < 1000; i++)
        p[i] = mgc_alloc(48);
    for (int i = 0; i < 1000; i++)
        mgc_free(p[i]);
    for (int i = 0; i < 1000; i++)
        p[i] = mgc_alloc(48); /* reuses */
    atomic_store(&g_hook_armed, 1);
    mgc_thread_detach();
    return NULL;
}
/* Start fn on a thread, wait until it sets g_fork_now (from a hook in
   mgc, where it then waits 100 ms), fork there, and run check in the
   child; then wait for the child and the thread. */
static void fork_at_hook(const char *what, void *(*fn)(void *), void (*check)(void))
{
    atomic_store(&g_fork_now, 0);
    pthread_t t;
    CHECK_EQ(mgc_pthread_create(&t, NULL, fn, NULL), 0);
    while (!atomic_load(&g_fork_now))
        usleep(1000);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        t_watchdog(30, what);
        check();
        _exit(0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        CHECK(errno == EINTR);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child status %d", what, st);
    CHECK_EQ(pthread_join(t, NULL), 0);
}

static mgc_memstats g_m0; /* before the thread starts */
static void leaving_check(void)
{
    mgc_memstats m;
    mgc_read_memstats(&m);
    CHECK_MSG(m.frees_explicit == g_m0.frees_explicit + 1000, "child: %llu explicit frees, %llu made",
              (unsigned long long)(m.frees_explicit - g_m0.frees_explicit), 1000ull);
}
static void fork_while_leaving(void)
{
    mgc_collect();
    mgc_read_memstats(&g_m0);
    mgc__test_flush_counts_hook = fork_here_hook;
    fork_at_hook("fork_while_leaving", leaver, leaving_check);
    mgc__test_flush_counts_hook = NULL;
    mgc_memstats m;
    mgc_read_memstats(&m);
    CHECK_EQ(m.frees_explicit, g_m0.frees_explicit + 1000);
    fprintf(stderr, "fork while a thread leaves with 1000 explicit frees in its cache: counted once\n");
}

/* A fork right after another thread grew a large object in place: the
   child's heap_alloc must have the new size (its bytes were counted after
   the class lock was released, so a child could have the pages without
   the bytes: heap_alloc short, and below zero once freed). The hook runs
   just after that unlock; the growing thread asks main to fork there. */
#include "internal/alloc.h"
static void *volatile g_grown;
static void *grower(void *arg)
{
    (void)arg;
    g_grown = mgc__alloc_growable_raw(64 << 10, 256 << 10); /* room held after it */
    atomic_store(&g_hook_armed, 1);
    mgc__grow_in_place(g_grown, 256 << 10, true);
    atomic_store(&g_hook_armed, 0);
    atomic_store(&g_fork_now, 1); /* not grown: no fork to wait for */
    return NULL;
}
static void growth_check(void)
{
    if (!atomic_load(&g_hook_ran)) /* it did not grow: nothing to check */
        return;
    mgc_collect();
    mgc_memstats m;
    mgc_read_memstats(&m);
    CHECK_MSG(m.heap_alloc - g_m0.heap_alloc == 256 << 10, "child: heap_alloc grew by %lld, the object has %d",
              (long long)(m.heap_alloc - g_m0.heap_alloc), 256 << 10);
}
static void fork_after_growth(void)
{
    mgc_collect();
    mgc_read_memstats(&g_m0);
    atomic_store(&g_hook_ran, 0);
    mgc__test_grown_hook = fork_here_hook;
    fork_at_hook("fork_after_growth", grower, growth_check);
    mgc__test_grown_hook = NULL;
    CHECK_MSG(atomic_load(&g_hook_ran), "a 64 KiB object with room after it could not grow in place to 256 KiB");
    fprintf(stderr, "fork right after a growth in place: the child counts the new size\n");
}

int main(void)
{
    g_sanitized = t_sanitized();
    g_seed = t_seed();
    CHECK_EQ(mgc_init(), 0);
    rng r = {g_seed ^ 0x5151};
    build_fixed();
    for (int i = 0; i < NSHARED / 2; i++)
        make_and_publish(&r);
    int rounds = g_sanitized ? 4 : 8;

    enum { NW = 3 };
    pthread_t w[NW];
    for (int i = 0; i < NW; i++)
        CHECK_EQ(mgc_pthread_create(&w[i], NULL, worker, (void *)(uintptr_t)i), 0);
    wait_up(NW);

    /* 1. From the main thread while the workers allocate. */
    for (int i = 0; i < rounds; i++) {
        pause_ms(&r, 5, 40);
        fork_and_check("from main while workers allocate", 1, &r);
    }
    /* 2. While a thread loops in mgc_collect. */
    pthread_t c;
    CHECK_EQ(mgc_pthread_create(&c, NULL, collector, NULL), 0);
    wait_up(1);
    for (int i = 0; i < rounds; i++) {
        pause_ms(&r, 2, 20);
        fork_and_check("from main while another thread collects", 1, &r);
    }
    /* 3. From a worker thread. */
    for (int i = 0; i < rounds / 2; i++) {
        int done = atomic_load(&g_fork_done);
        atomic_store(&g_fork_request, 1);
        while (atomic_load(&g_fork_done) == done)
            pause_ms(&r, 1, 2);
    }
    /* 4. From a thread that never called mgc. */
    for (int i = 0; i < rounds / 2; i++) {
        pthread_t u;
        atomic_store(&g_unattached_go, 0);
        CHECK_EQ(pthread_create(&u, NULL, unattached, &r), 0);
        pause_ms(&r, 2, 10);
        atomic_store(&g_unattached_go, 1);
        CHECK_EQ(pthread_join(u, NULL), 0);
    }
    atomic_store(&g_stop, 1);
    for (int i = 0; i < NW; i++)
        CHECK_EQ(pthread_join(w[i], NULL), 0);
    CHECK_EQ(pthread_join(c, NULL), 0);

    /* The parent's heap is intact too. */
    mgc_collect();
    verify_inherited();
    fork_counts(g_sanitized ? 40 : 120);
    fork_while_leaving();
    fork_after_growth();
    fprintf(stderr, "ok: %d forks, %d children exited 0\n", g_forks, g_children_ok);
    return 0;
}
