// ctest-timeout: 240
/*
 * test_liveness.c — liveness torture (DESIGN.md section 2, invariants 1-4
 * and 6).
 *
 * A random object graph of all three kinds — conservative (mgc_alloc),
 * noscan (mgc_alloc_noscan, tiny ones included) and precise (mgc_alloc_typed
 * and mgc_alloc_array, small with heap bits, small with a header, large) —
 * hangs off roots in every place the collector must look: a global array,
 * a malloc'd block registered with mgc_add_roots, a __thread array, and
 * pointers to the middle and to the last byte of objects. Every object's
 * non-pointer words are a function of its id, so any reclaimed-and-reused
 * or overwritten object is caught word for word. The graph is verified
 * after forced collections (mgc_collect) and after natural ones (garbage in
 * between; MemStats must show cycles that were not forced).
 *
 * Then targeted checks, each with the object reachable in exactly one way:
 * stack local in a non-inlined frame, global, interior pointer (middle and
 * last byte), a typed object's pointer word, a __thread variable (main
 * thread and another), a registered malloc'd range; 100k-node chains; wide
 * fan-out (oblets). Negative checks, with the would-be target's address
 * kept XOR-masked where the collector cannot see it and looked up with
 * mgc_base() right after a collection: noscan contents, typed non-pointer
 * words, a pointer one past the end, a malloc'd block that is no longer
 * registered, and reclamation within two cycles. Finally realloc (contents
 * and kind), usable size (neighbours intact), zeroing on reuse (small, tiny,
 * large) and alignment.
 *
 * Randomised: prints its seed; re-run with MGC_TEST_SEED=n.
 */
#include "testing.h"
#include <mgc.h>
#include <pthread.h>

#define NOINLINE __attribute__((noinline))

static int g_sanitized;


static uint64_t g_forced; /* mgc_collect calls made by the main thread */

static void forced_collect(void)
{
    mgc_collect();
    g_forced++;
}

static NOINLINE void collect_clean(void)
{
    t_scrub_stack();
    forced_collect();
}

static void check_align(const void *p, size_t size, int noscan)
{
    size_t a = noscan && size < 16 ? 8 : 16;
    CHECK_MSG((uintptr_t)p % a == 0, "%p (%zu bytes, %s) not %zu-aligned", p, size, noscan ? "noscan" : "scanned",
              a);
}

/* ---- types ----------------------------------------------------------------- */

/* Element types. Words 0 and 1 of each element are never pointers (the tag
   and id of a node live there in element 0). */
typedef struct etype {
    unsigned stride;     /* words */
    unsigned nptr;       /* pointer positions below */
    unsigned pos[4];
    mgc_type t;
    uint8_t mask[1024];  /* ptrmask storage: stride <= 8192 words */
} etype;

enum {
    T_32,      /* 32 B: heap bits */
    T_48,      /* 48 B */
    T_128,     /* 128 B */
    T_512,     /* 512 B: the largest with heap bits */
    T_528,     /* 528 B: header */
    T_1K,      /* 1 KiB */
    T_32000,   /* 32000 B: header, still small */
    T_EDGE_S,  /* 32752 B + 16-byte header = 32 KiB exactly: small */
    T_EDGE_L,  /* 32760 B + header > 32 KiB: large */
    T_40000,   /* large */
    T_A3,      /* array element, 24 B, pointer at word 2 */
    T_A5,      /* array element, 40 B, pointers at words 2 and 4 */
    T_A8,      /* array element, 64 B, pointer in the last word */
    T_NP,      /* no pointers at all: allocated as noscan */
    NTYPES
};

static etype g_types[NTYPES];
static const uint8_t pd_mask[] = {0x01};
static const mgc_type T_PD = {16, 8, pd_mask, "ptr+data"}; /* pointer at word 0 */
#define NSINGLE (T_40000 + 1)

static void def_type(int i, unsigned stride, unsigned n, unsigned p0, unsigned p1, unsigned p2, unsigned p3)
{
    etype *e = &g_types[i];
    e->stride = stride;
    e->nptr = n;
    unsigned ps[4] = {p0, p1, p2, p3};
    unsigned maxp = 0;
    for (unsigned k = 0; k < n; k++) {
        CHECK(ps[k] >= 2 && ps[k] < stride);
        e->pos[k] = ps[k];
        e->mask[ps[k] >> 3] |= (uint8_t)(1u << (ps[k] & 7));
        if (ps[k] + 1 > maxp)
            maxp = ps[k] + 1;
    }
    e->t.size = (size_t)stride * 8;
    e->t.ptrdata = (size_t)maxp * 8;
    e->t.ptrmask = n ? e->mask : NULL;
    e->t.name = "liveness-type";
}

static void init_types(void)
{
    def_type(T_32, 4, 1, 2, 0, 0, 0);
    def_type(T_48, 6, 2, 2, 4, 0, 0);
    def_type(T_128, 16, 4, 2, 3, 9, 15);
    def_type(T_512, 64, 3, 2, 33, 63, 0);
    def_type(T_528, 66, 3, 2, 5, 65, 0);
    def_type(T_1K, 128, 3, 2, 64, 127, 0);
    def_type(T_32000, 4000, 3, 2, 1000, 3999, 0);
    def_type(T_EDGE_S, 4094, 2, 2, 4093, 0, 0);
    def_type(T_EDGE_L, 4095, 2, 2, 4094, 0, 0);
    def_type(T_40000, 5000, 3, 2, 2500, 4999, 0);
    def_type(T_A3, 3, 1, 2, 0, 0, 0);
    def_type(T_A5, 5, 2, 2, 4, 0, 0);
    def_type(T_A8, 8, 1, 7, 0, 0, 0);
    def_type(T_NP, 10, 0, 0, 0, 0, 0);
}

static inline int type_is_ptr(const etype *e, size_t w)
{
    size_t k = w % e->stride;
    return k * 8 < e->t.ptrdata && ((e->mask[k >> 3] >> (k & 7)) & 1);
}

/* ---- nodes ----------------------------------------------------------------- */

/* Node layout, in words:
     w0 = NODE_MAGIC << 48 | kind << 44 | type << 36 | nptr << 28
     w1 = 1 << 63 | id << 32 | nwords
     pointer words (by kind): a child pointer (maybe interior) or 0
     every other word: payload_word(id, w)
   Tiny leaves (noscan, 8..15 bytes):
     w0 = TINY_MAGIC << 48 | size << 40 | id; bytes 8.. from payload_word. */
#define NODE_MAGIC 0xC0DEull
#define TINY_MAGIC 0x7EE7ull
enum { K_SCAN = 1, K_NOSCAN = 2, K_TYPED = 3 };

typedef struct shape {
    int kind;
    int type;      /* K_TYPED */
    size_t count;  /* K_TYPED: elements */
    size_t nwords; /* total words */
    unsigned nptr; /* K_SCAN: pointer words 2 .. 2+nptr-1 */
    int tiny;      /* tiny leaf of `tinysize` bytes */
    size_t tinysize;
} shape;

static uint32_t g_next_id = 1;

static inline int node_is_ptr(int kind, int type, unsigned nptr, size_t w)
{
    if (w < 2)
        return 0;
    if (kind == K_SCAN)
        return w < 2 + (size_t)nptr;
    if (kind == K_TYPED)
        return type_is_ptr(&g_types[type], w);
    return 0;
}

/* Allocate and fill a node of shape sh; children (pointer words) are left
   0. Checks alignment and that the memory came zeroed. */
