/*
 * mgc-demo — the main job (`make run`): the collector at work on three
 * workloads, with GODEBUG=gctrace=1 printing a line per cycle.
 *
 *   1. binary trees of depth 18 (the benchmarks game's shape: a stretch
 *      tree, a long-lived tree, then many short-lived trees of growing
 *      depth), checked node by node;
 *   2. a long-lived cache under churn: a hash table of 200,000 records
 *      (strings and byte payloads, ~40 MB live) where every round replaces
 *      a tenth of the records and verifies a sample of checksums;
 *   3. a word index built with the hand tools (issue 4): each line is
 *      built in an mgc_buf (freeing its old storage as it grows) and freed
 *      when copied into a tracked scope, whose copy is cut into words and
 *      freed at the end of the line; the words are counted in an mgc_map
 *      of long-lived entries, then ranked through an mgc_vec and reported
 *      with mgc_buf_printf; totals checked against the input.
 *
 * Then a summary: cycles, total and longest pause, peak heap, peak RSS,
 * and how many objects were freed by hand.
 * Usage: mgc-demo [depth] [cache-records] [rounds] [index-lines]
 */
#include <mgc.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- binary trees ------------------------------------------------------- */

typedef struct tree {
    struct tree *left, *right;
} tree;

static tree *make_tree(int depth)
{
    tree *t = mgc_alloc(sizeof *t);
    if (depth > 0) {
        t->left = make_tree(depth - 1);
        t->right = make_tree(depth - 1);
    }
    return t;
}

static long check_tree(const tree *t)
{
    return 1 + (t->left ? check_tree(t->left) + check_tree(t->right) : 0);
}

static int binary_trees(int max_depth)
{
    int bad = 0;
    tree *stretch = make_tree(max_depth + 1);
    long c = check_tree(stretch);
    printf("stretch tree of depth %d\t check: %ld\n", max_depth + 1, c);
    bad |= c != (2L << (max_depth + 1)) - 1;
    stretch = NULL;
    tree *long_lived = make_tree(max_depth);
    for (int d = 4; d <= max_depth; d += 2) {
        long iterations = 1L << (max_depth - d + 4), sum = 0;
        for (long i = 0; i < iterations; i++)
            sum += check_tree(make_tree(d));
        printf("%ld\t trees of depth %d\t check: %ld\n", iterations, d, sum);
        bad |= sum != iterations * ((2L << d) - 1);
    }
    c = check_tree(long_lived);
    printf("long lived tree of depth %d\t check: %ld\n", max_depth, c);
    bad |= c != (2L << max_depth) - 1;
    return bad;
}

/* ---- a long-lived cache under churn ------------------------------------- */

typedef struct record {
    struct record *next; /* hash chain */
    char *key;           /* mgc_strdup: noscan */
    uint8_t *payload;    /* mgc_alloc_noscan */
    size_t len;
    uint64_t sum;        /* checksum of payload */
} record;

typedef struct cache {
    record **buckets; /* mgc_alloc: scanned */
    size_t nbuckets, n;
} cache;

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static record *make_record(const char *key)
{
    record *r = mgc_alloc(sizeof *r);
    r->key = mgc_strdup(key);
    r->len = 32 + next_rand() % 256;
    r->payload = mgc_alloc_noscan(r->len);
    uint64_t s = 0;
    for (size_t i = 0; i < r->len; i++) {
        r->payload[i] = (uint8_t)next_rand();
        s = s * 31 + r->payload[i];
    }
    r->sum = s;
    return r;
}

static void cache_put(cache *c, const char *key)
{
    record **b = &c->buckets[hash(key) % c->nbuckets];
    for (record **p = b; *p; p = &(*p)->next) {
        if (!strcmp((*p)->key, key)) {
            record *r = make_record(key);
            r->next = (*p)->next;
            *p = r; /* the old record becomes garbage */
            return;
        }
    }
    record *r = make_record(key);
    r->next = *b;
    *b = r;
    c->n++;
}

static int cache_verify(const cache *c, const char *key)
{
    for (record *r = c->buckets[hash(key) % c->nbuckets]; r; r = r->next) {
        if (strcmp(r->key, key))
            continue;
        uint64_t s = 0;
        for (size_t i = 0; i < r->len; i++)
            s = s * 31 + r->payload[i];
        return s == r->sum;
    }
    return 0;
}

static int cache_churn(size_t nrecords, int rounds)
{
    cache c = {0};
    c.nbuckets = nrecords;
    c.buckets = mgc_alloc(c.nbuckets * sizeof(record *));
    char key[32];
    for (size_t i = 0; i < nrecords; i++) {
        snprintf(key, sizeof key, "key-%zu", i);
        cache_put(&c, key);
    }
    int bad = 0;
    for (int r = 0; r < rounds; r++) {
        for (size_t i = 0; i < nrecords / 10; i++) {
            snprintf(key, sizeof key, "key-%" PRIu64, next_rand() % nrecords);
            cache_put(&c, key);
        }
        for (int i = 0; i < 1000; i++) {
            snprintf(key, sizeof key, "key-%" PRIu64, next_rand() % nrecords);
            if (!cache_verify(&c, key))
                bad = 1;
        }
    }
    printf("cache: %zu records, %d rounds replacing 10%% each, 1000 lookups verified per round: %s\n",
           c.n, rounds, bad ? "MISMATCH" : "ok");
    return bad || c.n != nrecords;
}

