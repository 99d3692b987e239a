// ctest-timeout: 180
/* mgc_map, the self-freeing hash map from byte strings to pointers: put,
   get, lookup, delete, clear and length against a reference model under a
   random mix of operations (deleted marks and same-size rebuilds
   included); keys of every length 0-100 and binary keys; the table's
   layout (typed, only the key and value words are pointers) and the keys'
   (noscan); values and keys surviving many collections with garbage in
   between when only the map references them, and deleted values being
   reclaimed; a map of 1M entries; iteration visiting each entry once in
   any order, with deletes during it; growth freeing the old table and
   delete freeing the key copy (frees_explicit rises, and the next
   allocation of that size and kind on this thread is the old address);
   the no-free switch; and the one-line aborts for misuse. */
#include "internal/containers.h"
#include "internal/heap.h"
#include "testing.h"
#include <mgc.h>

#define NOINLINE __attribute__((noinline))

static int g_sanitized;


/* Key i as text: "key-<i>" padded to at least minlen bytes. */
static size_t make_key(char *k, size_t i, size_t minlen)
{
    int n = snprintf(k, 64, "key-%zu", i);
    while ((size_t)n < minlen)
        k[n++] = '.';
    return (size_t)n;
}

static void basics(void)
{
    mgc_map m = MGC_MAP_INIT;
    CHECK_EQ(mgc_map_len(&m), 0);
    CHECK(mgc_map_get(&m, "a", 1) == NULL);
    CHECK(!mgc_map_delete(&m, "a", 1));
    void *v = &m;
    CHECK(!mgc_map_lookup(&m, "a", 1, &v) && v == NULL);
    int x, y, z;
    mgc_map_put(&m, "alpha", 5, &x);
    mgc_map_put(&m, "beta", 4, &y);
    mgc_map_put(&m, "", 0, &z); /* the empty key */
    mgc_map_put(&m, NULL, 0, &z);
    mgc_map_put(&m, "nil", 3, NULL); /* a NULL value */
    CHECK_EQ(mgc_map_len(&m), 4);
    CHECK(mgc_map_get(&m, "alpha", 5) == &x);
    CHECK(mgc_map_get(&m, "alph", 4) == NULL);
    CHECK(mgc_map_get(&m, "alphaa", 6) == NULL);
    CHECK(mgc_map_get(&m, "beta", 4) == &y);
    CHECK(mgc_map_get(&m, NULL, 0) == &z);
    CHECK(mgc_map_lookup(&m, "nil", 3, &v) && v == NULL);
    CHECK(mgc_map_lookup(&m, "nil", 3, NULL));
    mgc_map_put(&m, "alpha", 5, &y); /* replace */
    CHECK(mgc_map_get(&m, "alpha", 5) == &y);
    CHECK_EQ(mgc_map_len(&m), 4);
    CHECK(mgc_map_delete(&m, "alpha", 5));
    CHECK(!mgc_map_delete(&m, "alpha", 5));
    CHECK(mgc_map_get(&m, "alpha", 5) == NULL);
    CHECK_EQ(mgc_map_len(&m), 3);
    CHECK(mgc_map_delete(&m, "", 0));
    CHECK_EQ(mgc_map_len(&m), 2);

    /* Binary keys and every length 0-100: the hash reads each byte. */
    char k[101];
    for (size_t len = 0; len <= 100; len++) {
        for (size_t i = 0; i < len; i++)
            k[i] = (char)(i * 7 + len);
        mgc_map_put(&m, k, len, (void *)(uintptr_t)(len * 16 + 1));
    }
    CHECK_EQ(mgc_map_len(&m), 2 + 101);
    for (size_t len = 0; len <= 100; len++) {
        for (size_t i = 0; i < len; i++)
            k[i] = (char)(i * 7 + len);
        CHECK(mgc_map_get(&m, k, len) == (void *)(uintptr_t)(len * 16 + 1));
        if (len) { /* one byte different, anywhere: another key */
            for (size_t i = 0; i < len; i++) {
                k[i] ^= 1;
                CHECK(mgc_map_get(&m, k, len) == NULL);
                k[i] ^= 1;
            }
        }
    }
    /* Zero bytes inside keys. */
    mgc_map_put(&m, "a\0b", 3, &x);
    mgc_map_put(&m, "a\0c", 3, &y);
    CHECK(mgc_map_get(&m, "a\0b", 3) == &x && mgc_map_get(&m, "a\0c", 3) == &y);

    /* The table is typed: key and value words are pointers, hash and
       length are not; keys are noscan. */
    mgc_span *s = mgc__span_of((uintptr_t)m.slots);
    CHECK(s && s->kind == MGC_KIND_TYPED);
    mgc_map_iter it;
    mgc_map_iter_init(&it, &m);
    int seen = 0;
    while (mgc_map_next(&it)) {
        if (it.keylen) {
            mgc_span *ks = mgc__span_of((uintptr_t)it.key);
            CHECK(ks && (ks->kind == MGC_KIND_NOSCAN || ks->kind == MGC_KIND_TINY));
            CHECK(mgc_usable_size(it.key) >= it.keylen);
        }
        seen++;
    }
    CHECK_EQ(seen, mgc_map_len(&m));
    for (int i = 0; i < 5000; i++) /* large table */
        mgc_map_put(&m, k, make_key(k, (size_t)i, 0), &x);
    s = mgc__span_of((uintptr_t)m.slots);
    CHECK(s && s->kind == MGC_KIND_TYPED && s->large);
    CHECK(s->large_type && s->large_type->size == 32 && s->large_type->ptrdata == 32 &&
          s->large_type->ptrmask[0] == 0x0C);
    CHECK_EQ(s->large_count, m.mask + 1);

    /* clear: empty, table kept; free: table gone. */
    void *table = m.slots;
    mgc_map_clear(&m);
    CHECK(mgc_map_len(&m) == 0 && m.slots == table && mgc_map_get(&m, "beta", 4) == NULL);
    mgc_map_put(&m, "beta", 4, &y);
    CHECK(mgc_map_get(&m, "beta", 4) == &y);
    mgc_map_free(&m);
    CHECK(mgc_map_len(&m) == 0 && m.slots == NULL && mgc_map_get(&m, "beta", 4) == NULL);
    mgc_map_put(&m, "beta", 4, &y);
    CHECK(mgc_map_get(&m, "beta", 4) == &y);
    mgc_map_free(&m);
    mgc_map_free(&m);
    mgc_map_init(&m);
}

