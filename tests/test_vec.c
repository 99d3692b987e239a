// ctest-timeout: 120
/* mgc_vec, the self-freeing growable array (Go's append): a vector of
   pointers and vectors of typed and pointer-free elements, their contents
   and accessors; precise scanning (objects reachable only through pointer
   words survive, a pointer-looking value in a non-pointer word keeps
   nothing alive, and what pop and truncate drop is reclaimed); growth
   freeing the old array with its exact size (frees_explicit rises, and the
   next allocation of that size and kind on this thread is the old
   address) for small, header-typed and large arrays; the no-free switch;
   a large vector surviving many collections with garbage in between; and
   the one-line aborts for misuse. */
#include "internal/containers.h"
#include "internal/heap.h"
#include "testing.h"
#include <mgc.h>

#define NOINLINE __attribute__((noinline))

static int g_asan;


/* An element with pointers in words 1 and 3, and words 0 and 2 plain. */
typedef struct elem {
    uint64_t id;
    uint64_t *a;
    uintptr_t hidden; /* a pointer's value where the collector must not look */
    uint64_t *b;
} elem;
static const uint8_t elem_mask[] = {0x0A};
static const mgc_type elem_type = {sizeof(elem), sizeof(elem), elem_mask, "elem"};
static const uint8_t ptr_mask[] = {0x01};
static const mgc_type ptr_type = {sizeof(void *), sizeof(void *), ptr_mask, "my ptr"};
static const mgc_type plain_type = {24, 0, NULL, "plain"};
typedef struct rgb {
    uint8_t r, g, b;
} rgb;


static void pointers(void)
{
    mgc_vec v;
    mgc_vec_init_ptr(&v);
    CHECK_EQ(mgc_vec_len(&v), 0);
    CHECK_EQ(mgc_vec_cap(&v), 0);
    CHECK(mgc_vec_data(&v) == NULL);
    int n = 1000;
    for (int i = 0; i < n; i++)
        mgc_vec_push_ptr(&v, tagged((uint64_t)i));
    CHECK_EQ(mgc_vec_len(&v), n);
    CHECK(mgc_vec_cap(&v) >= (size_t)n);
    for (int i = 0; i < n; i++)
        CHECK(tag_ok(mgc_vec_get_ptr(&v, (size_t)i), (uint64_t)i));
    /* The array is typed, every word a pointer, and fills its size class. */
    mgc_span *s = mgc__span_of((uintptr_t)mgc_vec_data(&v));
    CHECK(s && s->kind == MGC_KIND_TYPED);
    CHECK_EQ(mgc_usable_size(mgc_vec_data(&v)) / sizeof(void *), mgc_vec_cap(&v));
    /* set / pop / at / get. */
    uint64_t *x = tagged(5000);
    mgc_vec_set_ptr(&v, 10, x);
    CHECK(mgc_vec_get_ptr(&v, 10) == x);
    CHECK(*(void **)mgc_vec_at(&v, 10) == x);
    void *out = NULL;
    mgc_vec_get(&v, 10, &out);
    CHECK(out == x);
    CHECK(tag_ok(mgc_vec_pop_ptr(&v), (uint64_t)n - 1));
    CHECK_EQ(mgc_vec_len(&v), n - 1);
    CHECK(((void **)mgc_vec_data(&v))[n - 1] == NULL); /* dropped slot cleared */
    mgc_vec_pop(&v, &out);
    CHECK(tag_ok(out, (uint64_t)n - 2));
    mgc_vec_pop(&v, NULL);
    CHECK_EQ(mgc_vec_len(&v), n - 3);
    /* Generic push of a pointer element, and NULL = a zero element. */
    void *y = x;
    void **slot = mgc_vec_push(&v, &y);
    CHECK(*slot == x && mgc_vec_get_ptr(&v, (size_t)n - 3) == x);
    mgc_vec_push(&v, NULL);
    CHECK(mgc_vec_get_ptr(&v, (size_t)n - 2) == NULL);
    /* A user type equal to a pointer works with the _ptr calls too. */
    mgc_vec w;
    mgc_vec_init(&w, &ptr_type);
    mgc_vec_push_ptr(&w, x);
    CHECK(mgc_vec_pop_ptr(&w) == x);
    /* truncate clears, reserve keeps contents, free empties. */
    mgc_vec_truncate(&v, 100);
    CHECK_EQ(mgc_vec_len(&v), 100);
    for (size_t i = 100; i < mgc_vec_cap(&v); i++)
        CHECK(((void **)mgc_vec_data(&v))[i] == NULL);
    mgc_vec_reserve(&v, 100000);
    CHECK(mgc_vec_cap(&v) >= 100000);
    for (int i = 0; i < 100; i++)
        CHECK(tag_ok(mgc_vec_get_ptr(&v, (size_t)i), (uint64_t)(i == 10 ? 5000 : i)));
    size_t cap = mgc_vec_cap(&v);
    mgc_vec_reserve(&v, 10); /* never shrinks */
    CHECK_EQ(mgc_vec_cap(&v), cap);
    mgc_vec_free(&v);
    CHECK(mgc_vec_len(&v) == 0 && mgc_vec_cap(&v) == 0 && mgc_vec_data(&v) == NULL);
    mgc_vec_push_ptr(&v, x); /* usable again */
    CHECK(mgc_vec_get_ptr(&v, 0) == x);
    mgc_vec_free(&v);
    /* Pushing an element of the vector itself across a growth. */
    for (int i = 0; i < 4; i++)
        mgc_vec_push_ptr(&v, tagged((uint64_t)i));
    while (mgc_vec_len(&v) < mgc_vec_cap(&v))
        mgc_vec_push_ptr(&v, NULL);
    void *first = mgc_vec_get_ptr(&v, 0);
    mgc_vec_push(&v, mgc_vec_at(&v, 0)); /* grows: reads the old array first */
    CHECK(mgc_vec_get_ptr(&v, mgc_vec_len(&v) - 1) == first);
    mgc_vec_append(&v, mgc_vec_data(&v), mgc_vec_len(&v)); /* doubles itself */
    CHECK(mgc_vec_get_ptr(&v, mgc_vec_len(&v) / 2) == first);
    mgc_vec_free(&v);
}