static void *node_alloc(const shape *sh)
{
    uint32_t id = g_next_id++ & 0x7FFFFFFF;
    if (sh->tiny) {
        unsigned char *p = mgc_alloc_noscan(sh->tinysize);
        CHECK(p != NULL);
        check_align(p, sh->tinysize, 1);
        CHECK(mgc_usable_size(p) >= sh->tinysize);
        t_check_zero(p, sh->tinysize, "new tiny object");
        uint64_t w0 = TINY_MAGIC << 48 | (uint64_t)sh->tinysize << 40 | id;
        memcpy(p, &w0, 8);
        for (size_t i = 8; i < sh->tinysize; i++)
            p[i] = (unsigned char)payload_word(id, 100 + i);
        return p;
    }
    uint64_t *p;
    size_t bytes = sh->nwords * 8;
    if (sh->kind == K_SCAN)
        p = mgc_alloc(bytes);
    else if (sh->kind == K_NOSCAN)
        p = mgc_alloc_noscan(bytes);
    else if (sh->count == 1 && (t_rand() & 1))
        p = mgc_alloc_typed(&g_types[sh->type].t);
    else
        p = mgc_alloc_array(&g_types[sh->type].t, sh->count);
    CHECK_MSG(p != NULL, "allocation of %zu bytes failed", bytes);
    check_align(p, bytes, sh->kind == K_NOSCAN);
    size_t u = mgc_usable_size(p);
    CHECK_MSG(u >= bytes, "usable size %zu < %zu", u, bytes);
    t_check_zero(p, u, "new object");
    p[0] = NODE_MAGIC << 48 | (uint64_t)sh->kind << 44 | (uint64_t)sh->type << 36 | (uint64_t)sh->nptr << 28;
    p[1] = 1ull << 63 | (uint64_t)id << 32 | sh->nwords;
    for (size_t w = 2; w < sh->nwords; w++)
        if (!node_is_ptr(sh->kind, sh->type, sh->nptr, w))
            p[w] = payload_word(id, w);
    return p;
}

/* Visiting: an open-addressing set of addresses in malloc'd memory (not
   scanned: it keeps nothing alive). */
typedef struct aset {
    uintptr_t *v;
    size_t cap, n;
} aset;

static void aset_clear(aset *s)
{
    if (!s->v) {
        s->cap = 1 << 16;
        s->v = calloc(s->cap, sizeof *s->v);
        CHECK(s->v);
    } else {
        memset(s->v, 0, s->cap * sizeof *s->v);
    }
    s->n = 0;
}

static int aset_add(aset *s, uintptr_t a)
{
    if (2 * (s->n + 1) > s->cap) {
        aset old = *s;
        s->cap *= 2;
        s->v = calloc(s->cap, sizeof *s->v);
        CHECK(s->v);
        s->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.v[i])
                aset_add(s, old.v[i]);
        free(old.v);
    }
    size_t m = s->cap - 1, i = mix64(a) & m;
    while (s->v[i]) {
        if (s->v[i] == a)
            return 0;
        i = (i + 1) & m;
    }
    s->v[i] = a;
    s->n++;
    return 1;
}

typedef struct walk {
    aset seen;
    uintptr_t *stk;
    size_t n, cap;
    uint64_t count, idsum, bytes;
} walk;

static walk g_walk;

static void walk_push(walk *w, uintptr_t v)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 4096;
        w->stk = realloc(w->stk, w->cap * sizeof *w->stk);
        CHECK(w->stk);
    }
    w->stk[w->n++] = v;
}

/* Check one reference v (maybe interior) and push the children of what it
   points to. */
static void walk_one(walk *w, uintptr_t v)
{
    const uint64_t *base = mgc_base((void *)v);
    CHECK_MSG(base != NULL, "reachable reference %#lx is not inside a live object", (unsigned long)v);
    uint64_t w0 = base[0];
    if ((w0 >> 48) != NODE_MAGIC) {
        /* Must be an exact pointer to a tiny leaf. */
        CHECK_MSG((uintptr_t)base <= v && v - (uintptr_t)base < 16 && v % 8 == 0,
                  "reference %#lx: object at %p has no node tag (%#llx)", (unsigned long)v, (const void *)base,
                  (unsigned long long)w0);
        const unsigned char *p = (const unsigned char *)v;
        uint64_t t;
        memcpy(&t, p, 8);
        CHECK_MSG((t >> 48) == TINY_MAGIC, "tiny leaf at %p has tag %#llx: reclaimed while reachable?",
                  (const void *)p, (unsigned long long)t);
        if (!aset_add(&w->seen, v))
            return;
        size_t size = (t >> 40) & 0xFF;
        uint64_t id = t & 0xFFFFFFFF;
        CHECK(size >= 8 && size < 16);
        CHECK(mgc_usable_size(p) >= size);
        for (size_t i = 8; i < size; i++)
            CHECK_MSG(p[i] == (unsigned char)payload_word(id, 100 + i), "tiny leaf %llu byte %zu corrupted",
                      (unsigned long long)id, i);
        w->count++;
        w->idsum += mix64(id);
        w->bytes += size;
        return;
    }
    if (!aset_add(&w->seen, (uintptr_t)base))
        return;
    int kind = (int)((w0 >> 44) & 0xF), type = (int)((w0 >> 36) & 0xFF);
    unsigned nptr = (unsigned)((w0 >> 28) & 0xFF);
    uint64_t w1 = base[1];
    CHECK_MSG(w1 >> 63, "node at %p: bad id word %#llx", (const void *)base, (unsigned long long)w1);
    uint64_t id = (w1 >> 32) & 0x7FFFFFFF;
    size_t nwords = w1 & 0xFFFFFFFF;
    CHECK_MSG(kind >= K_SCAN && kind <= K_TYPED && type < NTYPES, "node %llu: bad tag %#llx",
              (unsigned long long)id, (unsigned long long)w0);
    size_t u = mgc_usable_size(base);
    CHECK_MSG(u >= nwords * 8, "node %llu: usable %zu < %zu", (unsigned long long)id, u, nwords * 8);
    CHECK_MSG(v - (uintptr_t)base < u, "reference %#lx is past node %llu", (unsigned long)v, (unsigned long long)id);
    for (size_t k = 2; k < nwords; k++) {
        if (node_is_ptr(kind, type, nptr, k)) {
            if (base[k])
                walk_push(w, base[k]);
        } else {
            CHECK_MSG(base[k] == payload_word(id, k),
                      "node %llu (kind %d, type %d, %zu words) word %zu is %#llx, expected %#llx: reclaimed or "
                      "overwritten while reachable",
                      (unsigned long long)id, kind, type, nwords, k, (unsigned long long)base[k],
                      (unsigned long long)payload_word(id, k));
        }
    }
    w->count++;
    w->idsum += mix64(id);
    w->bytes += nwords * 8;
}

static void walk_begin(walk *w)
{
    aset_clear(&w->seen);
    w->n = 0;
    w->count = w->idsum = w->bytes = 0;
}

static void walk_from(walk *w, const void *v)
{
    if (!v)
        return;
    walk_push(w, (uintptr_t)v);
    while (w->n)
        walk_one(w, w->stk[--w->n]);
}

/* ---- random shapes --------------------------------------------------------- */

static size_t rand_words(int allow_big)
{
    uint64_t u = t_rand_below(1000);
    if (u < 700)
        return 2 + t_rand_below(31);
    if (u < 900)
        return 32 + t_rand_below(224);
    if (u < 980)
        return 256 + t_rand_below(3840);
    if (u < 998 || !allow_big)
        return 4097 + t_rand_below(28000);
    return (1u << 17) + t_rand_below(1u << 17); /* 1-2 MiB */
}

static shape rand_shape(int allow_big)
{
    shape sh;
    memset(&sh, 0, sizeof sh);
    uint64_t r = t_rand_below(1000);
    if (r < 300) {
        sh.kind = K_SCAN;
        sh.nwords = rand_words(allow_big);
        size_t maxp = sh.nwords - 2 < 255 ? sh.nwords - 2 : 255;
        sh.nptr = (unsigned)(t_rand_below(8) == 0 ? t_rand_below(maxp + 1) : t_rand_below((maxp < 4 ? maxp : 4) + 1));
    } else if (r < 450) {
        sh.kind = K_NOSCAN;
        sh.nwords = rand_words(allow_big);
    } else if (r < 550) {
        sh.kind = K_NOSCAN;
        sh.tiny = 1;
        sh.tinysize = 8 + t_rand_below(8);
    } else if (r < 800) {
        sh.kind = K_TYPED;
        uint64_t q = t_rand_below(100);
        sh.type = q < 70 ? (int)t_rand_below(T_1K + 1) : q < 95 ? T_32000 + (int)t_rand_below(2) : T_EDGE_L + (int)t_rand_below(2);
        sh.count = 1;
        sh.nwords = g_types[sh.type].stride;
    } else {
        sh.kind = K_TYPED;
        sh.type = T_A3 + (int)t_rand_below(3);
        unsigned st = g_types[sh.type].stride;
        uint64_t q = t_rand_below(100);
        size_t maxsmall = 512 / (st * 8);
        if (q < 60)
            sh.count = 1 + t_rand_below(maxsmall);
        else if (q < 95)
            sh.count = maxsmall + 1 + t_rand_below(32000 / (st * 8) - maxsmall);
        else
            sh.count = 32768 / (st * 8) + t_rand_below(4000);
        sh.nwords = st * sh.count;
    }
    return sh;
}

