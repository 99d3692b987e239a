/*
 * testing.h — the test suite's few helpers: checks that say what failed,
 * a seeded random generator that prints its seed (re-run with
 * MGC_TEST_SEED=n), payloads, tagged objects and an address set for the
 * graph tests, stack scrubbing and garbage, and running a function or this
 * program in a child process to check how it dies or what it prints.
 */
#ifndef MGC_TESTING_H
#define MGC_TESTING_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mgc.h>
#include <pthread.h>
#include <stdatomic.h>

/* Waiting on another test thread. Under ThreadSanitizer a thread blocked
   in pthread_mutex_lock or pthread_barrier_wait never takes the signal
   that stops the world (TSan hands a deferred signal over when the thread
   enters a call it intercepts or makes an atomic access, and a thread
   waiting inside glibc does neither), so there these poll with usleep
   instead; in every other build they are the pthread calls. */
#if defined(__SANITIZE_THREAD__)
#define T_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define T_TSAN 1
#endif
#endif
#ifndef T_TSAN
#define T_TSAN 0
#endif

static inline void t_mutex_lock(pthread_mutex_t *m)
{
    if (!T_TSAN) {
        pthread_mutex_lock(m);
        return;
    }
    while (pthread_mutex_trylock(m) != 0)
        usleep(20);
}

/* A barrier for n threads, reusable round after round. */
typedef struct t_barrier {
    pthread_barrier_t b;    /* other builds */
    _Atomic unsigned count; /* TSan: arrivals this round */
    _Atomic unsigned round; /* TSan: rounds completed */
    unsigned n;
} t_barrier;

static inline void t_barrier_init(t_barrier *b, unsigned n)
{
    b->n = n;
    atomic_store(&b->count, 0);
    atomic_store(&b->round, 0);
    if (!T_TSAN)
        pthread_barrier_init(&b->b, NULL, n);
}

static inline void t_barrier_wait(t_barrier *b)
{
    if (!T_TSAN) {
        pthread_barrier_wait(&b->b);
        return;
    }
    unsigned r = atomic_load(&b->round);
    if (atomic_fetch_add(&b->count, 1) + 1 == b->n) {
        atomic_store(&b->count, 0);
        atomic_fetch_add(&b->round, 1);
        return;
    }
    while (atomic_load(&b->round) == r)
        usleep(20);
}

/* A build under a sanitizer (tests/CMakeLists.txt sets MGC_TEST_SANITIZE
   for AddressSanitizer and ThreadSanitizer), where every memory access
   costs several times more: tests size their loops down there. */
static inline bool t_sanitized(void) { return getenv("MGC_TEST_SANITIZE") != NULL; }

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);        \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);        \
            fprintf(stderr, __VA_ARGS__);                                                   \
            fputc('\n', stderr);                                                            \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

