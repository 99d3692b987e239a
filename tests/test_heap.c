// ctest-label: unit
/* The page heap: first-fit page allocation, coalescing of freed runs, the
   address -> span map, growth, the "still zero from the OS" tracking, and
   the placement hint for spans that grow in place. */
#include "internal/gc.h"
#include "internal/heap.h"
#include "internal/threads.h"
#include "testing.h"

static mgc_span *span(uintptr_t npages)
{
    /* Large spans of kind noscan: class 0, so the heap sets elemsize. */
    mgc_span *s = mgc__heap_alloc_span(npages, mgc__spanclass(0, MGC_KIND_NOSCAN), 0, 0, 0);
    CHECK(s != NULL);
    CHECK_EQ(s->npages, npages);
    CHECK_EQ(s->elemsize, npages * MGC_PAGE_SIZE);
    CHECK_EQ(s->base % MGC_PAGE_SIZE, 0);
    return s;
}

static void check_map(mgc_span *s)
{
    for (uintptr_t p = s->base; p < s->base + s->npages * MGC_PAGE_SIZE; p += 4096)
        CHECK(mgc__span_of(p) == s);
    CHECK(mgc__span_of(s->base + s->npages * MGC_PAGE_SIZE - 1) == s);
}

/* Page by page, the obvious way. */
static mgc_chunk_sum reference(const uint64_t *w)
{
    mgc_chunk_sum s = {0, 0, 0, 0};
    unsigned run = 0;
    bool used_seen = false;
    for (unsigned p = 0; p < MGC_CHUNK_PAGES; p++) {
        if ((w[p / 64] >> (p % 64)) & 1) {
            if (!used_seen)
                s.start = (uint16_t)run;
            used_seen = true;
            run = 0;
        } else if (++run > s.max) {
            s.max = (uint16_t)run;
        }
    }
    if (!used_seen)
        s.start = (uint16_t)run;
    s.end = (uint16_t)run;
    return s;
}

static void summaries(void)
{
    uint64_t w[8];
    for (int round = 0; round < 200000; round++) {
        for (int i = 0; i < 8; i++) {
            switch (t_rand_below(6)) {
            case 0: w[i] = 0; break;
            case 1: w[i] = ~(uint64_t)0; break;
            case 2: w[i] = (uint64_t)1 << t_rand_below(64); break;
            case 3: w[i] = ~((uint64_t)1 << t_rand_below(64)); break;
            case 4: w[i] = t_rand() & t_rand(); break;
            default: w[i] = t_rand(); break;
            }
        }
        mgc_chunk_sum a = mgc__chunk_summary(w), b = reference(w);
        CHECK_MSG(a.start == b.start && a.max == b.max && a.end == b.end,
                  "round %d: got {%u,%u,%u}, want {%u,%u,%u}", round, a.start, a.max, a.end, b.start, b.max, b.end);
    }
}

static bool page_used(uintptr_t addr)
{
    return mgc__bit_get(mgc__heap.pagebits, (addr - mgc__heap.base) / MGC_PAGE_SIZE);
}

/* A span placed with room holds the pages after it as its reserve: no
   other allocation lands there, they are not in use, growth takes them
   first, and trimming or freeing the span gives them back. */
