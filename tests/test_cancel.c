// ctest-timeout: 120
/*
 * test_cancel.c — thread cancellation and signal masks against mgc's stop
 * of the world (docs/design.md section 4, "Cancellation and signal
 * masks"): no mgc call is a cancellation point, a thread stopped for a
 * collection is never unwound out of the stop, and an attached thread can
 * always be stopped.
 *
 * Each case runs in a child of its own (t_run_self) under a watchdog with
 * a thread of its own for SIGALRM (the hangs are inside the SIGPWR handler
 * or with every attached thread stopped); the child must exit 0.
 *
 * stop      A thread blocked in read(2) (a cancellation point: glibc runs
 *           it with asynchronous cancellation) is stopped; with the world
 *           stopped (the after-mark hook) the collector waits until
 *           /proc says the thread sleeps in the stop's futex and cancels
 *           it. The cancel must be acted on only once the world runs
 *           again: its cleanup handler must not run during the stop nor
 *           with SIGPWR blocked. Before, SIGCANCEL was not blocked in the
 *           handler (glibc's sigfillset leaves it out) and the thread
 *           unwound out of it at once, SIGPWR blocked for good.
 * attach    A thread started with every signal blocked (as glibc starts
 *           SIGEV_THREAD callbacks) attaches: SIGPWR must be unblocked in
 *           it, and a collection must finish. Before, it hung for ever.
 * timer     The same with a real timer_create(SIGEV_THREAD) callback.
 * detach    An attached thread blocks SIGPWR itself and calls
 *           mgc_thread_detach while a collection waits for it: detach
 *           must let it stop (before, detach waited for the registry lock
 *           the collection held, and the collection for the thread).
 * trace     With GODEBUG=gctrace=1, a thread with a deferred cancel
 *           pending collects: mgc_collect must return (the cancel is
 *           acted on at the thread's next cancellation point), and later
 *           collections must run. Before, the cancel was acted on in the
 *           gctrace write(2), with the gc lock held: the next collection
 *           hung.
 * mark      A thread with a cancel pending collects; with the world
 *           stopped the after-mark hook calls pthread_testcancel (as
 *           mark.c's pthread_cond_wait would): it must not act. Before,
 *           the thread exited with the world stopped and the registry
 *           lock held: the whole process froze.
 * parallel  The real thing: GOMAXPROCS=2, a heap big enough for two mark
 *           workers, a few threads with a cancel pending collecting (the
 *           collector may wait in get_work's pthread_cond_wait).
 */
#include "testing.h"
#include "internal/gc.h"
#include <fcntl.h>
#include <mgc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>

/* The system call thread tid is in now (/proc/self/task/TID/syscall's
   first field), -1 when running or unreadable. open/read only: called
   with the world stopped. */
static long task_syscall(int tid)
{
    char path[64], buf[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0 || buf[0] < '0' || buf[0] > '9')
        return -1;
    buf[n] = 0;
    return strtol(buf, NULL, 10);
}

static int gettid_(void) { return (int)syscall(SYS_gettid); }

static bool sigpwr_blocked(void)
{
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, SIGPWR);
}

static _Atomic int g_ready, g_go, g_done, g_returned;

/* ---- stop: cancelled while stopped ------------------------------------- */

static int g_pipe[2];
static pthread_t g_victim;
static _Atomic int g_victim_tid, g_cleanup_ran, g_cleanup_sigpwr_blocked, g_cleanup_in_stop, g_hook_over;

static void victim_cleanup(void *arg)
{
    (void)arg;
    atomic_store(&g_cleanup_in_stop, !atomic_load(&g_hook_over));
    atomic_store(&g_cleanup_sigpwr_blocked, sigpwr_blocked());
    atomic_store(&g_cleanup_ran, 1);
}

static void *read_victim(void *arg)
{
    (void)arg;
    void *volatile keep = tagged(1); /* attached */
    (void)keep;
    atomic_store(&g_victim_tid, gettid_());
    char c;
    pthread_cleanup_push(victim_cleanup, NULL);
    (void)!read(g_pipe[0], &c, 1); /* nobody writes: only the cancel ends it */
    pthread_cleanup_pop(0);
    atomic_store(&g_returned, 1);
    return NULL;
}

/* World stopped: the victim acknowledged the stop. */
static void cancel_stopped_hook(void)
{
    int tid = atomic_load(&g_victim_tid);
    double t0 = t_now();
    while (task_syscall(tid) != SYS_futex)
        CHECK_MSG(t_now() - t0 < 20, "thread %d never slept in the stop's futex", tid);
    CHECK_EQ(pthread_cancel(g_victim), 0);
    /* Give a wrongly delivered cancel time to show (it takes microseconds);
       the correct outcome does not depend on this wait. */
    for (double t1 = t_now(); !atomic_load(&g_cleanup_ran) && t_now() - t1 < 0.3;)
        usleep(1000);
    atomic_store(&g_hook_over, 1);
}

