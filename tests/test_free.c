// ctest-timeout: 240
/* Explicit free and tracked scopes: LIFO reuse on the freeing thread,
   zeroed reuse, large objects returning pages at once, tiny no-ops, exact
   MemStats, raw (unzeroed) storage made of slots freed by hand and swept
   carrying no freed mark, the one-line aborts (not mgc's, interior, double free, wrong
   size, unreachable), AddressSanitizer's report of a read after free, free
   while spans are unswept (reuse before the sweep, a large span leaving
   the sweep's count, exact counts after it), free while the background
   sweeper runs, and free in every phase under threads: one thread frees
   while others allocate and another forces collections, and no object is
   ever handed out twice. */
#include "internal/alloc.h"
#include "internal/free.h"
#include "internal/gc.h"
#include "internal/heap.h"
#include "internal/meta.h"
#include "internal/sweep.h"
#include "internal/sizeclass.h"
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
        if (s && mgc__slot_state(s, mgc__span_index(s, p), mgc__span_pin(s)) == MGC_SLOT_LIVE && mgc__freed_by_hand(p, s->spanclass))
            kept++;
    }
    CHECK_MSG(kept <= 2, "%llu freed slots survived the collection", (unsigned long long)kept);
    CHECK_EQ(c.by_size[7].size, 80);
    CHECK_EQ(c.by_size[7].frees - a.by_size[7].frees + kept, 1000); /* 400 reused + 600 swept */
    CHECK_EQ(c.by_size[7].mallocs - a.by_size[7].mallocs, 1400);
    CHECK(c.frees - a.frees + kept >= 1000);
    CHECK_EQ(c.mallocs - a.mallocs, 1400);
    for (int i = 0; i < 400; i++)
        CHECK(mgc_base(keep[i]) == keep[i]);
}

/* A slot freed by hand and not reused before the next cycle is swept as
   garbage with its freed mark still in its bytes. The raw path (the
   containers' storage, not zeroed) must not hand such a slot out still
   carrying the mark: the live object's next free would be taken for a
   double free, and mgc_base would disown it. */
enum { RAW_N = 512 };
static uintptr_t raw_freed[RAW_N]; /* hidden: garbage for the cycle */
static void *raw_held[RAW_N];      /* a root */
static mgc_buf raw_bufs[RAW_N];    /* roots */
static mgc_vec raw_vecs[RAW_N];

static __attribute__((noinline)) void raw_free_some(size_t size)
{
    void **p = malloc(RAW_N * sizeof *p); /* not scanned */
    CHECK(p != NULL);
    for (int i = 0; i < RAW_N; i++) {
        p[i] = mgc_alloc_noscan(size);
        raw_freed[i] = t_hide(p[i]);
    }
    for (int i = 0; i < RAW_N; i++)
        mgc_free_sized(p[i], size, 1);
    free(p);
}

/* Free RAW_N objects of size by hand, let a cycle drop and sweep them. */
static void raw_prepare(size_t size)
{
    mgc_collect();
    raw_free_some(size);
    t_scrub_stack();
    mgc_collect();
}

static int raw_was_freed(const void *q)
{
    for (int i = 0; i < RAW_N; i++)
        if (t_unhide(raw_freed[i]) == q)
            return 1;
    return 0;
}

static void raw_after_sweep(void)
{
    /* The containers' allocator itself. */
    raw_prepare(48);
    int again = 0;
    for (int i = 0; i < RAW_N; i++) {
        raw_held[i] = mgc__alloc_noscan_raw(48);
        CHECK(raw_held[i] != NULL);
        again += raw_was_freed(raw_held[i]);
        CHECK_MSG(mgc_base(raw_held[i]) == raw_held[i], "mgc_base disowns live raw storage %p", raw_held[i]);
    }
    /* Most of the swept slots come back: the case is exercised. */
    CHECK_MSG(again >= RAW_N / 2, "only %d of %d swept slots handed out again", again, RAW_N);
    for (int i = 0; i < RAW_N; i++) {
        mgc_free_sized(raw_held[i], 48, 1); /* aborted as a double free */
        raw_held[i] = NULL;
    }

    /* Through the public containers: storage of 16 bytes with fewer than 8
       written, so nothing overwrites the mark. */
    raw_prepare(16);
    again = 0;
    for (int i = 0; i < RAW_N; i++) {
        mgc_buf_append(&raw_bufs[i], "abc", 3);
        mgc_vec_init_noscan(&raw_vecs[i], 1);
        mgc_vec_push(&raw_vecs[i], "x");
        again += raw_was_freed(mgc_buf_bytes(&raw_bufs[i])) + raw_was_freed(mgc_vec_data(&raw_vecs[i]));
        CHECK(mgc_base(mgc_buf_bytes(&raw_bufs[i])) == mgc_buf_bytes(&raw_bufs[i]));
        CHECK(mgc_base(mgc_vec_data(&raw_vecs[i])) == mgc_vec_data(&raw_vecs[i]));
    }
    CHECK_MSG(again >= RAW_N / 2, "only %d of %d swept slots handed out again", again, RAW_N);
    for (int i = 0; i < RAW_N; i++) {
        if (i % 2) {
            mgc_buf_free(&raw_bufs[i]);
            mgc_vec_free(&raw_vecs[i]);
        } else { /* growth frees the old storage too */
            mgc_buf_append(&raw_bufs[i], "0123456789abcdef", 16);
            mgc_vec_append(&raw_vecs[i], "0123456789abcdef", 16);
            CHECK(!memcmp(mgc_buf_bytes(&raw_bufs[i]), "abc0123456789abcdef", 19));
            CHECK(!memcmp(mgc_vec_data(&raw_vecs[i]), "x0123456789abcdef", 17));
            mgc_buf_free(&raw_bufs[i]);
            mgc_vec_free(&raw_vecs[i]);
        }
    }
}