/* A random mix of put, replace, delete, get against an array model, over a
   small key space (so deleted marks, their reuse and same-size rebuilds
   happen) and then a growing one. */
static void model(void)
{
    enum { NK = 5000 };
    uintptr_t *ref = calloc(NK, sizeof *ref); /* 0 = absent, else value */
    mgc_map m = MGC_MAP_INIT;
    size_t len = 0, maxslots = 0;
    char k[64];
    int ops = g_sanitized ? 200000 : 2000000;
    for (int op = 0; op < ops; op++) {
        size_t space = op < ops / 2 ? 300 : NK;
        size_t i = t_rand_below(space);
        size_t kl = make_key(k, i, i % 40);
        unsigned r = (unsigned)t_rand_below(10);
        if (r < 4) {
            uintptr_t val = (t_rand() << 4) | 8;
            mgc_map_put(&m, k, kl, (void *)val);
            len += ref[i] == 0;
            ref[i] = val;
        } else if (r < 7) {
            CHECK_EQ(mgc_map_delete(&m, k, kl), ref[i] != 0);
            len -= ref[i] != 0;
            ref[i] = 0;
        } else {
            void *v;
            int found = mgc_map_lookup(&m, k, kl, &v);
            CHECK_EQ(found, ref[i] != 0);
            CHECK((uintptr_t)v == ref[i]);
        }
        CHECK_EQ(mgc_map_len(&m), len);
        if (op < ops / 2 && m.slots && m.mask + 1 > maxslots)
            maxslots = m.mask + 1;
        if (op % 100000 == 0)
            mgc_collect();
    }
    /* 300 keys under churn never needed more than 300 / (3/8) slots. */
    CHECK_MSG(maxslots <= 1024, "a map of at most 300 keys grew to %zu slots", maxslots);
    for (size_t i = 0; i < NK; i++) {
        size_t kl = make_key(k, i, i % 40);
        CHECK((uintptr_t)mgc_map_get(&m, k, kl) == ref[i]);
    }
    mgc_map_free(&m);
    free(ref);
}

