// ctest-timeout: 60
/*
 * test_guard_stack.c — a thread on a stack the program gave it
 * (pthread_attr_setstack) whose lowest page is the program's own PROT_NONE
 * guard, as thread libraries and coroutine runtimes lay stacks out
 * (roots.c; docs/design.md section 4, what is scanned).
 *
 * The thread is stopped while it runs a signal handler of the program's
 * on an alternate signal stack, so how deep its own stack was is unknown
 * and the collector scans all of it: all of it that can be read, that is.
 * Before the fix it read [stack_lo, stack_hi) whole and faulted on the
 * guard page (the test died of SIGSEGV in the collector); now the scan
 * starts above the guard, and the objects the thread holds on its own
 * stack, above the guard, survive.
 */
#include "testing.h"
#include <mgc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#define NOINLINE __attribute__((noinline))
#define N 16

static _Atomic int g_phase; /* 1: in the handler; 2: collections done */
static _Atomic int g_lost = -1;

static void spin_handler(int sig)
{
    (void)sig;
    atomic_store(&g_phase, 1);
    while (atomic_load(&g_phase) != 2)
        ;
}

static NOINLINE void hold_and_wait(void)
{
    void *volatile held[N];
    for (int i = 0; i < N; i++)
        held[i] = tagged(1000 + (uint64_t)i);
    raise(SIGUSR1); /* spins in the handler, on the alternate stack, until the collections are done */
    int lost = 0;
    for (int i = 0; i < N; i++)
        lost += !tag_ok(held[i], 1000 + (uint64_t)i);
    atomic_store(&g_lost, lost);
}

static void *victim(void *arg)
{
    (void)arg;
    mgc_thread_attach();
    char *alt = malloc(1 << 16);
    CHECK(alt);
    stack_t ss = {.ss_sp = alt, .ss_size = 1 << 16, .ss_flags = 0}, old;
    CHECK(sigaltstack(&ss, &old) == 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = spin_handler;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    hold_and_wait();
    /* The sanitizers install an alternate stack of their own and unmap
       whatever is installed when the thread exits: give theirs back. */
    if (!old.ss_sp)
        old.ss_flags = SS_DISABLE;
    CHECK(sigaltstack(&old, NULL) == 0);
    free(alt);
    return NULL;
}

static NOINLINE void churn(void)
{
    for (int i = 0; i < 20000; i++)
        (void)!tagged(7); /* the held objects' size class: a freed slot is reused */
    t_scrub_stack();
}

int main(void)
{
    t_watchdog_taker();
    t_watchdog(20, "collections with a thread on a guarded stack of its own");
    size_t sz = 512 * 1024, pg = (size_t)sysconf(_SC_PAGESIZE);
    char *stk = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(stk != MAP_FAILED);
    CHECK(mprotect(stk, pg, PROT_NONE) == 0); /* the program's guard page, inside the stack it gives */
    pthread_attr_t at;
    CHECK_EQ(pthread_attr_init(&at), 0);
    CHECK_EQ(pthread_attr_setstack(&at, stk, sz), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, &at, victim, NULL), 0);
    pthread_attr_destroy(&at);
    while (atomic_load(&g_phase) != 1)
        sched_yield();
    for (int r = 0; r < 5; r++) {
        mgc_collect();
        churn();
    }
    atomic_store(&g_phase, 2);
    CHECK_EQ(pthread_join(t, NULL), 0);
    alarm(0);
    CHECK_MSG(atomic_load(&g_lost) == 0, "%d of %d objects held on the guarded stack were reclaimed",
              atomic_load(&g_lost), N);
    fprintf(stderr, "5 collections with a thread stopped on its alternate stack, its own stack guarded: "
            "no fault, %d objects kept\n", N);
    munmap(stk, sz);
    return 0;
}
