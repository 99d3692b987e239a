// ctest-timeout: 120
/*
 * test_stack_growth.c — the main thread's stack grows past what was
 * recorded when it attached. pthread_getattr_np reports the main stack
 * from RLIMIT_STACK at that moment; a program may raise the limit later
 * (for deep recursion) and go deeper. The collector must scan those
 * frames: it scanned the recorded part and at most 8 MiB above the stop
 * point, so an object whose only reference was 10 MiB deep was reclaimed
 * by a collection 20 MiB deep.
 *
 * The object's address is kept hidden (t_hide); mgc_base says whether it
 * is still allocated. It is large (a span of its own), so no other object
 * in its span keeps the span, and a stale word elsewhere is unlikely to
 * point into it: the control (a frame 1 MiB deep, a collection 6 MiB
 * deep) shows that a live frame keeps it.
 */
#include "testing.h"
#include <mgc.h>
#include <sys/resource.h>

#define FRAME (64 * 1024)
static uintptr_t g_hidden;
static int g_alive = -1;

static __attribute__((noinline)) void deep(int depth, int hold_at, int collect_at)
{
    volatile char pad[FRAME];
    memset((char *)pad, 0, sizeof pad);
    void *volatile held = NULL;
    if (depth == hold_at) {
        held = mgc_alloc(100000);
        memset(held, 0x5a, 100000);
        g_hidden = t_hide(held);
    }
    if (depth == collect_at) {
        mgc_collect();
        mgc_collect();
        g_alive = mgc_base(t_unhide(g_hidden)) != NULL;
        return;
    }
    deep(depth + 1, hold_at, collect_at);
    __asm__ volatile("" ::"r"(held) : "memory");
    pad[0] = 1;
}

int main(void)
{
    struct rlimit rl;
    CHECK_EQ(getrlimit(RLIMIT_STACK, &rl), 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (64u << 20)) {
        printf("test_stack_growth: RLIMIT_STACK's hard limit is below 64 MiB; skipped\n");
        return 0;
    }
    rl.rlim_cur = 8u << 20;
    CHECK_EQ(setrlimit(RLIMIT_STACK, &rl), 0);
    CHECK_EQ(mgc_init(), 0); /* attaches: the main stack is the top 8 MiB */
    rl.rlim_cur = 64u << 20;
    CHECK_EQ(setrlimit(RLIMIT_STACK, &rl), 0);

    deep(0, 16, 96); /* control: held 1 MiB deep, collected 6 MiB deep */
    CHECK_MSG(g_alive == 1, "an object held 1 MiB deep was reclaimed by a collection 6 MiB deep");
    deep(0, 160, 320); /* held 10 MiB deep, collected 20 MiB deep */
    CHECK_MSG(g_alive == 1, "an object held 10 MiB deep (past the 8 MiB recorded at attach) was reclaimed "
                            "by a collection 20 MiB deep");
    printf("frames past the main stack recorded at attach are scanned\n");
    return 0;
}
