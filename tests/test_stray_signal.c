// ctest-timeout: 60
/*
 * test_stray_signal.c — a SIGPWR mgc did not send, taken by the thread
 * that is stopping the world (threads.c: reg.stopper; docs/design.md
 * section 4). SIGPWR is mgc's stop signal, but anyone may send it: kill(2)
 * from another process (a UPS daemon, `kill -PWR pid`), which the kernel
 * may hand to any thread, or the program's own pthread_kill. The collector
 * must ignore it: stopping itself, it would wait for its own restart for
 * ever.
 *
 * 1. Deterministic: with the world stopped (the after-mark test hook), the
 *    collecting thread sends itself SIGPWR with kill(getpid()) (the main
 *    thread collects: the kernel gives a process-directed signal to the
 *    main thread first when it does not block it) and with pthread_kill;
 *    both are delivered before the call returns, with the epoch odd.
 * 2. Another process sends kill(SIGPWR) every 100 us while the main
 *    thread collects and a second attached thread allocates.
 * 3. mgc_read_memstats, which stops the world too, while a thread mgc does
 *    not know sends the reading thread SIGPWR with pthread_kill in a loop.
 *
 * Before the fix each part hung (the watchdog, with a thread of its own to
 * take SIGALRM, fails the test); after it,
 * every collection and read completes and the objects held survive.
 */
#include "testing.h"
#include "internal/gc.h"
#include <mgc.h>
#include <pthread.h>
#include <stdatomic.h>

#define NOINLINE __attribute__((noinline))

static _Atomic int g_hook_sent;
static pthread_t g_main;

/* World stopped, on the collecting (main) thread. */
static void send_self_sigpwr(void)
{
    kill(getpid(), SIGPWR);
    pthread_kill(pthread_self(), SIGPWR);
    atomic_fetch_add(&g_hook_sent, 1);
}

static _Atomic int g_stop;

/* An attached thread allocating and checking an object it holds. */
static void *allocator(void *arg)
{
    (void)arg;
    uint64_t *keep = tagged(42);
    while (!atomic_load(&g_stop)) {
        for (int i = 0; i < 100; i++)
            (void)!mgc_alloc(64);
        CHECK(tag_ok(keep, 42));
    }
    return NULL;
}

/* Not attached, never calls mgc: a sender mgc never stops. */
static void *sender(void *arg)
{
    (void)arg;
    while (!atomic_load(&g_stop))
        pthread_kill(g_main, SIGPWR);
    return NULL;
}

static NOINLINE void **make_keep(int n)
{
    void **keep = mgc_alloc(sizeof(void *) * (size_t)n);
    CHECK(keep);
    for (int i = 0; i < n; i++)
        keep[i] = tagged((uint64_t)i);
    return keep;
}

static void check_keep(void **keep, int n)
{
    for (int i = 0; i < n; i++)
        CHECK_MSG(tag_ok(keep[i], (uint64_t)i), "object %d reclaimed", i);
}

/* 4. A program that uses SIGPWR itself is told so: installed before mgc
   starts, its handler is replaced with one warning line; installed after,
   a collection waits for ever, and the warning at 2 s, repeated every
   4 s, says why (it blamed a blocked signal, once). Each in a child: mgc_init is once a process. */
