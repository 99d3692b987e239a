// ctest-timeout: 60
/*
 * test_emfile.c — collections while the process has no free file
 * descriptor (EMFILE), with a thread stopped off its own stack, running a
 * coroutine (os_linux.c, roots.c; docs/design.md section 4, what is
 * scanned). What the collector scans of such a thread comes from
 * /proc/self/maps: the coroutine's stack from the stop point up, and the
 * thread's own stack as deep as it is mapped.
 *
 *   1. A thread runs a coroutine on a malloc'd stack; its frame on the
 *      coroutine stack holds 16 objects, its frame on its own stack 16
 *      more. The main thread collects 5 times with RLIMIT_NOFILE at 0.
 *   2. The same with the main thread running the coroutine and another
 *      thread collecting (the main thread's own stack is the one whose
 *      mapped extent only /proc/self/maps tells).
 *   3. Case 1 in a fork child, on a coroutine stack mmap'd in the child:
 *      the child must read its own maps, not its parent's (/proc/self
 *      resolves when it is opened). Not under ThreadSanitizer, which
 *      does not follow a fork while threads run.
 *   4. A descriptor the program opens on /proc/self/maps after closing
 *      mgc's (a daemon closing everything) gets its number; a fork child
 *      must leave it alone (it was closed and replaced: offset lost,
 *      close-on-exec set). mgc marks its own with O_NONBLOCK.
 *
 * Before the fix mgc opened /proc/self/maps at every stop; with no
 * descriptor free the open failed and 15 or 16 of 16 objects of each
 * frame were reclaimed (the coroutine's stack was not scanned at all, nor
 * the main thread's own). Now the file is opened once at start-up, and
 * again in a fork child, and kept open.
 */
#include "testing.h"
#include <mgc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <ucontext.h>

#define NOINLINE __attribute__((noinline))
#define N 16
#define STACK (256 * 1024)

static uintptr_t g_hidden[N]; /* the coroutine's objects, hidden from the scan */
static _Atomic int g_phase;   /* 1: both frames hold theirs; 2: collections done */
static _Atomic int g_lost_co, g_lost_own;
static ucontext_t g_main_ctx, g_co_ctx;

/* On the coroutine stack: hold the objects in this frame only. */
static NOINLINE void co_hold(void) { atomic_store(&g_lost_co, t_hold_in_frame(g_hidden, N, &g_phase, NULL)); }

/* On the thread's own stack: hold 16 objects here, run the coroutine on
   stk until the collections are done, check them. */
static NOINLINE void own_hold_and_switch(char *stk)
{
    void *volatile held[N];
    for (int i = 0; i < N; i++)
        held[i] = tagged(900 + (uint64_t)i);
    CHECK(getcontext(&g_co_ctx) == 0);
    g_co_ctx.uc_stack.ss_sp = stk;
    g_co_ctx.uc_stack.ss_size = STACK;
    g_co_ctx.uc_link = &g_main_ctx;
    makecontext(&g_co_ctx, co_hold, 0);
    CHECK(swapcontext(&g_main_ctx, &g_co_ctx) == 0);
    int lost = 0;
    for (int i = 0; i < N; i++)
        lost += !tag_ok(held[i], 900 + (uint64_t)i);
    atomic_store(&g_lost_own, lost);
}

/* Wait for the coroutine, collect 5 times with no descriptor free,
   restore the limit, let the coroutine go on. */
static void collect_without_fds(void)
{
    while (atomic_load(&g_phase) != 1)
        sched_yield();
    struct rlimit old, none;
    CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
    none = old;
    none.rlim_cur = 0;
    CHECK(setrlimit(RLIMIT_NOFILE, &none) == 0);
    int fd = open("/dev/null", O_RDONLY);
    int err = errno;
    for (int r = 0; r < 5; r++) {
        t_scrub_stack();
        mgc_collect();
        t_reuse_churn();
    }
    CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
    CHECK_MSG(fd < 0 && err == EMFILE, "with RLIMIT_NOFILE 0, open gave %d (%s)", fd, strerror(err));
    atomic_store(&g_phase, 2);
}

static void *victim(void *stk)
{
    mgc_thread_attach();
    own_hold_and_switch(stk);
    return NULL;
}