/* ---- the root set of the torture -------------------------------------------- */

#define NG 1024 /* global */
#define NA 1024 /* malloc'd, registered with mgc_add_roots */
#define NT 64   /* __thread */
#define NROOTS (NG + NA + NT)

static void *g_roots[NG];
static void **a_roots;
static __thread void *t_roots[NT];
static void *g_big[4]; /* the only holders of 1-2 MiB nodes */

static void **root_slot(size_t i)
{
    if (i < NG)
        return &g_roots[i];
    i -= NG;
    if (i < NA)
        return &a_roots[i];
    return &t_roots[i - NA];
}

/* A reference to a node: its base, the middle, or its last usable byte. */
static void *ref_to(void *p)
{
    uint64_t r = t_rand_below(100);
    if (r < 60 || ((uint64_t *)p)[0] >> 48 != NODE_MAGIC)
        return p;
    size_t nwords = ((uint64_t *)p)[1] & 0xFFFFFFFF;
    if (r < 85)
        return (char *)p + t_rand_below(nwords * 8);
    return (char *)p + mgc_usable_size(p) - 1;
}

/* Fill a node's pointer words with references taken from the roots: about
   0.7 children per node on average, so the graph reachable from the roots
   stays bounded (a subcritical branching process). */
static void set_children(void *node, const shape *sh)
{
    if (sh->tiny || sh->kind == K_NOSCAN)
        return;
    uint64_t *p = node;
    size_t nptr = 0;
    for (size_t w = 2; w < sh->nwords; w++)
        nptr += node_is_ptr(sh->kind, sh->type, sh->nptr, w);
    if (!nptr)
        return;
    uint64_t thresh = (uint64_t)(0.7 * 1000000 / (double)nptr);
    for (size_t w = 2; w < sh->nwords; w++) {
        if (!node_is_ptr(sh->kind, sh->type, sh->nptr, w))
            continue;
        if (t_rand_below(1000000) < thresh)
            p[w] = (uint64_t)(uintptr_t)*root_slot(t_rand_below(NROOTS));
    }
}

/* Garbage: never stored anywhere; conservative garbage points at nodes too. */
static NOINLINE size_t make_garbage(void)
{
    uint64_t r = t_rand_below(100);
    size_t n;
    if (r < 40) {
        n = 1 + t_rand_below(15);
        unsigned char *p = mgc_alloc_noscan(n);
        CHECK(p);
        check_align(p, n, 1);
        memset(p, 0x5A, n); /* never looks like a node tag */
        return n;
    }
    n = r < 97 ? 16 + t_rand_below(2000) : 33000 + t_rand_below(100000);
    if (r & 1) {
        uint64_t *p = mgc_alloc(n);
        CHECK(p);
        check_align(p, n, 0);
        for (size_t w = 0; w < n / 8; w++)
            p[w] = (uint64_t)(uintptr_t)g_roots[t_rand_below(NG)];
    } else {
        unsigned char *p = mgc_alloc_noscan(n);
        CHECK(p);
        check_align(p, n, 1);
        memset(p, 0xA5, n);
    }
    return n;
}

static void verify_roots(walk *w)
{
    walk_begin(w);
    for (size_t i = 0; i < NROOTS; i++)
        walk_from(w, *root_slot(i));
    for (int i = 0; i < 4; i++)
        walk_from(w, g_big[i]);
}

static void torture(double seconds)
{
    mgc_memstats ms0, ms1;
    mgc_read_memstats(&ms0);
    a_roots = calloc(NA, sizeof *a_roots);
    CHECK(a_roots);
    mgc_add_roots(a_roots, a_roots + NA);
    double t0 = t_now();
    uint64_t ops = 0, verifies = 0, cverifies = 0, nodes = 0;
    size_t garbage = 0;
    while (t_now() - t0 < seconds) {
        for (int k = 0; k < 500; k++, ops++) {
            uint64_t r = t_rand_below(100);
            if (r < 55) {
                int big = t_rand_below(300) == 0;
                shape sh = rand_shape(big);
                void *p = node_alloc(&sh);
                set_children(p, &sh);
                nodes++;
                if (sh.nwords >= (1u << 17))
                    g_big[t_rand_below(4)] = p;
                else
                    *root_slot(t_rand_below(NROOTS)) = ref_to(p);
            } else if (r < 65) {
                /* Mutate a pointer word of a rooted node. */
                void *v = *root_slot(t_rand_below(NROOTS));
                uint64_t *b = v ? mgc_base(v) : NULL;
                if (b && (b[0] >> 48) == NODE_MAGIC) {
                    int kind = (int)((b[0] >> 44) & 0xF), type = (int)((b[0] >> 36) & 0xFF);
                    unsigned nptr = (unsigned)((b[0] >> 28) & 0xFF);
                    size_t nwords = b[1] & 0xFFFFFFFF;
                    size_t w = 2 + t_rand_below(nwords - 2 ? nwords - 2 : 1);
                    if (w < nwords && node_is_ptr(kind, type, nptr, w))
                        b[w] = t_rand_below(2) ? 0 : (uint64_t)(uintptr_t)*root_slot(t_rand_below(NROOTS));
                }
            } else if (r < 70) {
                *root_slot(t_rand_below(NROOTS)) = NULL;
            } else {
                garbage += make_garbage();
            }
        }
        if (ops % 4000 == 0) {
            verify_roots(&g_walk);
            verifies++;
        }
        if (ops % 20000 == 0) {
            /* Reachable set before and after a forced collection: same
               nodes, same contents. */
            verify_roots(&g_walk);
            uint64_t c = g_walk.count, s = g_walk.idsum;
            forced_collect();
            verify_roots(&g_walk);
            CHECK_EQ(g_walk.count, c);
            CHECK_EQ(g_walk.idsum, s);
            cverifies++;
        }
    }
    verify_roots(&g_walk);
    uint64_t live = g_walk.count, live_bytes = g_walk.bytes;
    mgc_read_memstats(&ms1);
    fprintf(stderr,
            "torture: %.1fs, %llu ops, %llu nodes made, %zu MiB garbage, %llu verifications (%llu around "
            "mgc_collect), %llu nodes / %llu KiB reachable at the end, %u cycles (%u forced)\n",
            t_now() - t0, (unsigned long long)ops, (unsigned long long)nodes, garbage >> 20,
            (unsigned long long)verifies, (unsigned long long)cverifies, (unsigned long long)live,
            (unsigned long long)(live_bytes >> 10), ms1.num_gc - ms0.num_gc, ms1.num_forced_gc - ms0.num_forced_gc);
    /* Natural collections really happened, and every mgc_collect of this
       (only) thread ran a cycle of its own. */
    CHECK_MSG(ms1.num_gc - ms1.num_forced_gc > ms0.num_gc - ms0.num_forced_gc,
              "no natural collection in %zu MiB of garbage", garbage >> 20);
    CHECK_EQ(ms1.num_forced_gc - ms0.num_forced_gc, g_forced);
    CHECK(ms1.mallocs >= ms1.frees);
    CHECK_EQ(ms1.heap_objects, ms1.mallocs - ms1.frees);

    /* Take the registered range away again: what only it held must go. */
    for (size_t i = 0; i < NG; i++)
        g_roots[i] = NULL;
    for (size_t i = 0; i < NT; i++)
        t_roots[i] = NULL;
    for (int i = 0; i < 4; i++)
        g_big[i] = NULL;
    walk_begin(&g_walk);
    for (size_t i = 0; i < NA; i++)
        walk_from(&g_walk, a_roots[i]);
    uint64_t c = g_walk.count, s = g_walk.idsum;
    forced_collect();
    walk_begin(&g_walk);
    for (size_t i = 0; i < NA; i++)
        walk_from(&g_walk, a_roots[i]);
    CHECK_EQ(g_walk.count, c);
    CHECK_EQ(g_walk.idsum, s);
    mgc_remove_roots(a_roots, a_roots + NA);
    free(a_roots);
    a_roots = NULL;
}