/* ---- liveness ----------------------------------------------------------- */


static NOINLINE void fill(mgc_map *m, size_t n, uintptr_t *vals)
{
    char k[64];
    for (size_t i = 0; i < n; i++) {
        uint64_t *o = tagged(i);
        vals[i] = t_hide(o);
        mgc_map_put(m, k, make_key(k, i, i % 24), o);
        if (i % 4 == 0)
            (void)!mgc_alloc(64);
    }
}

static NOINLINE int count_live(const uintptr_t *vals, size_t from, size_t to, size_t step)
{
    int live = 0;
    for (size_t i = from; i < to; i += step)
        live += mgc_base(t_unhide(vals[i])) != NULL;
    return live;
}

/* Values and keys reachable only through the map survive collections
   with garbage in between; deleted values are reclaimed. */
static void liveness(void)
{
    size_t n = g_sanitized ? 20000 : 200000;
    uintptr_t *vals = malloc(n * sizeof *vals);
    mgc_memstats ms0, ms1;
    mgc_read_memstats(&ms0);
    mgc_map m = MGC_MAP_INIT;
    fill(&m, n, vals);
    t_scrub_stack();
    for (int r = 0; r < 10; r++) {
        t_garbage(20000);
        mgc_collect();
    }
    mgc_read_memstats(&ms1);
    CHECK(ms1.num_gc - ms0.num_gc >= 10);
    char k[64];
    for (size_t i = 0; i < n; i++) {
        size_t kl = make_key(k, i, i % 24);
        uint64_t *o = mgc_map_get(&m, k, kl);
        CHECK_MSG(o == t_unhide(vals[i]) && tag_ok(o, i), "entry %zu", i);
    }
    /* Iteration sees intact keys. */
    mgc_map_iter it;
    mgc_map_iter_init(&it, &m);
    size_t seen = 0;
    while (mgc_map_next(&it)) {
        char text[64] = {0}; /* the copy is not NUL-terminated */
        CHECK(it.keylen < sizeof text);
        memcpy(text, it.key, it.keylen);
        size_t i = strtoul(text + 4, NULL, 10);
        CHECK(i < n && it.keylen == make_key(k, i, i % 24) && !memcmp(k, it.key, it.keylen));
        CHECK(it.value == t_unhide(vals[i]));
        seen++;
    }
    CHECK_EQ(seen, n);
    /* Delete the odd entries: their values are reclaimed. */
    for (size_t i = 1; i < n; i += 2)
        CHECK(mgc_map_delete(&m, k, make_key(k, i, i % 24)));
    t_scrub_stack();
    mgc_collect();
    mgc_collect();
    int live = count_live(vals, 1, n, 2);
    CHECK_MSG(live <= (int)(n / 2 / 20), "%d of %zu deleted values survived", live, n / 2);
    CHECK_EQ(count_live(vals, 0, n, 2), (n + 1) / 2);
    mgc_map_free(&m);
    free(vals);
}

/* A map of 1M entries (scaled down under sanitizers), built with its
   growth, checked, half deleted, refilled. */
