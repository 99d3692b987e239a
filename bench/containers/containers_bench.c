/*
 * containers_bench — mgc's self-freeing containers (mgc_buf, mgc_map,
 * mgc_vec) with the free on growth and without it, measured side by side
 * in one run, against the limits a C programmer would compare with.
 *
 *   containers_bench [--quick] [--reps N] [--case SUBSTRING] [--variant NAME]
 *                    [--live MIB]
 *
 * QUICK=1 in the environment is --quick; --case and --variant pick what
 * runs (to profile one variant); --live keeps MIB of long-lived objects
 * for the collector to mark in every cycle (default 0, as in Go's
 * benchmark: the cost of a cycle, and so the gain from freeing, grows with
 * the live heap).
 *
 * Cases (a "variant" is one row of the table):
 *   builder_64k, builder_1m: one result of 64 KiB (Go's measurement size)
 *     or 1 MiB built from small appends of 16-64 bytes (a fixed cycle);
 *     time per result.
 *       mgc_buf            mgc_buf_append; the old storage is freed on
 *                          each growth (mgc_free_sized); the result is
 *                          dropped to the collector, as Go's String() is
 *       mgc_buf_nofree     the same code with mgc__containers_free = false:
 *                          every old storage is left to the collector
 *       mgc_buf_freeres    mgc_buf, and the result is freed too (an upper
 *                          bound on what free can do here)
 *       mgc_buf_presized   mgc_buf_grow(final size) first, then the same
 *                          appends: the cost of the append calls alone
 *       mgc_buf_reset      one buffer kept for the whole sample and
 *                          emptied with mgc_buf_reset before each build:
 *                          the appends on memory the last build wrote,
 *                          with no allocation (the floor for any growth)
 *       exact_mgc          the final size allocated once (mgc_alloc_noscan)
 *                          and the pieces memcpy'd in, result dropped: the
 *                          memcpy limit, same allocator
 *       exact_malloc       the same with glibc malloc/free
 *       malloc_double      glibc malloc/free, doubling from 16 bytes like
 *                          mgc_buf, old buffer freed, result freed
 *       glibc_realloc      glibc realloc, doubling from 16, result freed
 *   map_1m: mgc_map growing from empty to 1M entries (16-byte keys, made
 *     beforehand), then mgc_map_free; time per entry. mgc_map vs
 *     mgc_map_nofree.
 *   vec_10m: mgc_vec of pointers growing from empty by 10M push_ptr, then
 *     mgc_vec_free; time per push. mgc_vec vs mgc_vec_nofree.
 *
 * Method: each sample times a fixed amount of work (many results, or one
 * map or vector) with CLOCK_MONOTONIC; every case runs its variants
 * interleaved (rep 1 of each, rep 2 of each, ...) after one untimed
 * warm-up round, so drift hits all alike; each sample starts after an
 * untimed mgc_collect, so no variant pays for another's garbage; median,
 * min and max over the reps (>= 5). Collections the pacer starts during a
 * sample are part of its time (that is the cost of not freeing); the gcs
 * column counts them. Every variant copies with the C library's memcpy,
 * called (see copy below).
 * No assertion is made on timing. Output: a table, one line
 *   RESULT name=<case>/<variant> median_ns=... min_ns=... max_ns=... gcs=...
 * per variant (ns per result, entry or push), and the targets
 * with the measured ratios. Four more ratios, with no target: two compare
 * mgc_buf_freeres with the glibc variants (those free their result, as C
 * must, where mgc_buf leaves it to the collector), and two bound what any
 * growth policy could reach, from mgc_buf_reset, which grows nothing: the
 * speed-up from the free at most nofree / reset, the ratio to realloc at
 * least reset / glibc_realloc.
 *
 * Build: by CMake (target containers_bench), or
 *   gcc -O2 -I include bench/containers/containers_bench.c build/libmgc.a -lpthread
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define SYS_MGC 1 /* the suite's helpers for mgc: now_ns, bench_oom */
#include "../sys.h"

#include <stdbool.h>

/* src/internal/containers.h: true by default; false turns the containers'
   frees off (the static library keeps this internal symbol linkable). */