/* ---- targeted reachability ------------------------------------------------- */

/* A chain of n nodes; kind: 0 conservative, 1 typed (T_32), 2 conservative
   through interior pointers (each link points at the next node's last
   byte). The walker must find exactly n nodes. */
static NOINLINE void *make_chain(size_t n, int kind)
{
    void *head = NULL;
    for (size_t i = 0; i < n; i++) {
        shape sh;
        memset(&sh, 0, sizeof sh);
        if (kind == 1) {
            sh.kind = K_TYPED;
            sh.type = T_32;
            sh.count = 1;
            sh.nwords = 4;
        } else {
            sh.kind = K_SCAN;
            sh.nwords = 4;
            sh.nptr = 1;
        }
        uint64_t *p = node_alloc(&sh);
        p[2] = (uint64_t)(uintptr_t)head;
        head = kind == 2 ? (char *)p + mgc_usable_size(p) - 1 : (void *)p;
    }
    return head;
}

static void expect_nodes(const void *root, uint64_t n, const char *what)
{
    walk_begin(&g_walk);
    walk_from(&g_walk, root);
    CHECK_MSG(g_walk.count == n, "%s: %llu nodes reachable, expected %llu", what, (unsigned long long)g_walk.count,
              (unsigned long long)n);
}

/* Garbage of every kind, enough for natural collections, plus forced ones. */
static NOINLINE void churn(size_t bytes, int collects)
{
    size_t done = 0;
    int c = 0;
    while (done < bytes) {
        done += make_garbage();
        if (collects && done > (size_t)(c + 1) * (bytes / (size_t)(collects + 1))) {
            forced_collect();
            c++;
        }
    }
    while (c++ < collects)
        forced_collect();
}

static void *volatile g_only;
static __thread void *tls_only;

static NOINLINE void stack_only_volatile(void)
{
    void *volatile p = make_chain(1000, 0);
    churn(8u << 20, 3);
    t_scrub_stack();
    churn(1u << 20, 1);
    expect_nodes(p, 1000, "chain held by a volatile stack local");
}

static NOINLINE void stack_only_plain(void)
{
    /* A plain local: wherever the compiler keeps it (callee-saved register
       or spill slot), it must be seen. */
    void *p = make_chain(500, 1);
    void *q = make_chain(500, 2);
    churn(8u << 20, 3);
    expect_nodes(p, 500, "typed chain held by a plain local");
    expect_nodes(q, 500, "interior chain held by a plain local");
}

static void test_single_roots(void)
{
    stack_only_volatile();
    stack_only_plain();

    g_only = make_chain(1000, 1);
    churn(8u << 20, 3);
    expect_nodes(g_only, 1000, "chain held by a global");
    g_only = NULL;

    tls_only = make_chain(1000, 0);
    churn(8u << 20, 3);
    expect_nodes(tls_only, 1000, "chain held by a __thread variable");
    tls_only = NULL;

    /* A malloc'd block registered as a root range. */
    void **blk = malloc(64 * sizeof(void *));
    CHECK(blk);
    memset(blk, 0, 64 * sizeof(void *));
    mgc_add_roots(blk, blk + 64);
    blk[37] = make_chain(1000, 2);
    churn(8u << 20, 3);
    expect_nodes(blk[37], 1000, "chain held by a registered malloc'd range");
    mgc_remove_roots(blk, blk + 64);

    /* Ranges of 1-9 words, every word the only holder of a chain: the
       root scan tests words four at a time, then the rest one by one
       (mark.c), and must see each. */
    for (size_t len = 1; len <= 9; len++) {
        void **r = blk + 3; /* not aligned to four words */
        memset(blk, 0, 64 * sizeof(void *));
        mgc_add_roots(r, r + len);
        for (size_t i = len; i-- > 0;) /* the last made, maybe still in a register, is word 0 */
            r[i] = make_chain(50, (int)(i % 3));
        churn(2u << 20, 2);
        for (size_t i = 0; i < len; i++) {
            char what[64];
            snprintf(what, sizeof what, "chain in word %zu of a %zu-word root range", i, len);
            expect_nodes(r[i], 50, what);
        }
        mgc_remove_roots(r, r + len);
    }
    /* A range of 70 words, one of which holds the only pointer to a chain,
       at each position in turn, the others zero or non-heap values: the
       wide filter (mark.c) skips blocks of 16 words that hold no candidate
       and must stop at the one that does, whatever its place in the
       block, and the words past the last whole block are tested too. */
    blk = realloc(blk, 80 * sizeof(void *));
    CHECK(blk);
    void **r = blk + 3;
    mgc_add_roots(r, r + 70);
    for (size_t i = 0; i < 70; i++) {
        for (size_t k = 0; k < 70; k++)
            r[k] = k % 3 == 0 ? (void *)(uintptr_t)(k * 0x1000 + 7) : k % 3 == 1 ? (void *)&g_only : NULL;
        r[i] = make_chain(20, (int)(i % 3));
        t_scrub_stack();
        churn(1u << 20, 1);
        char what[64];
        snprintf(what, sizeof what, "chain in word %zu of a 70-word root range", i);
        expect_nodes(r[i], 20, what);
    }
    mgc_remove_roots(r, r + 70);
    free(blk);
}

/* Interior pointers: the only reference points into the middle of the
   object, or at its last usable byte. One case per allocation path. */
#define NINT 16
static void *volatile g_interior[NINT];
static uintptr_t g_interior_base[NINT]; /* hidden */

static NOINLINE void make_interior(void)
{
    static const struct {
        int kind, type;
        size_t words;
    } cases[NINT / 2] = {
        {K_SCAN, 0, 6},           {K_NOSCAN, 0, 12},       {K_TYPED, T_128, 16},   {K_TYPED, T_528, 66},
        {K_SCAN, 0, 5000},        {K_NOSCAN, 0, 200000},   {K_TYPED, T_40000, 0},  {K_SCAN, 0, 3000},
    };
    for (int i = 0; i < NINT; i++) {
        shape sh;
        memset(&sh, 0, sizeof sh);
        sh.kind = cases[i / 2].kind;
        if (sh.kind == K_TYPED) {
            sh.type = cases[i / 2].type;
            sh.count = 1;
            sh.nwords = g_types[sh.type].stride;
        } else {
            sh.nwords = cases[i / 2].words;
        }
        char *p = node_alloc(&sh);
        g_interior_base[i] = t_hide(p);
        g_interior[i] = i % 2 ? p + mgc_usable_size(p) - 1 : p + sh.nwords * 4 + 3;
    }
}

static void test_interior(void)
{
    make_interior();
    churn(16u << 20, 4);
    for (int i = 0; i < NINT; i++) {
        void *b = mgc_base(g_interior[i]);
        CHECK_MSG(b == t_unhide(g_interior_base[i]), "interior case %d: mgc_base %p, object %p", i, b,
                  t_unhide(g_interior_base[i]));
        expect_nodes(g_interior[i], 1, "object held by an interior pointer");
        g_interior[i] = NULL;
    }
}

/* The only reference sits in a pointer word of a typed object (bits,
   header, large, array paths). */
static void *volatile g_typed_holder[5];

static void test_typed_words(void)
{
    static const int types[4] = {T_48, T_1K, T_EDGE_S, T_40000};
    for (int i = 0; i < 4; i++) {
        shape sh;
        memset(&sh, 0, sizeof sh);
        sh.kind = K_TYPED;
        sh.type = types[i];
        sh.count = 1;
        sh.nwords = g_types[types[i]].stride;
        uint64_t *h = node_alloc(&sh);
        const etype *e = &g_types[types[i]];
        for (unsigned k = 0; k < e->nptr; k++)
            h[e->pos[k]] = (uint64_t)(uintptr_t)make_chain(100, (int)k % 3);
        g_typed_holder[i] = h;
    }
    /* An array of 64-byte elements with the pointer in each last word. */
    shape sh;
    memset(&sh, 0, sizeof sh);
    sh.kind = K_TYPED;
    sh.type = T_A8;
    sh.count = 40;
    sh.nwords = 8 * 40;
    uint64_t *a = node_alloc(&sh);
    for (size_t e = 0; e < 40; e++)
        a[e * 8 + 7] = (uint64_t)(uintptr_t)make_chain(10, (int)e % 3);
    g_typed_holder[4] = a;
    churn(16u << 20, 4);
    expect_nodes(g_typed_holder[0], 1 + 2 * 100, "typed T_48 holder");
    expect_nodes(g_typed_holder[1], 1 + 3 * 100, "typed T_1K holder");
    expect_nodes(g_typed_holder[2], 1 + 2 * 100, "typed 32 KiB-edge holder");
    expect_nodes(g_typed_holder[3], 1 + 3 * 100, "large typed holder");
    expect_nodes(g_typed_holder[4], 1 + 40 * 10, "typed array holder");
    for (int i = 0; i < 5; i++)
        g_typed_holder[i] = NULL;
}