static void big(void)
{
    size_t n = g_sanitized ? 100000 : 1000000;
    mgc_map m = MGC_MAP_INIT;
    char k[64];
    double t0 = t_now();
    for (size_t i = 0; i < n; i++)
        mgc_map_put(&m, k, make_key(k, i, 0), (void *)(uintptr_t)(i * 16 + 16));
    CHECK_EQ(mgc_map_len(&m), n);
    CHECK(m.used <= (m.mask + 1) / 4 * 3 && m.used * 8 > (m.mask + 1) * 3); /* 3/8 < load <= 3/4 */
    for (size_t i = 0; i < n; i++)
        CHECK(mgc_map_get(&m, k, make_key(k, i, 0)) == (void *)(uintptr_t)(i * 16 + 16));
    CHECK(mgc_map_get(&m, k, make_key(k, n, 0)) == NULL);
    for (size_t i = 0; i < n; i += 2)
        CHECK(mgc_map_delete(&m, k, make_key(k, i, 0)));
    CHECK_EQ(mgc_map_len(&m), n / 2);
    mgc_collect();
    for (size_t i = 0; i < n; i++)
        CHECK(mgc_map_get(&m, k, make_key(k, i, 0)) == (i % 2 ? (void *)(uintptr_t)(i * 16 + 16) : NULL));
    for (size_t i = 0; i < n; i += 2)
        mgc_map_put(&m, k, make_key(k, i, 0), (void *)(uintptr_t)(i * 16 + 16));
    CHECK_EQ(mgc_map_len(&m), n);
    size_t count = 0;
    mgc_map_iter it;
    mgc_map_iter_init(&it, &m);
    while (mgc_map_next(&it))
        count++;
    CHECK_EQ(count, n);
    mgc_map_free(&m);
    fprintf(stderr, "big: %zu entries in %.2f s\n", n, t_now() - t0);
}

/* ---- iteration ---------------------------------------------------------- */

static void iteration(void)
{
    enum { N = 3000 };
    char k[64];
    mgc_map a = MGC_MAP_INIT, b = MGC_MAP_INIT;
    for (size_t i = 0; i < N; i++)
        mgc_map_put(&a, k, make_key(k, i, 0), (void *)(uintptr_t)(i * 16 + 16));
    for (size_t i = N; i-- > 0;) /* the same contents, inserted the other way */
        mgc_map_put(&b, k, make_key(k, i, 0), (void *)(uintptr_t)(i * 16 + 16));
    /* Each entry exactly once, in both; orders may differ, sets may not. */
    unsigned char *seen_a = calloc(N, 1), *seen_b = calloc(N, 1);
    size_t first[4];
    for (int round = 0; round < 4; round++) {
        memset(seen_a, 0, N);
        memset(seen_b, 0, N);
        mgc_map_iter it;
        mgc_map_iter_init(&it, &a);
        int c = 0;
        while (mgc_map_next(&it)) {
            size_t i = (uintptr_t)it.value / 16 - 1;
            CHECK(i < N && !seen_a[i]++);
            CHECK(it.keylen == make_key(k, i, 0) && !memcmp(it.key, k, it.keylen));
            if (c++ == 0)
                first[round] = i;
        }
        CHECK(!mgc_map_next(&it) && it.key == NULL); /* stays at the end */
        mgc_map_iter_init(&it, &b);
        while (mgc_map_next(&it)) {
            size_t i = (uintptr_t)it.value / 16 - 1;
            CHECK(i < N && !seen_b[i]++);
        }
        for (size_t i = 0; i < N; i++)
            CHECK(seen_a[i] == 1 && seen_b[i] == 1);
    }
    /* The start is random, as Go's: four iterations rarely all start alike. */
    CHECK(first[0] != first[1] || first[1] != first[2] || first[2] != first[3]);

    /* Deleting during iteration, the current entry and others (seen or
       not), and replacing values: every entry not deleted is visited
       exactly once, and none deleted before its turn is. */
    memset(seen_a, 0, N);
    mgc_map_iter it;
    mgc_map_iter_init(&it, &a);
    unsigned char *deleted = calloc(N, 1);
    while (mgc_map_next(&it)) {
        size_t i = (uintptr_t)it.value / 16 - 1;
        CHECK(!deleted[i] && !seen_a[i]++);
        if (i % 3 == 0) {
            CHECK(mgc_map_delete(&a, it.key, it.keylen)); /* frees the key it.key points to */
            deleted[i] = 1;
        }
        size_t j = (i * 7919 + 1) % N; /* another entry, seen or not */
        if (!deleted[j] && j % 5 == 0) {
            CHECK(mgc_map_delete(&a, k, make_key(k, j, 0)));
            deleted[j] = 1;
        }
        j = (i * 104729 + 3) % N;
        if (!deleted[j]) /* replace a value: same value, so the check above holds */
            mgc_map_put(&a, k, make_key(k, j, 0), (void *)(uintptr_t)(j * 16 + 16));
    }
    size_t left = 0;
    for (size_t i = 0; i < N; i++) {
        left += !deleted[i];
        CHECK(deleted[i] || seen_a[i] == 1);
    }
    CHECK_EQ(mgc_map_len(&a), left);
    free(deleted);
    free(seen_a);
    free(seen_b);
    mgc_map_free(&a);
    mgc_map_free(&b);
}

