/*
 * sys.h — the allocator abstraction of the benchmark suite.
 *
 * Every workload is one C file written once against the macros below and
 * compiled once per system with -DSYS_<NAME> (bench/CMakeLists.txt):
 *
 *   ALLOC(n)          an object that may hold pointers (mgc_alloc, GC_MALLOC,
 *                     malloc); collectors scan it conservatively
 *   ALLOC_NOSCAN(n)   pointer-free data (mgc_alloc_noscan, GC_MALLOC_ATOMIC,
 *                     malloc)
 *   REALLOC(p, n)     mgc_realloc, GC_REALLOC, realloc
 *   FREE(p)           mgc_free (only under MGC_HAVE_FREE), GC_FREE, free
 *   SYS_GC            1 for a collector: the workload may drop objects
 *   SYS_CAN_FREE      1 when FREE really frees
 *   SYS_THREAD_CREATE a pthread_create the system needs to see threads
 *
 * mgc zeroes every object, Boehm every GC_MALLOC one (not GC_MALLOC_ATOMIC),
 * the malloc systems nothing: workloads initialise every byte they read, so
 * malloc-family systems run without calloc.
 *
 * Collector statistics come from each collector's own accounting: mgc's
 * MemStats (num_gc, the pause_ns ring, pause_max_ns) and, for the Boehm GC,
 * its collection-event callback (the time between GC_EVENT_PRE_STOP_WORLD
 * and GC_EVENT_POST_START_WORLD is one pause; GC_EVENT_END ends a cycle). Workloads
 * call gcs_poll() at natural points (between rounds) to copy new pauses out
 * of mgc's 256-entry ring; pauses that fell out of the ring between two polls
 * are counted as lost and reported.
 *
 * A workload prints human-readable lines, then exactly one line
 *   RESULT key=value ...
 * that the driver (driver.c) parses; or "SKIP <reason>" and exit 77 when the
 * system cannot run the variant asked for.
 */
#ifndef BENCH_SYS_H
#define BENCH_SYS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define BENCH_FN static __attribute__((unused))

#if defined(SYS_MGC)
#include <mgc.h>
#define SYS_NAME "mgc"
#define SYS_GC 1
#define SYS_INIT() ((void)mgc_init())
#define ALLOC(n) mgc_alloc(n)
#define ALLOC_NOSCAN(n) mgc_alloc_noscan(n)
#define REALLOC(p, n) mgc_realloc((p), (n))
#ifdef MGC_HAVE_FREE
#define SYS_CAN_FREE 1
#define FREE(p) mgc_free(p)
#else
#define SYS_CAN_FREE 0
#define FREE(p) ((void)(p))
#endif
#define SYS_THREAD_CREATE(t, fn, arg) mgc_pthread_create((t), NULL, (fn), (arg))

#elif defined(SYS_BOEHM)
#define GC_THREADS 1
#include <gc/gc.h>
#define SYS_NAME "boehm"
#define SYS_GC 1
#define SYS_CAN_FREE 1
#define SYS_INIT() sys_boehm_init()
#define ALLOC(n) GC_MALLOC(n)
#define ALLOC_NOSCAN(n) GC_MALLOC_ATOMIC(n)
#define REALLOC(p, n) GC_REALLOC((p), (n))
#define FREE(p) GC_FREE(p)
#define SYS_THREAD_CREATE(t, fn, arg) GC_pthread_create((t), NULL, (fn), (arg))

#elif defined(SYS_GLIBC)
#define SYS_NAME "glibc"
#define SYS_GC 0
#define SYS_CAN_FREE 1
#define SYS_INIT() ((void)0)
#define ALLOC(n) malloc(n)
#define ALLOC_NOSCAN(n) malloc(n)
#define REALLOC(p, n) realloc((p), (n))
#define FREE(p) free(p)
#define SYS_THREAD_CREATE(t, fn, arg) pthread_create((t), NULL, (fn), (arg))