#define CHECK_EQ(a, b)                                                                      \
    do {                                                                                    \
        unsigned long long _a = (unsigned long long)(a), _b = (unsigned long long)(b);      \
        if (_a != _b) {                                                                     \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%llu != %llu)\n", __FILE__,  \
                    __LINE__, #a, #b, _a, _b);                                              \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

/* ---- random numbers ---------------------------------------------------- */

static uint64_t t_rng_state;

/* xorshift64*: one state per thread (rng) or the test's global one. */
typedef struct rng {
    uint64_t s;
} rng;

static inline uint64_t r_next(rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}
static inline uint64_t r_below(rng *r, uint64_t n) { return n ? r_next(r) % n : 0; }

static inline uint64_t t_rand(void)
{
    rng r = {t_rng_state};
    uint64_t v = r_next(&r);
    t_rng_state = r.s;
    return v;
}

/* splitmix64's finaliser: a well-mixed 64-bit function of x. */
static inline uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static inline uint64_t t_rand_below(uint64_t n) { return n ? t_rand() % n : 0; }

static inline uint64_t t_seed(void)
{
    const char *e = getenv("MGC_TEST_SEED");
    uint64_t seed = e ? strtoull(e, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    if (!seed)
        seed = 1;
    t_rng_state = seed;
    fprintf(stderr, "seed: %" PRIu64 " (re-run with MGC_TEST_SEED=%" PRIu64 ")\n", seed, seed);
    return seed;
}

/* A 48-byte noscan object whose words are a function of tag: whether it
   still holds them tells a test that it was not reclaimed and reused. */
static inline uint64_t *tagged(uint64_t tag)
{
    uint64_t *p = mgc_alloc_noscan(48);
    CHECK(p != NULL);
    for (int i = 0; i < 6; i++)
        p[i] = tag * 31 + (uint64_t)i;
    return p;
}
static inline int tag_ok(const uint64_t *p, uint64_t tag)
{
    for (int i = 0; i < 6; i++)
        if (p[i] != tag * 31 + (uint64_t)i)
            return 0;
    return 1;
}

/* A payload word: random-looking, bit 63 set so it is never a heap address
   (a conservative object full of them keeps nothing alive by accident). */
static inline uint64_t payload_word(uint64_t id, uint64_t w) { return mix64(id * 0x100000001B3ull + w) | (1ull << 63); }

/* A set of addresses (object bases a graph walk has visited): open
   addressing in malloc'd memory, which the collector does not scan, so the
   set keeps nothing alive. cap is a power of two; a full set fails the test. */
typedef struct t_addrset {
    uintptr_t *slot;
    size_t cap;
} t_addrset;

static inline void t_addrset_init(t_addrset *s, size_t cap)
{
    s->cap = cap;
    s->slot = calloc(cap, sizeof *s->slot);
    CHECK(s->slot != NULL && cap && !(cap & (cap - 1)));
}
static inline void t_addrset_clear(t_addrset *s) { memset(s->slot, 0, s->cap * sizeof *s->slot); }
static inline void t_addrset_free(t_addrset *s) { free(s->slot); }
/* 1 if a was not in the set (it is now), 0 if it was. */
static inline int t_addrset_add(t_addrset *s, uintptr_t a)
{
    size_t m = s->cap - 1, i = mix64(a) & m;
    for (size_t k = 0; k < s->cap; k++) {
        if (s->slot[i] == a)
            return 0;
        if (!s->slot[i]) {
            s->slot[i] = a;
            return 1;
        }
        i = (i + 1) & m;
    }
    CHECK_MSG(0, "address set of %zu is full", s->cap);
    return 0;
}

/* One MemStats field, read now: T_MEMSTAT(frees_explicit) is the count of
   frees made by hand (mgc_free and the containers), frees_explicit_large
   those of large objects. */
#define T_MEMSTAT(field)                                                                    \
    __extension__({                                                                         \
        mgc_memstats t_ms_;                                                                 \
        mgc_read_memstats(&t_ms_);                                                          \
        (uint64_t)t_ms_.field;                                                              \
    })

/* Every byte of [p, p + n) is zero; what names the object in the message. */
static inline void t_check_zero(const void *p, size_t n, const char *what)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        CHECK_MSG(c[i] == 0, "%s %p: byte %zu of %zu is 0x%02x, not zero", what, p, i, n, c[i]);
}

/* An address hidden from the conservative scan and back: the mask leaves a
   non-canonical value, never a heap pointer (not even an interior one). */
#define T_HIDE_KEY 0xF0F0F0F0F0F0F0F0ull
static inline uintptr_t t_hide(const void *p) { return (uintptr_t)p ^ T_HIDE_KEY; }
static inline void *t_unhide(uintptr_t h) { return (void *)(h ^ T_HIDE_KEY); }

/* n objects of size bytes (mgc_alloc), every every-th kept in
   kept[i / every] so the spans the others share stay in use (a span left
   empty goes back to the page heap, and a pointer into it then says only
   "not allocated"), the others dropped, their addresses hidden in
   hidden[i]. In a frame of its own, gone before the caller collects. */
static __attribute__((noinline, unused)) void t_drop_but_every(size_t size, int n, int every, void *volatile *kept,
                                                               uintptr_t *hidden)
{
    for (int i = 0; i < n; i++) {
        void *p = mgc_alloc(size);
        if (i % every == 0)
            kept[i / every] = p;
        else
            hidden[i] = t_hide(p);
    }
}

/* n small conservatively scanned objects of 16-315 bytes, dropped at once:
   allocation that moves the pacer towards a collection. */
static __attribute__((noinline, unused)) void t_garbage(int n)
{
    for (int i = 0; i < n; i++)
        (void)!mgc_alloc(16 + (size_t)(i % 300));
}

static inline double t_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Zero the stack below the caller: dead frames keep stale copies of
   pointers, and the collector's own frames (uninitialised locals) reuse that
   memory, so a conservative scan could see them. Call before a collection
   that must reclaim something. */
static __attribute__((noinline, unused)) void t_scrub_stack(void)
{
    volatile char buf[64 * 1024];
    memset((char *)buf, 0, sizeof buf);
    __asm__ __volatile__("" ::"r"(buf) : "memory"); /* the stores are not dead */
}

/* ---- alternate signal stacks ------------------------------------------- */

/* Make [sp, sp + size) this thread's alternate signal stack (ss_flags 0
   or SS_AUTODISARM) and run handler for SIGUSR1 on it; returns the
   alternate stack it replaced, for t_altstack_restore. */
static inline __attribute__((unused)) stack_t t_altstack_handler(void *sp, size_t size, int ss_flags,
                                                                 void (*handler)(int))
{
    stack_t ss = {.ss_sp = sp, .ss_size = size, .ss_flags = ss_flags}, old;
    CHECK_MSG(sigaltstack(&ss, &old) == 0, "sigaltstack(flags %d): %s", ss_flags, strerror(errno));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    return old;
}

/* Put back the alternate stack t_altstack_handler (or the caller)
   replaced: the sanitizers install one of their own and unmap whatever
   is installed when the thread exits, so theirs goes back. */
static inline __attribute__((unused)) void t_altstack_restore(stack_t old)
{
    if (!old.ss_sp)
        old.ss_flags = SS_DISABLE;
    CHECK(sigaltstack(&old, NULL) == 0);
}

/* ---- child processes --------------------------------------------------- */

typedef struct t_child {
    int status;     /* waitpid status */
    char err[8192]; /* what it wrote to stderr (truncated) */
    char out[8192]; /* what it wrote to stdout (truncated) */
} t_child;

/* Objects held only in one frame, for tests of what stack is scanned:
   take the n (at most 64) objects hidden in hidden[] (t_hide of tagged(500
   + i)) into this frame alone, clearing hidden[]; set *phase to 1; wait
   until the test sets it to 2 (calling idle, if not NULL, meanwhile);
   return how many were reclaimed (their tags overwritten). */
static __attribute__((noinline, unused)) int t_hold_in_frame(uintptr_t *hidden, int n, _Atomic int *phase,
                                                             void (*idle)(void))
{
    void *volatile held[64];
    for (int i = 0; i < n; i++) {
        held[i] = t_unhide(hidden[i]);
        hidden[i] = 0;
    }
    atomic_store(phase, 1);
    while (atomic_load(phase) != 2)
        if (idle)
            idle();
    int lost = 0;
    for (int i = 0; i < n; i++)
        lost += !tag_ok(held[i], 500 + (uint64_t)i);
    return lost;
}

/* Allocate over freed slots of tagged()'s size class, so an object the
   collector wrongly took is overwritten (t_hold_in_frame then finds its
   tag gone), and clear the stack below. */
static __attribute__((noinline, unused)) void t_reuse_churn(void)
{
    for (int i = 0; i < 20000; i++)
        (void)!tagged(7);
    t_scrub_stack();
}

/* An unlinked temporary file of `bytes` bytes, open read/write (for a
   mapping longer than its file: its pages past the end raise SIGBUS). */
static inline int t_short_file(size_t bytes)
{
    char path[4096];
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/mgc-short-file-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    CHECK_MSG(fd >= 0, "mkstemp %s: %s", path, strerror(errno));
    unlink(path);
    CHECK(ftruncate(fd, (off_t)bytes) == 0);
    return fd;
}

/* Run this program again as `argv0 arg` and wait for it at most secs
   seconds: its wait status, or -1 if it still ran then (it is killed). For
   a child that must end by itself (no watchdog can stand in for exit). */
static inline int t_exec_self_within(const char *argv0, const char *arg, double secs)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        execl(argv0, argv0, arg, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    double end = t_now() + secs;
    pid_t r;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && t_now() < end)
        usleep(20000);
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
    }
    CHECK_EQ(r, pid);
    return status;
}