static void own_handler(int sig) { (void)sig; }
static _Atomic int g_sleeper_attached;
static void *sleeper(void *arg)
{
    (void)arg;
    atomic_store(&g_sleeper_attached, 1); /* attached before this runs */
    for (;;)
        usleep(1000);
    return NULL;
}
static int own_child(const char *mode)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = own_handler;
    if (!strcmp(mode, "own-before")) {
        CHECK_EQ(sigaction(SIGPWR, &sa, NULL), 0);
        CHECK_EQ(mgc_init(), 0);
        mgc_collect();
        return 0;
    }
    CHECK_EQ(mgc_init(), 0);
    pthread_t t;
    CHECK_EQ(mgc_pthread_create(&t, NULL, sleeper, NULL), 0);
    while (!atomic_load(&g_sleeper_attached))
        usleep(1000);
    mgc_collect();
    CHECK_EQ(sigaction(SIGPWR, &sa, NULL), 0);
    alarm(8); /* default action: the parent sees SIGALRM */
    mgc_collect();
    return 1;
}
static void own_handlers(const char *argv0)
{
    t_child c;
    t_run_self(argv0, "own-before", NULL, &c);
    CHECK_MSG(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "own-before: status %d\n%s", c.status, c.err);
    CHECK_MSG(t_count_lines(c.err, "mgc: warning: replaced the program's SIGPWR handler") == 1, "own-before:\n%s",
              c.err);
    t_run_self(argv0, "own-after", NULL, &c);
    CHECK_MSG(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGALRM, "own-after: status %d\n%s", c.status,
              c.err);
    CHECK_MSG(strstr(c.err, "the program replaced mgc's SIGPWR handler"), "own-after:\n%s", c.err);
    /* Said again while the collection waits (at 2 s, then every 4 s). */
    CHECK_MSG(t_count_lines(c.err, "mgc: warning: thread ") >= 2, "own-after:\n%s", c.err);
    fprintf(stderr, "the program's own SIGPWR handler: warned at start-up, and named when a collection waits\n");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return own_child(argv[1]);
    g_main = pthread_self();
    /* The hang this tests is inside the SIGPWR handler, where SIGALRM is
       blocked: the watchdog needs a thread of its own. */
    t_watchdog_taker();
    int nkeep = t_sanitized() ? 20000 : 100000;
    void **keep = make_keep(nkeep);

    /* 1. SIGPWR sent to the collector with the world stopped. */
    t_watchdog(10, "stray SIGPWR sent to the collector with the world stopped");
    mgc__test_after_mark = send_self_sigpwr;
    for (int i = 0; i < 10; i++)
        mgc_collect();
    mgc__test_after_mark = NULL;
    alarm(0);
    CHECK_EQ(atomic_load(&g_hook_sent), 10);
    check_keep(keep, nkeep);
    fprintf(stderr, "world stopped: 10 collections, each sent itself kill(SIGPWR) and pthread_kill(SIGPWR)\n");

    /* 2. Another process sends SIGPWR while collections run. */
    atomic_store(&g_stop, 0);
    pthread_t a;
    CHECK_EQ(pthread_create(&a, NULL, allocator, NULL), 0);
    pid_t parent = getpid();
    fflush(NULL);
    pid_t kid = fork();
    CHECK(kid >= 0);
    if (kid == 0) {
        for (;;) {
            if (kill(parent, SIGPWR) != 0)
                _exit(0);
            usleep(100);
        }
    }
    t_watchdog(10, "SIGPWR from another process during collections");
    int ncollect = 0;
    for (double t0 = t_now(); t_now() - t0 < 0.5; ncollect++)
        mgc_collect();
    kill(kid, SIGKILL);
    while (waitpid(kid, NULL, 0) < 0 && errno == EINTR)
        ;
    alarm(0);
    check_keep(keep, nkeep);
    fprintf(stderr, "another process sending SIGPWR: %d collections\n", ncollect);

    /* 3. mgc_read_memstats stops the world too. */
    pthread_t s;
    CHECK_EQ(pthread_create(&s, NULL, sender, NULL), 0);
    t_watchdog(10, "SIGPWR sent to a thread in mgc_read_memstats");
    int nreads = t_sanitized() ? 500 : 2000;
    uint32_t last = 0;
    for (int i = 0; i < nreads; i++) {
        mgc_memstats ms;
        mgc_read_memstats(&ms);
        CHECK(ms.num_gc >= last);
        last = ms.num_gc;
    }
    atomic_store(&g_stop, 1);
    CHECK_EQ(pthread_join(s, NULL), 0);
    CHECK_EQ(pthread_join(a, NULL), 0);
    alarm(0);
    check_keep(keep, nkeep);
    fprintf(stderr, "%d memstats reads while another thread sent SIGPWR to the reader\n", nreads);
    own_handlers(argv[0]);
    return 0;
}
