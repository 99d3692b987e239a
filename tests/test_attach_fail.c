// ctest-timeout: 60
/*
 * test_attach_fail.c — a thread mgc cannot attach gets an errno, not an
 * abort, where mgc.h says so: mgc_thread_attach "Returns 0 or an errno",
 * and an allocation answers NULL with ENOMEM. Attaching needs the
 * thread's stack from pthread_getattr_np (which fails with ENOMEM when the
 * C library has no memory) and metadata for its record; before, either
 * failing aborted the process ("cannot find the stack of thread N").
 *
 * This program defines pthread_getattr_np, which mgc's call reaches before
 * the C library's (the test links the static library), and makes it fail
 * with ENOMEM while g_fail is set. With it set, a new thread's
 * mgc_thread_attach returns ENOMEM and its mgc_alloc/mgc_alloc_noscan (the
 * tiny path too) return NULL with ENOMEM, leaving nothing half registered:
 * collections from the main thread go on. Cleared, the same thread
 * attaches, allocates, and its object survives a collection. An entry
 * point that cannot answer an errno (mgc_collect) aborts with one line
 * naming the thread and the error.
 */
#include "testing.h"
#include <dlfcn.h>
#include <mgc.h>

static volatile int g_fail;

int pthread_getattr_np(pthread_t th, pthread_attr_t *attr)
{
    static int (*real)(pthread_t, pthread_attr_t *);
    if (g_fail)
        return ENOMEM;
    if (!real)
        real = (int (*)(pthread_t, pthread_attr_t *))dlsym(RTLD_NEXT, "pthread_getattr_np");
    return real(th, attr);
}

static void *volatile g_kept;

static void *failing_thread(void *arg)
{
    (void)arg;
    g_fail = 1;
    int err = mgc_thread_attach();
    CHECK_MSG(err == ENOMEM, "mgc_thread_attach returned %d, want ENOMEM", err);
    errno = 0;
    CHECK(mgc_alloc(100) == NULL);
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(mgc_alloc_noscan(5) == NULL); /* the tiny path */
    CHECK_EQ(errno, ENOMEM);
    errno = 0;
    CHECK(mgc_alloc_noscan(100000) == NULL); /* large */
    CHECK_EQ(errno, ENOMEM);
    g_fail = 0;
    CHECK_EQ(mgc_thread_attach(), 0);
    char *p = mgc_alloc(100);
    CHECK(p != NULL);
    memset(p, 0x6b, 100);
    g_kept = p;
    mgc_collect();
    CHECK(mgc_base(p) == p && p[99] == 0x6b);
    mgc_thread_detach();
    return NULL;
}

static void *collect_unattached(void *arg)
{
    (void)arg;
    g_fail = 1;
    mgc_collect(); /* no errno to answer: one line, naming the thread */
    return NULL;
}

static void die_collect(void *arg)
{
    (void)arg;
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, collect_unattached, NULL), 0);
    pthread_join(th, NULL);
}

int main(void)
{
    CHECK_EQ(mgc_init(), 0);
    void *mine = mgc_alloc(64);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, failing_thread, NULL), 0);
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK(!g_fail);
    /* Nothing half registered: the world still stops, and both threads'
       objects are intact. */
    for (int i = 0; i < 3; i++)
        mgc_collect();
    CHECK(mgc_base(mine) == mine);
    CHECK(mgc_base(g_kept) == g_kept && ((char *)g_kept)[0] == 0x6b);
    t_expect_abort(die_collect, NULL, "cannot attach thread ");
    t_expect_abort(die_collect, NULL, "Cannot allocate memory");
    printf("ok\n");
    return 0;
}
