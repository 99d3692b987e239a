/* The allocation API: sizes, alignment, zeroing, usable size, base
   lookups, typed objects and arrays, realloc, strdup, out-of-memory, and the
   one-line aborts for pointers mgc did not return. */
#include "internal/heap.h"
#include "testing.h"
#include <mgc.h>

static const uint8_t mask_1010[] = {0x05}; /* words 0 and 2 are pointers */
static const mgc_type T32 = {32, 24, mask_1010, "T32"};
static const uint8_t mask_big[] = {0xFF, 0xFF};
static const uint8_t mask_001[] = {0x04};                     /* word 2 */
static const mgc_type T24 = {24, 24, mask_001, "T24"};        /* 8192 is no multiple */
static const mgc_type T1K = {1024, 128, mask_big, "T1K"};
static const mgc_type TNP = {24, 0, NULL, "no pointers"};
static uint8_t mask_all[128]; /* every word a pointer: set in main */
static const mgc_type TBIG = {1024, 1024, mask_all, "TBIG"};
static const uint8_t mask_1[] = {0x01};
static const mgc_type T8 = {8, 8, mask_1, "T8"}; /* a 16-byte slot, the smallest typed one */
static const mgc_type T40K = {40000, 8, mask_1, "T40K"}; /* large from one element */

/* No span holds any page of [p + from, p + to): the pages are free (or not
   yet mapped, at the top of the heap). */
/* Whether the pages at p + [from, to) are free for p to grow over: not in
   use, not held as another span's reserve, or not committed yet. */
static bool pages_free(const void *p, size_t from, size_t to)
{
    bool ok = true;
    mgc__lock(&mgc__heap.lock);
    for (size_t off = from; off < to && ok; off += 8192) {
        uintptr_t a = (uintptr_t)p + off - mgc__heap.base;
        if (a >= atomic_load(&mgc__heap.mapped))
            break;
        uintptr_t idx = a >> 13;
        ok = !((mgc__heap.pagebits[idx >> 6] >> (idx & 63)) & 1);
    }
    mgc__unlock(&mgc__heap.lock);
    return ok;
}

static void check_object(void *p, size_t size, size_t align)
{
    CHECK(p != NULL);
    CHECK_MSG((uintptr_t)p % align == 0, "%p for %zu bytes not %zu-aligned", p, size, align);
    size_t u = mgc_usable_size(p);
    CHECK_MSG(u >= size, "usable %zu < %zu", u, size);
    t_check_zero(p, u, "object");
    /* Inside a tiny block, mgc_base gives the block's start (DESIGN.md). */
    void *base = align == 8 ? (void *)((uintptr_t)p & ~(uintptr_t)15) : p;
    CHECK(mgc_base(p) == base);
    CHECK(mgc_base((char *)p + u - 1) == base);
    memset(p, 0xA5, u);
}

static void die_usable_interior(void *arg) { mgc_usable_size((char *)mgc_alloc(64) + 8); }
static void die_usable_stack(void *arg)
{
    int x = 0;
    mgc_usable_size(&x);
}
static void die_free_sized_small_of_large(void *arg)
{
    mgc_free_sized(mgc_alloc_array(&T8, 4095), 25000, 0); /* 4 pages; 25000 would be a size class */
}
static void die_realloc_interior(void *arg) { (void)!mgc_realloc((char *)mgc_alloc(100) + 16, 10); }
/* A freed object is no object: realloc in place would hand back a slot on
   the reuse list (handed out twice), and one that moved would free it
   again. */
static void die_realloc_freed(void *arg)
{
    void *p = mgc_alloc(100);
    mgc_free(p);
    (void)!mgc_realloc(p, 105);
}
static void die_usable_freed(void *arg)
{
    void *p = mgc_alloc_array(&T1K, 2); /* header-typed */
    mgc_free(p);
    mgc_usable_size(p);
}
static void *volatile kept_200[8]; /* every eighth of die_realloc_collected's objects */
/* A stale word (a register, a frame) may keep any one dropped object: the
   realloc is of one the collector really took (mgc_base says so). */
