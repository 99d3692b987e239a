// ctest-timeout: 120
// ctest-tsan: no (it stops threads blocked in pthread_mutex_lock and other calls, where TSan hands them no signal)
/*
 * test_syscalls.c — threads stopped by SIGPWR in the middle of blocking
 * system calls and of long computations (threads.c: the handler is
 * installed with SA_RESTART).
 *
 * What POSIX and Linux (signal(7)) promise under SA_RESTART, and what this
 * test asserts: a blocked read(2) or write(2) on a pipe, recv(2) on a
 * socket, accept(2) on a listening socket (no SO_RCVTIMEO set), waitpid(2),
 * pthread_mutex_lock and pthread_cond_wait are restarted after the handler
 * returns: they never fail with EINTR because of the collector.
 * What is never restarted, SA_RESTART or not: poll/ppoll, select,
 * epoll_wait, nanosleep/clock_nanosleep/usleep, sigtimedwait, pause — a
 * collection makes them return EINTR (or, for nanosleep, early), as any
 * signal would. The test only reports how often that happened to a poll()
 * and a nanosleep() loop, and checks that they still get their data and
 * their full sleep when they retry.
 *
 * Each blocked thread is attached, holds heap objects only on its stack,
 * and is seen to be inside its system call (/proc/self/task/TID/syscall)
 * before the main thread forces 200 collections; then it is woken with the
 * data it waits for, and checks both the result of the call and the
 * objects.
 *
 * Then the same for threads in long computation loops that never call mgc:
 * one chasing pointers through a heap chain (held only in registers and on
 * its stack), one doing integer and floating-point arithmetic whose result
 * is compared with the same computation run uninterrupted.
 *
 * Last, threads stopped while they run a signal handler of the program's
 * own on an alternate signal stack (sigaltstack, SA_ONSTACK): a worker, then
 * the main thread; the objects on their real stacks must survive.
 */
#include "testing.h"
#include <mgc.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#define NOINLINE __attribute__((noinline))
#define NCOLLECT 200

/* ---- heap objects held on a blocked thread's stack -------------------------- */

/* A chain of n conservative nodes: {next, id, payload[k]}. */
static NOINLINE void *make_chain(int n, uint64_t salt)
{
    uint64_t *head = NULL;
    for (int i = 0; i < n; i++) {
        size_t words = 3 + (size_t)(i % 13);
        uint64_t *p = mgc_alloc(words * 8);
        CHECK(p);
        p[0] = (uint64_t)(uintptr_t)head;
        p[1] = (uint64_t)i << 32 | words;
        for (size_t w = 2; w < words; w++)
            p[w] = mix64(salt + (uint64_t)i * 131 + w) | 1ull << 63;
        head = p;
    }
    return head;
}

static void check_chain(const void *head, int n, uint64_t salt, const char *who)
{
    const uint64_t *p = head;
    for (int i = n - 1; i >= 0; i--) {
        CHECK_MSG(p != NULL, "%s: chain ends after %d of %d nodes", who, n - 1 - i, n);
        CHECK_MSG(mgc_base(p) == p, "%s: node %d is not a live object", who, i);
        size_t words = 3 + (size_t)(i % 13);
        CHECK_MSG(p[1] == ((uint64_t)i << 32 | words), "%s: node %d header %#llx: reclaimed?", who, i,
                  (unsigned long long)p[1]);
        for (size_t w = 2; w < words; w++)
            CHECK_MSG(p[w] == (mix64(salt + (uint64_t)i * 131 + w) | 1ull << 63), "%s: node %d word %zu corrupted",
                      who, i, w);
        p = (const uint64_t *)(uintptr_t)p[0];
    }
    CHECK_MSG(p == NULL, "%s: chain longer than %d", who, n);
}

/* ---- being sure a thread is inside a system call ---------------------------- */

static long syscall_of(pid_t tid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -2;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -2;
    buf[n] = 0;
    if (!strncmp(buf, "running", 7))
        return -1;
    return strtol(buf, NULL, 10);
}

/* Wait until thread tid sits in system call nr (or any of nr, nr2). */
static void wait_in_syscall(pid_t tid, long nr, long nr2, const char *what)
{
    double t0 = t_now();
    for (;;) {
        long s = syscall_of(tid);
        if (s == nr || s == nr2)
            return;
        CHECK_MSG(t_now() - t0 < 20, "%s: thread %d not in its system call after 20 s (at %ld)", what, (int)tid, s);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static NOINLINE void churn_and_collect(int n)
{
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 20; k++) {
            void *p = mgc_alloc(16 + (size_t)(k * 37) % 3000);
            CHECK(p);
        }
        mgc_collect();
    }
}