static void typed_and_noscan(void)
{
    mgc_vec v;
    mgc_vec_init(&v, &elem_type);
    for (uint64_t i = 0; i < 3000; i++) {
        elem e = {i, tagged(i), i * 3, tagged(i + 100000)};
        elem *p = mgc_vec_push(&v, &e);
        CHECK(p->id == i);
    }
    mgc_span *s = mgc__span_of((uintptr_t)mgc_vec_data(&v));
    CHECK(s && s->kind == MGC_KIND_TYPED);
    for (size_t i = 0; i < 3000; i++) {
        elem e;
        mgc_vec_get(&v, i, &e);
        CHECK(e.id == i && e.hidden == i * 3 && tag_ok(e.a, i) && tag_ok(e.b, i + 100000));
    }
    elem z = {7, NULL, 7, NULL};
    mgc_vec_set(&v, 5, &z);
    CHECK(((elem *)mgc_vec_at(&v, 5))->id == 7 && ((elem *)mgc_vec_at(&v, 5))->a == NULL);
    elem last;
    mgc_vec_pop(&v, &last);
    CHECK(last.id == 2999);
    const elem zero = {0, NULL, 0, NULL};
    CHECK(!memcmp((elem *)mgc_vec_data(&v) + 2999, &zero, sizeof zero)); /* cleared */
    elem more[3] = {{1, NULL, 1, NULL}, {2, NULL, 2, NULL}, {3, NULL, 3, NULL}};
    mgc_vec_append(&v, more, 3);
    CHECK(mgc_vec_len(&v) == 3002 && ((elem *)mgc_vec_at(&v, 3001))->id == 3);
    mgc_vec_free(&v);

    /* Big elements (4 KiB, a pointer in the first word): header-typed and
       large arrays, the objects kept alive across collections. */
    static const mgc_type big_type = {4096, 8, ptr_mask, "big"};
    mgc_vec g;
    mgc_vec_init(&g, &big_type);
    for (uint64_t i = 0; i < 40; i++) {
        uint64_t e[512] = {0};
        e[0] = (uint64_t)(uintptr_t)tagged(i);
        e[511] = i;
        mgc_vec_push(&g, e);
        if (i % 10 == 9) {
            t_garbage(5000);
            mgc_collect();
        }
    }
    s = mgc__span_of((uintptr_t)mgc_vec_data(&g));
    CHECK(s && s->large && s->kind == MGC_KIND_TYPED && s->large_type == &big_type);
    for (uint64_t i = 0; i < 40; i++) {
        const uint64_t *e = mgc_vec_at(&g, i);
        CHECK(e[511] == i && tag_ok((const uint64_t *)(uintptr_t)e[0], i));
    }
    mgc_vec_free(&g);

    /* A pointer-free type: noscan storage. */
    mgc_vec p;
    mgc_vec_init(&p, &plain_type);
    for (int i = 0; i < 100; i++) {
        uint64_t w[3] = {(uint64_t)i, (uint64_t)i * 2, (uint64_t)i * 3};
        mgc_vec_push(&p, w);
    }
    s = mgc__span_of((uintptr_t)mgc_vec_data(&p));
    CHECK(s && s->kind == MGC_KIND_NOSCAN);
    CHECK(((uint64_t *)mgc_vec_at(&p, 99))[2] == 297);
    mgc_vec_free(&p);

    /* Odd-sized pointer-free elements. */
    mgc_vec c;
    mgc_vec_init_noscan(&c, sizeof(rgb));
    for (int i = 0; i < 100000; i++) {
        rgb e = {(uint8_t)i, (uint8_t)(i >> 8), (uint8_t)(i >> 16)};
        mgc_vec_push(&c, &e);
    }
    for (int i = 0; i < 100000; i += 7) {
        rgb e;
        mgc_vec_get(&c, (size_t)i, &e);
        CHECK(e.r == (uint8_t)i && e.g == (uint8_t)(i >> 8) && e.b == (uint8_t)(i >> 16));
    }
    s = mgc__span_of((uintptr_t)mgc_vec_data(&c));
    CHECK(s && s->kind == MGC_KIND_NOSCAN);
    mgc_vec_truncate(&c, 0);
    CHECK_EQ(mgc_vec_len(&c), 0);
    mgc_vec_free(&c);
}