/* A typed array's slack is elements too: mgc_usable_size's bytes past
   type size x count hold whole elements that are scanned, as a Go slice's
   rounded-up capacity is (mgc.h, mgc_alloc_array). A program sizing an
   array by mgc_usable_size stores a pointer in the last whole element;
   the object it names must survive (it was reclaimed while referenced).
   Heap bits, header and large arrays. */
static void *volatile g_slack_holder;

static void test_typed_slack(void)
{
    static const uint8_t all_ptr[1] = {0x01};
    static const mgc_type ptr_t = {sizeof(void *), sizeof(void *), all_ptr, "ptr"};
    static const size_t counts[] = {5, 3, 100, 5000};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        void **a = mgc_alloc_array(&ptr_t, counts[i]);
        CHECK(a);
        size_t slots = mgc_usable_size(a) / sizeof(void *);
        CHECK_MSG(slots > counts[i], "%zu elements: no slack to test (%zu slots)", counts[i], slots);
        unsigned char *target = mgc_alloc_noscan(64);
        CHECK(target);
        memset(target, 0x5a, 64);
        a[slots - 1] = target;
        target = NULL;
        g_slack_holder = a;
        a = NULL;
        collect_clean();
        collect_clean();
        void **h = g_slack_holder;
        unsigned char *t = h[slots - 1];
        CHECK_MSG(mgc_base(t) == t, "%zu-element array: the object in its last usable element (%zu) was reclaimed",
                  counts[i], slots - 1);
        for (int k = 0; k < 64; k++)
            CHECK_EQ(t[k], 0x5a);
        /* In place, the capacity stays: shrinking by one element within
           the block still scans the slack the program may write again. */
        void **r = mgc_realloc(h, (counts[i] - 1) * sizeof(void *));
        if (r == h) {
            CHECK(h[slots - 1] == NULL); /* cleared past the new size */
            h[slots - 1] = t;
            collect_clean();
            CHECK_MSG(mgc_base(t) == t, "%zu-element array shrunk in place: slack not scanned", counts[i]);
        }
        g_slack_holder = NULL;
    }
}

/* Another thread's __thread variable is a root while the thread lives. */
static pthread_mutex_t tls_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tls_cv = PTHREAD_COND_INITIALIZER;
static int tls_state;

static void *tls_thread(void *arg)
{
    tls_only = make_chain(2000, 1);
    pthread_mutex_lock(&tls_mu);
    tls_state = 1;
    pthread_cond_broadcast(&tls_cv);
    while (tls_state != 2)
        pthread_cond_wait(&tls_cv, &tls_mu);
    pthread_mutex_unlock(&tls_mu);
    expect_nodes(tls_only, 2000, "chain held by another thread's __thread variable");
    tls_only = NULL;
    return NULL;
}

static void test_other_thread_tls(void)
{
    pthread_t th;
    CHECK_EQ(mgc_pthread_create(&th, NULL, tls_thread, NULL), 0);
    pthread_mutex_lock(&tls_mu);
    while (tls_state != 1)
        pthread_cond_wait(&tls_cv, &tls_mu);
    pthread_mutex_unlock(&tls_mu);
    churn(16u << 20, 4);
    pthread_mutex_lock(&tls_mu);
    tls_state = 2;
    pthread_cond_broadcast(&tls_cv);
    pthread_mutex_unlock(&tls_mu);
    CHECK_EQ(pthread_join(th, NULL), 0);
}

/* Long chains (deep marking) and wide fan-out (one object pointing at many:
   large objects scanned in oblets). */
static void *volatile g_long[3];
static void *volatile g_fan[2];

static NOINLINE void make_fanout(size_t n)
{
    /* Conservative: n pointer words to n noscan leaves. */
    uint64_t *f = mgc_alloc(n * 8);
    CHECK(f);
    for (size_t i = 0; i < n; i++) {
        shape sh;
        memset(&sh, 0, sizeof sh);
        sh.kind = K_NOSCAN;
        if (i % 3 == 0) {
            sh.tiny = 1;
            sh.tinysize = 8 + i % 8;
        } else {
            sh.nwords = 2 + i % 5;
        }
        f[i] = (uint64_t)(uintptr_t)node_alloc(&sh);
    }
    g_fan[0] = f;
    /* Typed: an array of n/4 T_A5 elements, pointers at words 2 and 4 of
       each, to conservative leaves. */
    size_t ne = n / 4;
    uint64_t *t = mgc_alloc_array(&g_types[T_A5].t, ne);
    CHECK(t);
    for (size_t e = 0; e < ne; e++) {
        shape sh;
        memset(&sh, 0, sizeof sh);
        sh.kind = K_SCAN;
        sh.nwords = 3;
        t[e * 5 + 2] = (uint64_t)(uintptr_t)node_alloc(&sh);
        t[e * 5 + 4] = (uint64_t)(uintptr_t)node_alloc(&sh) + 7;
        t[e * 5 + 0] = payload_word(e, 0); /* non-pointer words: junk */
        t[e * 5 + 3] = payload_word(e, 3);
    }
    g_fan[1] = t;
}

static void count_fanout(size_t n)
{
    const uint64_t *f = g_fan[0];
    walk_begin(&g_walk);
    for (size_t i = 0; i < n; i++)
        walk_from(&g_walk, (void *)(uintptr_t)f[i]);
    CHECK_EQ(g_walk.count, n);
    const uint64_t *t = g_fan[1];
    walk_begin(&g_walk);
    for (size_t e = 0; e < n / 4; e++) {
        CHECK_EQ(t[e * 5 + 0], payload_word(e, 0));
        CHECK_EQ(t[e * 5 + 3], payload_word(e, 3));
        walk_from(&g_walk, (void *)(uintptr_t)t[e * 5 + 2]);
        walk_from(&g_walk, (void *)(uintptr_t)t[e * 5 + 4]);
    }
    CHECK_EQ(g_walk.count, n / 2);
}

static void test_chains_and_fanout(void)
{
    size_t n = 100000;
    g_long[0] = make_chain(n, 0);
    g_long[1] = make_chain(n, 1);
    g_long[2] = make_chain(n, 2);
    size_t nf = g_sanitized ? 100000 : 200000;
    make_fanout(nf);
    churn(16u << 20, 3);
    expect_nodes(g_long[0], n, "100k conservative chain");
    expect_nodes(g_long[1], n, "100k typed chain");
    expect_nodes(g_long[2], n, "100k chain of interior pointers");
    count_fanout(nf);
    churn(4u << 20, 2);
    count_fanout(nf);
    for (int i = 0; i < 3; i++)
        g_long[i] = NULL;
    g_fan[0] = g_fan[1] = NULL;
}

/* ---- negative checks --------------------------------------------------------- */

#define NTARGET 64
static void *volatile g_holder[4];
static uintptr_t g_hidden[NTARGET], g_hidden2[NTARGET];

/* Objects of the given size with no reference the collector can see;
   their masked addresses into out[]. */
static NOINLINE void make_targets(uintptr_t *out, int n, size_t size, int noscan)
{
    for (int i = 0; i < n; i++) {
        void *p = noscan ? mgc_alloc_noscan(size) : mgc_alloc(size);
        CHECK(p);
        memset(p, 0x11, size);
        out[i] = t_hide(p);
    }
}

/* The distinct objects among h[0..n) that are allocated. Distinct: when a
   cycle ran while the targets were made, one slot may have been several
   targets' in turn, and one stale reference to it counted it as several
   survivors (seen with clang). */