static void die_realloc_collected(void *arg)
{
    static uintptr_t hidden[64];
    t_drop_but_every(200, 64, 8, kept_200, hidden);
    t_scrub_stack();
    mgc_collect();
    for (int i = 0; i < 64; i++)
        if (i % 8 && !mgc_base(t_unhide(hidden[i])))
            (void)!mgc_realloc(t_unhide(hidden[i]), 210);
    fprintf(stderr, "nothing was reclaimed\n");
}
static void die_large_freed(void *arg)
{
    void *p = mgc_alloc(1 << 20);
    mgc_free(p);
    mgc_usable_size(p);
}
/* A large object the last cycle found unreachable, its span not swept yet
   (a cycle the pacer starts leaves a small heap's sweep to later): no
   object for mgc_base, and usable_size aborts as free does. */
static __attribute__((noinline)) uintptr_t drop_large(void) { return t_hide(mgc_alloc_noscan(100000)); }
static void die_usable_dead_large(void *arg)
{
    mgc_collect();
    int gogc = mgc_set_gc_percent(-1);
    uintptr_t h = drop_large();
    t_scrub_stack();
    mgc_set_gc_percent(0); /* the cycle */
    mgc_set_gc_percent(gogc);
    CHECK(mgc_base(t_unhide(h)) == NULL);
    mgc_usable_size(t_unhide(h));
}
static void die_tiny_interior(void *arg) { mgc_usable_size((char *)mgc_alloc_noscan(6) + 1); }
/* SIZE_MAX plus the typed header wraps to 15: no size of a 16-byte slot. */
static void die_free_sized_huge_typed(void *arg) { mgc_free_sized(mgc_alloc_typed(&T8), SIZE_MAX, 0); }
static void die_bad_type(void *arg)
{
    static const mgc_type bad = {16, 32, mask_1010, "bad"};
    (void)!mgc_alloc_typed(&bad);
}
static void die_bad_type_align(void *arg)
{
    static const mgc_type bad = {20, 8, mask_1010, "odd"};
    (void)!mgc_alloc_typed(&bad);
}