static void reserve(void)
{
    unsigned spc = mgc__spanclass(0, MGC_KIND_NOSCAN);
    uint64_t sys, in0, in1, nspans;
    mgc__heap_read_stats(&sys, &in0, &nspans);
    mgc_span *g = mgc__heap_alloc_span(2, spc, 8, 0, 0);
    CHECK(g != NULL);
    CHECK_EQ(g->reserved, 6);
    uintptr_t rlo = g->base + 2 * MGC_PAGE_SIZE, rhi = g->base + 8 * MGC_PAGE_SIZE;
    for (uintptr_t a = rlo; a < rhi; a += MGC_PAGE_SIZE)
        CHECK(page_used(a) && mgc__span_of(a) == NULL);
    mgc__heap_read_stats(&sys, &in1, &nspans);
    CHECK_EQ(in1 - in0, 2 * MGC_PAGE_SIZE); /* the reserve is not in use */
    mgc_span *o[16];
    uintptr_t opages = 0;
    for (int i = 0; i < 16; i++) {
        o[i] = span(1 + (uintptr_t)i % 3);
        opages += o[i]->npages;
        CHECK(o[i]->base + o[i]->npages * MGC_PAGE_SIZE <= rlo || o[i]->base >= rhi);
    }
    uintptr_t nz;
    CHECK(mgc__heap_extend_span(g, 5, &nz)); /* from the reserve */
    CHECK_EQ(g->npages, 5);
    CHECK_EQ(g->reserved, 3);
    check_map(g);
    mgc__heap_read_stats(&sys, &in1, &nspans);
    CHECK_EQ(in1 - in0, (5 + opages) * MGC_PAGE_SIZE);
    mgc__heap_trim_reserve(g);
    CHECK_EQ(g->reserved, 0);
    for (uintptr_t a = g->base + 5 * MGC_PAGE_SIZE; a < rhi; a += MGC_PAGE_SIZE)
        CHECK(!page_used(a));
    /* Freed with its reserve: all of it free again. */
    mgc_span *h = mgc__heap_alloc_span(1, spc, 6, 0, 0);
    CHECK(h != NULL && h->reserved == 5);
    uintptr_t hb = h->base;
    mgc__heap_free_span(h);
    for (uintptr_t a = hb; a < hb + 6 * MGC_PAGE_SIZE; a += MGC_PAGE_SIZE)
        CHECK(!page_used(a));
    mgc__heap_free_span(g);
    for (int i = 0; i < 16; i++)
        mgc__heap_free_span(o[i]);
    mgc__heap_read_stats(&sys, &in1, &nspans);
    CHECK_EQ(in1, in0);

    /* Giving back "my last growable span's reserve" touches only a span
       the asker was given: owner 1's span is freed, owner 2's takes its
       place, and owner 1's next allocation leaves owner 2's reserve alone;
       owner 2's own next allocation gives it back. */
    mgc_span *x = mgc__heap_alloc_span(1, spc, 4, 0, 1);
    uintptr_t xb = x->base;
    mgc__heap_free_span(x);
    mgc_span *y = mgc__heap_alloc_span(1, spc, 4, 0, 2);
    CHECK_EQ(y->base, xb); /* the same first run of four */
    CHECK_EQ(y->reserved, 3);
    mgc_span *z = mgc__heap_alloc_span(1, spc, 4, xb, 1);
    CHECK_EQ(y->reserved, 3);
    mgc_span *w = mgc__heap_alloc_span(1, spc, 4, y->base, 2);
    CHECK_EQ(y->reserved, 0);
    mgc__heap_free_span(w);
    mgc__heap_free_span(z);
    mgc__heap_free_span(y);

    /* A span the heap must grow for gets its room too: no hole holds more
       pages than are mapped. */
    uintptr_t big = atomic_load(&mgc__heap.mapped) / MGC_PAGE_SIZE + 1;
    mgc_span *v = mgc__heap_alloc_span(big, spc, big + 8, 0, 0);
    CHECK(v != NULL);
    CHECK_EQ(v->reserved, 8);
    mgc__heap_free_span(v);
    mgc__heap_read_stats(&sys, &in1, &nspans);
    CHECK_EQ(in1, in0);
}

/* First fit by brute force over the page bits: where a span of n pages
   must go (NONE: the mapped heap has no such run). */
static uintptr_t brute_first_fit(uintptr_t n)
{
    uintptr_t pages = atomic_load(&mgc__heap.mapped) / MGC_PAGE_SIZE, run = 0;
    for (uintptr_t p = 0; p < pages; p++) {
        run = page_used(mgc__heap.base + p * MGC_PAGE_SIZE) ? 0 : run + 1;
        if (run == n)
            return mgc__heap.base + (p + 1 - n) * MGC_PAGE_SIZE;
    }
    return UINTPTR_MAX;
}

/* Random allocations, extensions and frees of 1-700 pages, with chunk
   summaries left stale between searches (heap.c): every allocation must
   land exactly where first fit over the bits says. */
static void random_first_fit(void)
{
    enum { N = 64 };
    mgc_span *live[N] = {0};
    unsigned kinds[3] = {0};
    for (int i = 0; i < 4000; i++) {
        int k = (int)t_rand_below(N);
        if (live[k] && t_rand_below(4) == 0) {
            uintptr_t nz;
            uintptr_t want = live[k]->npages + 1 + t_rand_below(8);
            uintptr_t end = live[k]->base + live[k]->npages * MGC_PAGE_SIZE;
            bool room = true;
            for (uintptr_t a = end; a < live[k]->base + want * MGC_PAGE_SIZE; a += MGC_PAGE_SIZE)
                room = room && a - mgc__heap.base < atomic_load(&mgc__heap.mapped) && mgc__span_of(a) == NULL;
            bool grew = mgc__heap_extend_span(live[k], want, &nz);
            CHECK(!room || grew); /* free pages after it: it must extend */
            kinds[0] += grew;
            if (grew)
                check_map(live[k]);
        } else if (live[k]) {
            mgc__heap_free_span(live[k]);
            live[k] = NULL;
            kinds[1]++;
        } else {
            uintptr_t n = t_rand_below(8) == 0 ? 1 + t_rand_below(700) : 1 + t_rand_below(12);
            uintptr_t expect = brute_first_fit(n);
            live[k] = span(n);
            if (expect != UINTPTR_MAX)
                CHECK_MSG(live[k]->base == expect, "%zu pages at %#lx, first fit is %#lx", (size_t)n,
                          (unsigned long)live[k]->base, (unsigned long)expect);
            check_map(live[k]);
            kinds[2]++;
        }
    }
    for (int k = 0; k < N; k++)
        if (live[k])
            mgc__heap_free_span(live[k]);
    printf("random_first_fit: %u allocations, %u extensions, %u frees\n", kinds[2], kinds[0], kinds[1]);
}