static int count_alive(const uintptr_t *h, int n)
{
    int c = 0;
    for (int i = 0; i < n; i++) {
        void *p = t_unhide(h[i]);
        if (mgc_base(p) != p)
            continue;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = h[j] == h[i];
        c += !seen;
    }
    return c;
}

/* Survivors allowed among objects that should die: conservative scanning of
   live stack frames may hold a stale copy or two; a real leak (the bug being
   tested for) keeps all of them. */
#define SLACK 2

static NOINLINE void fill_holder(void **h, const uintptr_t *targets, int n, size_t stride)
{
    for (int i = 0; i < n; i++)
        h[i * stride] = t_unhide(targets[i]);
}

static NOINLINE void make_holder(int slot, const uintptr_t *targets, int n, int noscan)
{
    void **h = noscan ? mgc_alloc_noscan((size_t)n * sizeof(void *)) : mgc_alloc((size_t)n * sizeof(void *));
    CHECK(h);
    fill_holder(h, targets, n, 1);
    g_holder[slot] = h;
}

static void test_noscan_does_not_retain(void)
{
    /* Positive control first: a conservative holder keeps all of them. */
    make_targets(g_hidden, NTARGET, 2032, 0);
    make_holder(0, g_hidden, NTARGET, 0);
    collect_clean();
    CHECK_EQ(count_alive(g_hidden, NTARGET), NTARGET);

    make_targets(g_hidden2, NTARGET, 2032, 0);
    make_holder(1, g_hidden2, NTARGET, 1);
    collect_clean();
    int alive = count_alive(g_hidden2, NTARGET);
    CHECK_MSG(alive <= SLACK, "%d of %d objects referenced only from a noscan object survived", alive, NTARGET);
    CHECK_EQ(count_alive(g_hidden, NTARGET), NTARGET);
    g_holder[0] = g_holder[1] = NULL;
    collect_clean();
    alive = count_alive(g_hidden, NTARGET);
    CHECK_MSG(alive <= SLACK, "%d of %d objects survived after their holder was dropped", alive, NTARGET);
}

/* Typed: element e of T_A8 has its pointer word 7 -> control target (must
   live), and non-pointer words 3 and 5 -> other targets (must die). */
static void typed_nonpointer_case(size_t nelems, size_t tsize)
{
    int n = (int)(nelems < NTARGET ? nelems : NTARGET);
    make_targets(g_hidden, n, tsize, 1);
    make_targets(g_hidden2, n, tsize, 1);
    uint64_t *a = mgc_alloc_array(&g_types[T_A8].t, nelems);
    CHECK(a);
    fill_holder((void **)a + 7, g_hidden, n, 8);
    fill_holder((void **)a + 3, g_hidden2, n, 8);
    fill_holder((void **)a + 5, g_hidden2, n, 8);
    g_holder[2] = a;
    a = NULL;
    collect_clean();
    CHECK_MSG(count_alive(g_hidden, n) == n, "typed array of %zu: pointer words did not keep their targets",
              nelems);
    int alive = count_alive(g_hidden2, n);
    CHECK_MSG(alive <= SLACK, "typed array of %zu elements: %d of %d objects referenced only from non-pointer "
              "words survived", nelems, alive, n);
    g_holder[2] = NULL;
}

static void test_typed_nonpointer_words(void)
{
    typed_nonpointer_case(8, 4080);    /* 512 B: heap bits */
    typed_nonpointer_case(64, 4080);   /* 4 KiB: header */
    typed_nonpointer_case(1000, 4080); /* 64000 B: large */
    typed_nonpointer_case(20000, 4080); /* 1.28 MB: large, scanned in oblets */
}

/* One past the end is not a reference. Targets alternate with fillers of
   the same class, so each target's one-past-end points at a filler. */
static void *volatile g_past[NTARGET];

static NOINLINE void make_past_targets(int n, size_t size, int noscan, int typed)
{
    for (int i = 0; i < n; i++) {
        char *p;
        if (typed)
            p = mgc_alloc_array(&g_types[T_A3].t, size / 24);
        else
            p = noscan ? mgc_alloc_noscan(size) : mgc_alloc(size);
        CHECK(p);
        g_hidden[i] = t_hide(p);
        g_past[i] = p + mgc_usable_size(p);
        CHECK_MSG(mgc_base(p + mgc_usable_size(p)) != p, "mgc_base(one past the end of %p) is the object", (void *)p);
        CHECK(mgc_base(p + mgc_usable_size(p) - 1) == p);
        void *filler = typed ? mgc_alloc_array(&g_types[T_A3].t, size / 24)
                       : noscan ? mgc_alloc_noscan(size) : mgc_alloc(size);
        CHECK(filler);
    }
}

/* Which targets does some one-past-the-end pointer really point into (the
   next object in memory may be another target)? Those are legitimately
   alive and left out of the count. */
static NOINLINE int find_pointed_targets(int n, char *pointed)
{
    int k = 0;
    for (int j = 0; j < n; j++) {
        pointed[j] = 0;
        for (int i = 0; i < n; i++)
            if (mgc_base(g_past[i]) == t_unhide(g_hidden[j]))
                pointed[j] = 1;
        k += pointed[j];
    }
    return k;
}

static void test_one_past_end(void)
{
    static const size_t sizes[] = {48, 1008, 40000, 1200000};
    char pointed[NTARGET];
    int tested = 0;
    for (int k = 0; k < 4; k++) {
        for (int mode = 0; mode < 3; mode++) {
            if (sizes[k] > 100000 && mode)
                continue;
            int n = sizes[k] > 100000 ? 8 : NTARGET;
            make_past_targets(n, sizes[k], mode == 1, mode == 2);
            int np = find_pointed_targets(n, pointed);
            collect_clean();
            int alive = 0;
            for (int j = 0; j < n; j++)
                if (!pointed[j])
                    alive += mgc_base(t_unhide(g_hidden[j])) == t_unhide(g_hidden[j]);
            /* SLACK for the 8 large ones too: under clang's ASan two
               stale copies survived the helper's frame (a one-past-the-end
               bug keeps all 8). */
            CHECK_MSG(alive <= SLACK,
                      "%d of %d objects (%zu bytes, mode %d) held only by one-past-the-end pointers survived", alive,
                      n - np, sizes[k], mode);
            tested += n - np;
            for (int i = 0; i < NTARGET; i++)
                g_past[i] = NULL;
        }
    }
    CHECK_MSG(tested >= 200, "only %d objects were tested with one-past-the-end pointers", tested);
}

/* Memory from malloc() is not scanned once its range is unregistered. */
static void test_unregistered_malloc(void)
{
    void **blk = malloc(NTARGET * sizeof(void *));
    CHECK(blk);
    mgc_add_roots(blk, blk + NTARGET);
    make_targets(g_hidden, NTARGET, 3000, 0);
    fill_holder(blk, g_hidden, NTARGET, 1);
    collect_clean();
    CHECK_EQ(count_alive(g_hidden, NTARGET), NTARGET);
    mgc_remove_roots(blk, blk + NTARGET);
    collect_clean();
    int alive = count_alive(g_hidden, NTARGET);
    CHECK_MSG(alive <= SLACK, "%d of %d objects held only from unregistered malloc memory survived", alive, NTARGET);
    free(blk);
}

/* Invariant 4: never-reachable objects are reclaimed within two cycles. */
/* Elements larger than an oblet (128 KiB, mark.c): each oblet of a typed
   object scans only its own words of the element it falls in, from the
   first pointer word at or after its start. Three 1 MiB + 8 byte elements
   (so oblets start at a different word of each), pointers on both sides of
   every oblet boundary and in the last word: every object held there
   survives; one held in a non-pointer word does not keep its object. */
static void *volatile g_big_typed;