static void case_stop(void)
{
    CHECK_EQ(pipe(g_pipe), 0);
    CHECK_EQ(pthread_create(&g_victim, NULL, read_victim, NULL), 0);
    while (!atomic_load(&g_victim_tid))
        usleep(1000);
    while (task_syscall(atomic_load(&g_victim_tid)) != SYS_read)
        usleep(1000);
    mgc__test_after_mark = cancel_stopped_hook;
    mgc_collect();
    mgc__test_after_mark = NULL;
    void *ret = NULL;
    CHECK_EQ(pthread_join(g_victim, &ret), 0);
    CHECK_MSG(ret == PTHREAD_CANCELED && !atomic_load(&g_returned), "the read was not cancelled");
    CHECK_MSG(atomic_load(&g_cleanup_ran), "the cleanup handler did not run");
    CHECK_MSG(!atomic_load(&g_cleanup_in_stop), "the cleanup handler ran with the world stopped");
    CHECK_MSG(!atomic_load(&g_cleanup_sigpwr_blocked),
              "the cleanup handler ran with SIGPWR blocked (unwound out of mgc's handler)");
    for (int i = 0; i < 3; i++)
        mgc_collect();
}

/* ---- attach, timer: attached with every signal blocked ----------------- */

static _Atomic int g_blocked_after_attach = -1;

static void attached_blocked_body(void)
{
    void *volatile keep = tagged(2); /* attaches */
    (void)keep;
    atomic_store(&g_blocked_after_attach, sigpwr_blocked());
    atomic_store(&g_ready, 1);
    while (!atomic_load(&g_done))
        usleep(1000);
}

static void *blocked_thread(void *arg)
{
    (void)arg;
    attached_blocked_body();
    return NULL;
}

/* The other side of attached_blocked_body: once it is attached, SIGPWR
   must be unblocked in it (who names it), and collections must stop it;
   then it may end. */
static void collect_beside_blocked(const char *who)
{
    while (!atomic_load(&g_ready))
        usleep(1000);
    CHECK_MSG(atomic_load(&g_blocked_after_attach) == 0, "SIGPWR still blocked in the %s after it attached", who);
    for (int i = 0; i < 3; i++)
        mgc_collect();
    atomic_store(&g_done, 1);
}

static void case_attach(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, blocked_thread, NULL), 0);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    collect_beside_blocked("thread");
    CHECK_EQ(pthread_join(t, NULL), 0);
}

static void timer_cb(union sigval sv)
{
    (void)sv;
    attached_blocked_body();
}

static void case_timer(void)
{
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD;
    ev.sigev_notify_function = timer_cb;
    timer_t tm;
    CHECK_EQ(timer_create(CLOCK_MONOTONIC, &ev, &tm), 0);
    struct itimerspec its = {{0, 0}, {0, 1000000}}; /* once, in 1 ms */
    CHECK_EQ(timer_settime(tm, 0, &its, NULL), 0);
    collect_beside_blocked("callback");
    CHECK_EQ(timer_delete(tm), 0);
    /* The callback's thread exits (and detaches) on its own. */
    for (int i = 0; i < 3; i++)
        mgc_collect();
}

/* ---- detach with SIGPWR blocked ---------------------------------------- */

static _Atomic int g_main_tid, g_collecting, g_blocked_after_detach = -1;

static void *detach_blocked(void *arg)
{
    (void)arg;
    void *volatile keep = tagged(3);
    (void)keep;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPWR);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    atomic_store(&g_ready, 1);
    /* Until the collection waits for this thread (its collector sleeps
       on the acknowledgement futex between re-sends). */
    while (!atomic_load(&g_collecting) || task_syscall(atomic_load(&g_main_tid)) != SYS_futex)
        usleep(1000);
    mgc_thread_detach();
    atomic_store(&g_blocked_after_detach, sigpwr_blocked());
    return NULL;
}

static void case_detach(void)
{
    atomic_store(&g_main_tid, gettid_());
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, detach_blocked, NULL), 0);
    while (!atomic_load(&g_ready))
        usleep(1000);
    atomic_store(&g_collecting, 1);
    mgc_collect();
    atomic_store(&g_collecting, 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_MSG(atomic_load(&g_blocked_after_detach) == 1, "detach did not give the thread its signal mask back");
    mgc_collect();
}

/* ---- trace, mark: a cancel pending while collecting -------------------- */

static _Atomic int g_hook_ran, g_hook_survived;