/* ---- blocked threads ---------------------------------------------------------- */

typedef struct blocked {
    const char *name;
    int kind;
    int fd[2];          /* pipe or socket pair or listening socket */
    _Atomic pid_t tid;
    ssize_t result;
    int err;
    int eintr;          /* times the call returned EINTR (and was retried) */
    char data[4096];
    size_t len;
    pthread_t th;
} blocked;

enum { B_READ_PIPE, B_WRITE_PIPE, B_RECV_SOCK, B_ACCEPT, B_WAITPID, B_COND, B_POLL, B_SLEEP };

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_cond_flag;
static pid_t g_child;
static struct sockaddr_un g_addr;

static void *blocked_main(void *arg)
{
    blocked *b = arg;
    uint64_t salt = (uint64_t)b->kind * 1000003;
    void *chain = make_chain(300, salt);
    atomic_store(&b->tid, (pid_t)syscall(SYS_gettid));
    errno = 0;
    switch (b->kind) {
    case B_READ_PIPE:
        b->result = read(b->fd[0], b->data, sizeof b->data);
        break;
    case B_WRITE_PIPE: {
        /* The pipe is full: this write of PIPE_BUF bytes (atomic: all or
           nothing) blocks until the main thread drains it. */
        memset(b->data, 0x77, 4096);
        b->result = write(b->fd[1], b->data, 4096);
        break;
    }
    case B_RECV_SOCK:
        b->result = recv(b->fd[0], b->data, sizeof b->data, 0);
        break;
    case B_ACCEPT:
        b->result = accept(b->fd[0], NULL, NULL);
        break;
    case B_WAITPID: {
        int st = 0;
        b->result = waitpid(g_child, &st, 0);
        if (b->result == g_child)
            b->result = WIFEXITED(st) && WEXITSTATUS(st) == 42 ? 0 : -2;
        break;
    }
    case B_COND:
        pthread_mutex_lock(&g_mu);
        while (!g_cond_flag)
            pthread_cond_wait(&g_cv, &g_mu);
        pthread_mutex_unlock(&g_mu);
        b->result = 0;
        break;
    case B_POLL: {
        /* Never restarted: retry on EINTR, as every poll loop must. */
        struct pollfd pfd = {b->fd[0], POLLIN, 0};
        int r;
        while ((r = poll(&pfd, 1, -1)) < 0 && errno == EINTR)
            b->eintr++;
        b->result = r == 1 ? read(b->fd[0], b->data, sizeof b->data) : -1;
        break;
    }
    case B_SLEEP: {
        /* nanosleep returns early with EINTR and the time left; a loop over
           the remainder still sleeps its full time. */
        struct timespec req = {0, 600 * 1000 * 1000}, rem;
        double t0 = t_now();
        while (nanosleep(&req, &rem) < 0 && errno == EINTR) {
            b->eintr++;
            req = rem;
        }
        b->result = t_now() - t0 >= 0.599 ? 0 : -1;
        break;
    }
    }
    b->err = errno;
    check_chain(chain, 300, salt, b->name);
    mgc_collect();
    check_chain(chain, 300, salt, b->name);
    return NULL;
}

static void start_blocked(blocked *b, const char *name, int kind)
{
    b->name = name;
    b->kind = kind;
    atomic_store(&b->tid, 0);
    CHECK_EQ(mgc_pthread_create(&b->th, NULL, blocked_main, b), 0);
    while (!atomic_load(&b->tid))
        sched_yield();
}