static void *collector(void *arg)
{
    (void)arg;
    mgc_thread_attach();
    collect_without_fds();
    return NULL;
}

static void setup(void)
{
    mgc_collect(); /* the helper threads exist before the descriptors run out */
    for (int i = 0; i < N; i++)
        g_hidden[i] = t_hide(tagged(500 + (uint64_t)i));
    atomic_store(&g_phase, 0);
    atomic_store(&g_lost_co, -1);
    atomic_store(&g_lost_own, -1);
}

static void check(const char *what)
{
    CHECK_MSG(atomic_load(&g_lost_co) == 0 && atomic_load(&g_lost_own) == 0,
              "%s: of %d objects held only in the coroutine's frame %d were reclaimed, of %d only on the "
              "thread's own stack %d",
              what, N, atomic_load(&g_lost_co), N, atomic_load(&g_lost_own));
    fprintf(stderr, "%s: no descriptor free, %d objects in each frame kept over 5 collections\n", what, N);
}

/* Case 1 (and 3): a thread runs the coroutine, this one collects. */
static void thread_runs_coroutine(char *stk, const char *what)
{
    setup();
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, victim, stk), 0);
    collect_without_fds();
    CHECK_EQ(pthread_join(t, NULL), 0);
    check(what);
}

/* Case 2: this thread (the main one) runs the coroutine, another collects. */
static void main_runs_coroutine(char *stk, const char *what)
{
    setup();
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, collector, NULL), 0);
    own_hold_and_switch(stk);
    CHECK_EQ(pthread_join(t, NULL), 0);
    check(what);
}

static void in_fork_child(void)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        t_watchdog(30, "fork child");
        /* A stack at an address the parent has not mapped. */
        char *stk = mmap(NULL, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(stk != MAP_FAILED);
        thread_runs_coroutine(stk, "fork child: thread in a coroutine on a stack mmap'd in the child");
        fflush(NULL);
        _exit(0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork child: status %d", st);
}

/* 4. The program's own descriptor on /proc/self/maps is left alone by a
   fork: a daemon closes every descriptor (mgc's kept one too) and opens
   the maps itself, getting the same number; the fork child closed it and
   opened mgc's in its place (offset lost, close-on-exec set). */
static int kept_maps_fd(void)
{
    char want[64], link[256], path[64];
    snprintf(want, sizeof want, "/proc/%d/maps", (int)getpid());
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n > 0) {
            link[n] = 0;
            if (!strcmp(link, want))
                return fd;
        }
    }
    return -1;
}
static void programs_own_maps_fd(void)
{
    int kept = kept_maps_fd();
    CHECK_MSG(kept >= 0, "mgc keeps no descriptor on /proc/self/maps");
    CHECK_EQ(close(kept), 0);
    int fd = open("/proc/self/maps", O_RDONLY);
    CHECK_EQ(fd, kept);
    char buf[100];
    CHECK_EQ(read(fd, buf, sizeof buf), (ssize_t)sizeof buf);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        mgc_collect();
        CHECK_MSG(lseek(fd, 0, SEEK_CUR) == 100 && !(fcntl(fd, F_GETFD) & FD_CLOEXEC),
                  "child: the program's descriptor %d was replaced (offset %lld, close-on-exec %d)", fd,
                  (long long)lseek(fd, 0, SEEK_CUR), !!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
        _exit(0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        CHECK(errno == EINTR);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "own maps fd: child status %d", st);
    mgc_collect(); /* and mgc reads the maps per stop meanwhile */
    close(fd);
    fprintf(stderr, "the program's own /proc/self/maps descriptor: untouched by a fork\n");
}

int main(void)
{
    t_watchdog_taker();
    t_watchdog(30, "collections with no file descriptor free");
    mgc_init();
    char *stk = malloc(STACK);
    CHECK(stk);
    thread_runs_coroutine(stk, "thread in a coroutine on a malloc'd stack");
    main_runs_coroutine(stk, "main thread in a coroutine on a malloc'd stack");
    if (!T_TSAN)
        in_fork_child();
    else
        fprintf(stderr, "fork child: skipped under TSan (it does not follow a fork while threads run)\n");
    if (!T_TSAN)
        programs_own_maps_fd();
    free(stk);
    alarm(0);
    return 0;
}
