// ctest-timeout: 240
/* Explicit free and tracked scopes: LIFO reuse on the freeing thread,
   zeroed reuse, large objects returning pages at once, tiny no-ops, exact
   MemStats, the one-line aborts (not mgc's, interior, double free, wrong
   size, unreachable), and free in every phase under threads: one thread
   frees while others allocate and another forces collections, and no object
   is ever handed out twice. */
#include "internal/free.h"
#include "internal/gc.h"
#include "internal/heap.h"
#include "testing.h"
#include <mgc.h>
#include <pthread.h>

static const uint8_t mask1[] = {0x01};
static const mgc_type TP = {64, 8, mask1, "TP"};     /* heap-bits typed */
static const mgc_type TH = {1000, 8, mask1, "TH"};   /* header typed */

static void lifo(void)
{
    /* The next allocation of the class gets the freed slot back, LIFO. */
    size_t sizes[] = {16, 48, 100, 512, 2000, 32768};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        for (int noscan = 0; noscan < 2; noscan++) {
            void *a = noscan ? mgc_alloc_noscan(n) : mgc_alloc(n);
            void *b = noscan ? mgc_alloc_noscan(n) : mgc_alloc(n);
            void *c = noscan ? mgc_alloc_noscan(n) : mgc_alloc(n);
            memset(a, 1, n);
            memset(b, 2, n);
            memset(c, 3, n);
            mgc_free(a);
            mgc_free(b);
            mgc_free_sized(c, n, noscan);
            void *x = noscan ? mgc_alloc_noscan(n) : mgc_alloc(n);
            void *y = noscan ? mgc_alloc_noscan(n) : mgc_alloc(n);
            void *z = noscan ? mgc_alloc_noscan(n) : mgc_alloc(n);
            CHECK_MSG(x == c && y == b && z == a, "size %zu noscan %d: not LIFO", n, noscan);
            for (size_t i = 0; i < n; i++)
                CHECK_MSG(((char *)x)[i] == 0 && ((char *)z)[i] == 0, "reused slot not zeroed at %zu", i);
            /* A slot of the other kind is not reused for this one. */
            void *o = noscan ? mgc_alloc(n) : mgc_alloc_noscan(n);
            mgc_free(o);
            void *w = noscan ? mgc_alloc_noscan(n) : mgc_alloc(n);
            CHECK(w != o);
        }
    }
    /* Typed objects: reuse rewrites the type information. */
    void **p = mgc_alloc_typed(&TP);
    mgc_free(p);
    void **q = mgc_alloc_array(&TP, 1);
    CHECK(q == p && q[0] == NULL);
    void **h = mgc_alloc_typed(&TH);
    h[0] = p;
    mgc_free_sized(h, 1000, 0);
    void **h2 = mgc_alloc_typed(&TH);
    CHECK(h2 == h && h2[0] == NULL);
    CHECK_EQ(mgc_usable_size(h2), mgc_usable_size(h));
}

static void large(void)
{
    mgc_collect();
    int gogc = mgc_set_gc_percent(-1); /* no automatic cycle between a and b */
    mgc_memstats a, b;
    mgc_read_memstats(&a);
    char *big = mgc_alloc(8 << 20);
    big[0] = 1;
    mgc_free(big);
    mgc_read_memstats(&b);
    CHECK_EQ(b.heap_inuse, a.heap_inuse);   /* pages returned at once */
    CHECK_EQ(b.heap_objects, a.heap_objects);
    CHECK_EQ(b.frees - a.frees, 1);
    CHECK_EQ(b.frees_explicit_large - a.frees_explicit_large, 1);
    CHECK(mgc_base(big) == NULL);
    mgc_set_gc_percent(gogc);
    /* The pages are reused by the next large allocation, zeroed. */
    char *again = mgc_alloc(8 << 20);
    CHECK(again == big && again[0] == 0);
    mgc_free_sized(again, 8 << 20, 0);
    /* A large object freed while its span is unswept (a cycle just ran). */
    char *l2 = mgc_alloc_noscan(100000);
    for (int i = 0; i < 3; i++)
        (void)!mgc_alloc(1 << 20); /* may or may not trigger a cycle */
    mgc_free(l2);
}

/* 1000 objects of 80 bytes allocated and freed, 400 of them reused into
   keep[0..400), in a frame of its own: no register or stack slot of the
   caller keeps one of the 600 dropped ones alive. */
static uintptr_t dropped[1000]; /* addresses, hidden from the collector */

static __attribute__((noinline)) void alloc_free_reuse(void **keep)
{
    for (int i = 0; i < 1000; i++) {
        keep[i] = mgc_alloc(80);
        dropped[i] = t_hide(keep[i]);
    }
    for (int i = 0; i < 1000; i++) {
        mgc_free(keep[i]);
        keep[i] = NULL;
    }
    for (int i = 0; i < 400; i++)
        keep[i] = mgc_alloc(80); /* reuses 400 */
}