/* A scope ended early (or one past its inline list) holds nothing: its
   inline entries kept the freed objects, and the 1 MiB buffers they
   point to, alive while the frame lived (16 of 16 before). */
static __attribute__((noinline)) void scope_nodes(mgc_scope *s, uintptr_t *hidden, int n)
{
    for (int i = 0; i < n; i++) {
        void **node = mgc_scope_alloc(s, 64);
        node[4] = mgc_alloc_noscan(1 << 20); /* past the words a free links through */
        hidden[i] = t_hide(node[4]);
    }
}
static void scope_ended_releases(void)
{
    enum { NB = 16 };
    static uintptr_t hidden[NB + 8];
    MGC_SCOPE(s);
    scope_nodes(&s, hidden, NB);
    mgc_scope_end(&s);
    /* 24 entries: the first 16 inline, then moved to an array (the
       copies left inline kept the 8 recorded here). */
    static uintptr_t more[16];
    MGC_SCOPE(big);
    scope_nodes(&big, hidden + NB, 8);
    scope_nodes(&big, more, 16);
    mgc_scope_end(&big);
    t_scrub_stack();
    mgc_collect();
    mgc_collect();
    int alive = 0;
    for (int i = 0; i < NB + 8; i++)
        alive += mgc_base(t_unhide(hidden[i])) != NULL;
    CHECK_MSG(alive <= 2, "%d of %d buffers named only by freed scope objects survived two collections", alive,
              NB + 8);
}

/* mgc_scope_keep past the inline list finds its entry through the scope's
   index, whatever its age (the list was searched, O(n) a keep): 3000
   objects, every third kept oldest first, then a random half of the rest
   newest first, with allocations in between (the index grows); the scope
   then frees exactly the others, and a second keep of a kept one aborts
   (d_scope_keep). */
static void scope_keep_many(void)
{
    enum { N = 3000 };
    static unsigned char *o[N];
    static char kept[N];
    memset(kept, 0, sizeof kept);
    {
        MGC_SCOPE(s);
        for (int i = 0; i < N; i++) {
            o[i] = mgc_scope_alloc_noscan(&s, 24);
            memset(o[i], i & 0xff, 24);
            if (i >= 100 && i % 3 == 0) { /* keeps mixed with growth */
                int k = i - 100;
                if (!kept[k]) {
                    mgc_scope_keep(&s, o[k]);
                    kept[k] = 1;
                }
            }
        }
        for (int i = 0; i < N; i += 3)
            if (!kept[i]) {
                mgc_scope_keep(&s, o[i]);
                kept[i] = 1;
            }
        for (int i = N - 1; i >= 0; i--)
            if (!kept[i] && t_rand_below(2)) {
                mgc_scope_keep(&s, o[i]);
                kept[i] = 1;
            }
    }
    int nk = 0;
    for (int i = 0; i < N; i++) {
        if (kept[i]) {
            nk++;
            CHECK_MSG(mgc_base(o[i]) == o[i] && o[i][23] == (i & 0xff), "kept object %d was freed", i);
        } else {
            CHECK_MSG(mgc_base(o[i]) == NULL, "object %d, not kept, was not freed by the scope", i);
        }
    }
    CHECK(nk > N / 3 && nk < N);
    for (int i = 0; i < N; i++)
        if (kept[i])
            mgc_free(o[i]);
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
    scope_ended_releases();
}

/* ---- free while spans are unswept: deterministic ------------------------ */