/* Which pages of a new large span may hold old data: those below the
   high-water mark `zeroed`, from its first page; the rest read zero from
   the OS and are not zeroed again (zeroing a 4 GiB object placed over one
   used MiB committed all 4 GiB). Spans placed over freed runs that go on
   past the mark must count only their dirty part, and growth in place the
   same. */
static void dirty_counts(void)
{
    static const uintptr_t sizes[] = {1, 7, 700, 3000, 9000};
    mgc_span *s[5];
    for (int i = 0; i < 5; i++) {
        uintptr_t z0 = mgc__heap.zeroed, n = sizes[i];
        s[i] = span(n);
        uintptr_t idx = (s[i]->base - mgc__heap.base) / MGC_PAGE_SIZE;
        uintptr_t want = idx >= z0 ? 0 : z0 - idx < n ? z0 - idx : n;
        CHECK_MSG(s[i]->dirty_pages == want, "%zu pages at page %zu (zeroed %zu): %u dirty, want %zu", (size_t)n,
                  (size_t)idx, (size_t)z0, s[i]->dirty_pages, (size_t)want);
        CHECK_EQ(s[i]->needzero, want != 0);
        for (uintptr_t k = want; k < n; k++) /* the clean part reads zero */
            CHECK_EQ(((uint64_t *)(s[i]->base + k * MGC_PAGE_SIZE))[0], 0);
        memset((void *)s[i]->base, 0x5c, n * MGC_PAGE_SIZE); /* dirty now, for what comes over it */
    }
    for (int i = 0; i < 5; i++)
        mgc__heap_free_span(s[i]);
    /* Freed, the runs coalesce below the mark: a span larger than them
       takes them and runs past the mark. */
    uintptr_t z0 = mgc__heap.zeroed;
    mgc_span *p = span(z0 + 100);
    uintptr_t idx = (p->base - mgc__heap.base) / MGC_PAGE_SIZE;
    CHECK(idx < z0);
    CHECK_EQ(p->dirty_pages, z0 - idx);
    CHECK_EQ(p->needzero, 1);
    /* Growth in place over pages past the mark: none dirty. */
    uintptr_t nz = 99;
    CHECK(mgc__heap_extend_span(p, p->npages + 50, &nz));
    CHECK_EQ(nz, 0);
    mgc__heap_free_span(p);
}