/* A watchdog for a test that could hang in mgc: t_watchdog(30, "what")
   arms alarm(30); when it fires, one line "<what>: watchdog: still
   running after 30 s (hang in mgc?)" goes to stderr (write: the handler
   may run anywhere) and the process exits with status 99. alarm(0)
   disarms it; the text must outlive the alarm (a literal). */
static const char *volatile t_watchdog_what;
static volatile unsigned t_watchdog_secs;
static inline void t_watchdog_fire(int sig)
{
    (void)sig;
    char line[256];
    size_t n = 0;
    for (const char *s = t_watchdog_what; s && *s && n < 150; s++)
        line[n++] = *s;
    static const char mid[] = ": watchdog: still running after ";
    memcpy(line + n, mid, sizeof mid - 1);
    n += sizeof mid - 1;
    char digits[12];
    int d = 0;
    unsigned v = t_watchdog_secs;
    do
        digits[d++] = (char)('0' + v % 10);
    while ((v /= 10) && d < 11);
    while (d)
        line[n++] = digits[--d];
    static const char tail[] = " s (hang in mgc?)\n";
    memcpy(line + n, tail, sizeof tail - 1);
    n += sizeof tail - 1;
    (void)!write(2, line, n);
    _exit(99);
}
static inline void t_watchdog(unsigned secs, const char *what)
{
    t_watchdog_what = what;
    t_watchdog_secs = secs;
    signal(SIGALRM, t_watchdog_fire);
    alarm(secs);
}