/* A cycle started by the pacer, not mgc_collect (which finishes the sweep
   before it returns): GOGC 0 puts the goal at the heap marked by the last
   cycle, which the heap has passed, so mgc_set_gc_percent starts one at
   once; then GOGC is `after`, a goal the heap is below. Below
   MGC_SWEEP_BG_MIN_SPANS the background sweeper is not woken, and a
   thread sweeps lazily only the class it allocates from (and large spans
   before a large allocation), so every span of another class is left
   unswept until something sweeps it on purpose. */
static void cycle_by_pacer(int after)
{
    uint64_t n0 = atomic_load(&mgc__gc.cycles_done);
    mgc_set_gc_percent(0);
    CHECK_EQ(atomic_load(&mgc__gc.cycles_done), n0 + 1);
    mgc_set_gc_percent(after);
    CHECK_EQ(atomic_load(&mgc__gc.cycles_done), n0 + 1);
}

static bool unswept(const void *p)
{
    const mgc_span *s = mgc__span_of((uintptr_t)p);
    return atomic_load(&s->sweepgen) == atomic_load(&mgc__gc.sweepgen) - 2;
}

static enum mgc_slot_state state_of(const void *p)
{
    mgc_span *s = mgc__span_of((uintptr_t)p);
    if (!s)
        return MGC_SLOT_FREE;
    return mgc__slot_state(s, mgc__span_index(s, (uintptr_t)p), mgc__span_pin(s));
}

#define UN 64         /* objects of each kind */
#define UN_SIZE 144   /* a class no other part of this test uses */
#define UN_LARGE 100000
static void *un_held[UN];           /* reachable: a root */
static void *un_large;              /* reachable */
static uintptr_t un_dropped[UN];    /* hidden: garbage for the cycle */
static uintptr_t un_dropped_large;  /* hidden */

/* In a frame of its own, so no register or stack slot of the caller keeps
   a dropped object. */
static __attribute__((noinline)) void un_setup(void)
{
    for (int i = 0; i < UN; i++) {
        un_held[i] = mgc_alloc(UN_SIZE);
        un_dropped[i] = t_hide(mgc_alloc(UN_SIZE));
    }
    un_large = mgc_alloc_noscan(UN_LARGE);
    un_dropped_large = t_hide(mgc_alloc_noscan(UN_LARGE));
}

/* The state every part below starts from: a cycle has marked un_held and
   un_large live and the dropped objects dead, and none of their spans is
   swept yet. */
static void un_prepare(void)
{
    mgc_collect(); /* swept, a small heap */
    CHECK_MSG(t_heap_spans() < MGC_SWEEP_BG_MIN_SPANS / 2, "%llu spans: too many for a lazy sweep",
              (unsigned long long)t_heap_spans());
    int gogc = mgc_set_gc_percent(-1); /* the cycle is the next one */
    un_setup();
    t_scrub_stack();
    cycle_by_pacer(gogc);
    CHECK(!mgc__sweep_done());
    for (int i = 0; i < UN; i++)
        CHECK_MSG(unswept(un_held[i]), "held object %d: its span was swept", i);
    CHECK(unswept(un_large));
    for (int i = 0; i < UN; i++)
        CHECK(state_of(un_held[i]) == MGC_SLOT_LIVE);
    CHECK(state_of(un_large) == MGC_SLOT_LIVE);
}