extern bool mgc__containers_free;

static volatile uint64_t sink;

static uint32_t num_gc(void)
{
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    return ms.num_gc;
}

/* ---- builder -------------------------------------------------------------- */

static const char text[128] __attribute__((aligned(4096))) = "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs! "
                              "0123456789 abcdefghijklmnopqrstuvwxyz";

/* Every variant copies its pieces with the C library's memcpy, called, as
   mgc_buf_append calls it: the compiler's inline expansion of a small
   memcpy is fast or slow by up to 40% depending on where the loop falls
   against 64-byte boundaries, which would make the comparison one of code
   alignment. */
static void *(*volatile copy)(void *, const void *, size_t) = memcpy;

/* Piece lengths 16..64, read from a volatile table: the compiler must not
   know the bound, or it expands an inlined copy into a word loop for some
   variants and calls memcpy for others (real builders append strings of
   unknown length). */
static volatile unsigned char piece_tab[64];
static void init_pieces(void)
{
    for (unsigned k = 0; k < 64; k++)
        piece_tab[k] = (unsigned char)(16 + (k * 7u) % 49u);
}
static inline size_t piece_len(unsigned k) { return piece_tab[k & 63]; }

#define PIECES(target, body)                                                                                 \
    do {                                                                                                     \
        size_t len_ = 0;                                                                                     \
        for (unsigned k = 0; len_ < (target); k++) {                                                         \
            size_t n = piece_len(k);                                                                         \
            if (n > (target) - len_)                                                                         \
                n = (target) - len_;                                                                         \
            const char *src = text + (k & 63);                                                               \
            body;                                                                                            \
            len_ += n;                                                                                       \
        }                                                                                                    \
    } while (0)

static void b_mgc_buf(size_t target)
{
    mgc_buf b = MGC_BUF_INIT;
    PIECES(target, mgc_buf_append(&b, src, n));
    sink += (unsigned char)mgc_buf_bytes(&b)[target - 1];
}

static void b_mgc_buf_presized(size_t target)
{
    mgc_buf b = MGC_BUF_INIT;
    mgc_buf_grow(&b, target);
    PIECES(target, mgc_buf_append(&b, src, n));
    sink += (unsigned char)mgc_buf_bytes(&b)[target - 1];
}

static void b_mgc_buf_freeres(size_t target)
{
    mgc_buf b = MGC_BUF_INIT;
    PIECES(target, mgc_buf_append(&b, src, n));
    sink += (unsigned char)mgc_buf_bytes(&b)[target - 1];
    mgc_buf_free(&b);
}

/* One buffer for the whole sample, emptied by mgc_buf_reset before each
   build and so grown only in the warm-up: the appends alone, on memory
   written by the build before (the floor under every growth policy). */
static mgc_buf reused = MGC_BUF_INIT;
static void b_mgc_buf_reset(size_t target)
{
    mgc_buf_reset(&reused);
    PIECES(target, mgc_buf_append(&reused, src, n));
    sink += (unsigned char)mgc_buf_bytes(&reused)[target - 1];
}

static void b_exact_mgc(size_t target)
{
    char *p = mgc_alloc_noscan(target);
    if (!p)
        bench_oom(target);
    size_t len = 0;
    PIECES(target, (copy(p + len, src, n), len += n));
    sink += (unsigned char)p[target - 1];
}

static void b_exact_malloc(size_t target)
{
    char *p = malloc(target);
    if (!p)
        bench_oom(target);
    size_t len = 0;
    PIECES(target, (copy(p + len, src, n), len += n));
    sink += (unsigned char)p[target - 1];
    free(p);
}

static void b_malloc_double(size_t target)
{
    size_t cap = 16, len = 0;
    char *p = malloc(cap);
    if (!p)
        bench_oom(cap);
    PIECES(target, {
        if (len + n > cap) {
            size_t nc = cap * 2;
            while (nc < len + n)
                nc *= 2;
            char *q = malloc(nc);
            if (!q)
                bench_oom(nc);
            copy(q, p, len);
            free(p);
            p = q;
            cap = nc;
        }
        copy(p + len, src, n);
        len += n;
    });
    sink += (unsigned char)p[target - 1];
    free(p);
}