/* For a hang inside a signal handler: SIGALRM is process-directed, and a
   thread stuck in mgc's SIGPWR handler (or any handler) blocks it, as mgc's
   own threads always do; with every thread stuck so, the alarm would never
   be taken. This starts a thread that only sleeps, with every signal but
   SIGALRM blocked and never attached to mgc, so t_watchdog's alarm always
   has a thread to land on. Call once, before t_watchdog. */
static inline void *t_watchdog_taker_main(void *arg)
{
    (void)arg;
    for (;;)
        usleep(100000); /* intercepted by TSan: its deferred signals arrive */
    return NULL;
}
static inline void t_watchdog_taker(void)
{
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGALRM);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t th;
    int err = pthread_create(&th, NULL, t_watchdog_taker_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        fprintf(stderr, "t_watchdog_taker: pthread_create: %s\n", strerror(err));
        abort();
    }
    pthread_detach(th);
}

static inline void t_drain(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char tmp[4096];
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r && n + 1 < cap; i++)
            buf[n++] = tmp[i];
    }
    buf[n] = 0;
}

/* Fork; in the child, send stdout and stderr to pipes and call
   child(a, b), which must not return; in the parent, collect both outputs
   and the exit status. */
static inline void t_fork_capture(void (*child)(void *, const void *), void *a, const void *b, t_child *c)
{
    int pe[2], po[2];
    CHECK(pipe(pe) == 0 && pipe(po) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(pe[1], 2);
        dup2(po[1], 1);
        close(pe[0]);
        close(po[0]);
        child(a, b);
        _exit(127);
    }
    close(pe[1]);
    close(po[1]);
    t_drain(po[0], c->out, sizeof c->out); /* small outputs: stdout first is fine */
    t_drain(pe[0], c->err, sizeof c->err);
    close(pe[0]);
    close(po[0]);
    while (waitpid(pid, &c->status, 0) < 0 && errno == EINTR)
        ;
}

