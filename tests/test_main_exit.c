// ctest-timeout: 120
/*
 * test_main_exit.c — mgc's internal threads (the mark helpers, the
 * background sweeper) end when idle (MGC_INTERNAL_IDLE_NS, threads.h;
 * docs/design.md section 4), so a program whose main thread ends with
 * pthread_exit(NULL) exits, with status 0, once its own threads are done,
 * as POSIX says. Before, they never ended and such a program never exited.
 *
 * 1. A child (this program again, GOMAXPROCS=2 so a mark helper exists)
 *    allocates, collects with two mark workers, and calls pthread_exit.
 *    It must exit 0 within 30 s (about 1 s expected); otherwise it is
 *    killed and the test fails.
 * 2. In this process: after collections with two workers the helper and
 *    the sweeper are threads of the process (/proc/self/task); they are
 *    gone within 30 s; the next collection marks with two workers again
 *    (the helper is started again and takes part: run() waits for it);
 *    and once they are gone again, a fork child collects with two workers
 *    and exits.
 * 3. Before that fork, a new thread of the program is given the tid of a
 *    retired internal thread (thread starts until the kernel hands one
 *    out again): fork's prepare handler, which waited for that tid to be
 *    gone, hung; it waits at most a second now.
 *
 * Before the fix 1 timed out and 2 found the threads still there.
 *
 * Under ThreadSanitizer 1 is skipped: TSan's own background thread, started
 * with the program's first thread, never ends, so no program run under it
 * exits by pthread_exit from main (nor takes a SIGTERM then), mgc or not.
 */
#include "internal/gc.h"
#include "internal/mark.h"
#include "internal/os.h"
#include "testing.h"
#include <dirent.h>
#include <mgc.h>

#define NPTR (256u << 10) /* 2 MiB of pointers to 32-byte objects: 10 MiB to scan */

static void **volatile g_graph;

static void build_graph(void)
{
    void **a = mgc_alloc(NPTR * sizeof(void *));
    CHECK(a != NULL);
    for (size_t i = 0; i < NPTR; i++)
        a[i] = mgc_alloc(32);
    g_graph = a;
}

/* Collect until the mark has two workers (the first collection measures
   the scan work the worker count is sized from). */
static void collect_two_workers(const char *what)
{
    for (int i = 0; i < 3; i++) {
        mgc_collect();
        if (mgc__gc_last_mark.nworkers == 2)
            return;
    }
    CHECK_MSG(0, "%s: %d mark workers for a %u-pointer graph with GOMAXPROCS=2", what,
              mgc__gc_last_mark.nworkers, NPTR);
}

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* The tids of this process's threads, at most max. */
static int list_tasks(int *out, int max)
{
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && n < max)
            out[n++] = atoi(e->d_name);
    closedir(d);
    return n;
}

/* 3. The tid of a retired internal thread, given by the kernel to a new,
   long-lived thread of the program: fork's prepare handler waited for
   that tid to be gone, for ever (at most a second now). */
static int g_old_tids[64], g_nold;
static _Atomic int g_reused; /* how many of g_old_tids live threads hold */
static void *short_thread(void *arg)
{
    (void)arg;
    int tid = mgc__os_gettid();
    for (int i = 0; i < g_nold; i++)
        if (tid == g_old_tids[i]) {
            atomic_fetch_add(&g_reused, 1);
            for (;;)
                pause();
        }
    return NULL;
}
/* Every retired thread's tid held by a live thread of ours (the one mgc
   still remembers among them): true, or false after 30 s. */
static bool reuse_a_tid(void)
{
    double end = t_now() + 30;
    while (atomic_load(&g_reused) < g_nold && t_now() < end) {
        pthread_t t;
        if (pthread_create(&t, NULL, short_thread, NULL) == 0)
            pthread_detach(t); /* the one with a reused tid never returns */
        usleep(20);            /* let the short ones end: their tids come free */
    }
    return atomic_load(&g_reused) == g_nold;
}