/* ---- precise scanning --------------------------------------------------- */

#define NPREC 2000

/* Fill v with elements whose a/b objects are reachable only through the
   vector and whose hidden word holds the address of an object nothing else
   references; record every address, masked, in malloc memory. */
static NOINLINE void fill_precise(mgc_vec *v, uintptr_t *as, uintptr_t *hs)
{
    /* All in one array: an old array left by a growth holds the same
       pointers, and a stale stack word that happens to point to it would
       keep them alive for a cycle (conservative stack scanning), which is
       not what this test is about. */
    mgc_vec_reserve(v, NPREC);
    for (uint64_t i = 0; i < NPREC; i++) {
        uint64_t *h = mgc_alloc_noscan(208); /* a class nothing else here uses */
        h[0] = i;
        elem e = {i, tagged(i), (uintptr_t)h, tagged(i + 7)};
        as[i] = t_hide(e.a);
        hs[i] = t_hide(h);
        mgc_vec_push(v, &e);
        e.a = e.b = NULL;
        e.hidden = 0;
    }
}

static NOINLINE int count_live(const uintptr_t *hs, size_t from, size_t to)
{
    int live = 0;
    for (size_t i = from; i < to; i++)
        live += mgc_base(t_unhide(hs[i])) != NULL;
    return live;
}