/* ---- growth frees ------------------------------------------------------- */

static const uint8_t slot_mask[] = {0x0C};
static const mgc_type slot_like = {32, 32, slot_mask, "slot-like"};

static void growth_frees(void)
{
    int gogc = mgc_set_gc_percent(-1); /* no cycle may drop the reuse lists */
    mgc_map m = MGC_MAP_INIT;
    char k[64];
    size_t i = 0;
    mgc_map_put(&m, k, make_key(k, i++, 0), NULL);
    while (m.mask + 1 <= 8192) {
        void *old = m.slots;
        size_t oldn = m.mask + 1;
        uint64_t gen = m.gen;
        mgc_memstats a, b;
        mgc_read_memstats(&a);
        while (m.gen == gen)
            mgc_map_put(&m, k, make_key(k, i++, 0), NULL); /* keys < 16 bytes: tiny, not freed */
        mgc_read_memstats(&b);
        CHECK_EQ(m.mask + 1, oldn * 2);
        CHECK_EQ(b.frees_explicit - a.frees_explicit, 1);
        CHECK_EQ(b.frees_explicit_large - a.frees_explicit_large, oldn * 32 + 16 > 32768);
        if (oldn * 32 + 16 <= 32768) { /* small: LIFO reuse of the slot */
            void *p = mgc_alloc_array(&slot_like, oldn);
            CHECK_MSG(p == old, "%zu slots: old table %p not reused (got %p)", oldn, old, p);
        }
    }
    mgc_map_free(&m);

    /* Delete frees the key copy: the next noscan allocation of its size
       is that copy. */
    mgc_map_put(&m, "a key that is 32 bytes long.....", 32, &m);
    mgc_map_iter it;
    mgc_map_iter_init(&it, &m);
    CHECK(mgc_map_next(&it));
    const void *copy = it.key;
    uint64_t f0 = T_MEMSTAT(frees_explicit);
    CHECK(mgc_map_delete(&m, "a key that is 32 bytes long.....", 32));
    CHECK_EQ(T_MEMSTAT(frees_explicit) - f0, 1);
    CHECK(mgc_alloc_noscan(32) == copy);
    /* Replacing a value keeps the key copy: no allocation, no free. */
    mgc_map_put(&m, "another key of 32 bytes........", 32, &m);
    f0 = T_MEMSTAT(frees_explicit);
    mgc_memstats a, b;
    mgc_read_memstats(&a);
    mgc_map_put(&m, "another key of 32 bytes........", 32, &f0);
    mgc_read_memstats(&b);
    CHECK(b.mallocs == a.mallocs && b.frees_explicit == a.frees_explicit);
    /* clear frees nothing (the table is kept, the keys are left to the
       collector); free frees the table only. */
    for (int j = 0; j < 100; j++)
        mgc_map_put(&m, k, make_key(k, (size_t)j, 20), &m);
    f0 = T_MEMSTAT(frees_explicit);
    mgc_map_clear(&m);
    CHECK_EQ(T_MEMSTAT(frees_explicit) - f0, 0);
    for (int j = 0; j < 100; j++)
        mgc_map_put(&m, k, make_key(k, (size_t)j, 20), &m);
    void *table = m.slots;
    f0 = T_MEMSTAT(frees_explicit);
    mgc_map_free(&m);
    CHECK_EQ(T_MEMSTAT(frees_explicit) - f0, 1);
    CHECK(mgc_alloc_array(&slot_like, 256) == table); /* 256 slots: 8 KiB + header, small */
    mgc_set_gc_percent(gogc);
}