static void free_unswept(void)
{
    unsigned cls = mgc__size_to_class(UN_SIZE);
    un_prepare();
    /* A dropped object a stale word kept is LIVE; the others are DEAD: the
       sweep will free exactly those. */
    uint64_t dead = 0;
    for (int i = 0; i < UN; i++)
        dead += state_of(t_unhide(un_dropped[i])) == MGC_SLOT_DEAD;
    CHECK_MSG(dead >= UN - 2, "only %llu of %d dropped objects found dead", (unsigned long long)dead, UN);

    mgc_memstats a, b, c;
    mgc_read_memstats(&a);
    CHECK_EQ(a.by_size[cls].size, UN_SIZE);

    /* Small: free half the held objects, then reuse half of those, all
       before their spans are swept. */
    void *freed[UN / 2];
    for (int i = 0; i < UN / 2; i++) {
        freed[i] = un_held[i];
        if (i & 1)
            mgc_free(un_held[i]);
        else
            mgc_free_sized(un_held[i], UN_SIZE, 0);
        un_held[i] = NULL;
    }
    for (int i = UN / 2; i < UN; i++)
        memset(un_held[i], 0x5A, UN_SIZE);
    void *reused[UN / 4];
    for (int i = 0; i < UN / 4; i++) {
        reused[i] = mgc_alloc(UN_SIZE);
        CHECK_MSG(reused[i] == freed[UN / 2 - 1 - i], "reuse %d: %p, not the last freed %p", i, reused[i],
                  freed[UN / 2 - 1 - i]);
        t_check_zero(reused[i], UN_SIZE, "a slot reused in an unswept span");
        memset(reused[i], 0xC3, UN_SIZE);
        CHECK(unswept(reused[i])); /* reuse took nothing from the span */
    }
    /* Large: its pages go back at once, and the sweep will not meet it. */
    uint64_t inuse0 = T_MEMSTAT(heap_inuse);
    mgc_free(un_large);
    un_large = NULL;
    CHECK_EQ(inuse0 - T_MEMSTAT(heap_inuse), mgc__round_up(UN_LARGE, MGC_PAGE_SIZE));
    mgc_read_memstats(&b);

    /* Now sweep. The reused slots stay (marked by the cycle), with their
       new contents; the freed ones not reused stay allocated too (marked,
       and on this thread's reuse list until the next cycle's flush); the
       dead ones are freed; the large span is not counted twice. */
    while (mgc__sweep_one())
        ;
    /* Every span swept, and the count of those left agrees (the freed
       large span, unswept, was taken off it). */
    CHECK(mgc__sweep_done());
    mgc_read_memstats(&c);
    for (int i = 0; i < UN / 4; i++) {
        CHECK(state_of(reused[i]) == MGC_SLOT_LIVE);
        for (int k = 0; k < UN_SIZE; k++)
            CHECK_MSG(((unsigned char *)reused[i])[k] == 0xC3, "reused object %d byte %d changed by the sweep", i,
                      k);
    }
    for (int i = UN / 2; i < UN; i++)
        for (int k = 0; k < UN_SIZE; k++)
            CHECK(((unsigned char *)un_held[i])[k] == 0x5A);
    for (int i = 0; i < UN / 4; i++)
        CHECK(state_of(freed[i]) == MGC_SLOT_LIVE &&
              mgc__freed_by_hand((uintptr_t)freed[i], mgc__span_of((uintptr_t)freed[i])->spanclass));
    CHECK_EQ(b.by_size[cls].mallocs - a.by_size[cls].mallocs, UN / 4);
    CHECK_EQ(b.by_size[cls].frees - a.by_size[cls].frees, UN / 4); /* a reuse is a free and a malloc */
    CHECK_EQ(b.frees_explicit - a.frees_explicit, UN / 2 + 1);
    CHECK_EQ(b.frees_explicit_large - a.frees_explicit_large, 1);
    CHECK_EQ(c.by_size[cls].frees - b.by_size[cls].frees, dead);
    CHECK_EQ(c.by_size[cls].mallocs, b.by_size[cls].mallocs);
    CHECK_EQ(c.frees_explicit, b.frees_explicit);

    /* The next cycle drops the reuse list: the freed slots nobody reused
       are garbage, as are the reused ones, now dropped, and any dropped
       object a stale word kept through the first cycle. Each is counted as
       a free once, by the sweeper, and only if it is gone (a stale word
       may keep one more cycle). */
    static uintptr_t cand[UN];
    int ncand = 0;
    for (int i = 0; i < UN / 4; i++) {
        cand[ncand++] = t_hide(freed[i]);
        cand[ncand++] = t_hide(reused[i]);
    }
    for (int i = 0; i < UN; i++)
        if (state_of(t_unhide(un_dropped[i])) != MGC_SLOT_FREE)
            cand[ncand++] = un_dropped[i];
    CHECK_EQ(ncand, UN / 2 + (UN - dead));
    memset(freed, 0, sizeof freed);
    memset(reused, 0, sizeof reused);
    t_scrub_stack();
    mgc_collect();
    mgc_memstats d;
    mgc_read_memstats(&d);
    uint64_t gone = 0;
    for (int i = 0; i < ncand; i++)
        gone += state_of(t_unhide(cand[i])) == MGC_SLOT_FREE;
    CHECK_MSG(gone + 2 >= (uint64_t)ncand, "only %llu of %d freed or dropped objects reclaimed",
              (unsigned long long)gone, ncand);
    CHECK_EQ(d.by_size[cls].frees - c.by_size[cls].frees, gone);
    CHECK_EQ(d.by_size[cls].mallocs, c.by_size[cls].mallocs);
    for (int i = UN / 2; i < UN; i++)
        un_held[i] = NULL;
}

/* Freeing an object the cycle found dead, before the sweep frees it: the
   pointer was hidden from the collector. */
