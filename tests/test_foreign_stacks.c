// ctest-timeout: 60
/*
 * test_foreign_stacks.c — threads stopped on a stack that is not their
 * own and whose extent sigaltstack does not report (roots.c, threads.c;
 * docs/design.md section 4, what is scanned): the frames there are roots.
 *
 *   1. A signal handler of the program's on an alternate signal stack set
 *      up with SS_AUTODISARM: the kernel disarms the alternate stack on
 *      entry, so sigaltstack no longer says SS_ONSTACK.
 *   2. A coroutine (makecontext/swapcontext) on a stack from malloc, in
 *      malloc's heap, spinning while the world stops (stopped by SIGPWR).
 *   3. The same on a stack from mmap with a PROT_NONE guard page below it.
 *   4. A coroutine on a malloc'd stack that allocates all the while: most
 *      stops land inside an allocation (the deferred stop).
 *   5. A coroutine on an mmap'd stack right below a writable MAP_SHARED
 *      mapping of a file shorter than the mapping: its pages past the end
 *      of the file raise SIGBUS when read. Before the fix the scan above
 *      the stop point ran on into that mapping and the collector died of
 *      SIGBUS; now the run ends at the first mapping that is not
 *      anonymous.
 *   6. (CO_SHARED_ANON) A coroutine on a MAP_SHARED|MAP_ANONYMOUS stack.
 *   7. The frame the signal interrupted, below an alternate signal stack
 *      that is a buffer in the thread's own stack: the stop point is then
 *      inside the thread's own stack, and only the part above it was
 *      scanned (16 of 16 lost); now the stack is scanned whole.
 *
 * In each, the frame on the foreign stack holds the only references to 16
 * objects (the globals that handed them over held them hidden) while
 * another thread collects 5 times and reuses their size class; then the
 * frame checks every object's contents. Before the fix 15 or 16 of 16 were
 * reclaimed in 1, 2 and 4 (only SS_ONSTACK stacks were scanned); now none.
 */
#include "testing.h"
#include <mgc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <ucontext.h>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

#define NOINLINE __attribute__((noinline))
#define N 16
#define STACK (64 * 1024)

static uintptr_t g_hidden[N];  /* the objects, hidden from the scan */
static _Atomic int g_phase;    /* 1: the foreign frame holds them; 2: collections done */
static _Atomic int g_lost;
static _Atomic int g_allocate; /* the coroutine allocates while it waits */

static void make_objects(void)
{
    for (int i = 0; i < N; i++)
        g_hidden[i] = t_hide(tagged(500 + (uint64_t)i));
}

static void alloc_while_waiting(void)
{
    if (atomic_load(&g_allocate))
        (void)!mgc_alloc(64); /* a coroutine may; a signal handler may not */
}

/* Runs on the foreign stack: hold the objects in this frame only. */
static NOINLINE void hold_and_wait(void)
{
    atomic_store(&g_lost, t_hold_in_frame(g_hidden, N, &g_phase, alloc_while_waiting));
}

static void handler(int sig)
{
    (void)sig;
    hold_and_wait();
}

static ucontext_t g_main_ctx, g_co_ctx;

static void coroutine(void) { hold_and_wait(); }

typedef enum {
    ALT_AUTODISARM,
    ALT_IN_FRAME,
    CO_MALLOC,
    CO_MMAP,
    CO_MALLOC_ALLOCATING,
    CO_BELOW_SHORT_FILE,
    CO_SHARED_ANON
} kind;

/* Case 7: the objects are held in the interrupted frame, below an
   alternate signal stack that is a buffer in a frame of the thread's own
   stack; the signal handler waits on that buffer while the world stops. */
static void wait_in_handler(int sig)
{
    (void)sig;
    atomic_store(&g_phase, 1); /* the collections start now */
    while (atomic_load(&g_phase) != 2)
        sched_yield();
}
static NOINLINE void hold_below_alt(void)
{
    void *volatile held[N];
    for (int i = 0; i < N; i++) {
        held[i] = t_unhide(g_hidden[i]);
        g_hidden[i] = 0;
    }
    raise(SIGUSR1); /* returns once the handler saw phase 2 */
    int lost = 0;
    for (int i = 0; i < N; i++)
        lost += !tag_ok(held[i], 500 + (uint64_t)i);
    atomic_store(&g_lost, lost);
}
static NOINLINE void alt_in_frame(void)
{
    char alt[STACK] __attribute__((aligned(16))); /* the alternate stack: in this frame */
    stack_t old = t_altstack_handler(alt, sizeof alt, 0, wait_in_handler);
    hold_below_alt(); /* below alt: called from this frame */
    t_altstack_restore(old);
    __asm__ volatile("" ::"r"(alt) : "memory");
}