int main(void)
{
    t_seed();
    summaries();
    CHECK_EQ(mgc_init(), 0);
    mgc_thread *t = mgc__thread_current();
    mgc__cs_enter(t); /* we take heap locks as a registered thread */

    CHECK_EQ(mgc__heap.base % MGC_ARENA_SIZE, 0);
    CHECK(mgc__heap.reserved >= MGC_GiB);
    CHECK(mgc__span_of(0) == NULL);
    CHECK(mgc__span_of((uintptr_t)&t) == NULL);
    CHECK(mgc__span_of(mgc__heap.base - 1) == NULL);

    /* A fresh heap hands pages out in address order, zero from the OS. */
    uintptr_t mapped0 = atomic_load(&mgc__heap.mapped);
    mgc_span *a = span(1), *b = span(3), *c = span(1);
    CHECK(b->base > a->base && c->base > b->base);
    check_map(a);
    check_map(b);
    check_map(c);
    CHECK_EQ(((char *)b->base)[0], 0);

    /* Freed pages are reused first fit and come back marked dirty. */
    uintptr_t bbase = b->base;
    memset((void *)b->base, 0xAB, 3 * MGC_PAGE_SIZE);
    mgc__heap_free_span(b);
    CHECK(mgc__span_of(bbase) == NULL);
    mgc_span *d = span(2);
    CHECK_EQ(d->base, bbase);
    CHECK_EQ(d->needzero, 1);
    mgc_span *e = span(1);
    CHECK_EQ(e->base, bbase + 2 * MGC_PAGE_SIZE);
    /* Coalescing: free d, e and a, then ask for 5 pages: they must come from
       the joined run (a + the old b) only if it is big enough (it has 4), so
       5 pages go after c. */
    uintptr_t abase = a->base;
    mgc__heap_free_span(d);
    mgc__heap_free_span(e);
    mgc__heap_free_span(a);
    mgc_span *f = span(4);
    CHECK_EQ(f->base, abase);
    mgc_span *g = span(5);
    CHECK(g->base > c->base);

    /* Runs that cross 512-page chunk borders, and growth past the mapped
       heap (4 MiB chunks). */
    mgc_span *big = span(700);
    check_map(big);
    CHECK(atomic_load(&mgc__heap.mapped) >= mapped0 + 700 * MGC_PAGE_SIZE);
    CHECK_EQ(atomic_load(&mgc__heap.mapped) % MGC_CHUNK_BYTES, 0);
    mgc_span *big2 = span(1500);
    check_map(big2);
    uintptr_t big_base = big->base;
    mgc__heap_free_span(big);
    mgc_span *small = span(100);
    CHECK_EQ(small->base, big_base); /* first fit inside the freed run */
    mgc_span *mid = span(600);       /* 600 left there; 600 fit exactly */
    CHECK_EQ(mid->base, big_base + 100 * MGC_PAGE_SIZE);

    /* An interior address of any page maps to its span. */
    CHECK(mgc__span_of(big2->base + 1234 * MGC_PAGE_SIZE + 77) == big2);

    uint64_t sys, inuse, nspans;
    mgc__heap_read_stats(&sys, &inuse, &nspans);
    CHECK(inuse >= (1 + 4 + 5 + 1500 + 100 + 600) * (uint64_t)MGC_PAGE_SIZE);
    CHECK(sys >= inuse);
    mgc__heap_free_span(c);
    mgc__heap_free_span(f);
    mgc__heap_free_span(g);
    mgc__heap_free_span(big2);
    mgc__heap_free_span(small);
    mgc__heap_free_span(mid);
    uint64_t inuse2;
    mgc__heap_read_stats(&sys, &inuse2, &nspans);
    CHECK_EQ(inuse - inuse2, (1 + 4 + 5 + 1500 + 100 + 600) * (uint64_t)MGC_PAGE_SIZE);

    /* The placement hint (room): a span that is to grow in place goes to
       the first run of `room` free pages, skipping smaller holes, and does
       grow there; without a hint, first fit takes the hole; with a hint no
       run in the mapped heap satisfies, first fit too, and the heap does
       not grow for it. */
    mgc_span *x = span(2), *y = span(1);
    uintptr_t hole = x->base;
    CHECK_EQ(y->base, hole + 2 * MGC_PAGE_SIZE);
    mgc__heap_free_span(x); /* a 2-page hole below y */
    mgc_span *r = mgc__heap_alloc_span(1, mgc__spanclass(0, MGC_KIND_NOSCAN), 4, 0, 0);
    CHECK(r != NULL && r->base > y->base);
    for (uintptr_t k = 1; k < 4; k++)
        CHECK(mgc__span_of(r->base + k * MGC_PAGE_SIZE) == NULL);
    uintptr_t nz;
    CHECK(mgc__heap_extend_span(r, 4, &nz));
    CHECK_EQ(r->npages, 4);
    check_map(r);
    mgc_span *h1 = span(1);
    CHECK_EQ(h1->base, hole);
    uintptr_t mapped1 = atomic_load(&mgc__heap.mapped);
    mgc_span *h2 = mgc__heap_alloc_span(1, mgc__spanclass(0, MGC_KIND_NOSCAN), mapped1 / MGC_PAGE_SIZE + 1000, 0, 0);
    CHECK(h2 != NULL);
    CHECK_EQ(h2->base, hole + MGC_PAGE_SIZE);
    CHECK_EQ(atomic_load(&mgc__heap.mapped), mapped1);
    mgc__heap_free_span(r);
    mgc__heap_free_span(h1);
    mgc__heap_free_span(h2);
    mgc__heap_free_span(y);

    reserve();
    random_first_fit();
    dirty_counts();

    /* The heap refuses what it cannot reserve. */
    CHECK(mgc__heap_alloc_span(mgc__heap.reserved / MGC_PAGE_SIZE + 1, mgc__spanclass(0, MGC_KIND_NOSCAN), 0, 0, 0) == NULL);
    mgc__cs_exit(t);
    return 0;
}