static void b_realloc(size_t target)
{
    size_t cap = 16, len = 0;
    char *p = malloc(cap);
    if (!p)
        bench_oom(cap);
    PIECES(target, {
        if (len + n > cap) {
            size_t nc = cap * 2;
            while (nc < len + n)
                nc *= 2;
            p = realloc(p, nc);
            if (!p)
                bench_oom(nc);
            cap = nc;
        }
        copy(p + len, src, n);
        len += n;
    });
    sink += (unsigned char)p[target - 1];
    free(p);
}

/* ---- map and vec ----------------------------------------------------------- */

#define KEYLEN 16
static char *keys; /* nkeys x KEYLEN bytes, malloc'd: never scanned */
static size_t nkeys;
static uint64_t anchor[2]; /* what the values and elements point to */

static void m_build(size_t n)
{
    mgc_map m = MGC_MAP_INIT;
    for (size_t i = 0; i < n; i++)
        mgc_map_put(&m, keys + i * KEYLEN, KEYLEN, anchor);
    sink += mgc_map_len(&m);
    mgc_map_free(&m);
}

static void v_build(size_t n)
{
    mgc_vec v;
    mgc_vec_init_ptr(&v);
    for (size_t i = 0; i < n; i++)
        mgc_vec_push_ptr(&v, anchor);
    sink += mgc_vec_len(&v);
    mgc_vec_free(&v);
}

/* ---- a live heap (--live MIB) ------------------------------------------------ */

/* A program's long-lived data, for the collector to mark in every cycle:
   64-byte conservatively scanned nodes in a list. Reachable from a global. */
typedef struct node {
    struct node *next;
    uint64_t pad[7];
} node;
static node *live_list;

static void make_live(size_t mib)
{
    size_t n = mib * (1u << 20) / sizeof(node);
    for (size_t i = 0; i < n; i++) {
        node *x = mgc_alloc(sizeof *x);
        if (!x)
            bench_oom(sizeof *x);
        x->next = live_list;
        x->pad[0] = i;
        live_list = x;
    }
}

/* ---- the harness ------------------------------------------------------------ */

typedef struct variant {
    const char *name;
    void (*fn)(size_t);
    bool nofree; /* run with mgc__containers_free = false */
    bool skip;   /* left out by --variant */
    /* results, in ns per unit of work */
    double *samples;
    uint32_t gcs;
    double median, min, max;
} variant;

typedef struct bcase {
    const char *name;
    const char *unit; /* what one unit of work is */
    size_t size;      /* the argument of fn */
    size_t calls;     /* calls of fn per sample */
    size_t units;     /* units of work per sample */
    variant *v;
    int nv;
} bcase;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double sample(variant *v, const bcase *c)
{
    mgc__containers_free = !v->nofree;
    uint32_t g0 = num_gc();
    uint64_t t0 = now_ns();
    for (size_t u = 0; u < c->calls; u++)
        v->fn(c->size);
    uint64_t t = now_ns() - t0;
    v->gcs += num_gc() - g0;
    mgc__containers_free = true;
    return (double)t / (double)c->units;
}

static void run_case(bcase *c, int reps)
{
    for (int i = 0; i < c->nv; i++) {
        if (c->v[i].skip)
            continue;
        c->v[i].samples = calloc((size_t)reps, sizeof(double));
        sample(&c->v[i], c); /* warm-up: caches, heap size, glibc's arenas */
        c->v[i].gcs = 0;
    }
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < c->nv; i++) {
            if (c->v[i].skip)
                continue;
            /* Every sample starts from the same state: no garbage left by
               the previous one is billed to this one. */
            mgc_collect();
            c->v[i].samples[r] = sample(&c->v[i], c);
        }
    for (int i = 0; i < c->nv; i++) {
        variant *v = &c->v[i];
        if (v->skip)
            continue;
        qsort(v->samples, (size_t)reps, sizeof(double), cmp_double);
        v->min = v->samples[0];
        v->max = v->samples[reps - 1];
        v->median = reps % 2 ? v->samples[reps / 2] : (v->samples[reps / 2 - 1] + v->samples[reps / 2]) / 2;
    }
}