#elif defined(SYS_MIMALLOC)
#include <mimalloc.h>
#define SYS_NAME "mimalloc"
#define SYS_GC 0
#define SYS_CAN_FREE 1
#define SYS_INIT() ((void)0)
#define ALLOC(n) mi_malloc(n)
#define ALLOC_NOSCAN(n) mi_malloc(n)
#define REALLOC(p, n) mi_realloc((p), (n))
#define FREE(p) mi_free(p)
#define SYS_THREAD_CREATE(t, fn, arg) pthread_create((t), NULL, (fn), (arg))

#elif defined(SYS_JEMALLOC)
/* Debian's libjemalloc has no prefix: linking it replaces malloc/free.
   sys_jemalloc_init() checks that it did. */
#include <jemalloc/jemalloc.h>
#define SYS_NAME "jemalloc"
#define SYS_GC 0
#define SYS_CAN_FREE 1
#define SYS_INIT() sys_jemalloc_init()
#define ALLOC(n) malloc(n)
#define ALLOC_NOSCAN(n) malloc(n)
#define REALLOC(p, n) realloc((p), (n))
#define FREE(p) free(p)
#define SYS_THREAD_CREATE(t, fn, arg) pthread_create((t), NULL, (fn), (arg))

#elif defined(SYS_TCMALLOC)
#include <gperftools/tcmalloc.h>
#define SYS_NAME "tcmalloc"
#define SYS_GC 0
#define SYS_CAN_FREE 1
#define SYS_INIT() ((void)0)
#define ALLOC(n) tc_malloc(n)
#define ALLOC_NOSCAN(n) tc_malloc(n)
#define REALLOC(p, n) tc_realloc((p), (n))
#define FREE(p) tc_free(p)
#define SYS_THREAD_CREATE(t, fn, arg) pthread_create((t), NULL, (fn), (arg))

#else
#error "compile with one of -DSYS_MGC -DSYS_BOEHM -DSYS_GLIBC -DSYS_MIMALLOC -DSYS_JEMALLOC -DSYS_TCMALLOC"
#endif

/* ---- small helpers ------------------------------------------------------- */

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: the same generator in the Go ports (bench/go/common.go). */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

BENCH_FN __attribute__((noreturn)) void bench_oom(size_t n)
{
    fprintf(stderr, "%s: allocation of %zu bytes failed\n", SYS_NAME, n);
    exit(2);
}

BENCH_FN __attribute__((noreturn)) void bench_skip(const char *reason)
{
    printf("SKIP %s\n", reason);
    fflush(stdout);
    exit(77);
}

BENCH_FN __attribute__((noreturn)) void bench_usage(const char *usage)
{
    fprintf(stderr, "usage: %s\n", usage);
    exit(64);
}

/* Modes a workload can be run in:
     drop     collectors only: garbage is dropped, the collector reclaims it
     free     garbage is freed explicitly (the only mode for malloc systems)
   and workload-specific ones (realloc, exact in builder). bench_mode_free()
   answers "does this run call FREE?" and skips a run the system cannot do. */
BENCH_FN int bench_mode_free(const char *mode)
{
    if (strcmp(mode, "drop") == 0) {
        if (!SYS_GC)
            bench_skip("drop mode needs a collector");
        return 0;
    }
    if (strcmp(mode, "free") == 0) {
        if (!SYS_CAN_FREE)
            bench_skip("mgc_free not in this build (MGC_HAVE_FREE undefined)");
        return 1;
    }
    return -1; /* a workload-specific mode */
}

/* The start of every drop/free workload's main: nargs arguments after the
   program name, the first a mode of bench_mode_free; anything else prints
   usage and exits 64. Returns whether the run frees. */
BENCH_FN int bench_args(int argc, char **argv, int nargs, const char *usage)
{
    if (argc != nargs + 1)
        bench_usage(usage);
    int f = bench_mode_free(argv[1]);
    if (f < 0)
        bench_usage(usage);
    return f;
}

/* ---- collector statistics ------------------------------------------------ */

/* Pauses are kept in an anonymous mapping: neither collector scans it, and
   the Boehm callback can append to it without allocating. */