static void precise(void)
{
    uintptr_t *as = malloc(NPREC * sizeof *as), *hs = malloc(NPREC * sizeof *hs);
    mgc_vec v;
    mgc_vec_init(&v, &elem_type);
    fill_precise(&v, as, hs);
    t_scrub_stack();
    for (int round = 0; round < 5; round++) {
        t_garbage(20000);
        mgc_collect();
    }
    /* Pointer words kept their objects... */
    for (size_t i = 0; i < NPREC; i++) {
        const elem *e = mgc_vec_at(&v, i);
        CHECK(e->id == i && e->a == t_unhide(as[i]) && tag_ok(e->a, i) && tag_ok(e->b, i + 7));
        CHECK(mgc_base(e->a) == e->a);
    }
    /* ...the plain word kept nothing. */
    int live = count_live(hs, 0, NPREC);
    CHECK_MSG(live <= NPREC / 20, "%d of %d objects referenced only from non-pointer words survived", live, NPREC);

    /* What truncate and pop drop is reclaimed: the array's tail is cleared. */
    mgc_vec_truncate(&v, NPREC / 2);
    for (int i = 0; i < 10; i++)
        mgc_vec_pop(&v, NULL);
    t_scrub_stack();
    mgc_collect();
    mgc_collect();
    live = count_live(as, NPREC / 2 - 10, NPREC);
    CHECK_MSG(live <= NPREC / 20, "%d of %d objects dropped by truncate/pop survived", live, NPREC / 2 + 10);
    live = count_live(as, 0, NPREC / 2 - 10);
    CHECK_EQ(live, NPREC / 2 - 10);

    /* A vector of pointers, the same. */
    mgc_vec p;
    mgc_vec_init_ptr(&p);
    mgc_vec_reserve(&p, NPREC); /* no old arrays holding the pointers (see fill_precise) */
    for (size_t i = 0; i < NPREC; i++) {
        uint64_t *o = tagged(i);
        as[i] = t_hide(o);
        mgc_vec_push_ptr(&p, o);
    }
    mgc_vec_truncate(&p, NPREC / 2);
    t_scrub_stack();
    t_garbage(10000);
    mgc_collect();
    mgc_collect();
    for (size_t i = 0; i < NPREC / 2; i++)
        CHECK(mgc_vec_get_ptr(&p, i) == t_unhide(as[i]) && tag_ok(mgc_vec_get_ptr(&p, i), i));
    live = count_live(as, NPREC / 2, NPREC);
    CHECK_MSG(live <= NPREC / 20, "%d of %d objects dropped from a pointer vector survived", live, NPREC / 2);
    mgc_vec_free(&p);
    mgc_vec_free(&v);
    free(as);
    free(hs);
}

/* ---- growth frees ------------------------------------------------------- */

/* Fill v to capacity, push once more: the old array must be freed and be
   the next allocation of its size and kind. */
static void grow_once(mgc_vec *v, const char *what, void *(*again)(size_t bytes), int large)
{
    while (mgc_vec_len(v) < mgc_vec_cap(v) || mgc_vec_cap(v) == 0)
        mgc_vec_push(v, NULL);
    void *old = mgc_vec_data(v);
    size_t oldbytes = mgc_vec_cap(v) * v->elem_size;
    /* Large arrays grow in place when the pages after them are free: take
       those pages first, to see the move-and-free path. */
    size_t nheld = 0;
    void **held = large ? t_occupy_after(old, mgc_usable_size(old), &nheld) : NULL;
    mgc_memstats a, b;
    mgc_read_memstats(&a);
    mgc_vec_push(v, NULL);
    mgc_read_memstats(&b);
    CHECK_MSG(mgc_vec_data(v) != old, "%s", what);
    CHECK_MSG(b.frees_explicit - a.frees_explicit == 1, "%s: %zu bytes: frees_explicit +%llu", what, oldbytes,
              (unsigned long long)(b.frees_explicit - a.frees_explicit));
    CHECK_EQ(b.frees_explicit_large - a.frees_explicit_large, (uint64_t)large);
    void *p = again(oldbytes);
    CHECK_MSG(p == old, "%s: %zu bytes: the old array %p was not reused (got %p)", what, oldbytes, old, p);
    if (held)
        t_release(held, nheld);
}

static void *again_ptr(size_t bytes) { return mgc_alloc_array(&ptr_type, bytes / sizeof(void *)); }
static void *again_elem(size_t bytes) { return mgc_alloc_array(&elem_type, bytes / sizeof(elem)); }
static void *again_noscan(size_t bytes) { return mgc_alloc_noscan(bytes); }

static void growth_frees(void)
{
    int gogc = mgc_set_gc_percent(-1); /* no cycle may drop the reuse lists */
    mgc_vec v;
    mgc_vec_init_ptr(&v);
    mgc_vec_push_ptr(&v, NULL);
    /* Heap-bits typed (<= 512 bytes), header typed, then large. */
    while (mgc_vec_cap(&v) * sizeof(void *) + 16 <= 32768)
        grow_once(&v, "pointers", again_ptr, 0);
    grow_once(&v, "pointers, large", again_ptr, 1);
    grow_once(&v, "pointers, large", again_ptr, 1);
    mgc_vec_free(&v);

    mgc_vec e;
    mgc_vec_init(&e, &elem_type);
    while (mgc_vec_cap(&e) * sizeof(elem) + 16 <= 32768)
        grow_once(&e, "elem", again_elem, 0);
    mgc_vec_free(&e);

    mgc_vec n;
    mgc_vec_init_noscan(&n, 8);
    while (mgc_vec_cap(&n) * 8 <= 32768)
        grow_once(&n, "noscan", again_noscan, 0);
    grow_once(&n, "noscan, large", again_noscan, 1);

    /* The free empties at once; truncate does not free. */
    uint64_t f0 = T_MEMSTAT(frees_explicit);
    mgc_vec_truncate(&n, 0);
    CHECK_EQ(T_MEMSTAT(frees_explicit), f0);
    mgc_vec_free(&n);
    CHECK_EQ(T_MEMSTAT(frees_explicit) - f0, 1);
    mgc_set_gc_percent(gogc);
}