/* Resident memory of this process, in bytes. */
static uint64_t rss_bytes(void)
{
    unsigned long size = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    CHECK(f && fscanf(f, "%lu %lu", &size, &rss) == 2);
    fclose(f);
    return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* In a fresh process (the test run again with "huge": a forked child
   would have its parent's heap, holes and all): a 512 MiB object placed
   over one freed MiB zeroes that MiB only; the rest is zero from the OS,
   and zeroing it committed all 512 MiB (for 4 GiB: 4 GiB of RSS and 2 s).
   Growth in place past it the same. */
static void huge_over_used(void *arg)
{
    (void)arg;
    CHECK_EQ(mgc_init(), 0);
    unsigned char *p = mgc_alloc_noscan(1 << 20);
    CHECK(p);
    memset(p, 0xEE, 1 << 20);
    mgc_free(p);
    uint64_t r0 = rss_bytes();
    size_t big = (size_t)512 << 20;
    unsigned char *q = mgc_alloc_noscan(big);
    CHECK(q);
    CHECK_MSG(q == p, "the big object is not over the freed one (%p, %p): nothing tested", (void *)q, (void *)p);
    t_check_zero(q, 1 << 20, "the freed MiB under the new object");
    for (size_t off = 1 << 20; off < big; off += 1 << 20)
        CHECK_EQ(q[off], 0);
    uint64_t r1 = rss_bytes();
    q = mgc_realloc(q, 2 * big); /* in place, over fresh pages */
    CHECK(q == p);
    CHECK_EQ(q[big + 12345], 0);
    uint64_t r2 = rss_bytes();
    if (!t_sanitized()) /* ASan's shadow of the object is resident too */
        CHECK_MSG(r1 - r0 < (64u << 20) && r2 - r0 < (64u << 20),
                  "RSS grew by %llu MiB, then %llu MiB: clean pages were zeroed", (unsigned long long)((r1 - r0) >> 20),
                  (unsigned long long)((r2 - r0) >> 20));
    printf("ok: RSS +%llu MiB\n", (unsigned long long)((r2 - r0) >> 20));
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "huge") == 0) {
        huge_over_used(NULL);
        return 0;
    }
    CHECK_EQ(mgc_init(), 0);
    CHECK_EQ(mgc_version(), MGC_VERSION);

    /* Every size class and some large sizes, all three kinds. */
    size_t sizes[] = {0, 1, 7, 8, 15, 16, 17, 24, 31, 32, 33, 48, 100, 255, 256, 511, 512, 513, 1000,
                      1024, 1025, 2000, 4096, 8192, 10000, 32767, 32768, 32769, 65536, 100000, 1 << 20,
                      (3 << 20) + 5};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        check_object(mgc_alloc(n), n, 16);
        check_object(mgc_alloc_noscan(n), n, n < 16 ? 8 : 16);
    }
    /* Tiny objects never overlap: fill each to its usable size. */
    char *tiny[64];
    for (int i = 0; i < 64; i++) {
        tiny[i] = mgc_alloc_noscan(1 + i % 15);
        memset(tiny[i], i + 1, mgc_usable_size(tiny[i]));
    }
    for (int i = 0; i < 64; i++)
        for (size_t k = 0; k < mgc_usable_size(tiny[i]); k++)
            CHECK(tiny[i][k] == i + 1);

    /* The usable size may be written (mgc.h), so the compiler must not
       take an object to be only the size asked: with alloc_size on the
       allocators, __builtin_object_size said 20 here, and a
       _FORTIFY_SOURCE build aborted a memset of the usable size. */
    {
        char *a = mgc_alloc(20), *b = mgc_alloc_noscan(20), *c = mgc_realloc(mgc_alloc(8), 20);
        size_t bos[3] = {__builtin_object_size(a, 0), __builtin_object_size(b, 0), __builtin_object_size(c, 0)};
        char *objs[3] = {a, b, c};
        for (int i = 0; i < 3; i++)
            CHECK_MSG(bos[i] == (size_t)-1 || bos[i] >= mgc_usable_size(objs[i]),
                      "allocator %d: the compiler takes the object to be %zu bytes, its usable size is %zu", i,
                      bos[i], mgc_usable_size(objs[i]));
    }

    /* mgc_base: interior pointers find their object; one past does not. */
    char *o = mgc_alloc(100); /* 112-byte slot */
    CHECK(mgc_base(o + 57) == o);
    CHECK(mgc_base(o + mgc_usable_size(o)) != o);
    CHECK(mgc_base(&o) == NULL);
    CHECK(mgc_base(NULL) == NULL);
    char *L = mgc_alloc(200000);
    CHECK(mgc_base(L + 199999) == L);

    /* Typed objects: bits (<= 512), header (> 512), large; arrays. */
    void **t1 = mgc_alloc_typed(&T32);
    check_object(t1, 32, 16);
    void **t2 = mgc_alloc_array(&T32, 10);
    check_object(t2, 320, 16);
    void **t3 = mgc_alloc_typed(&T1K);
    check_object(t3, 1024, 16);
    CHECK(mgc_base((char *)t3 + 500) == t3);
    CHECK(mgc_base((char *)t3 - 16) == NULL); /* its header is not the object */
    CHECK(mgc_base((char *)t3 - 1) == NULL);
    void **t4 = mgc_alloc_array(&T1K, 100); /* 100 KiB: large */
    check_object(t4, 102400, 16);
    void *t5 = mgc_alloc_typed(&TNP); /* no pointers: noscan */
    check_object(t5, 24, 16);
    CHECK_EQ(mgc__span_of((uintptr_t)t5)->kind, MGC_KIND_NOSCAN);
    CHECK_EQ(mgc__span_of((uintptr_t)t2)->kind, MGC_KIND_TYPED);

    /* realloc keeps contents and kind. */
    char *r = mgc_alloc_noscan(10);
    memcpy(r, "0123456789", 10);
    r = mgc_realloc(r, 5000);
    CHECK(!memcmp(r, "0123456789", 10));
    CHECK_EQ(mgc__span_of((uintptr_t)r)->kind, MGC_KIND_NOSCAN);
    r = mgc_realloc(r, 100000);
    CHECK(!memcmp(r, "0123456789", 10));
    t_check_zero(r + 5000, 100000 - 5000, "object");
    r = mgc_realloc(r, 3);
    CHECK(!memcmp(r, "012", 3));
    void **rt = mgc_alloc_typed(&T32);
    rt[0] = o;
    rt = mgc_realloc(rt, 200);
    CHECK(rt[0] == o);
    CHECK_EQ(mgc__span_of((uintptr_t)rt)->kind, MGC_KIND_TYPED);
    CHECK(mgc_usable_size(rt) >= 200);
    void **rs = mgc_alloc(16);
    rs[1] = o;
    rs = mgc_realloc(rs, 50000);
    CHECK(rs[1] == o);
    CHECK_EQ(mgc__span_of((uintptr_t)rs)->kind, MGC_KIND_SCAN);
    CHECK(mgc_realloc(NULL, 40) != NULL);
    /* In place exactly when the new size gets the same block (size class,
       or pages for a large object), so that mgc_free_sized accepts the
       size given to the last realloc. */
    char *same = mgc_alloc(100); /* class 112 */
    memcpy(same, "kept", 5);
    CHECK(mgc_realloc(same, 105) == same);
    CHECK(mgc_realloc(same, 112) == same);
    char *shrunk = mgc_alloc(1000); /* class 1024 */
    memset(shrunk, 0xAA, 1000);
    CHECK(mgc_realloc(shrunk, 900) == shrunk); /* still 1024 */
    CHECK(mgc_realloc(shrunk, 1000) == shrunk);
    t_check_zero(shrunk + 900, 124, "the part past a shrink, grown again");
    CHECK((unsigned char)shrunk[899] == 0xAA);
    char *tb = mgc_alloc_noscan(12); /* a tiny block's whole 16 bytes */
    memset(tb, 0xAB, 12);
    CHECK(mgc_realloc(tb, 4) == tb && mgc_realloc(tb, 12) == tb);
    t_check_zero(tb + 4, 8, "a tiny object's part past a shrink, grown again");
    char *sized = mgc_alloc(1000);            /* class 1024 */
    CHECK(mgc_realloc(sized, 1020) == sized); /* in place, */
    mgc_free_sized(sized, 1020, 0);           /* and freed with the new size */
    char *moved = mgc_realloc(same, 90); /* class 96: the slack goes back */
    CHECK(moved != same && !strcmp(moved, "kept"));
    mgc_free_sized(moved, 90, 0);
    char *same2 = mgc_alloc(100);
    CHECK(mgc_realloc(same2, 0) != NULL);
    char *big = mgc_alloc_noscan(1 << 20);
    big[(1 << 20) - 1] = 9;
    CHECK(mgc_realloc(big, (1 << 20) - 5000) == big); /* the same 128 pages */
    char *smaller = mgc_realloc(big, 700000);          /* fewer pages: moved */
    CHECK(smaller != big && mgc_usable_size(smaller) == 700000 + (8192 - 700000 % 8192));
    mgc_free_sized(smaller, 700000, 1);
    /* A typed object reallocated to 0 bytes holds no element: freed as
       0 bytes (type size x count 0), as mgc.h says. It held one before. */
    void **t0 = mgc_realloc(mgc_alloc_array(&T32, 3), 0);
    CHECK(t0 != NULL);
    mgc_free_sized(t0, 0, 0);
    void **tg = mgc_alloc_array(&T32, 3); /* 96 bytes */
    tg = mgc_realloc(tg, 100);              /* 4 elements: 128, another class */
    CHECK_EQ(mgc_usable_size(tg), 128);
    mgc_free_sized(tg, 4 * 32, 0);
    /* A pointer-free typed array is a noscan object (mgc.h): a realloc
       sizes it in bytes, not whole elements, and mgc_free_sized takes that
       byte size. */
    void *np = mgc_alloc_array(&TNP, 2);
    np = mgc_realloc(np, 5);
    CHECK(np != NULL && mgc_usable_size(np) < TNP.size);
    mgc_free_sized(np, 5, 1);
    np = mgc_realloc(mgc_alloc_array(&TNP, 2), 100);
    CHECK(np != NULL && mgc_usable_size(np) < 5 * TNP.size);
    mgc_free_sized(np, 100, 1);
    /* A typed object shrunk in place keeps its capacity in its pointer
       map, but the bytes past the new size read zero all the same
       (the header's promise), in each slot kind: bits, header, large. */
    struct {
        const mgc_type *t;
        size_t n, to;
    } shrink[] = {{&T24, 1, 10}, {&T24, 1, 17}, {&T1K, 1, 1000}, {&T1K, 40, 40000}};
    for (size_t i = 0; i < sizeof shrink / sizeof shrink[0]; i++) {
        size_t bytes = shrink[i].t->size * shrink[i].n, to = shrink[i].to;
        unsigned char *sh = mgc_alloc_array(shrink[i].t, shrink[i].n);
        size_t u = mgc_usable_size(sh);
        memset(sh, 0xAB, bytes);
        for (size_t w = 0; w < bytes / 8; w++) { /* the pointer words hold pointers */
            size_t ew = w % (shrink[i].t->size / 8);
            if (ew < shrink[i].t->ptrdata / 8 && ((shrink[i].t->ptrmask[ew >> 3] >> (ew & 7)) & 1))
                ((void **)sh)[w] = o;
        }
        unsigned char *was = malloc(bytes);
        CHECK(was != NULL);
        memcpy(was, sh, bytes);
        CHECK(mgc_realloc(sh, to) == sh);
        CHECK_EQ(mgc_usable_size(sh), u);
        CHECK(!memcmp(sh, was, to));
        t_check_zero(sh + to, u - to, "a typed object's part past a shrink in place");
        CHECK(mgc_realloc(sh, bytes) == sh); /* grown again: the same zeros */
        CHECK(!memcmp(sh, was, to));
        t_check_zero(sh + to, u - to, "a typed object's part past a shrink, grown again");
        free(was);
    }
    /* An array of no elements of a type with pointer words past the 64
       heap-bit words of a slot: nothing to describe (its mask was once
       shifted past 64 bits, undefined behaviour that the UBSan build stops
       at). Grown, it describes its elements: a pointer in one keeps its
       target alive. */
    memset(mask_all, 0xFF, sizeof mask_all);
    void **z = mgc_alloc_array(&TBIG, 0);
    CHECK(z != NULL);
    t_check_zero(z, mgc_usable_size(z), "an array of 0 elements");
    z = mgc_realloc(z, 2 * 1024);
    CHECK(z != NULL && mgc_usable_size(z) >= 2048);
    t_check_zero(z, 2048, "an array of 0 elements, grown to 2");
    uintptr_t zh = t_hide(tagged(0x2e70));
    z[128 + 72] = t_unhide(zh); /* element 1, word 72 */
    zh = 0;
    t_scrub_stack();
    mgc_collect();
    CHECK(mgc_base(z[200]) == z[200] && tag_ok(z[200], 0x2e70));

    /* A large object grows in place when the pages after it are free: same
       address, contents kept, the new part zeroed; a typed array's new
       elements are scanned. */
    mgc_collect();
    char *g = mgc_alloc_noscan(100000);
    size_t gu = mgc_usable_size(g);
    memset(g, 7, gu);
    bool free_after = pages_free(g, gu, 400000);
    char *g2 = mgc_realloc(g, 400000);
    CHECK(g2[0] == 7 && g2[gu - 1] == 7);
    t_check_zero(g2 + gu, mgc_usable_size(g2) - gu, "object");
    if (free_after)
        CHECK(g2 == g);
    mgc_free_sized(g2, 400000, 1); /* the size given to realloc, moved or not */
    void **ta = mgc_alloc_array(&T1K, 40); /* 40 KiB: large, typed */
    size_t tu = mgc_usable_size(ta);
    free_after = pages_free(ta, tu, 200 * 1024);
    void **ta2 = mgc_realloc(ta, 200 * 1024);
    CHECK(!free_after || ta2 == ta);
    /* Grown in place to a size that is no whole number of elements: the
       count is rounded up, and the pages hold the last element too. */
    mgc_collect();
    static void *tries[64]; /* a root: holes the array must not take */
    void **tw = NULL;
    int ntries = 0;
    for (; ntries < 64; ntries++) { /* one with free pages after it */
        tw = mgc_alloc_array(&T24, 1400); /* 33600 bytes: 5 pages */
        if (pages_free(tw, mgc_usable_size(tw), 8 * 8192))
            break;
        tries[ntries] = tw;
    }
    CHECK(ntries < 64);
    void **tw2 = mgc_realloc(tw, 7 * 8192); /* 2389.3 elements: 2390, 57360 bytes */
    CHECK(tw2 == tw);
    CHECK_MSG(mgc_usable_size(tw2) >= 2390 * 24, "usable %zu", mgc_usable_size(tw2));
    mgc_free_sized(tw2, 2390 * 24, 0); /* type size x count */
    for (int i = 0; i < ntries; i++) {
        mgc_free(tries[i]);
        tries[i] = NULL;
    }
    /* Grown in place to a size below the old usable size (3 elements of
       40000 bytes, 15 pages, written to the end; 121000 bytes round up to
       a 4th element): the old bytes past the new size read zero. They
       were left, and became the new element's pointer word. */
    mgc_collect();
    ntries = 0;
    unsigned char *t40 = NULL;
    for (; ntries < 64; ntries++) {
        t40 = mgc_alloc_array(&T40K, 3);
        if (pages_free(t40, mgc_usable_size(t40), 4 * 40000 + 8192))
            break;
        tries[ntries] = t40;
    }
    CHECK(ntries < 64);
    size_t u40 = mgc_usable_size(t40);
    memset(t40, 0xab, u40);
    CHECK(mgc_realloc(t40, 121000) == t40);
    CHECK(mgc_usable_size(t40) >= 4 * 40000);
    t_check_zero(t40 + 121000, u40 - 121000, "the old pages past the new size of a typed array grown in place");
    mgc_free_sized(t40, 4 * 40000, 0);
    for (int i = 0; i < ntries; i++) {
        mgc_free(tries[i]);
        tries[i] = NULL;
    }
    /* A large object of 4 pages (32760 bytes of pointers: too big for the
       header of a small typed object) and a size a fresh request would get
       a size class for: another block. realloc moves it (it stayed) and
       mgc_free_sized does not take that size for it (death test below). */
    void **t4k = mgc_alloc_array(&T8, 4095);
    CHECK(mgc__span_of((uintptr_t)t4k)->large);
    void **t4b = mgc_realloc(t4k, 25000);
    CHECK_MSG(t4b != t4k && !mgc__span_of((uintptr_t)t4b)->large, "realloc of a 4-page object to 25000 bytes %s",
              t4b == t4k ? "stayed in place" : "gave another large object");
    mgc_free_sized(t4b, 25000, 0);
    uintptr_t hidden = t_hide(mgc_alloc(48));
    ta2[199 * 128] = t_unhide(hidden); /* word 0 of element 199: a pointer */
    hidden = 0;
    mgc_collect();
    CHECK(mgc_base(ta2[199 * 128]) == ta2[199 * 128]);

    char *s = mgc_strdup("hello, mgc");
    CHECK(!strcmp(s, "hello, mgc"));
    CHECK_EQ(mgc__span_of((uintptr_t)s)->kind, MGC_KIND_TINY); /* 11 bytes, noscan */

    /* Out of memory: NULL and ENOMEM, never a crash. */
    volatile size_t huge = SIZE_MAX; /* hidden from the compiler's size checks */
    errno = 0;
    CHECK(mgc_alloc(huge) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(mgc_alloc_noscan((size_t)1 << 62) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(mgc_alloc_array(&T32, SIZE_MAX / 8) == NULL && errno == ENOMEM);
    /* A typed object reallocated to more than the heap holds: NULL and
       ENOMEM, as for the other kinds, and the object as it was. Sizes from
       SIZE_MAX - 15 used to wrap when the typed header was added, into the
       smallest classes: "in place", then a count of SIZE_MAX / 8 elements
       written into the heap bits (a hang). Each slot kind: bits, header,
       large. */
    void **ht[3] = {mgc_alloc_typed(&T8), mgc_alloc_typed(&T1K), mgc_alloc_array(&T1K, 40)};
    t_watchdog(30, "mgc_realloc of a typed object to SIZE_MAX - k");
    for (int i = 0; i < 3; i++) {
        size_t u = mgc_usable_size(ht[i]);
        ht[i][0] = o; /* word 0: a pointer word of both types */
        for (size_t k = 0; k < 40; k++) {
            errno = 0;
            void *q = mgc_realloc(ht[i], huge - k);
            CHECK_MSG(q == NULL && errno == ENOMEM, "realloc(%zu-byte typed object, SIZE_MAX - %zu) = %p, errno %d",
                      u, k, q, errno);
        }
        errno = 0;
        CHECK(mgc_realloc(ht[i], (size_t)1 << 62) == NULL && errno == ENOMEM);
        CHECK_EQ(mgc_usable_size(ht[i]), u);
        CHECK(ht[i][0] == o && mgc_base(ht[i]) == ht[i]);
        t_check_zero(&ht[i][1], u - sizeof(void *), "a typed object after a failed realloc");
    }
    alarm(0);

    /* Memory of dead objects comes back zeroed. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 20000; i++)
            memset(mgc_alloc(64), 0xEE, 64);
        mgc_collect();
        for (int i = 0; i < 20000; i++)
            t_check_zero(mgc_alloc(64), 64, "object");
    }

    int hs = t_exec_self_within(argv[0], "huge", 120);
    CHECK_MSG(hs != -1 && WIFEXITED(hs) && WEXITSTATUS(hs) == 0, "huge object: status %d", hs);

    /* Bad pointers abort with one line naming them. */
    t_expect_abort(die_usable_interior, NULL, "mgc_usable_size: ");
    t_expect_abort(die_usable_interior, NULL, "is an interior pointer");
    t_expect_abort(die_usable_stack, NULL, "is not a pointer mgc returned");
    t_expect_abort(die_free_sized_small_of_large, NULL, "was freed as 25000 scanned bytes");
    t_expect_abort(die_realloc_interior, NULL, "mgc_realloc: ");
    t_expect_abort(die_tiny_interior, NULL, "interior pointer (tiny block");
    t_expect_abort(die_realloc_freed, NULL, "mgc_realloc: ");
    t_expect_abort(die_realloc_freed, NULL, "was already freed (by mgc_free)");
    t_expect_abort(die_usable_freed, NULL, "was already freed (by mgc_free)");
    t_expect_abort(die_realloc_collected, NULL, "is not allocated (freed already");
    t_expect_abort(die_large_freed, NULL, "mgc_usable_size: ");
    t_expect_abort(die_large_freed, NULL, "is not allocated (freed already?)");
    t_expect_abort(die_usable_dead_large, NULL, "mgc_usable_size: ");
    t_expect_abort(die_usable_dead_large, NULL, "was found unreachable by the last collection");
    t_expect_abort(die_free_sized_huge_typed, NULL,
                   "was freed as 18446744073709551615 scanned bytes, but it is a scanned object of 16 bytes");
    t_expect_abort(die_bad_type, NULL, "type bad has ptrdata 32 > size 16");
    t_expect_abort(die_bad_type_align, NULL, "must be multiples of 8");
    return 0;
}