static void testcancel_hook(void)
{
    atomic_store(&g_hook_ran, 1);
    pthread_testcancel(); /* a cancellation point with the world stopped */
    atomic_store(&g_hook_survived, 1);
}

static _Atomic int g_exited;
static void set_exited(void *arg)
{
    (void)arg;
    atomic_store(&g_exited, 1);
}

static void *pending_collector(void *arg)
{
    (void)arg;
    void *volatile keep = tagged(4);
    (void)keep;
    pthread_cleanup_push(set_exited, NULL);
    atomic_store(&g_ready, 1);
    while (!atomic_load(&g_go)) /* no cancellation point */
        ;
    mgc_collect();
    atomic_store(&g_returned, 1);
    pthread_testcancel(); /* the cancel is acted on here */
    pthread_cleanup_pop(1);
    return NULL;
}

static void run_pending_collector(void)
{
    atomic_store(&g_ready, 0);
    atomic_store(&g_go, 0);
    atomic_store(&g_returned, 0);
    atomic_store(&g_exited, 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, pending_collector, NULL), 0);
    while (!atomic_load(&g_ready))
        usleep(1000);
    CHECK_EQ(pthread_cancel(t), 0);
    atomic_store(&g_go, 1);
    /* Polled: under TSan a thread blocked in pthread_join is never stopped
       (tests/CMakeLists.txt). */
    while (!atomic_load(&g_exited))
        usleep(1000);
    void *ret = NULL;
    CHECK_EQ(pthread_join(t, &ret), 0);
    CHECK_MSG(atomic_load(&g_returned), "the thread was cancelled inside mgc_collect");
    CHECK_MSG(ret == PTHREAD_CANCELED, "the pending cancel was lost");
    mgc_collect(); /* the gc lock is free, the world runs */
}

static void case_trace(void) { run_pending_collector(); }

static void case_mark(void)
{
    mgc__test_after_mark = testcancel_hook;
    run_pending_collector();
    mgc__test_after_mark = NULL;
    CHECK(atomic_load(&g_hook_ran) && atomic_load(&g_hook_survived));
}

#define NARR 4096
static void **g_arrays[NARR]; /* bss: a root */

static void case_parallel(void)
{
    for (int i = 0; i < NARR; i++) { /* 4096 arrays of 64 pointers to 64 B: 17 MiB */
        void **a = mgc_alloc(64 * sizeof(void *));
        for (int j = 0; j < 64; j++)
            a[j] = mgc_alloc(64);
        g_arrays[i] = a;
    }
    mgc_collect(); /* the next marks use both workers */
    for (int round = 0; round < 6; round++)
        run_pending_collector();
    for (int i = 0; i < NARR; i += 97)
        CHECK(mgc_usable_size(g_arrays[i][63]) >= 64);
}

/* ---- driver ------------------------------------------------------------ */

typedef struct tcase {
    const char *name;
    void (*fn)(void);
    const char *env[3];
    bool tsan; /* runs under ThreadSanitizer */
} tcase;

static const tcase cases[] = {
    /* TSan defers SIGPWR to a thread blocked in read(2) (its read
       interceptor is not one it delivers signals in): it never stops. */
    {"stop", case_stop, {NULL}, false},
    {"attach", case_attach, {NULL}, true},
    /* glibc starts the callback's thread behind TSan's back. */
    {"timer", case_timer, {NULL}, false},
    {"detach", case_detach, {NULL}, true},
    {"trace", case_trace, {"GODEBUG=gctrace=1", NULL}, true},
    {"mark", case_mark, {NULL}, true},
    {"parallel", case_parallel, {"GOMAXPROCS=2", NULL}, true},
};

int main(int argc, char **argv)
{
    if (argc > 1) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            if (strcmp(argv[1], cases[i].name))
                continue;
            t_watchdog_taker();
            t_watchdog(t_sanitized() ? 60 : 20, cases[i].name);
            CHECK_EQ(mgc_init(), 0);
            cases[i].fn();
            alarm(0);
            return 0;
        }
        return 2;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (T_TSAN && !cases[i].tsan) {
            fprintf(stderr, "%s: skipped under ThreadSanitizer\n", cases[i].name);
            continue;
        }
        t_child c;
        t_run_self(argv[0], cases[i].name, cases[i].env, &c);
        CHECK_MSG(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "%s: status %d, stderr:\n%s", cases[i].name,
                  c.status, c.err);
        if (!strcmp(cases[i].name, "trace"))
            CHECK_MSG(strstr(c.err, "gc 1 @") && strstr(c.err, "gc 2 @"), "trace: no gctrace lines:\n%s", c.err);
        fprintf(stderr, "%s: ok\n", cases[i].name);
    }
    return 0;
}