static void tiny_and_stats(void)
{
    /* Tiny: a no-op, the block's other objects are untouched. */
    char *t1 = mgc_alloc_noscan(5), *t2 = mgc_alloc_noscan(5);
    memcpy(t1, "abcd", 5);
    memcpy(t2, "wxyz", 5);
    mgc_free(t1);
    mgc_free(t1); /* not a double free: tiny frees do nothing */
    CHECK(!strcmp(t1, "abcd") && !strcmp(t2, "wxyz"));

    /* Exact counts: a reused slot is a free and a malloc; an unreused one is
       freed by the sweeper after the next cycle; nothing counts twice. */
    mgc_collect();
    mgc_memstats a, b, c;
    static void *keep[1000];
    mgc_read_memstats(&a);
    alloc_free_reuse(keep);
    mgc_read_memstats(&b);
    CHECK_EQ(b.mallocs - a.mallocs, 1400);
    CHECK_EQ(b.frees - a.frees, 400);
    CHECK_EQ(b.by_size[7].frees - a.by_size[7].frees, 400);
    CHECK_EQ(b.frees_explicit - a.frees_explicit, 1000);
    CHECK_EQ(b.heap_objects - a.heap_objects, 1000); /* 400 live + 600 freed, not yet swept */
    t_scrub_stack();
    mgc_collect();
    mgc_read_memstats(&c);
    /* Per class (80 bytes: only this test uses it), exactly, but for freed
       slots a stale word kept alive (a conservative scan may; a freed slot
       so kept still carries its freed mark, which is how they are found). */
    uint64_t kept = 0;
    for (int i = 0; i < 1000; i++) {
        uintptr_t p = (uintptr_t)t_unhide(dropped[i]);
        mgc_span *s = mgc__span_of(p);
        if (s && mgc__slot_state(s, mgc__span_index(s, p)) == MGC_SLOT_LIVE && mgc__freed_by_hand(p, s->spanclass))
            kept++;
    }
    CHECK_MSG(kept <= 2, "%llu freed slots survived the collection", (unsigned long long)kept);
    CHECK_EQ(c.by_size[7].size, 80);
    CHECK_EQ(c.by_size[7].frees - a.by_size[7].frees + kept, 1000); /* 400 reused + 600 swept */
    CHECK_EQ(c.by_size[7].mallocs - a.by_size[7].mallocs, 1400);
    CHECK(c.frees - a.frees >= 1000);
    CHECK_EQ(c.mallocs - a.mallocs, 1400);
    for (int i = 0; i < 400; i++)
        CHECK(mgc_base(keep[i]) == keep[i]);
}

static void scopes(void)
{
    void *kept, *dropped, *inner_obj;
    {
        MGC_SCOPE(s);
        dropped = mgc_scope_alloc(&s, 64);
        kept = mgc_scope_alloc_noscan(&s, 64);
        mgc_scope_keep(&s, kept);
        {
            MGC_SCOPE(inner);
            inner_obj = mgc_scope_alloc(&inner, 200);
            for (int i = 0; i < 1000; i++) /* past the inline list */
                (void)!mgc_scope_alloc(&inner, 32);
            CHECK(mgc_base(inner_obj) == inner_obj);
        } /* inner ends here */
        CHECK(mgc_base(inner_obj) == NULL); /* freed by hand */
        CHECK(mgc_base(dropped) == dropped);
    }
    CHECK(mgc_base(dropped) == NULL);
    CHECK(mgc_base(kept) == kept);
    /* The freed slot is the next one handed out on this thread. */
    void *again = mgc_alloc(64);
    CHECK(again == dropped);
    /* Early end, then reuse of the same scope. */
    MGC_SCOPE(s2);
    void *e1 = mgc_scope_alloc(&s2, 48);
    mgc_scope_end(&s2);
    CHECK(mgc_base(e1) == NULL);
    void *e2 = mgc_scope_alloc(&s2, 48);
    CHECK(e2 == e1);
    mgc_collect(); /* a scope keeps its objects alive until it ends */
    CHECK(mgc_base(e2) == e2);
}

/* ---- aborts ------------------------------------------------------------- */

static void d_stack(void *a)
{
    int x = 0;
    mgc_free(&x);
}
static void d_interior(void *a) { mgc_free((char *)mgc_alloc(64) + 16); }
static void d_double(void *a)
{
    void *p = mgc_alloc(64);
    mgc_free(p);
    mgc_free(p);
}
static void d_double_large(void *a)
{
    void *p = mgc_alloc(1 << 20);
    mgc_free(p);
    mgc_free(p);
}
static __attribute__((noinline)) void hide_many(uintptr_t *hidden, int n)
{
    for (int i = 0; i < n; i++)
        hidden[i] = t_hide(mgc_alloc(64));
}
static void d_swept(void *a)
{
    /* A stale stack word may keep one object alive: free one the collector
       really reclaimed (mgc_base says so). */
    static uintptr_t hidden[100];
    hide_many(hidden, 100);
    mgc_collect();
    for (int i = 0; i < 100; i++)
        if (!mgc_base(t_unhide(hidden[i])))
            mgc_free(t_unhide(hidden[i]));
    fprintf(stderr, "nothing was reclaimed\n");
}
static void d_size(void *a) { mgc_free_sized(mgc_alloc(64), 200, 0); }
static void d_kind(void *a) { mgc_free_sized(mgc_alloc(64), 64, 1); }
static void d_large_size(void *a) { mgc_free_sized(mgc_alloc(1 << 20), 100, 0); }
static void d_scope_keep(void *a)
{
    MGC_SCOPE(s);
    mgc_scope_keep(&s, mgc_alloc(8));
}

