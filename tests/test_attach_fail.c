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
 * with ENOMEM in a thread while its g_fail is set. With it set, a new thread's
 * mgc_thread_attach returns ENOMEM with its signal mask untouched, and its
 * mgc_alloc/mgc_alloc_noscan (the tiny path too) and mgc_realloc return
 * NULL with ENOMEM, leaving nothing half registered:
 * collections from the main thread go on. Cleared, the same thread
 * attaches, allocates, and its object survives a collection. An entry
 * point that cannot answer an errno (a container) aborts with one line
 * naming the thread and the error; mgc_pthread_create answers ENOMEM. And
 * a thread whose only mgc call is a read is attached by it.
 */
#include "testing.h"
#include <dlfcn.h>
#include <mgc.h>

/* Per thread: only the calls the test thread makes while it is set fail
   (a sanitizer's runtime calls pthread_getattr_np for its own threads). */
static __thread int g_fail;

/* Not instrumented: TSan's runtime calls it while starting a thread,
   before the thread's own state exists. */
__attribute__((no_sanitize("thread", "address"))) int pthread_getattr_np(pthread_t th, pthread_attr_t *attr)
{
    static int (*real)(pthread_t, pthread_attr_t *);
    if (g_fail)
        return ENOMEM;
    if (!real)
        real = (int (*)(pthread_t, pthread_attr_t *))dlsym(RTLD_NEXT, "pthread_getattr_np");
    return real(th, attr);
}

static void *volatile g_kept;
static char *volatile g_mine; /* the main thread's, for realloc from here */

static bool pwr_blocked(void)
{
    sigset_t cur;
    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    return sigismember(&cur, SIGPWR);
}

static void *failing_thread(void *arg)
{
    (void)arg;
    g_fail = 1;
    /* Not attached, its signal mask is its own: SIGPWR stays blocked. */
    sigset_t pwr;
    sigemptyset(&pwr);
    sigaddset(&pwr, SIGPWR);
    pthread_sigmask(SIG_BLOCK, &pwr, NULL);
    int err = mgc_thread_attach();
    CHECK_MSG(err == ENOMEM, "mgc_thread_attach returned %d, want ENOMEM", err);
    CHECK_MSG(pwr_blocked(), "a failed attach unblocked SIGPWR");
    pthread_sigmask(SIG_UNBLOCK, &pwr, NULL);
    pthread_t never; /* mgc_pthread_create answers its errno */
    CHECK_EQ(mgc_pthread_create(&never, NULL, failing_thread, NULL), ENOMEM);
    errno = 0; /* realloc is an allocation: NULL and ENOMEM, the object untouched */
    CHECK(mgc_realloc(g_mine, 5000) == NULL);
    CHECK_EQ(errno, ENOMEM);
    CHECK_EQ(g_mine[63], 0x2f);
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
    /* No errno to answer: one line, naming the thread (a container said
       "out of memory growing buffer ... to 16 bytes"). */
    mgc_buf b = MGC_BUF_INIT;
    mgc_buf_append_str(&b, "x");
    return NULL;
}

/* A thread whose only mgc call is a read (mgc_map_get) is attached by it:
   the value it holds on its stack survives the map's delete and a
   collection. Unattached, its stack was not scanned, and the object was
   freed and handed out again under it. */
static mgc_map g_map = MGC_MAP_INIT;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int g_phase;

static mgc_vec g_vec;
static int g_how; /* 0: mgc_map_get, 1: mgc_vec_pop, 2: mgc_vec_get */

static __attribute__((noinline)) void *read_value(void)
{
    void *v = NULL;
    pthread_mutex_lock(&g_mu);
    if (g_how == 0)
        v = mgc_map_get(&g_map, "key", 3);
    else if (g_how == 1)
        mgc_vec_pop(&g_vec, &v);
    else
        mgc_vec_get(&g_vec, 0, &v);
    pthread_mutex_unlock(&g_mu);
    return v;
}

static void *reader(void *arg)
{
    (void)arg;
    volatile char *v = read_value();
    atomic_store(&g_phase, 1);
    while (atomic_load(&g_phase) != 2)
        usleep(1000);
    /* Still allocated (mgc_base: a collected object is not, reused or
       not) and still its value. */
    return (void *)(uintptr_t)(v && mgc_base((void *)v) == (void *)v && v[0] == 'v' && v[15] == 'v');
}

static __attribute__((noinline)) void put_value(void)
{
    char *v = mgc_alloc_noscan(16);
    memset(v, 'v', 16);
    if (g_how == 0)
        mgc_map_put(&g_map, "key", 3, v);
    else
        mgc_vec_push_ptr(&g_vec, v);
}

static __attribute__((noinline)) void reuse_memory(void)
{
    for (int i = 0; i < 10000; i++)
        memset(mgc_alloc_noscan(16), 'X', 16);
}

static void reader_attached(int how)
{
    g_how = how;
    atomic_store(&g_phase, 0);
    put_value();
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, reader, NULL), 0);
    while (atomic_load(&g_phase) != 1)
        usleep(1000);
    pthread_mutex_lock(&g_mu); /* the container's reference goes */
    if (how == 0) {
        CHECK(mgc_map_delete(&g_map, "key", 3));
    } else { /* its storage may still name a popped element */
        mgc_vec_free(&g_vec);
        mgc_vec_init_ptr(&g_vec);
    }
    pthread_mutex_unlock(&g_mu);
    t_scrub_stack();
    mgc_collect();
    mgc_collect();
    reuse_memory();
    atomic_store(&g_phase, 2);
    void *ok = NULL;
    CHECK_EQ(pthread_join(th, &ok), 0);
    static const char *const names[] = {"mgc_map_get", "mgc_vec_pop", "mgc_vec_get"};
    CHECK_MSG(ok != NULL, "a value held only by a thread whose one mgc call was %s was freed and reused",
              names[how]);
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
    char *mine = mgc_alloc(64);
    memset(mine, 0x2f, 64);
    g_mine = mine;
    t_child c; /* first, and one: under TSan a child's thread with the stack of a thread the parent joined was taken for a duplicate */
    t_run_child(die_collect, NULL, &c);
    CHECK_MSG(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGABRT, "status %d, stderr:\n%s", c.status, c.err);
    CHECK_MSG(strstr(c.err, "mgc: fatal: cannot attach thread ") && strstr(c.err, "Cannot allocate memory"),
              "stderr:\n%s", c.err);
    mgc_vec_init_ptr(&g_vec);
    for (int how = 0; how < 3; how++)
        reader_attached(how);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, failing_thread, NULL), 0);
    CHECK_EQ(pthread_join(th, NULL), 0);
    /* Nothing half registered: the world still stops, and both threads'
       objects are intact. */
    for (int i = 0; i < 3; i++)
        mgc_collect();
    CHECK(mgc_base(mine) == mine && mine[63] == 0x2f);
    CHECK(mgc_base(g_kept) == g_kept && ((char *)g_kept)[0] == 0x6b);
    printf("ok\n");
    return 0;
}
