// ctest-timeout: 60
// ctest-tsan: no (a program whose main calls pthread_exit never ends under TSan: its own thread)
/*
 * test_retire_wake.c — mark helpers retire one after another, the highest
 * first, each waking the one below (mark.c, helper_main). That wake
 * changes no word, and one that came between the lower helper's look
 * (helper_retire, under the gc lock) and its futex wait was lost: the
 * helper slept until the next mark, and a program whose main thread ended
 * with pthread_exit never ended.
 *
 * The window is made wide: this program defines syscall(), which mgc's
 * futex calls reach before the C library's, and delays every untimed
 * FUTEX_WAIT of a thread other than main by 20 ms (what a preemption
 * there does on a busy machine; only timing changes). A child collects
 * with 3 mark workers and calls pthread_exit; it must exit 0 within 15 s
 * (about 1 s expected). Before the fix it hung every time.
 */
#include "testing.h"
#include <dlfcn.h>
#include <linux/futex.h>
#include <mgc.h>
#include <stdarg.h>
#include <sys/syscall.h>

/* Reads six arguments whatever nr takes, as the C library's syscall()
   does: past what a caller passed, which clang's ASan reports as a
   stack-buffer-underflow, so this one function is not instrumented. */
__attribute__((no_sanitize("address"))) long syscall(long nr, ...)
{
    static long (*real)(long, ...);
    if (!real)
        real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    va_list ap;
    va_start(ap, nr);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (nr == SYS_futex && (a[1] & ~FUTEX_PRIVATE_FLAG) == FUTEX_WAIT && a[3] == 0 && getpid() != real(SYS_gettid))
        usleep(20000);
    return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

#define NPTR (1u << 20) /* 8 MiB of pointers: enough scan work for 3 workers */
static void **volatile g_graph;

static void child(void)
{
    CHECK_EQ(mgc_init(), 0);
    void **a = mgc_alloc(NPTR * sizeof(void *));
    CHECK(a != NULL);
    for (size_t i = 0; i < NPTR; i++)
        a[i] = mgc_alloc(32);
    g_graph = a;
    mgc_collect();
    mgc_collect();
    pthread_exit(NULL);
}

int main(int argc, char **argv)
{
    setenv("GOMAXPROCS", "3", 1);
    if (argc > 1 && !strcmp(argv[1], "child"))
        child();
    for (int run = 0; run < 3; run++) {
        int status = t_exec_self_within(argv[0], "child", 15);
        CHECK_MSG(status != -1,
                  "run %d: a program whose main thread called pthread_exit still runs after 15 s "
                  "(a mark helper lost its wake and never retired)",
                  run);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "run %d: status %#x", run, status);
    }
    printf("helpers retire in turn with their wakes delayed: the process ended each time\n");
    return 0;
}