static void aborts(void)
{
    t_expect_abort(d_stack, NULL, "mgc_free: ");
    t_expect_abort(d_stack, NULL, "is not a pointer mgc returned (not in the heap)");
    t_expect_abort(d_interior, NULL, "is an interior pointer (object at");
    t_expect_abort(d_double, NULL, "was already freed (double free)");
    t_expect_abort(d_double_large, NULL, "is not allocated (freed already?)");
    t_expect_abort(d_swept, NULL, "is not allocated (freed already, by mgc_free or by the collector)");
    t_expect_abort(d_size, NULL, "mgc_free_sized: ");
    t_expect_abort(d_size, NULL, "was freed as 200 scanned bytes, but it is a scanned object of 64 bytes");
    t_expect_abort(d_kind, NULL, "was freed as 64 noscan bytes, but it is a scanned object");
    t_expect_abort(d_large_size, NULL, "was freed as 100 scanned bytes");
    t_expect_abort(d_scope_keep, NULL, "mgc_scope_keep: ");

    /* The unreachable-object check, on a span made to look unswept. */
    mgc_collect();
    void *p = mgc_alloc(64);
    mgc_span *s = mgc__span_of((uintptr_t)p);
    uintptr_t idx = mgc__span_index(s, (uintptr_t)p);
    CHECK(mgc__slot_state(s, idx) == MGC_SLOT_LIVE);
    uint32_t saved = atomic_load(&s->sweepgen);
    atomic_store(&s->sweepgen, atomic_load(&mgc__gc.sweepgen) - 2);
    CHECK(mgc__slot_state(s, idx) == MGC_SLOT_DEAD);
    s->mark_bytes[idx] = 1;
    CHECK(mgc__slot_state(s, idx) == MGC_SLOT_LIVE);
    s->mark_bytes[idx] = 0;
    atomic_store(&s->sweepgen, saved);
}

/* ---- free in every phase, under threads --------------------------------- */

#define NOBJ 512
typedef struct obj {
    uint64_t stamp; /* who owns it now: thread << 32 | serial */
    uint64_t pad[5];
} obj;

static _Atomic int stop;
static _Atomic uint64_t handouts, frees_done;

static void *churner(void *arg)
{
    uint64_t id = (uintptr_t)arg;
    obj *mine[NOBJ] = {0};
    uint64_t serial = 0, rng = id * 0x9E3779B97F4A7C15ull + 1;
    while (!atomic_load(&stop)) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        int i = (int)(rng % NOBJ);
        if (mine[i]) {
            CHECK_MSG(mine[i]->stamp == (id << 32 | (mine[i]->pad[0])), "object %p stamp overwritten",
                      (void *)mine[i]);
            if (rng & 1024)
                mgc_free_sized(mine[i], sizeof(obj), (int)(rng & 1));
            else if (rng & 2048)
                mgc_free(mine[i]);
            /* else: dropped, for the collector */
            mine[i] = NULL;
            atomic_fetch_add(&frees_done, 1);
        } else {
            obj *o = (rng & 1) ? mgc_alloc_noscan(sizeof(obj)) : mgc_alloc(sizeof(obj));
            CHECK(o->stamp == 0); /* zeroed: nobody else's */
            serial++;
            o->pad[0] = serial;
            o->stamp = id << 32 | serial;
            mine[i] = o;
            atomic_fetch_add(&handouts, 1);
        }
    }
    for (int i = 0; i < NOBJ; i++)
        if (mine[i])
            CHECK(mine[i]->stamp == (id << 32 | mine[i]->pad[0]));
    return NULL;
}

static void *collector(void *arg)
{
    while (!atomic_load(&stop))
        mgc_collect();
    return NULL;
}

static void threads(double seconds)
{
    pthread_t t[5];
    for (uintptr_t i = 0; i < 4; i++)
        CHECK_EQ(mgc_pthread_create(&t[i], NULL, churner, (void *)(i + 1)), 0);
    CHECK_EQ(mgc_pthread_create(&t[4], NULL, collector, NULL), 0);
    double end = t_now() + seconds;
    while (t_now() < end)
        usleep(10000);
    atomic_store(&stop, 1);
    for (int i = 0; i < 5; i++)
        pthread_join(t[i], NULL);
    mgc_memstats m;
    mgc_read_memstats(&m);
    CHECK(m.num_gc > 10);
    CHECK(m.frees_explicit > 1000);
    printf("%llu handouts, %llu frees, %u cycles\n", (unsigned long long)handouts,
           (unsigned long long)frees_done, m.num_gc);
}

int main(void)
{
    CHECK_EQ(mgc_init(), 0);
    lifo();
    large();
    tiny_and_stats();
    scopes();
    aborts();
    threads(3.0);
    return 0;
}