static void no_free_variant(void)
{
    int gogc = mgc_set_gc_percent(-1);
    mgc__containers_free = false;
    mgc_vec v;
    mgc_vec_init_ptr(&v);
    uint64_t f0 = T_MEMSTAT(frees_explicit);
    void *olds[32];
    int n = 0;
    for (int i = 0; i < 100000; i++) {
        if (mgc_vec_len(&v) == mgc_vec_cap(&v) && mgc_vec_cap(&v) && n < 32)
            olds[n++] = mgc_vec_data(&v);
        mgc_vec_push_ptr(&v, NULL);
    }
    CHECK(n >= 10);
    /* Every growth moved, large storage too: growth in place would hand
       the old storage back as a free does. */
    for (int i = 1; i < n; i++)
        CHECK_MSG(olds[i] != olds[i - 1], "growth %d stayed at %p with the frees off", i, olds[i]);
    CHECK(mgc_vec_data(&v) != olds[n - 1]);
    mgc_vec_free(&v);
    CHECK_EQ(T_MEMSTAT(frees_explicit), f0);
    for (int i = 0; i < n; i++)
        CHECK(mgc_base(olds[i]) == olds[i]); /* left to the collector */
    mgc__containers_free = true;
    mgc_set_gc_percent(gogc);
}

/* A large vector of pointers (the objects reachable only through it) grown
   with collections and garbage in between, then checked after more. */
static void survives_collections(void)
{
    size_t n = g_asan ? 100000 : 1000000;
    mgc_memstats ms0, ms1;
    mgc_read_memstats(&ms0);
    mgc_vec v;
    mgc_vec_init_ptr(&v);
    for (size_t i = 0; i < n; i++) {
        uint64_t *o = mgc_alloc_noscan(16);
        o[0] = i;
        o[1] = ~i;
        mgc_vec_push_ptr(&v, o);
        if (i % 8 == 0)
            (void)!mgc_alloc(32 + i % 100);
        if (i % (n / 8) == 0)
            mgc_collect();
    }
    for (int r = 0; r < 3; r++) {
        t_garbage(50000);
        mgc_collect();
    }
    CHECK_EQ(mgc_vec_len(&v), n);
    for (size_t i = 0; i < n; i++) {
        uint64_t *o = mgc_vec_get_ptr(&v, i);
        CHECK_MSG(o[0] == i && o[1] == ~i, "element %zu", i);
    }
    mgc_read_memstats(&ms1);
    CHECK(ms1.num_gc - ms0.num_gc >= 10);
    mgc_vec_free(&v);
}

/* ---- aborts ------------------------------------------------------------- */

static void d_null(void *a) { mgc_vec_push_ptr(NULL, NULL); }
static void d_uninit(void *a)
{
    mgc_vec v = {0};
    mgc_vec_push(&v, NULL);
}
static void d_ptr_into_noscan(void *a)
{
    mgc_vec v;
    mgc_vec_init_noscan(&v, sizeof(void *));
    mgc_vec_push_ptr(&v, &v);
}
static void d_ptr_into_elem(void *a)
{
    mgc_vec v;
    mgc_vec_init(&v, &elem_type);
    mgc_vec_push_ptr(&v, &v);
}
static void d_range(void *a)
{
    mgc_vec v;
    mgc_vec_init_ptr(&v);
    mgc_vec_push_ptr(&v, NULL);
    (void)mgc_vec_get_ptr(&v, 1);
}
static void d_pop_empty(void *a)
{
    mgc_vec v;
    mgc_vec_init(&v, &elem_type);
    mgc_vec_pop(&v, NULL);
}
static void d_null_type(void *a)
{
    mgc_vec v;
    mgc_vec_init(&v, NULL);
}
static void d_bad_type(void *a)
{
    static const mgc_type t = {12, 8, elem_mask, "odd"};
    mgc_vec v;
    mgc_vec_init(&v, &t);
}
static void d_truncate(void *a)
{
    mgc_vec v;
    mgc_vec_init_noscan(&v, 4);
    mgc_vec_truncate(&v, 1);
}
static void d_garbage(void *a)
{
    mgc_vec v;
    mgc_vec_init_ptr(&v);
    v.len = 5; /* no storage */
    (void)mgc_vec_len(&v);
}
/* Fill the vector from a frame of its own, so that no register or stack
   slot of the caller ends up holding the array. */