static const variant *find(const bcase *c, const char *name)
{
    for (int i = 0; i < c->nv; i++)
        if (!c->v[i].skip && !strcmp(c->v[i].name, name))
            return &c->v[i];
    return NULL;
}

static void print_case(const bcase *c, int reps)
{
    const variant *base = NULL;
    printf("\n%s: ns per %s; a sample is %zu x %s; %d reps\n", c->name, c->unit, c->units, c->unit, reps);
    printf("  %-18s %12s %12s %12s %9s %6s\n", "variant", "median", "min", "max", "vs first", "gcs");
    for (int i = 0; i < c->nv; i++) {
        const variant *v = &c->v[i];
        if (v->skip)
            continue;
        if (!base)
            base = v;
        printf("  %-18s %12.1f %12.1f %12.1f %8.2fx %6u\n", v->name, v->median, v->min, v->max,
               v->median / base->median, v->gcs);
    }
    for (int i = 0; i < c->nv; i++) {
        const variant *v = &c->v[i];
        if (!v->skip)
            printf("RESULT name=%s/%s median_ns=%.1f min_ns=%.1f max_ns=%.1f gcs=%u reps=%d unit=%s\n", c->name,
                   v->name, v->median, v->min, v->max, v->gcs, reps, c->unit);
    }
}

/* A ratio shown for reading, with no target. */
static void info(const bcase *c, const char *what, const char *a, const char *b)
{
    const variant *x = find(c, a), *y = find(c, b);
    if (x && y)
        printf("  %-14s %-46s %6.2fx  (no target)\n", c->name, what, x->median / y->median);
}

static void target(const bcase *c, const char *what, const char *a, const char *b, double limit,
                   bool higher_is_better)
{
    const variant *x = find(c, a), *y = find(c, b);
    if (!x || !y)
        return;
    double ratio = x->median / y->median;
    bool met = higher_is_better ? ratio >= limit : ratio <= limit;
    printf("  %-14s %-46s %6.2fx  (target %s %.2fx)  %s\n", c->name, what, ratio, higher_is_better ? ">=" : "<=",
           limit, met ? "MET" : "MISSED");
    printf("TARGET name=%s/%s/%s ratio=%.3f limit=%.2f met=%d\n", c->name, a, b, ratio, limit, met);
}

int main(int argc, char **argv)
{
    init_pieces();
    bool quick = getenv("QUICK") && *getenv("QUICK") && strcmp(getenv("QUICK"), "0");
    int reps = 0;
    size_t live_mib = 0;
    const char *only = NULL, *only_variant = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = true;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--case") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--variant") && i + 1 < argc)
            only_variant = argv[++i];
        else if (!strcmp(argv[i], "--live") && i + 1 < argc)
            live_mib = (size_t)atol(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--quick] [--reps N] [--case SUBSTRING] [--variant NAME] [--live MIB]\n", argv[0]);
            return 2;
        }
    }
    if (reps <= 0)
        reps = quick ? 5 : 11;
    if (reps < 5)
        reps = 5;
    mgc_init();
    make_live(live_mib);

    nkeys = quick ? 200000 : 1000000;
    if (only && !strstr(quick ? "map_200k" : "map_1m", only))
        nkeys = 1; /* the map case does not run: no keys to make */
    keys = malloc(nkeys * KEYLEN);
    if (!keys)
        bench_oom(nkeys * KEYLEN);
    for (size_t i = 0; i < nkeys; i++) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "key:%012zu", i);
        memcpy(keys + i * KEYLEN, tmp, KEYLEN);
    }