static void test_blocked_calls(void)
{
    blocked b[8];
    memset(b, 0, sizeof b);

    CHECK(pipe(b[0].fd) == 0);
    start_blocked(&b[0], "read(pipe)", B_READ_PIPE);

    CHECK(pipe(b[1].fd) == 0);
    {
        /* Fill the pipe. */
        int fl = fcntl(b[1].fd[1], F_GETFL);
        fcntl(b[1].fd[1], F_SETFL, fl | O_NONBLOCK);
        char junk[4096];
        memset(junk, 0x11, sizeof junk);
        while (write(b[1].fd[1], junk, sizeof junk) > 0)
            ;
        CHECK(errno == EAGAIN);
        fcntl(b[1].fd[1], F_SETFL, fl);
    }
    start_blocked(&b[1], "write(full pipe)", B_WRITE_PIPE);

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, b[2].fd) == 0);
    start_blocked(&b[2], "recv(socket)", B_RECV_SOCK);

    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(ls >= 0);
    memset(&g_addr, 0, sizeof g_addr);
    g_addr.sun_family = AF_UNIX;
    /* Abstract socket name: nothing on the file system. */
    snprintf(g_addr.sun_path + 1, sizeof g_addr.sun_path - 1, "mgc-test-syscalls-%d", (int)getpid());
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(g_addr.sun_path + 1));
    CHECK(bind(ls, (struct sockaddr *)&g_addr, alen) == 0);
    CHECK(listen(ls, 4) == 0);
    b[3].fd[0] = ls;
    start_blocked(&b[3], "accept", B_ACCEPT);

    int gate[2];
    CHECK(pipe(gate) == 0);
    fflush(NULL);
    g_child = fork();
    CHECK(g_child >= 0);
    if (g_child == 0) {
        char c;
        close(gate[1]);
        while (read(gate[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(42);
    }
    close(gate[0]);
    start_blocked(&b[4], "waitpid", B_WAITPID);

    start_blocked(&b[5], "pthread_cond_wait", B_COND);

    CHECK(pipe(b[6].fd) == 0);
    start_blocked(&b[6], "poll", B_POLL);

    start_blocked(&b[7], "nanosleep", B_SLEEP);

    wait_in_syscall(b[0].tid, SYS_read, SYS_read, b[0].name);
    wait_in_syscall(b[1].tid, SYS_write, SYS_write, b[1].name);
    wait_in_syscall(b[2].tid, SYS_recvfrom, SYS_read, b[2].name);
    wait_in_syscall(b[3].tid, SYS_accept, SYS_accept4, b[3].name);
    wait_in_syscall(b[4].tid, SYS_wait4, SYS_waitid, b[4].name);
    wait_in_syscall(b[5].tid, SYS_futex, SYS_futex, b[5].name);
    wait_in_syscall(b[6].tid, SYS_poll, SYS_ppoll, b[6].name);

    churn_and_collect(NCOLLECT);
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    CHECK_MSG(ms.num_gc >= NCOLLECT, "%u cycles", ms.num_gc);

    /* Still blocked: the restartable calls did not return. */
    wait_in_syscall(b[0].tid, SYS_read, SYS_read, b[0].name);
    wait_in_syscall(b[1].tid, SYS_write, SYS_write, b[1].name);
    wait_in_syscall(b[2].tid, SYS_recvfrom, SYS_read, b[2].name);
    wait_in_syscall(b[3].tid, SYS_accept, SYS_accept4, b[3].name);
    wait_in_syscall(b[4].tid, SYS_wait4, SYS_waitid, b[4].name);

    /* Wake them all. */
    CHECK_EQ(write(b[0].fd[1], "hello, reader", 13), 13);
    {
        char buf[4096];
        size_t drained = 0;
        while (drained < 8192) {
            ssize_t n = read(b[1].fd[0], buf, sizeof buf);
            CHECK(n > 0);
            drained += (size_t)n;
        }
    }
    CHECK_EQ(send(b[2].fd[1], "socket data", 11, 0), 11);
    int cs = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(cs >= 0);
    CHECK(connect(cs, (struct sockaddr *)&g_addr, alen) == 0);
    CHECK_EQ(write(gate[1], "x", 1), 1);
    pthread_mutex_lock(&g_mu);
    g_cond_flag = 1;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    CHECK_EQ(write(b[6].fd[1], "polled", 6), 6);

    for (int i = 0; i < 8; i++)
        CHECK_EQ(pthread_join(b[i].th, NULL), 0);

    CHECK_MSG(b[0].result == 13 && !memcmp(b[0].data, "hello, reader", 13),
              "read(pipe) returned %zd (errno %d: %s): a collection must not interrupt it (SA_RESTART)",
              b[0].result, b[0].err, strerror(b[0].err));
    CHECK_MSG(b[1].result == 4096, "write(pipe) returned %zd (errno %d: %s)", b[1].result, b[1].err,
              strerror(b[1].err));
    CHECK_MSG(b[2].result == 11 && !memcmp(b[2].data, "socket data", 11), "recv returned %zd (errno %d: %s)",
              b[2].result, b[2].err, strerror(b[2].err));
    CHECK_MSG(b[3].result >= 0, "accept returned %zd (errno %d: %s)", b[3].result, b[3].err, strerror(b[3].err));
    CHECK_MSG(b[4].result == 0, "waitpid returned %zd (errno %d: %s)", b[4].result, b[4].err, strerror(b[4].err));
    CHECK_EQ(b[5].result, 0);
    CHECK_MSG(b[6].result == 6 && !memcmp(b[6].data, "polled", 6), "poll loop: read returned %zd", b[6].result);
    CHECK_MSG(b[7].result == 0, "nanosleep loop slept less than asked");
    fprintf(stderr, "blocked calls: 200 collections; poll returned EINTR %d times, nanosleep %d times (never "
            "restarted, by POSIX); the restartable calls none\n", b[6].eintr, b[7].eintr);

    close(b[3].result);
    close(cs);
    close(ls);
    close(gate[1]);
    for (int i = 0; i < 7; i++) {
        if (i == 3 || i == 4 || i == 5)
            continue;
        close(b[i].fd[0]);
        close(b[i].fd[1]);
    }
}

/* ---- threads computing without calling mgc ------------------------------------ */

static _Atomic int g_compute_stop;
static _Atomic int g_compute_ready;

/* Pure arithmetic: the same numbers whether or not signals interrupt it.
   Run in chunks until told to stop; the main thread then recomputes as
   many chunks uninterrupted and compares. */
typedef struct arith_state {
    uint64_t h, i;
    double x, y;
} arith_state;

static NOINLINE void arith_chunk(arith_state *s, uint64_t n)
{
    uint64_t h = s->h, i = s->i;
    double x = s->x, y = s->y;
    for (uint64_t end = i + n; i < end; i++) {
        h = (h ^ i) * 1099511628211ull;
        x = x * 1.0000001 + (double)(h & 0xFF) / 4096.0;
        y = y * 0.9999999 + x / (1.0 + (double)(i & 7));
        if (x > 1e6)
            x /= 3.0;
    }
    s->h = h;
    s->i = i;
    s->x = x;
    s->y = y;
}

static const arith_state ARITH0 = {1469598103934665603ull, 0, 0.5, 1.25};
#define ARITH_CHUNK 100000

typedef struct compute {
    arith_state st;
    uint64_t chunks;
    uint64_t passes;
    pthread_t th;
} compute;

static void *arith_main(void *arg)
{
    compute *c = arg;
    CHECK_EQ(mgc_thread_attach(), 0);
    c->st = ARITH0;
    atomic_fetch_add(&g_compute_ready, 1);
    while (!atomic_load_explicit(&g_compute_stop, memory_order_relaxed)) {
        arith_chunk(&c->st, ARITH_CHUNK);
        c->chunks++;
    }
    return NULL;
}

/* Chases pointers through a chain it made, without calling mgc, until told
   to stop; every pass checks every node. The chain head lives only here. */
static NOINLINE uint64_t chase(const uint64_t *head, int n)
{
    uint64_t passes = 0;
    while (!atomic_load_explicit(&g_compute_stop, memory_order_relaxed)) {
        const uint64_t *p = head;
        for (int i = n - 1; i >= 0; i--) {
            size_t words = 3 + (size_t)(i % 13);
            if (p[1] != ((uint64_t)i << 32 | words) || p[2] != (mix64(0xC4A5E + (uint64_t)i * 131 + 2) | 1ull << 63)) {
                fprintf(stderr, "chase: node %d corrupted during collections\n", i);
                abort();
            }
            p = (const uint64_t *)(uintptr_t)p[0];
        }
        passes++;
    }
    return passes;
}

static void *chase_main(void *arg)
{
    compute *c = arg;
    void *head = make_chain(5000, 0xC4A5E);
    atomic_fetch_add(&g_compute_ready, 1);
    c->passes = chase(head, 5000);
    check_chain(head, 5000, 0xC4A5E, "chaser");
    return NULL;
}

static void test_compute_threads(void)
{
    compute a, ch;
    memset(&a, 0, sizeof a);
    memset(&ch, 0, sizeof ch);
    atomic_store(&g_compute_ready, 0);
    CHECK_EQ(pthread_create(&a.th, NULL, arith_main, &a), 0);
    CHECK_EQ(mgc_pthread_create(&ch.th, NULL, chase_main, &ch), 0);
    while (atomic_load(&g_compute_ready) < 2)
        sched_yield();
    double t1 = t_now();
    churn_and_collect(NCOLLECT);
    double t2 = t_now();
    atomic_store(&g_compute_stop, 1);
    CHECK_EQ(pthread_join(ch.th, NULL), 0);
    CHECK_EQ(pthread_join(a.th, NULL), 0);
    arith_state ref = ARITH0;
    for (uint64_t k = 0; k < a.chunks; k++)
        arith_chunk(&ref, ARITH_CHUNK);
    fprintf(stderr, "compute threads: 200 collections in %.2fs; chaser made %llu passes over 5000 nodes, arithmetic "
            "%llu chunks\n", t2 - t1, (unsigned long long)ch.passes, (unsigned long long)a.chunks);
    CHECK_MSG(a.st.h == ref.h && a.st.i == ref.i && a.st.x == ref.x && a.st.y == ref.y,
              "arithmetic interrupted by collections gave %#llx %.17g %.17g, uninterrupted %#llx %.17g %.17g",
              (unsigned long long)a.st.h, a.st.x, a.st.y, (unsigned long long)ref.h, ref.x, ref.y);
    CHECK(ch.passes > 0 && a.chunks > 0);
}

/* ---- a thread stopped inside its own signal handler on an alternate stack ---- */

/* The program's own handler (SA_ONSTACK, on a sigaltstack) is running when
   the collector stops the thread: the SIGPWR handler then runs on the
   alternate stack too, so the stop pointer is not on the thread's stack.
   The objects the interrupted code holds on the thread's real stack must
   still be found (DESIGN.md section 2, invariant 1: every word on a
   registered thread's stack). */
static _Atomic int g_in_handler, g_release_handler;

static void spin_handler(int sig)
{
    (void)sig;
    atomic_store(&g_in_handler, 1);
    while (!atomic_load(&g_release_handler))
        ;
}

/* Put this thread on an alternate signal stack of the test's own; returns
   the one it had (the sanitizers install theirs, and unmap whatever is
   installed when the thread exits: it must be given back). */
static stack_t install_altstack(void)
{
    static __thread char *alt;
    if (!alt) {
        alt = malloc(1 << 16);
        CHECK(alt);
    }
    stack_t ss = {.ss_sp = alt, .ss_size = 1 << 16, .ss_flags = 0}, old;
    CHECK(sigaltstack(&ss, &old) == 0);
    return old;
}


typedef struct alt_job {
    pthread_t target;
    int collections;
} alt_job;

/* Interrupt `target` with SIGUSR1 and collect while it spins in the handler. */
static void *interrupt_and_collect(void *arg)
{
    alt_job *j = arg;
    atomic_store(&g_in_handler, 0);
    atomic_store(&g_release_handler, 0);
    CHECK_EQ(pthread_kill(j->target, SIGUSR1), 0);
    while (!atomic_load(&g_in_handler))
        sched_yield();
    churn_and_collect(j->collections);
    atomic_store(&g_release_handler, 1);
    return NULL;
}

static _Atomic int g_alt_worker_go, g_alt_worker_done;

static void *alt_worker(void *arg)
{
    (void)arg;
    stack_t old = install_altstack();
    void *volatile chain = make_chain(2000, 0xA17A);
    atomic_store(&g_alt_worker_go, 1);
    while (!atomic_load(&g_alt_worker_done))
        sched_yield(); /* the handler runs in here, interrupted by collections */
    check_chain(chain, 2000, 0xA17A, "worker thread stopped in a handler on its alternate stack");
    t_altstack_restore(old);
    return NULL;
}

static NOINLINE void main_on_altstack(void)
{
    void *volatile chain = make_chain(2000, 0x3A17);
    alt_job j = {pthread_self(), 20};
    pthread_t c;
    CHECK_EQ(mgc_pthread_create(&c, NULL, interrupt_and_collect, &j), 0);
    CHECK_EQ(pthread_join(c, NULL), 0); /* the handler ran, and returned, in here */
    mgc_collect();
    check_chain(chain, 2000, 0x3A17, "main thread stopped in a handler on its alternate stack");
}

static void test_altstack_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = spin_handler;
    sa.sa_flags = SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);

    /* A worker thread first. */
    pthread_t w;
    CHECK_EQ(mgc_pthread_create(&w, NULL, alt_worker, NULL), 0);
    while (!atomic_load(&g_alt_worker_go))
        sched_yield();
    alt_job j = {w, 20};
    interrupt_and_collect(&j);
    atomic_store(&g_alt_worker_done, 1);
    CHECK_EQ(pthread_join(w, NULL), 0);
    fprintf(stderr, "alternate stack: a worker stopped in its handler kept its stack's objects\n");

    /* Then the main thread. */
    stack_t old = install_altstack();
    main_on_altstack();
    t_altstack_restore(old);
    fprintf(stderr, "alternate stack: the main thread stopped in its handler kept its stack's objects\n");
}

int main(void)
{
    CHECK_EQ(mgc_init(), 0);
    test_blocked_calls();
    test_compute_threads();
    test_altstack_handlers();
    fprintf(stderr, "ok\n");
    return 0;
}