static __attribute__((noinline)) uintptr_t fill_unscanned(mgc_vec *v)
{
    mgc_vec_init_ptr(v);
    for (int i = 0; i < 1000; i++)
        mgc_vec_push_ptr(v, NULL);
    return t_hide(mgc_vec_data(v));
}

static void d_not_scanned(void *a)
{
    /* The struct in malloc memory is not scanned: its array is reclaimed
       and the next growth's free names it. */
    mgc_vec *v = malloc(sizeof *v);
    uintptr_t hidden = fill_unscanned(v);
    t_scrub_stack();
    mgc_collect();
    /* A stale copy in a callee-saved register can keep the array alive, as
       any conservative scan may (it depends on the code the compiler made
       here): then this run proves nothing. */
    if (mgc_base(t_unhide(hidden)))
        _exit(77);
    for (int i = 0; i < 100000; i++)
        mgc_vec_push_ptr(v, NULL);
}

static void aborts(void)
{
    t_expect_abort(d_null, NULL, "mgc_vec_push_ptr: the vector is NULL");
    t_expect_abort(d_uninit, NULL, "mgc_vec_push: vector ");
    t_expect_abort(d_uninit, NULL, "is not initialised (element size 0");
    t_expect_abort(d_ptr_into_noscan, NULL,
                   "holds 8-byte elements without pointers (noscan): a pointer stored there would be hidden");
    t_expect_abort(d_ptr_into_elem, NULL, "holds 32-byte elements of type elem, not pointers");
    t_expect_abort(d_range, NULL, "mgc_vec_get_ptr: index 1 out of range [0, 1) of vector");
    t_expect_abort(d_pop_empty, NULL, "mgc_vec_pop: vector ");
    t_expect_abort(d_pop_empty, NULL, "is empty");
    t_expect_abort(d_null_type, NULL, "mgc_vec_init: vector ");
    t_expect_abort(d_null_type, NULL, "the element type is NULL");
    t_expect_abort(d_bad_type, NULL, "element type odd: size 12 and ptrdata 8 must be multiples of 8");
    t_expect_abort(d_truncate, NULL, "mgc_vec_truncate: 1 is beyond the length 0 of vector");
    t_expect_abort(d_garbage, NULL, "is not a valid mgc_vec (data (nil), len 5, cap 0)");
    /* AddressSanitizer sees the first touch of the reclaimed array; without
       it, the next growth's free names it. */
    t_child c;
    t_run_child(d_not_scanned, NULL, &c);
    if (WIFEXITED(c.status) && WEXITSTATUS(c.status) == 77) {
        printf("vec in malloc memory: inconclusive (the array was kept alive by a stale copy)\n");
    } else if (getenv("MGC_TEST_ASAN")) {
        CHECK_MSG(WIFSIGNALED(c.status) && strstr(c.err, "AddressSanitizer: use-after-poison"),
                  "expected ASan to report the reclaimed array; status %d:\n%s", c.status, c.err);
    } else {
        CHECK_MSG(WIFSIGNALED(c.status) && strstr(c.err, "mgc_free_sized: 0x") &&
                      strstr(c.err, "is not allocated (freed already"),
                  "expected an abort naming the freed array; status %d:\n%s", c.status, c.err);
    }
}

int main(void)
{
    g_asan = getenv("MGC_TEST_SANITIZE") != NULL;
    t_seed();
    mgc_init();
    pointers();
    typed_and_noscan();
    precise();
    growth_frees();
    no_free_variant();
    survives_collections();
    aborts();
    printf("test_vec: ok\n");
    return 0;
}