/* Case 5: [stack | 2 pages of a 1-page file, MAP_SHARED, read/write]; the
   program has used the file's page. *fd is the file's descriptor. */
static NOINLINE char *stack_below_short_file(size_t pg, int *fd)
{
    *fd = t_short_file(pg);
    char *map = mmap(NULL, STACK + 2 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED);
    CHECK(mmap(map, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == map);
    CHECK(mmap(map + STACK, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, *fd, 0) == map + STACK);
    map[STACK] = 1;
    return map;
}

static void *victim(void *arg)
{
    kind k = (kind)(intptr_t)arg;
    mgc_thread_attach();
    if (k == ALT_IN_FRAME) {
        alt_in_frame();
        return NULL;
    }
    if (k == ALT_AUTODISARM) {
        char *alt = malloc(STACK);
        CHECK(alt);
        stack_t old = t_altstack_handler(alt, STACK, SS_AUTODISARM, handler);
        raise(SIGUSR1);
        t_altstack_restore(old);
        free(alt);
        return NULL;
    }
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), maplen = STACK + pg;
    char *map = NULL, *stk;
    int fd = -1;
    if (k == CO_BELOW_SHORT_FILE) {
        stk = map = stack_below_short_file(pg, &fd);
        maplen = STACK + 2 * pg;
    } else if (k == CO_MMAP || k == CO_SHARED_ANON) {
        /* Shared anonymous memory is shmem, listed with a device and an
           inode ("/dev/zero (deleted)"), but no file can end under it. */
        map = mmap(NULL, STACK + pg, PROT_READ | PROT_WRITE,
                   (k == CO_MMAP ? MAP_PRIVATE : MAP_SHARED) | MAP_ANONYMOUS, -1, 0);
        CHECK(map != MAP_FAILED);
        CHECK(mprotect(map, pg, PROT_NONE) == 0);
        stk = map + pg;
    } else {
        stk = malloc(STACK);
        CHECK(stk);
    }
    CHECK(getcontext(&g_co_ctx) == 0);
    g_co_ctx.uc_stack.ss_sp = stk;
    g_co_ctx.uc_stack.ss_size = STACK;
    g_co_ctx.uc_link = &g_main_ctx;
    makecontext(&g_co_ctx, coroutine, 0);
    CHECK(swapcontext(&g_main_ctx, &g_co_ctx) == 0);
    if (map)
        munmap(map, maplen);
    else
        free(stk);
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void run(kind k, const char *what)
{
    make_objects();
    atomic_store(&g_phase, 0);
    atomic_store(&g_lost, -1);
    atomic_store(&g_allocate, k == CO_MALLOC_ALLOCATING);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, victim, (void *)(intptr_t)k), 0);
    while (atomic_load(&g_phase) != 1)
        sched_yield();
    for (int r = 0; r < 5; r++) {
        t_scrub_stack();
        mgc_collect();
        t_reuse_churn();
    }
    atomic_store(&g_phase, 2);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_MSG(atomic_load(&g_lost) == 0, "%s: %d of %d objects held only in its frame were reclaimed", what,
              atomic_load(&g_lost), N);
    fprintf(stderr, "%s: %d objects held only in its frame kept over 5 collections\n", what, N);
}

int main(void)
{
    t_watchdog_taker();
    t_watchdog(30, "collections with threads on foreign stacks");
    /* Under ThreadSanitizer a thread spinning in a handler of the
       program's never takes SIGPWR (the collector waited for it for ever):
       TSan defers the signals that arrive while such a handler runs. */
    if (!T_TSAN) {
        /* First: run after case 1 (whose thread's stack glibc hands to
           the next thread), it passed even without the fix, which this
           order does not (16 of 16 lost); why was not worked out. */
        run(ALT_IN_FRAME, "frame below an alternate signal stack in the thread's own stack");
        run(ALT_AUTODISARM, "signal handler on an SS_AUTODISARM alternate stack");
    } else {
        fprintf(stderr, "signal handlers on alternate stacks: skipped under TSan\n");
    }
    run(CO_MALLOC, "coroutine on a malloc'd stack");
    run(CO_MMAP, "coroutine on an mmap'd stack with a guard page");
    run(CO_MALLOC_ALLOCATING, "coroutine on a malloc'd stack, allocating");
    run(CO_BELOW_SHORT_FILE, "coroutine on an mmap'd stack below a shared mapping longer than its file");
    run(CO_SHARED_ANON, "coroutine on a MAP_SHARED|MAP_ANONYMOUS stack with a guard page");
    alarm(0);
    return 0;
}