static void d_unswept_dead(void *a)
{
    un_prepare();
    for (int i = 0; i < UN; i++)
        if (state_of(t_unhide(un_dropped[i])) == MGC_SLOT_DEAD)
            mgc_free(t_unhide(un_dropped[i]));
    fprintf(stderr, "no dropped object was dead\n");
}
static void d_unswept_dead_large(void *a)
{
    un_prepare();
    if (state_of(t_unhide(un_dropped_large)) == MGC_SLOT_DEAD)
        mgc_free(t_unhide(un_dropped_large));
    fprintf(stderr, "the dropped large object was not dead\n");
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
static void *volatile kept_many[10]; /* every tenth of d_swept's objects; volatile: stores kept, though never read */
static void d_swept(void *a)
{
    /* A stale stack word may keep one object alive: free one the collector
       really reclaimed (mgc_base says so) from a span still in use. */
    static uintptr_t hidden[100];
    t_drop_but_every(64, 100, 10, kept_many, hidden);
    mgc_collect();
    for (int i = 0; i < 100; i++)
        if (i % 10 && !mgc_base(t_unhide(hidden[i])) && mgc__span_of(hidden[i] ^ T_HIDE_KEY))
            mgc_free(t_unhide(hidden[i]));
    fprintf(stderr, "nothing was reclaimed\n");
}
/* A tiny object whose block the collector took: mgc_usable_size (and
   mgc_realloc, which then returned it in place while the allocator handed
   the block out again) must abort as for any other dead object. Every
   tenth block is kept so that the spans survive the sweep. */
static void d_tiny_dead(void *a)
{
    static uintptr_t hidden[200];
    for (int i = 0; i < 200; i++) {
        void *p = mgc_alloc_noscan(8); /* two to a 16-byte block */
        if (i % 20 == 0)
            kept_many[i / 20] = p;
        else
            hidden[i] = t_hide(p);
    }
    mgc_collect();
    for (int i = 0; i < 200; i++)
        if (i % 20 > 1 && !mgc_base(t_unhide(hidden[i])) && mgc__span_of(hidden[i] ^ T_HIDE_KEY))
            (void)mgc_usable_size(t_unhide(hidden[i]));
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

/* Reads of objects freed by hand, for AddressSanitizer to report. The
   child exits 0 if the read went unreported. */
static volatile char sink_byte;
static void u_small(void *a)
{
    char *p = mgc_alloc(64);
    memset(p, 1, 64);
    mgc_free(p);
    sink_byte = p[32];
}
static void u_small_noscan(void *a)
{
    char *p = mgc_alloc_noscan(300);
    memset(p, 1, 300);
    mgc_free_sized(p, 300, 1);
    sink_byte = p[0];
}
static void u_large(void *a)
{
    char *p = mgc_alloc_noscan(1 << 20);
    memset(p, 1, 1 << 20);
    mgc_free(p);
    sink_byte = p[500000];
}

/* Under AddressSanitizer (MGC_TEST_ASAN), a read of an object freed by hand
   is reported: free poisons the slot, small or large. Valgrind's
   counterpart is tests/valgrind. */
static void asan_reports(void)
{
    if (!getenv("MGC_TEST_ASAN")) {
        printf("asan_reports: not an AddressSanitizer build, skipped\n");
        return;
    }
    t_expect_asan_report(u_small, NULL, "AddressSanitizer: use-after-poison", "read after freeing a scanned slot");
    t_expect_asan_report(u_small_noscan, NULL, "AddressSanitizer: use-after-poison", "read after freeing a noscan slot");
    t_expect_asan_report(u_large, NULL, "AddressSanitizer: use-after-poison", "read after freeing a large object");
}

static void aborts(void)
{
    t_expect_abort(d_stack, NULL, "mgc_free: ");
    t_expect_abort(d_stack, NULL, "is not a pointer mgc returned (not in the heap)");
    t_expect_abort(d_interior, NULL, "is an interior pointer (object at");
    t_expect_abort(d_double, NULL, "was already freed (double free)");
    t_expect_abort(d_double_large, NULL, "is not allocated (freed already?)");
    t_expect_abort(d_swept, NULL, "is not allocated (freed already, by mgc_free or by the collector)");
    t_expect_abort(d_tiny_dead, NULL, "mgc_usable_size: ");
    t_expect_abort(d_tiny_dead, NULL, "is not allocated (freed already");
    t_expect_abort(d_size, NULL, "mgc_free_sized: ");
    t_expect_abort(d_size, NULL, "was freed as 200 scanned bytes, but it is a scanned object of 64 bytes");
    t_expect_abort(d_kind, NULL, "was freed as 64 noscan bytes, but it is a scanned object");
    t_expect_abort(d_large_size, NULL, "was freed as 100 scanned bytes");
    t_expect_abort(d_scope_keep, NULL, "mgc_scope_keep: ");
    t_expect_abort(d_unswept_dead, NULL, "was found unreachable by the last collection and will be reclaimed");
    t_expect_abort(d_unswept_dead_large, NULL, "was found unreachable by the last collection");

    /* The unreachable-object check, on a span made to look unswept. */
    mgc_collect();
    void *p = mgc_alloc(64);
    mgc_span *s = mgc__span_of((uintptr_t)p);
    uintptr_t idx = mgc__span_index(s, (uintptr_t)p);
    CHECK(mgc__slot_state(s, idx, mgc__span_pin(s)) == MGC_SLOT_LIVE);
    uint32_t saved = atomic_load(&s->sweepgen);
    atomic_store(&s->sweepgen, atomic_load(&mgc__gc.sweepgen) - 2);
    CHECK(mgc__slot_state(s, idx, mgc__span_pin(s)) == MGC_SLOT_DEAD);
    s->mark_bytes[idx] = 1;
    CHECK(mgc__slot_state(s, idx, mgc__span_pin(s)) == MGC_SLOT_LIVE);
    s->mark_bytes[idx] = 0;
    atomic_store(&s->sweepgen, saved);
}

/* ---- free while the background sweeper runs ----------------------------- */

#define BG_N 120000   /* objects of BG_SIZE: some 2600 spans, far past MGC_SWEEP_BG_MIN_SPANS */
#define BG_SIZE 176   /* a class no other part of this test uses */
#define BG_SPAN_OBJS (8192 / BG_SIZE)
static void **bg_held;       /* BG_N slots, a scanned object: the even ones hold objects */
static uintptr_t *bg_hidden; /* BG_N, malloc'd (not scanned): the odd ones, dropped, and
                                the even ones freed and not reused */

/* With automatic cycles off (the caller turns them back on): a cycle in
   the middle would reclaim dropped objects whose slots later ones would
   then take. */
static __attribute__((noinline)) void bg_setup(void)
{
    bg_held = mgc_alloc(BG_N * sizeof(void *));
    bg_hidden = calloc(BG_N, sizeof *bg_hidden);
    CHECK(bg_held && bg_hidden);
    for (int i = 0; i < BG_N; i++) {
        void *p = mgc_alloc(BG_SIZE);
        if (i & 1)
            bg_hidden[i] = t_hide(p);
        else
            bg_held[i] = p;
    }
}

/* A cycle leaves thousands of spans to the background sweeper; this thread
   frees every live object of them while it sweeps, and after each second
   free allocates once: it gets the slot just freed (LIFO), zeroed, whether
   or not its span is swept yet. Then, the sweep done, the counts are exact:
   each dead object freed once by whichever thread swept its span, each
   freed one left allocated (marked by the cycle) until the next. Returns
   whether the sweep was still running when the first free was made. */
static bool bg_round(void)
{
    unsigned cls = mgc__size_to_class(BG_SIZE);
    mgc_collect();
    int gogc = mgc_set_gc_percent(-1);
    bg_setup();
    t_scrub_stack();
    mgc_memstats a, b, c;
    mgc_read_memstats(&a);
    cycle_by_pacer(gogc);
    bool at_start = !mgc__sweep_done();

    /* The held objects in a random order (a Fisher-Yates shuffle of the
       even indices), freed one by one. */
    static int order[BG_N / 2];
    for (int i = 0; i < BG_N / 2; i++)
        order[i] = 2 * i;
    for (int i = BG_N / 2 - 1; i > 0; i--) {
        int j = (int)t_rand_below((uint64_t)i + 1), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    int nalloc = 0;
    for (int k = 0; k < BG_N / 2; k++) {
        int i = order[k];
        void *p = bg_held[i];
        bg_held[i] = NULL;
        mgc_free(p);
        if (k & 1) {
            void *q = mgc_alloc(BG_SIZE);
            CHECK_MSG(q == p, "allocation %d: %p, not the slot just freed %p", nalloc, q, p);
            t_check_zero(q, BG_SIZE, "a slot reused during the background sweep");
            memset(q, 0xB5, BG_SIZE);
            bg_held[i] = q;
            nalloc++;
        } else {
            bg_hidden[i] = t_hide(p);
        }
    }
    bool at_end = !mgc__sweep_done();
    mgc_read_memstats(&b);
    while (mgc__sweep_one())
        ;
    CHECK(mgc__sweep_done());
    mgc_read_memstats(&c);
    if (at_start)
        printf("bg_sweep: the sweep was running as the frees began%s\n",
               at_end ? ", and still as they ended" : "");

    uint64_t dead = 0, freed = 0;
    for (int i = 0; i < BG_N; i++) {
        if (i & 1) {
            dead += state_of(t_unhide(bg_hidden[i])) == MGC_SLOT_FREE; /* else a stale word kept it */
        } else if (bg_held[i]) {
            for (int k = 0; k < BG_SIZE; k++)
                CHECK_MSG(((unsigned char *)bg_held[i])[k] == 0xB5, "object %d byte %d changed", i, k);
        } else {
            uintptr_t p = (uintptr_t)t_unhide(bg_hidden[i]);
            CHECK_MSG(state_of((void *)p) == MGC_SLOT_LIVE && mgc__freed_by_hand(p, mgc__span_of(p)->spanclass),
                      "freed object %d: not left allocated and marked freed by the sweep", i);
            freed++;
        }
    }
    CHECK_MSG(dead + 2 >= BG_N / 2, "only %llu of %d dropped objects swept", (unsigned long long)dead, BG_N / 2);
    CHECK_EQ(nalloc, BG_N / 4);
    CHECK_EQ(freed, BG_N / 4);
    CHECK_EQ(c.by_size[cls].size, BG_SIZE);
    CHECK_EQ(c.by_size[cls].mallocs - a.by_size[cls].mallocs, (uint64_t)nalloc);
    CHECK_EQ(c.by_size[cls].frees - a.by_size[cls].frees, (uint64_t)nalloc + dead);
    CHECK_EQ(b.frees_explicit - a.frees_explicit, BG_N / 2);
    /* Cleared, not only dropped: a stale word that kept the array would
       keep all it points to (a sanitizer's stack may hold one). */
    memset(bg_held, 0, BG_N * sizeof(void *));
    free(bg_hidden);
    bg_hidden = NULL;
    bg_held = NULL;
    return at_start;
}

/* The sweep of a few thousand spans in which nothing or half died takes a
   few hundred microseconds on the other CPU, and the collecting thread may
   take that long to return from the cycle: rounds until one overlaps. */
static void free_during_bg_sweep(void)
{
    int round = 1;
    while (!bg_round()) {
        CHECK_MSG(round < 20, "in %d rounds the background sweep (%d spans) was always over before the first free",
                  round, BG_N / BG_SPAN_OBJS);
        round++;
    }
    printf("bg_sweep: round %d\n", round);
}

/* ---- lookups racing the end of a span ------------------------------------ */

/* A thread that reads a span with no lock (mgc_base, and the checks of
   mgc_free, mgc_realloc, mgc_usable_size, given the pointer of an object
   the collector took) may hold a record the sweep frees and a new span
   reuses under it. Step by step: the freed record answers FREE, also when
   its sweepgen is the sweeper's claim for good (the sweep that freed it
   never moved it on; the reader waited for ever), and when it is set up
   again for another span; every read stays in mapped memory (the bitmaps
   were NULL: a fault). */
/* An object of its own span: small, of a class no other test here uses
   (its span empties when it dies), or large. Only the span and the index
   leave: no pointer to it stays behind on the stack. */
static __attribute__((noinline)) mgc_span *fr_make(int large, uintptr_t *idx, uintptr_t *hidden)
{
    void *p = large ? mgc_alloc_noscan(100000) : mgc_alloc_array(&TP, 100);
    mgc_span *s = mgc__span_of((uintptr_t)p);
    CHECK(s != NULL);
    *idx = mgc__span_index(s, (uintptr_t)p);
    *hidden = t_hide(p);
    return s;
}
static void freed_record(void)
{
    t_watchdog(30, "freed_record (a lookup waiting on a freed span?)");
    for (int large = 0; large < 2; large++) {
        uintptr_t idx, hidden;
        mgc_span *s = fr_make(large, &idx, &hidden);
        uint32_t inc = mgc__span_pin(s);
        CHECK(!(inc & 1));
        CHECK(mgc__slot_state(s, idx, inc) == MGC_SLOT_LIVE);
        if (large) {
            mgc_free(t_unhide(hidden)); /* the span goes at once */
        } else {
            t_scrub_stack();
            mgc_collect(); /* dropped: its span is swept away */
        }
        CHECK(mgc__span_of((uintptr_t)t_unhide(hidden)) != s);
        CHECK(mgc__span_pin(s) & 1);
        CHECK(mgc__slot_state(s, idx, inc) == MGC_SLOT_FREE);
        CHECK(s->alloc_bits && s->mark_bytes && s->heap_bits);
        uint32_t g = atomic_load(&s->sweepgen);
        atomic_store(&s->sweepgen, atomic_load(&mgc__gc.sweepgen) - 1);
        CHECK(mgc__slot_state(s, idx, inc) == MGC_SLOT_FREE);
        atomic_store(&s->sweepgen, g);
        /* Set up again (spare records are reused LIFO; the sweep may have
           freed others after it): still FREE for the old incarnation,
           while the new span's own is LIVE. */
        static void *q[4096];
        int n = 0;
        do
            q[n] = mgc_alloc_noscan(100000);
        while (mgc__span_of((uintptr_t)q[n++]) != s && n < 4096);
        CHECK_MSG(mgc__span_of((uintptr_t)q[n - 1]) == s, "the record was not reused in %d spans", n);
        CHECK(mgc__slot_state(s, idx, inc) == MGC_SLOT_FREE);
        CHECK(mgc__slot_state(s, 0, mgc__span_pin(s)) == MGC_SLOT_LIVE);
        /* A lookup of the old address that found this record before it
           went, pinned after it came back as a span elsewhere: p is not in
           that span (it returned the new object's base). */
        if (q[n - 1] != t_unhide(hidden))
            CHECK(mgc__base_in(s, (uintptr_t)t_unhide(hidden) + 8) == NULL);
        while (n)
            mgc_free(q[--n]);
    }
    /* MSpanInuse: the records of the spans in use and the span list, as
       the metadata allocator counts them (16-byte steps, or pages past 16
       KiB); a spare record counts nothing. It was 8 bytes over for every
       record ever made (made counted rounded, spared counted not). */
    mgc_collect();
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    size_t rec = (sizeof(mgc_span) + 15) & ~(size_t)15, list = mgc__heap.allspans_cap * sizeof(mgc_span *);
    list = list <= MGC_META_STABLE_MAX ? (list + 15) & ~(size_t)15 : (list + 4095) & ~(size_t)4095;
    CHECK_MSG(ms.mspan_inuse == mgc__heap.nallspans * rec + list, "mspan_inuse %llu, %zu spans in use: %zu",
              (unsigned long long)ms.mspan_inuse, mgc__heap.nallspans, mgc__heap.nallspans * rec + list);
    alarm(0);
}

/* Lookups of dropped objects' addresses while their spans are swept away
   and reused (the reviewer's repro faulted within 30 ms): no fault, no
   hang, and an answer is an object that holds the address. */
#define RB_K 0x5a5a5a5a5a5a5a5aull
static _Atomic uintptr_t rb_hidden; /* an address XOR RB_K: not a pointer */
static _Atomic int rb_stop;
static _Atomic uint64_t rb_calls, rb_found;
static void *rb_prober(void *arg)
{
    (void)arg;
    while (!atomic_load(&rb_stop)) {
        uintptr_t h = atomic_load(&rb_hidden);
        if (!h)
            continue;
        uintptr_t p = h ^ RB_K;
        uintptr_t b = (uintptr_t)mgc_base((void *)p);
        CHECK_MSG(!b || (b <= p && p - b < 200000), "mgc_base(%p) = %p, not an object holding it", (void *)p,
                  (void *)b);
        atomic_fetch_add(&rb_calls, 1);
        atomic_fetch_add(&rb_found, b != 0);
    }
    return NULL;
}
static __attribute__((noinline)) void rb_round(uint64_t i)
{
    size_t sz = (i & 1) ? 40000 : (i & 2) ? 96 : 3 * 8192 * 4;
    char *x = mgc_alloc_noscan(sz);
    atomic_store(&rb_hidden, (uintptr_t)x ^ RB_K);
}
static void racing_base(double seconds)
{
    t_watchdog(60, "racing_base");
    pthread_t t;
    CHECK_EQ(mgc_pthread_create(&t, NULL, rb_prober, NULL), 0);
    double end = t_now() + seconds;
    uint64_t rounds = 0;
    while (t_now() < end) {
        rb_round(rounds++);
        t_scrub_stack();
        mgc_collect(); /* the object dies; its span is swept away */
        void *keep = mgc_alloc_noscan(100000); /* a record set up again */
        (void)keep;
    }
    atomic_store(&rb_stop, 1);
    pthread_join(t, NULL);
    alarm(0);
    printf("racing_base: %llu rounds, %llu lookups, %llu found an object\n", (unsigned long long)rounds,
           (unsigned long long)rb_calls, (unsigned long long)rb_found);
    CHECK(rounds > 100 && rb_calls > rounds);
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
    raw_after_sweep();
    scopes();
    scope_keep_many();
    free_unswept();
    free_during_bg_sweep();
    freed_record();
    racing_base(T_TSAN ? 0.5 : 1.5);
    aborts();
    asan_reports();
    threads(3.0);
    return 0;
}