/* Wait until the process has `want` threads again: true, or false after
   30 s. */
static bool wait_threads(int want)
{
    double end = t_now() + 30;
    while (count_threads() != want) {
        if (t_now() > end)
            return false;
        usleep(20000);
    }
    return true;
}

static void child_pexit(void)
{
    CHECK_EQ(mgc_init(), 0);
    build_graph();
    collect_two_workers("child");
    fprintf(stderr, "child: collected with 2 workers; pthread_exit\n");
    pthread_exit(NULL);
}

static void fork_child(void *arg)
{
    (void)arg;
    collect_two_workers("fork child after the helpers retired");
    CHECK(g_graph[NPTR - 1] != NULL);
}

/* Run this program as `argv0 pexit`: it must exit 0 within 30 s. */
static void check_pexit(const char *argv0)
{
    int status = t_exec_self_within(argv0, "pexit", 30);
    CHECK_MSG(status != -1, "a program whose main thread called pthread_exit still runs after 30 s");
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "pthread_exit child: status %#x", status);
    fprintf(stderr, "main thread's pthread_exit: the process exited 0\n");
}

int main(int argc, char **argv)
{
    setenv("GOMAXPROCS", "2", 1);
    if (argc > 1 && strcmp(argv[1], "pexit") == 0)
        child_pexit();

    /* 1. main ends with pthread_exit. Polled here, not under the watchdog:
       a child that hangs is killed, not left behind. */
    if (T_TSAN)
        fprintf(stderr, "skipped under TSan: its background thread never ends\n");
    else
        check_pexit(argv[0]);

    /* 2. The threads retire, come back on demand, and a fork after works. */
    t_watchdog_taker();
    t_watchdog(100, "test_main_exit");
    int base = count_threads();
    CHECK_EQ(mgc_init(), 0);
    build_graph();
    collect_two_workers("first");
    int running = count_threads();
    CHECK_MSG(running >= base + 2, "%d threads, %d before mgc: no helper and sweeper?", running, base);
    CHECK_MSG(wait_threads(base), "mgc's internal threads still run after 30 s idle (%d threads, %d before mgc)",
              count_threads(), base);
    fprintf(stderr, "helper and sweeper retired\n");
    int before[64], nbefore = list_tasks(before, 64);
    collect_two_workers("after the helpers retired");
    CHECK_MSG(count_threads() >= base + 2, "collection after retirement: %d threads, %d before mgc",
              count_threads(), base);
    int now[64], nnow = list_tasks(now, 64);
    for (int i = 0; i < nnow; i++) {
        bool old = false;
        for (int j = 0; j < nbefore; j++)
            old |= now[i] == before[j];
        if (!old && g_nold < 64)
            g_old_tids[g_nold++] = now[i];
    }
    CHECK(wait_threads(base));
    /* 3. A retired thread's tid reused before the fork below (thousands of
       thread starts: skipped where they are slow or pid_max is large). */
    long pid_max = 0;
    FILE *pm = fopen("/proc/sys/kernel/pid_max", "r");
    if (pm) {
        if (fscanf(pm, "%ld", &pid_max) != 1)
            pid_max = 0;
        fclose(pm);
    }
    if (t_sanitized() || pid_max <= 0 || pid_max > 65536)
        fprintf(stderr, "tid reuse: skipped (sanitizer build, or pid_max %ld)\n", pid_max);
    else if (!reuse_a_tid())
        fprintf(stderr, "tid reuse: the retired threads' tids did not all come back in 30 s; not tested\n");
    else
        fprintf(stderr, "tid reuse: threads of ours have the tids of all %d retired threads; forking\n", g_nold);
    t_child c;
    t_run_child(fork_child, NULL, &c);
    CHECK_MSG(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "fork child: status %#x:\n%s", c.status, c.err);
    CHECK(g_graph[NPTR - 1] != NULL);
    alarm(0);
    fprintf(stderr, "after retirement: parallel marks in this process and in a fork child\n");
    return 0;
}