static void test_typed_big_elements(void)
{
    enum { OB = 128 * 1024 / 8, EW = (1 << 20) / 8 + 1, NE = 3 };
    static uint8_t mask[EW / 8 + 1];
    static size_t pw[64];
    size_t npw = 0;
    for (size_t b = OB; b < (size_t)NE * EW; b += OB) /* oblet starts, as words of the array */
        for (int d = -1; d <= 1; d++) {
            size_t w = (b + (size_t)(long)d) % EW;
            if (w != 3 && !((mask[w >> 3] >> (w & 7)) & 1) && npw < 64) {
                mask[w >> 3] |= (uint8_t)(1u << (w & 7));
                pw[npw++] = w;
            }
        }
    if (!((mask[(EW - 1) >> 3] >> ((EW - 1) & 7)) & 1)) {
        mask[(EW - 1) >> 3] |= (uint8_t)(1u << ((EW - 1) & 7));
        pw[npw++] = EW - 1;
    }
    static const mgc_type big = {(size_t)EW * 8, (size_t)EW * 8, mask, "big-element"}; /* outlives the array */
    uintptr_t *a = mgc_alloc_array(&big, NE);
    CHECK(a);
    uintptr_t dead[NE];
    for (int e = 0; e < NE; e++) {
        for (size_t k = 0; k < npw; k++) {
            unsigned char *o = mgc_alloc_noscan(48);
            CHECK(o);
            memset(o, 0x30 + (int)k, 48);
            a[(size_t)e * EW + pw[k]] = (uintptr_t)o;
        }
        void *d = mgc_alloc_noscan(48); /* word 3: not a pointer word */
        a[(size_t)e * EW + 3] = (uintptr_t)d;
        dead[e] = t_hide(d);
        d = NULL;
    }
    g_big_typed = a;
    a = NULL;
    collect_clean();
    collect_clean();
    uintptr_t *h = g_big_typed;
    for (int e = 0; e < NE; e++)
        for (size_t k = 0; k < npw; k++) {
            unsigned char *o = (unsigned char *)h[(size_t)e * EW + pw[k]];
            CHECK_MSG(mgc_base(o) == o, "element %d, word %zu (oblet boundary %zu): its object was reclaimed", e,
                      pw[k], k);
            CHECK_EQ(o[47], 0x30 + (int)k);
        }
    CHECK_MSG(count_alive(dead, NE) <= SLACK, "objects held only in non-pointer words survived");
    g_big_typed = NULL;
}

static void test_reclaim_two_cycles(void)
{
    mgc_memstats a, b;
    collect_clean();
    mgc_read_memstats(&a);
    int cls = -1;
    for (int c = 1; c < 61; c++)
        if (a.by_size[c].size == 4864)
            cls = c;
    CHECK(cls > 0);
    enum { N = 3000 };
    static uintptr_t h[N];
    make_targets(h, N, 4800, 1);
    collect_clean();
    collect_clean();
    mgc_read_memstats(&b);
    int alive = count_alive(h, N);
    CHECK_MSG(alive <= SLACK, "%d of %d dead objects still allocated after two cycles", alive, N);
    uint64_t freed = b.by_size[cls].frees - a.by_size[cls].frees;
    CHECK_MSG(freed + SLACK >= N, "MemStats: %llu of %d frees counted for the 4864-byte class",
              (unsigned long long)freed, N);
    CHECK(b.by_size[cls].mallocs - a.by_size[cls].mallocs >= N);
}

/* ---- realloc, usable size, zeroing --------------------------------------------- */

static void *volatile g_r;

static void test_realloc(void)
{
    /* Conservative: contents kept, and it still scans. */
    make_targets(g_hidden, 1, 2032, 0);
    uint64_t *p = mgc_alloc(40);
    CHECK(p);
    for (int w = 0; w < 5; w++)
        p[w] = payload_word(7, w);
    p[3] = (uint64_t)(uintptr_t)t_unhide(g_hidden[0]);
    g_r = p;
    static const size_t seq[] = {200, 5000, 70000, 1500000, 33000, 40};
    for (int i = 0; i < 6; i++) {
        p = mgc_realloc((void *)g_r, seq[i]);
        CHECK(p);
        check_align(p, seq[i], 0);
        CHECK(mgc_usable_size(p) >= seq[i]);
        g_r = p;
        p = NULL;
        collect_clean();
        const uint64_t *q = g_r;
        for (int w = 0; w < 5; w++)
            if (w != 3)
                CHECK_EQ(q[w], payload_word(7, w));
        CHECK(q[3] == (uint64_t)(uintptr_t)t_unhide(g_hidden[0]));
        CHECK_MSG(count_alive(g_hidden, 1) == 1, "object held by a realloc'd (%zu) conservative object was freed",
                  seq[i]);
    }
    g_r = NULL;

    /* Noscan: contents kept, and it still does not scan. */
    make_targets(g_hidden2, NTARGET, 2032, 0);
    uint64_t *n = mgc_alloc_noscan(NTARGET * 8);
    CHECK(n);
    fill_holder((void **)n, g_hidden2, NTARGET, 1);
    g_r = n;
    n = NULL;
    static const size_t nseq[] = {1000, 50000, NTARGET * 8};
    for (int i = 0; i < 3; i++) {
        n = mgc_realloc((void *)g_r, nseq[i]);
        CHECK(n);
        g_r = n;
        n = NULL;
    }
    collect_clean();
    const uint64_t *nq = g_r;
    for (int i = 0; i < NTARGET; i++)
        CHECK(nq[i] == (uint64_t)(uintptr_t)t_unhide(g_hidden2[i]));
    int alive = count_alive(g_hidden2, NTARGET);
    CHECK_MSG(alive <= SLACK, "realloc'd noscan object kept %d of %d pointees alive: kind not kept", alive, NTARGET);
    g_r = NULL;

    /* Typed: pointer words still precise after growing through the header
       and large paths. */
    make_targets(g_hidden, NTARGET, 2032, 1);
    make_targets(g_hidden2, NTARGET, 2032, 1);
    uint64_t *t = mgc_alloc_array(&g_types[T_A3].t, NTARGET);
    CHECK(t);
    fill_holder((void **)t + 2, g_hidden, NTARGET, 3);
    fill_holder((void **)t + 1, g_hidden2, NTARGET, 3);
    g_r = t;
    t = NULL;
    static const size_t tseq[] = {NTARGET * 24 + 8, 4000, 100000, NTARGET * 24};
    for (int i = 0; i < 4; i++) {
        t = mgc_realloc((void *)g_r, tseq[i]);
        CHECK(t);
        CHECK(mgc_usable_size(t) >= tseq[i]);
        g_r = t;
        t = NULL;
        collect_clean();
        CHECK_MSG(count_alive(g_hidden, NTARGET) == NTARGET,
                  "realloc'd typed array (%zu bytes): pointer words did not keep their targets", tseq[i]);
        alive = count_alive(g_hidden2, NTARGET);
        CHECK_MSG(alive <= SLACK, "realloc'd typed array (%zu bytes): %d targets of non-pointer words survived",
                  tseq[i], alive);
        const uint64_t *tq = g_r;
        for (int k = 0; k < NTARGET; k++)
            CHECK(tq[k * 3 + 2] == (uint64_t)(uintptr_t)t_unhide(g_hidden[k]));
    }
    g_r = NULL;

    /* realloc(NULL, n) is a conservative allocation; realloc(p, 0) gives a
       fresh minimal object of p's kind. */
    make_targets(g_hidden, 1, 2032, 0);
    void **z = mgc_realloc(NULL, 64);
    CHECK(z);
    t_check_zero(z, 64, "realloc(NULL, 64)");
    z[5] = t_unhide(g_hidden[0]);
    g_r = z;
    z = NULL;
    collect_clean();
    CHECK_MSG(count_alive(g_hidden, 1) == 1, "realloc(NULL, n) object did not scan its words");
    void *z0 = mgc_realloc((void *)g_r, 0);
    CHECK(z0 != NULL);
    g_r = NULL;
    void *n0 = mgc_realloc(mgc_alloc_noscan(100), 0);
    CHECK(n0 != NULL);
    void *t0 = mgc_realloc(mgc_alloc_typed(&g_types[T_128].t), 0);
    CHECK(t0 != NULL);
}