#define GCS_CAP (1u << 20)
static struct {
    uint64_t *pause;   /* GCS_CAP entries */
    uint32_t n;        /* pauses recorded */
    uint64_t lost;     /* pauses that left mgc's ring before a poll */
    uint32_t seen_gc;  /* cycles already copied (mgc) */
    uint64_t max_ns;   /* longest pause */
    uint64_t total_ns; /* all pauses */
    uint64_t stw_t0;   /* Boehm: when the world began to stop */
    uint64_t cycles;   /* Boehm: collections seen ending (GC_EVENT_END) */
} gcs;

BENCH_FN void gcs_setup(void)
{
    if (gcs.pause)
        return;
    void *m = mmap(NULL, GCS_CAP * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    gcs.pause = m;
}

static inline void gcs_add(uint64_t ns)
{
    if (gcs.n < GCS_CAP)
        gcs.pause[gcs.n++] = ns;
    else
        gcs.lost++;
}

#if defined(SYS_BOEHM)
static void GC_CALLBACK sys_boehm_event(GC_EventType e)
{
    if (e == GC_EVENT_END) {
        gcs.cycles++;
    } else if (e == GC_EVENT_PRE_STOP_WORLD) {
        gcs.stw_t0 = now_ns();
    } else if (e == GC_EVENT_POST_START_WORLD && gcs.stw_t0) {
        uint64_t d = now_ns() - gcs.stw_t0;
        gcs.stw_t0 = 0;
        gcs_add(d);
        gcs.total_ns += d;
        if (d > gcs.max_ns)
            gcs.max_ns = d;
    }
}

BENCH_FN void sys_boehm_init(void)
{
    gcs_setup();
    GC_INIT();
    GC_set_on_collection_event(sys_boehm_event);
}
#endif

#if defined(SYS_JEMALLOC)
BENCH_FN void sys_jemalloc_init(void)
{
    const char *v = NULL;
    size_t len = sizeof v;
    if (mallctl("version", &v, &len, NULL, 0) != 0 || !v) {
        fprintf(stderr, "jemalloc: mallctl(\"version\") failed: not linked?\n");
        exit(2);
    }
}
#endif

/* Copy new pauses out of the collector. Cheap for Boehm (nothing to do);
   for mgc it reads MemStats, which stops the world briefly: call it between
   rounds, not per object. */
BENCH_FN void gcs_poll(void)
{
#if defined(SYS_MGC)
    static mgc_memstats ms; /* ~7 KiB: not on the stack */
    gcs_setup();
    mgc_read_memstats(&ms);
    uint32_t from = gcs.seen_gc, to = ms.num_gc;
    if (to - from > 256) {
        gcs.lost += to - from - 256;
        from = to - 256;
    }
    for (uint32_t c = from + 1; c <= to; c++)
        gcs_add(ms.pause_ns[(c - 1) % 256]);
    gcs.seen_gc = to;
    gcs.max_ns = ms.pause_max_ns;
    gcs.total_ns = ms.pause_total_ns;
#endif
}

BENCH_FN int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* p-th percentile (0 < p <= 100) of v[0..n), nearest rank; sorts v. */
BENCH_FN uint64_t percentile_u64(uint64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_u64);
    size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

/* Appends the collector fields to the RESULT line being printed. */
BENCH_FN void gcs_print(FILE *f)
{
#if SYS_GC
    gcs_poll();
    uint64_t cycles;
#if defined(SYS_MGC)
    cycles = gcs.seen_gc;
#else
    cycles = gcs.cycles; /* libgc 8.2: GC_get_gc_no() is one more than this */
#endif
    uint32_t n = gcs.n;
    uint64_t p99 = percentile_u64(gcs.pause, n, 99.0);
    fprintf(f, " cycles=%llu pause_max_ns=%llu pause_p99_ns=%llu pause_total_ns=%llu pause_samples=%u",
            (unsigned long long)cycles, (unsigned long long)gcs.max_ns,
            (unsigned long long)p99, (unsigned long long)gcs.total_ns, n);
    if (gcs.lost)
        fprintf(f, " pause_lost=%llu", (unsigned long long)gcs.lost);
#else
    (void)f;
#endif
}

BENCH_FN void bench_init(void)
{
    gcs_setup();
    SYS_INIT();
}

#endif /* BENCH_SYS_H */