static inline void t_call_child(void *fn, const void *arg)
{
    ((void (*)(void *))fn)((void *)arg);
    fflush(NULL);
    _exit(0);
}

/* Run fn(arg) in a forked child; capture its stderr and stdout. */
static inline void t_run_child(void (*fn)(void *), void *arg, t_child *c)
{
    t_fork_capture(t_call_child, (void *)fn, arg, c);
}

typedef struct t_exec_args {
    const char *argv0, *mode;
    const char *const *env;
} t_exec_args;

static inline void t_exec_child(void *a, const void *unused)
{
    (void)unused;
    const t_exec_args *x = a;
    for (const char *const *e = x->env; e && *e; e++)
        putenv((char *)*e);
    execl(x->argv0, x->argv0, x->mode, (char *)NULL);
}

/* Run this program again as `argv0 mode` with extra environment entries
   ("NAME=value", NULL-terminated), to test start-up behaviour. */
static inline void t_run_self(const char *argv0, const char *mode, const char *const *env, t_child *c)
{
    t_exec_args x = {argv0, mode, env};
    t_fork_capture(t_exec_child, &x, NULL, c);
}

/* The child died of SIGABRT and said `needle` on stderr. */
static inline void t_expect_abort(void (*fn)(void *), void *arg, const char *needle)
{
    t_child c;
    t_run_child(fn, arg, &c);
    CHECK_MSG(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGABRT,
              "expected an abort with \"%s\"; status %d, stderr:\n%s", needle, c.status, c.err);
    CHECK_MSG(strstr(c.err, needle) != NULL, "expected \"%s\" on stderr, got:\n%s", needle, c.err);
}

/* Run fn(arg) in a forked child, which must be stopped by an
   AddressSanitizer report containing `report` (for a read of memory mgc
   poisoned): the test fails if the child exits normally or reports
   something else. Only for builds under ASan (MGC_TEST_ASAN). */
static inline void t_expect_asan_report(void (*fn)(void *), void *arg, const char *report, const char *what)
{
    t_child c;
    t_run_child(fn, arg, &c);
    CHECK_MSG(!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0, "%s: went unreported", what);
    CHECK_MSG(strstr(c.err, report), "%s: expected \"%s\"; status %d:\n%s", what, report, c.status, c.err);
}

static inline int t_count_lines(const char *s, const char *prefix)
{
    int n = 0;
    size_t pl = strlen(prefix);
    for (const char *p = s; p && *p;) {
        if (!strncmp(p, prefix, pl))
            n++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return n;
}

#endif /* MGC_TESTING_H */

#ifdef MGC_HEAP_H
/* Spans in the heap now (in use, all classes). */
static inline uint64_t t_heap_spans(void)
{
    uint64_t sys, inuse, n;
    mgc__heap_read_stats(&sys, &inuse, &n);
    return n;
}

/* Occupy the page right after [obj, obj + bytes) with one-page objects
   (8 KiB noscan objects each take a span of one page, first fit), so that a
   large object there cannot grow in place. Returns the objects to free
   afterwards (in a malloc'd array, registered as roots) and their count. */
static inline void **t_occupy_after(void *obj, size_t bytes, size_t *count)
{
    uintptr_t end = (uintptr_t)obj + bytes;
    size_t cap = 1 << 16, n = 0;
    void **held = calloc(cap, sizeof(void *));
    CHECK(held != NULL);
    mgc_add_roots(held, held + cap);
    while (!mgc__span_of(end) && n < cap)
        held[n++] = mgc_alloc_noscan(8192);
    CHECK_MSG(mgc__span_of(end) != NULL, "could not occupy the page after %p", obj);
    *count = n;
    return held;
}

static inline void t_release(void **held, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mgc_free(held[i]);
    mgc_remove_roots(held, held + (1 << 16));
    free(held);
}
#endif