#define V(n, f, nf) {.name = (n), .fn = (f), .nofree = (nf)}
    variant b64[] = {
        V("mgc_buf", b_mgc_buf, false),         V("mgc_buf_nofree", b_mgc_buf, true),
        V("mgc_buf_freeres", b_mgc_buf_freeres, false), V("mgc_buf_presized", b_mgc_buf_presized, false),
        V("mgc_buf_reset", b_mgc_buf_reset, false),
        V("exact_mgc", b_exact_mgc, false),
        V("exact_malloc", b_exact_malloc, false), V("malloc_double", b_malloc_double, false),
        V("glibc_realloc", b_realloc, false),
    };
    variant b1m[sizeof b64 / sizeof b64[0]];
    memcpy(b1m, b64, sizeof b64);
    variant mv[] = {V("mgc_map", m_build, false), V("mgc_map_nofree", m_build, true)};
    variant vv[] = {V("mgc_vec", v_build, false), V("mgc_vec_nofree", v_build, true)};
    size_t nvec = quick ? 2000000 : 10000000, nb64 = quick ? 500 : 2000, nb1m = quick ? 30 : 100;
    bcase cases[] = {
        {"builder_64k", "result", 64 << 10, nb64, nb64, b64, (int)(sizeof b64 / sizeof b64[0])},
        {"builder_1m", "result", 1 << 20, nb1m, nb1m, b1m, (int)(sizeof b1m / sizeof b1m[0])},
        {quick ? "map_200k" : "map_1m", "entry", nkeys, 1, nkeys, mv, 2},
        {quick ? "vec_2m" : "vec_10m", "push", nvec, 1, nvec, vv, 2},
    };
    int ncases = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < ncases; i++)
        for (int j = 0; j < cases[i].nv; j++)
            cases[i].v[j].skip = only_variant && strcmp(cases[i].v[j].name, only_variant) != 0;

    printf("containers_bench: mgc %d, GOGC=%s, GOMAXPROCS=%s, live heap %zu MiB, %d reps%s\n", mgc_version(),
           getenv("GOGC") ? getenv("GOGC") : "(default)", getenv("GOMAXPROCS") ? getenv("GOMAXPROCS") : "(default)",
           live_mib, reps, quick ? ", quick" : "");
    for (int i = 0; i < ncases; i++) {
        if (only && !strstr(cases[i].name, only))
            continue;
        run_case(&cases[i], reps);
        print_case(&cases[i], reps);
        fflush(stdout);
    }

    printf("\nTargets (issue 4: for builder_64k; the other lines are for information), medians:\n");
    for (int i = 0; i < ncases; i++) {
        bcase *c = &cases[i];
        if (only && !strstr(c->name, only))
            continue;
        if (!strncmp(c->name, "builder", 7)) {
            target(c, "speed-up from the free (nofree / free)", "mgc_buf_nofree", "mgc_buf", 1.5, true);
            target(c, "vs the exact-size copy (mgc_buf / exact_mgc)", "mgc_buf", "exact_mgc", 1.25, false);
            target(c, "vs glibc malloc/free (mgc_buf / malloc_double)", "mgc_buf", "malloc_double", 1.0, false);
            target(c, "vs glibc realloc (mgc_buf / glibc_realloc)", "mgc_buf", "glibc_realloc", 1.0, false);
            /* The glibc variants free their result, as C must; mgc_buf
               leaves it to the collector, as Go's String() does. With
               the result freed too, both sides do the same work. */
            info(c, "result freed (mgc_buf_freeres / malloc_double)", "mgc_buf_freeres", "malloc_double");
            info(c, "result freed (mgc_buf_freeres / glibc_realloc)", "mgc_buf_freeres", "glibc_realloc");
            /* Bounds on the first and last targets: mgc_buf_reset appends
               the same pieces and allocates, grows and copies nothing. No
               growth policy can make mgc_buf faster than that, so the
               speed-up from the free is at most nofree / reset, and
               mgc_buf / glibc_realloc at least reset / glibc_realloc. */
            info(c, "speed-up ceiling: no growth (nofree / reset)", "mgc_buf_nofree", "mgc_buf_reset");
            info(c, "floor vs realloc (reset / glibc_realloc)", "mgc_buf_reset", "glibc_realloc");
        } else {
            target(c, "speed-up from the free (nofree / free)", c->v[1].name, c->v[0].name, 1.0, true);
        }
    }
    free(keys);
    return 0;
}
