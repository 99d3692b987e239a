// ctest-timeout: 60
/*
 * test_guard_stack.c — a thread on a stack the program gave it
 * (pthread_attr_setstack) whose lowest page is the program's own PROT_NONE
 * guard, as thread libraries and coroutine runtimes lay stacks out
 * (roots.c; docs/design.md section 4, what is scanned).
 *
 * The thread is stopped while it runs on another stack, so how deep its
 * own stack was is unknown and the collector scans all of it: all of it
 * that can be read, that is. Twice: the thread runs a signal handler of
 * the program's on an alternate signal stack (not under ThreadSanitizer,
 * which hands no signal to a thread spinning in a handler of the
 * program's), then a coroutine (makecontext/swapcontext). Before the fix
 * the collector read [stack_lo, stack_hi) whole and faulted on the guard
 * page (the test died of SIGSEGV); now the scan starts above the guard,
 * and the objects the thread holds on its own stack, above the guard,
 * survive.
 *
 * Last, a coroutine again, with the stack's lowest two pages a writable
 * MAP_SHARED mapping of a one-page file instead of the guard: its second
 * page, past the end of the file, raises SIGBUS when read. Before the
 * second fix the readable extent ran down across that mapping and the
 * collector died of SIGBUS; now it ends at the first mapping that is not
 * anonymous.
 */
#include "testing.h"
#include <mgc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <ucontext.h>

#define NOINLINE __attribute__((noinline))
#define N 16
#define ALT (64 * 1024)

static _Atomic int g_phase; /* 1: on the other stack; 2: collections done */
static _Atomic int g_lost;
static ucontext_t g_main_ctx, g_co_ctx;

static void wait_for_collections(void)
{
    atomic_store(&g_phase, 1);
    while (atomic_load(&g_phase) != 2)
        ;
}

static void spin_handler(int sig)
{
    (void)sig;
    wait_for_collections();
}

/* Leave the thread's own stack: a handler on the alternate stack, or a
   coroutine on a malloc'd one. */
static NOINLINE void elsewhere(bool coroutine, char *alt)
{
    if (coroutine) {
        CHECK(getcontext(&g_co_ctx) == 0);
        g_co_ctx.uc_stack.ss_sp = alt;
        g_co_ctx.uc_stack.ss_size = ALT;
        g_co_ctx.uc_link = &g_main_ctx;
        makecontext(&g_co_ctx, wait_for_collections, 0);
        CHECK(swapcontext(&g_main_ctx, &g_co_ctx) == 0);
        return;
    }
    stack_t old = t_altstack_handler(alt, ALT, 0, spin_handler);
    raise(SIGUSR1);
    t_altstack_restore(old);
}

static void *victim(void *arg)
{
    bool coroutine = arg != NULL;
    mgc_thread_attach();
    char *alt = malloc(ALT);
    CHECK(alt);
    void *volatile held[N]; /* on the thread's own, guarded, stack */
    for (int i = 0; i < N; i++)
        held[i] = tagged(1000 + (uint64_t)i);
    elsewhere(coroutine, alt); /* returns once the collections are done */
    int lost = 0;
    for (int i = 0; i < N; i++)
        lost += !tag_ok(held[i], 1000 + (uint64_t)i);
    atomic_store(&g_lost, lost);
    free(alt);
    return NULL;
}

static void run(bool coroutine, bool short_file, bool shared, const char *what)
{
    /* 4 MiB: ThreadSanitizer wants about 1 MiB of a thread's stack.
       shared: MAP_SHARED|MAP_ANONYMOUS, which the maps list with a device
       and an inode (the scan took it for a file and read the guard). */
    size_t sz = 4u << 20, pg = (size_t)sysconf(_SC_PAGESIZE);
    char *stk = mmap(NULL, sz, PROT_READ | PROT_WRITE, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
    CHECK(stk != MAP_FAILED);
    int fd = -1;
    if (short_file) {
        /* Two pages of a one-page file at the stack's low end. */
        fd = t_short_file(pg);
        CHECK(mmap(stk, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == stk);
        stk[0] = 1;
    } else {
        CHECK(mprotect(stk, pg, PROT_NONE) == 0); /* the program's guard page, inside the stack it gives */
    }
    pthread_attr_t at;
    CHECK_EQ(pthread_attr_init(&at), 0);
    CHECK_EQ(pthread_attr_setstack(&at, stk, sz), 0);
    atomic_store(&g_phase, 0);
    atomic_store(&g_lost, -1);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, &at, victim, coroutine ? (void *)1 : NULL), 0);
    pthread_attr_destroy(&at);
    while (atomic_load(&g_phase) != 1)
        sched_yield();
    for (int r = 0; r < 5; r++) {
        mgc_collect();
        t_reuse_churn();
    }
    atomic_store(&g_phase, 2);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_MSG(atomic_load(&g_lost) == 0, "%s: %d of %d objects held on the guarded stack were reclaimed", what,
              atomic_load(&g_lost), N);
    fprintf(stderr, "%s: 5 collections, no fault, %d objects on its guarded stack kept\n", what, N);
    munmap(stk, sz);
    if (fd >= 0)
        close(fd);
}

int main(void)
{
    t_watchdog_taker();
    t_watchdog(20, "collections with a thread on a guarded stack of its own");
    if (!T_TSAN)
        run(false, false, false, "thread in a handler on its alternate stack");
    else
        fprintf(stderr, "thread in a handler on its alternate stack: skipped under TSan\n");
    run(true, false, false, "thread in a coroutine");
    run(true, true, false, "thread in a coroutine, a short file mapped at its stack's low end");
    run(true, false, true, "thread in a coroutine, its stack MAP_SHARED|MAP_ANONYMOUS");
    alarm(0);
    return 0;
}