static void test_realloc_typed_growth(void)
{
    /* Growing a typed array within its slot (in place, or not: either is
       the library's choice) gives the new elements' pointer words the
       type's meaning: pointers stored in the new elements keep their
       targets alive. Cases: heap bits (17 -> 18 elements of 16 bytes, a
       288-byte slot), header (33 -> 35, a 576-byte slot) and large (1400 ->
       1667 elements of 24 bytes in a 40 KiB span). */
    static const struct {
        int t16; /* element: 16 bytes {ptr, data}; else T_A3 (24 bytes, ptr at word 2) */
        size_t n0, newsize;
    } grow[3] = {{1, 17, 288}, {1, 33, 560}, {0, 1400, 40000}};
    for (int i = 0; i < 3; i++) {
        const mgc_type *ty = grow[i].t16 ? &T_PD : &g_types[T_A3].t;
        size_t esz = ty->size, pw = grow[i].t16 ? 0 : 2;
        size_t last = (grow[i].newsize - (pw + 1) * 8) / esz; /* last element whose pointer word fits */
        CHECK(last >= grow[i].n0);
        int k = (int)(last - grow[i].n0 + 1 < 16 ? last - grow[i].n0 + 1 : 16);
        make_targets(g_hidden, k, 2032, 1);
        uint64_t *a = mgc_alloc_array(ty, grow[i].n0);
        CHECK(a);
        g_r = a;
        a = mgc_realloc((void *)g_r, grow[i].newsize);
        CHECK(a);
        CHECK(mgc_usable_size(a) >= grow[i].newsize);
        /* One target per new element, from the last one down. */
        fill_holder((void **)a + (last - (size_t)k + 1) * (esz / 8) + pw, g_hidden, k, esz / 8);
        g_r = a;
        a = NULL;
        collect_clean();
        int alive = count_alive(g_hidden, k);
        CHECK_MSG(alive == k,
                  "typed array of %zu %zu-byte elements realloc'd to %zu bytes: pointers in the new elements "
                  "(%zu..%zu) kept only %d of %d targets alive",
                  grow[i].n0, esz, grow[i].newsize, last - (size_t)k + 1, last, alive, k);
        g_r = NULL;
    }
}

/* Writing mgc_usable_size() bytes never touches another object: fill each
   object's requested bytes with its own pattern, then every object's extra
   usable bytes, then check the patterns. For tiny objects usable size is
   taken right after each allocation, before the next one shares the block. */
static void usable_case(size_t size, int kind)
{
    enum { N = 24 };
    unsigned char *o[N];
    size_t us[N];
    for (int i = 0; i < N; i++) {
        if (kind == K_SCAN)
            o[i] = mgc_alloc(size);
        else if (kind == K_NOSCAN)
            o[i] = mgc_alloc_noscan(size);
        else
            o[i] = mgc_alloc_array(&g_types[T_A3].t, (size + 23) / 24);
        CHECK(o[i]);
        us[i] = mgc_usable_size(o[i]);
        CHECK_MSG(us[i] >= size, "usable %zu < %zu", us[i], size);
        t_check_zero(o[i], us[i], "fresh object (usable bytes)");
        memset(o[i], 0x40 + i, size);
        memset(o[i] + size, 0xEE, us[i] - size);
    }
    for (int i = 0; i < N; i++) {
        for (size_t k = 0; k < size; k++)
            CHECK_MSG(o[i][k] == (unsigned char)(0x40 + i),
                      "%zu-byte object %d (kind %d), byte %zu overwritten (0x%02x) by a neighbour's usable bytes",
                      size, i, kind, k, o[i][k]);
        CHECK(mgc_base(o[i]) != NULL);
    }
}

static void test_usable_size(void)
{
    for (size_t s = 1; s < 16; s++)
        usable_case(s, K_NOSCAN);
    static const size_t sizes[] = {16, 17, 40, 100, 500, 513, 1000, 1025, 3000, 9000, 32768, 32769, 70000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        usable_case(sizes[i], K_SCAN);
        usable_case(sizes[i], K_NOSCAN);
        usable_case(sizes[i], K_TYPED);
    }
    /* Mixed tiny sizes in one stream. */
    unsigned char *o[200];
    size_t sz[200];
    for (int i = 0; i < 200; i++) {
        sz[i] = 1 + t_rand_below(15);
        o[i] = mgc_alloc_noscan(sz[i]);
        CHECK(o[i]);
        check_align(o[i], sz[i], 1);
        size_t u = mgc_usable_size(o[i]);
        CHECK(u >= sz[i]);
        t_check_zero(o[i], u, "tiny object (usable bytes)");
        memset(o[i], 0xEE, u);
        memset(o[i], i & 0xFF, sz[i]);
    }
    for (int i = 0; i < 200; i++)
        for (size_t k = 0; k < sz[i]; k++)
            CHECK_MSG(o[i][k] == (unsigned char)i, "tiny object %d (%zu bytes) byte %zu overwritten (0x%02x)", i,
                      sz[i], k, o[i][k]);
}

/* Every allocation is zeroed, also when it reuses a dead object's memory. */
static NOINLINE void fill_and_drop(size_t size, int kind, int n, uintptr_t *h)
{
    for (int i = 0; i < n; i++) {
        unsigned char *p = kind == K_SCAN     ? mgc_alloc(size)
                           : kind == K_NOSCAN ? mgc_alloc_noscan(size)
                                              : mgc_alloc_array(&g_types[T_A5].t, (size + 39) / 40);
        CHECK(p);
        memset(p, 0xAA, mgc_usable_size(p));
        h[i] = t_hide(p);
    }
}

static void test_zero_on_reuse(void)
{
    static const size_t sizes[] = {1, 5, 8, 12, 15, 16, 24, 48, 100, 256, 600, 1024, 5000, 32768, 40000, 300000,
                                   1100000, 2500000};
    enum { N = 64 };
    uintptr_t h[N];
    int reused = 0, cases = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int kind = K_SCAN; kind <= K_TYPED; kind++) {
            size_t size = sizes[i];
            int n = size > 100000 ? 4 : N;
            fill_and_drop(size, kind, n, h);
            collect_clean();
            for (int k = 0; k < n; k++) {
                unsigned char *p = kind == K_SCAN     ? mgc_alloc(size)
                                   : kind == K_NOSCAN ? mgc_alloc_noscan(size)
                                                      : mgc_alloc_array(&g_types[T_A5].t, (size + 39) / 40);
                CHECK(p);
                check_align(p, size, kind == K_NOSCAN);
                for (int j = 0; j < n; j++)
                    reused += p == (unsigned char *)t_unhide(h[j]);
                t_check_zero(p, mgc_usable_size(p), "allocation reusing a dead object's memory");
            }
            cases++;
        }
    }
    fprintf(stderr, "zero on reuse: %d cases, %d allocations landed on a dead object's address\n", cases, reused);
    CHECK_MSG(reused > 0, "no allocation reused a dead object's memory: the zeroing check tested nothing");
}

/* ---- main ------------------------------------------------------------------- */

int main(void)
{
    g_sanitized = t_sanitized();
    t_seed();
    /* The bounds and the natural-cycle checks assume Go's defaults. */
    unsetenv("GOGC");
    unsetenv("GOMEMLIMIT");
    CHECK_EQ(mgc_init(), 0);
    init_types();
    double t0 = t_now();

    torture(g_sanitized ? 2.5 : 3.0);
    fprintf(stderr, "[%.1fs] torture done\n", t_now() - t0);
    test_single_roots();
    test_interior();
    test_typed_words();
    test_typed_slack();
    test_typed_big_elements();
    test_other_thread_tls();
    fprintf(stderr, "[%.1fs] single-root checks done\n", t_now() - t0);
    test_chains_and_fanout();
    fprintf(stderr, "[%.1fs] chains and fan-out done\n", t_now() - t0);
    test_noscan_does_not_retain();
    test_typed_nonpointer_words();
    test_one_past_end();
    test_unregistered_malloc();
    test_reclaim_two_cycles();
    fprintf(stderr, "[%.1fs] negative checks done\n", t_now() - t0);
    test_realloc();
    test_usable_size();
    test_zero_on_reuse();
    test_realloc_typed_growth();
    fprintf(stderr, "[%.1fs] realloc, usable size, zeroing done\n", t_now() - t0);

    mgc_memstats ms;
    mgc_read_memstats(&ms);
    CHECK(ms.mallocs >= ms.frees);
    CHECK_EQ(ms.heap_objects, ms.mallocs - ms.frees);
    CHECK_EQ(ms.num_forced_gc, g_forced);
    fprintf(stderr, "ok: %u cycles (%u forced), %llu mallocs, %llu frees\n", ms.num_gc, ms.num_forced_gc,
            (unsigned long long)ms.mallocs, (unsigned long long)ms.frees);
    return 0;
}