/* ---- a word index built with the hand tools ------------------------------ */

typedef struct entry {
    uint64_t count;
    char word[]; /* NUL-terminated */
} entry;

static int word_index(long nlines)
{
    mgc_map index = MGC_MAP_INIT;
    uint64_t words = 0;
    for (long l = 0; l < nlines; l++) {
        MGC_SCOPE(line_scope); /* the words' copies go when the line is done */
        mgc_buf line = MGC_BUF_INIT;
        int nw = 4 + (int)(next_rand() % 12);
        for (int w = 0; w < nw; w++) {
            /* A Zipf-like vocabulary: small numbers are frequent. */
            uint64_t r = next_rand() % 5000;
            mgc_buf_printf(&line, "%sw%" PRIu64, w ? " " : "", r * r / 5000);
        }
        /* A working copy to cut into words, the scope's to free. */
        size_t len = mgc_buf_len(&line);
        char *text = mgc_scope_alloc_noscan(&line_scope, len + 1);
        memcpy(text, mgc_buf_bytes(&line), len);
        mgc_buf_free(&line);
        for (char *p = text; *p;) {
            size_t n = strcspn(p, " ");
            char *word = p;
            word[n] = 0;
            entry *e = mgc_map_get(&index, word, n);
            if (!e) {
                e = mgc_alloc(sizeof *e + n + 1);
                memcpy(e->word, word, n + 1);
                mgc_map_put(&index, word, n, e);
            }
            e->count++;
            words++;
            p += n + (p + n < text + len);
        }
    }
    /* Rank: every entry into a vector of pointers, the five largest to the
       front by selection. */
    mgc_vec all;
    mgc_vec_init_ptr(&all);
    uint64_t total = 0;
    mgc_map_iter it;
    mgc_map_iter_init(&it, &index);
    while (mgc_map_next(&it)) {
        entry *e = it.value;
        total += e->count;
        mgc_vec_push_ptr(&all, e);
    }
    size_t n = mgc_vec_len(&all), top = n < 5 ? n : 5;
    for (size_t i = 0; i < top; i++)
        for (size_t j = i + 1; j < n; j++) {
            entry *a = mgc_vec_get_ptr(&all, i), *b = mgc_vec_get_ptr(&all, j);
            if (b->count > a->count) {
                mgc_vec_set_ptr(&all, i, b);
                mgc_vec_set_ptr(&all, j, a);
            }
        }
    mgc_buf report = MGC_BUF_INIT;
    mgc_buf_printf(&report, "index: %ld lines, %" PRIu64 " words, %zu distinct; most frequent:", nlines, words, n);
    for (size_t i = 0; i < top; i++) {
        entry *e = mgc_vec_get_ptr(&all, i);
        mgc_buf_printf(&report, " %s (%" PRIu64 ")", e->word, e->count);
    }
    int bad = total != words || n != mgc_map_len(&index);
    printf("%s: %s\n", mgc_buf_cstr(&report), bad ? "MISMATCH" : "ok");
    mgc_buf_free(&report);
    mgc_vec_free(&all);
    mgc_map_free(&index);
    return bad;
}

int main(int argc, char **argv)
{
    int depth = argc > 1 ? atoi(argv[1]) : 18;
    size_t records = argc > 2 ? (size_t)atol(argv[2]) : 200000;
    int rounds = argc > 3 ? atoi(argv[3]) : 40;
    long lines = argc > 4 ? atol(argv[4]) : 300000;
    if (mgc_init() != 0) {
        fprintf(stderr, "mgc-demo: mgc_init failed\n");
        return 1;
    }
    double t0 = now();
    int bad = binary_trees(depth);
    double t1 = now();
    bad |= cache_churn(records, rounds);
    double t2 = now();
    bad |= word_index(lines);
    double t3 = now();

    mgc_memstats ms;
    mgc_read_memstats(&ms);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("\nsummary\n");
    char label[64];
    snprintf(label, sizeof label, "binary trees (depth %d)", depth);
    printf("  %-29s%.2f s\n", label, t1 - t0);
    snprintf(label, sizeof label, "cache churn (%zu records)", records);
    printf("  %-29s%.2f s\n", label, t2 - t1);
    snprintf(label, sizeof label, "word index (%ld lines)", lines);
    printf("  %-29s%.2f s\n", label, t3 - t2);
    printf("  cycles                       %u (%u forced)\n", ms.num_gc, ms.num_forced_gc);
    printf("  total pause                  %.1f ms\n", ms.pause_total_ns / 1e6);
    printf("  longest pause                %.2f ms\n", ms.pause_max_ns / 1e6);
    printf("  peak heap                    %.1f MiB (heap_sys %.1f MiB)\n", ms.heap_live_peak / 1048576.0,
           ms.heap_sys / 1048576.0);
    printf("  peak RSS                     %.1f MiB\n", ru.ru_maxrss / 1024.0);
    printf("  objects allocated            %" PRIu64 " (%.1f GiB)\n", ms.mallocs, ms.total_alloc / 1073741824.0);
    printf("  freed by hand                %" PRIu64 " objects (%" PRIu64 " large)\n", ms.frees_explicit,
           ms.frees_explicit_large);
    printf("  GC CPU fraction              %.1f%%\n", ms.gc_cpu_fraction * 100);
    printf("  result                       %s\n", bad ? "FAILED" : "ok");
    return bad;
}