static void no_free_variant(void)
{
    int gogc = mgc_set_gc_percent(-1);
    mgc__containers_free = false;
    mgc_map m = MGC_MAP_INIT;
    char k[64];
    uint64_t f0 = T_MEMSTAT(frees_explicit);
    void *olds[16];
    int n = 0;
    for (size_t i = 0; i < 20000; i++) {
        void *before = m.slots;
        mgc_map_put(&m, k, make_key(k, i, 20), &m);
        if (m.slots != before && before && n < 16)
            olds[n++] = before;
    }
    for (size_t i = 0; i < 20000; i += 2)
        CHECK(mgc_map_delete(&m, k, make_key(k, i, 20)));
    mgc_map_free(&m);
    CHECK_EQ(T_MEMSTAT(frees_explicit), f0); /* no table, no key freed */
    CHECK(n >= 10);
    for (int i = 0; i < n; i++)
        CHECK(mgc_base(olds[i]) == olds[i]); /* old tables: left to the collector */
    mgc__containers_free = true;
    mgc_set_gc_percent(gogc);
}

/* ---- aborts ------------------------------------------------------------- */

static void d_null(void *a) { mgc_map_put(NULL, "k", 1, NULL); }
static void d_null_get(void *a) { (void)mgc_map_get(NULL, "k", 1); }
static void d_null_key(void *a)
{
    mgc_map m = MGC_MAP_INIT;
    mgc_map_put(&m, NULL, 3, NULL);
}
static void d_grow_during_iteration(void *a)
{
    mgc_map m = MGC_MAP_INIT;
    char k[64];
    mgc_map_put(&m, "first", 5, NULL);
    mgc_map_iter it;
    mgc_map_iter_init(&it, &m);
    for (size_t i = 0; i < 100; i++)
        mgc_map_put(&m, k, make_key(k, i, 0), NULL);
    mgc_map_next(&it);
}
static void d_free_during_iteration(void *a)
{
    mgc_map m = MGC_MAP_INIT;
    mgc_map_put(&m, "first", 5, NULL);
    mgc_map_iter it;
    mgc_map_iter_init(&it, &m);
    mgc_map_free(&m);
    mgc_map_next(&it);
}
/* A map freed and initialised again restarts at gen 0: its new tables
   must not take the number of the table an old iterator walked (it would
   then walk the new, smaller table with the old position and count). */
static void d_reinit_during_iteration(void *a)
{
    mgc_map m = MGC_MAP_INIT;
    char k[64];
    for (size_t i = 0; i < 20; i++)
        mgc_map_put(&m, k, make_key(k, i, 0), NULL);
    mgc_map_iter it;
    mgc_map_iter_init(&it, &m);
    mgc_map_free(&m);
    mgc_map_init(&m);
    for (int r = 0; r < 1000 && !(m.gen == it.gen && m.slots); r++) {
        if (m.slots)
            mgc_map_free(&m);
        else
            mgc_map_put(&m, "b", 1, NULL);
    }
    if (!m.slots)
        mgc_map_put(&m, "b", 1, NULL);
    mgc_map_next(&it);
}
/* An iterator begun while the map had no table yet (gen 0), the map
   then given a table, freed and initialised again (gen was 0 again: the
   iterator matched it). */
static void d_reinit_tableless(void *a)
{
    mgc_map m = MGC_MAP_INIT;
    mgc_map_iter it;
    mgc_map_iter_init(&it, &m);
    mgc_map_put(&m, "a", 1, NULL);
    mgc_map_free(&m);
    mgc_map_init(&m);
    mgc_map_next(&it);
}
/* A put of a new key that rebuilds the table at the same size (deleted
   marks piled up) replaces it too. */
static void d_rebuild_during_iteration(void *a)
{
    mgc_map m = MGC_MAP_INIT;
    char k[64];
    mgc_map_put(&m, "first", 5, NULL);
    size_t slots = m.mask + 1;
    uint64_t gen = m.gen;
    mgc_map_iter it;
    mgc_map_iter_init(&it, &m);
    for (size_t i = 0; m.gen == gen; i++) { /* at most two entries at a time */
        size_t n = make_key(k, i, 0);
        mgc_map_put(&m, k, n, NULL);
        mgc_map_delete(&m, k, n);
    }
    if (m.mask + 1 != slots)
        _exit(3); /* not the case this tests */
    mgc_map_next(&it);
}
static void d_garbage(void *a)
{
    mgc_map m;
    memset(&m, 0, sizeof m);
    m.mask = 6; /* not a power of two minus one, and no table */
    (void)mgc_map_len(&m);
}

static void aborts(void)
{
    t_expect_abort(d_null, NULL, "mgc_map_put: the map is NULL");
    t_expect_abort(d_null_get, NULL, "mgc_map_get: the map is NULL");
    t_expect_abort(d_null_key, NULL, "mgc_map_put: a key of 3 bytes at NULL (map ");
    t_expect_abort(d_grow_during_iteration, NULL, "mgc_map_next: map ");
    t_expect_abort(d_grow_during_iteration, NULL, "was resized or freed during the iteration");
    t_expect_abort(d_free_during_iteration, NULL, "was resized or freed during the iteration");
    t_expect_abort(d_reinit_during_iteration, NULL, "was resized or freed during the iteration");
    t_expect_abort(d_reinit_tableless, NULL, "was resized or freed during the iteration");
    t_expect_abort(d_rebuild_during_iteration, NULL, "a put of a new key grew or rebuilt its table");
    t_expect_abort(d_garbage, NULL, "mgc_map_len: map ");
    t_expect_abort(d_garbage, NULL, "is not a valid mgc_map");
}

/* Keys built so that a key word equals one of wyhash's public constants
   made mum(0, x) == 0 whatever the map's seed: every such key hashed to 2
   in every map, and puts and gets of n of them cost O(n) each. The words
   are now mixed with secrets drawn from the seed: across 4096 such keys
   (16 bytes: 0xe7037ed1 and 0xa0b428db at bytes 0 and 8; 40 bytes: the
   constant at bytes 24-31, which wiped the seed's state) and several
   seeds, the hashes are all distinct. */
static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static void adversarial_keys(void)
{
    enum { N = 4096 };
    static uint64_t h[N];
    static const uint64_t seeds[] = {1, 0x9e3779b97f4a7c15ull, 0xba71506df98a3971ull};
    for (int len = 16; len <= 40; len += 24)
        for (size_t si = 0; si < 3; si++) {
            for (uint32_t i = 0; i < N; i++) {
                uint8_t k[40];
                memset(k, 0, sizeof k);
                if (len == 16) {
                    const uint32_t hi = 0xe7037ed1u, lo = 0xa0b428dbu; /* rd4(p) << 32 | rd4(p + 8) */
                    memcpy(k, &hi, 4);
                    memcpy(k + 8, &lo, 4);
                    memcpy(k + 4, &i, 4); /* the free bytes */
                    memcpy(k + 12, &i, 4);
                } else {
                    const uint64_t p1 = 0xe7037ed1a0b428dbull;
                    memcpy(k, &i, 4); /* before the constant: wiped by it before */
                    memcpy(k + 24, &p1, 8);
                }
                h[i] = mgc__map_hash(k, (size_t)len, seeds[si]);
                CHECK(h[i] >= 2);
            }
            qsort(h, N, sizeof h[0], cmp_u64);
            int dup = 0;
            for (int i = 1; i < N; i++)
                dup += h[i] == h[i - 1];
            CHECK_MSG(dup == 0, "%d-byte keys built on the hash's constant, seed %#llx: %d equal hashes of %d", len,
                      (unsigned long long)seeds[si], dup, N);
        }
}

int main(void)
{
    g_sanitized = t_sanitized();
    t_seed();
    mgc_init();
    basics();
    model();
    liveness();
    big();
    iteration();
    growth_frees();
    no_free_variant();
    adversarial_keys();
    aborts();
    printf("test_map: ok\n");
    return 0;
}
