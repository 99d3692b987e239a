// ctest-label: unit
/* The per-thread cache: which span a class allocates from, the refill that
   swaps a full span for another, the flush, and the counts it hands to
   MemStats. Also the tiny allocator's packing. */
#include "internal/cache.h"
#include "internal/central.h"
#include "internal/heap.h"
#include "internal/gc.h"
#include "internal/stats.h"
#include "internal/threads.h"
#include "testing.h"

int main(void)
{
    CHECK_EQ(mgc_init(), 0);
    mgc_collect();
    mgc_thread *t = mgc__thread_current();
    unsigned sc = mgc__size_to_class(48), spc = mgc__spanclass(sc, MGC_KIND_SCAN);
    uint32_t sg = atomic_load(&mgc__gc.sweepgen);
    CHECK(t->cache.cls[spc].span == &mgc__empty_span);

    /* The first allocation caches a span, swept and cached (sg+3). */
    char *first = mgc_alloc(48);
    mgc_span *s = t->cache.cls[spc].span;
    CHECK(s != &mgc__empty_span);
    CHECK(mgc__span_of((uintptr_t)first) == s);
    CHECK_EQ(atomic_load(&s->sweepgen), sg + 3);
    CHECK_EQ(s->list, MGC_LIST_CACHED);

    /* Consecutive allocations take consecutive free slots of that span
       until it is full; then the cache swaps in another span and the full
       one goes to the swept full list. */
    uint32_t n = s->nelems - mgc__span_count_alloc(s);
    char *prev = first;
    for (uint32_t i = 0; i < n; i++) {
        char *p = mgc_alloc(48);
        CHECK(mgc__span_of((uintptr_t)p) == s);
        CHECK(p > prev);
        prev = p;
    }
    CHECK(t->cache.cls[spc].span == s);
    CHECK_EQ(mgc__span_count_alloc(s), s->nelems);
    char *next = mgc_alloc(48);
    CHECK(t->cache.cls[spc].span != s);
    CHECK(mgc__span_of((uintptr_t)next) == t->cache.cls[spc].span);
    CHECK_EQ(s->list, MGC_LIST_FULL);
    CHECK_EQ(atomic_load(&s->sweepgen), sg);
    CHECK_EQ(s->alloc_count, s->nelems);

    /* Flush: every span back on a central list, the tiny block dropped, and
       the objects counted in MemStats. */
    uint64_t before = atomic_load(&mgc__stats.nmalloc[sc]);
    mgc_cache_counts counted;
    memset(&counted, 0, sizeof counted);
    mgc__cache_count(&t->cache, &counted);
    CHECK(counted.nmalloc[sc] >= 1);
    mgc_span *cur = t->cache.cls[spc].span;
    mgc__cs_enter(t);
    mgc__cache_flush(&t->cache);
    mgc__cs_exit(t);
    for (unsigned i = 0; i < MGC_NUM_SPAN_CLASSES; i++)
        CHECK(t->cache.cls[i].span == &mgc__empty_span);
    CHECK_EQ(t->cache.tiny, 0);
    CHECK(cur->list == MGC_LIST_PARTIAL || cur->list == MGC_LIST_FULL);
    CHECK_EQ(atomic_load(&mgc__stats.nmalloc[sc]) - before, counted.nmalloc[sc]);

    /* Tiny: noscan objects under 16 bytes share 16-byte blocks, 8-aligned. */
    char *a = mgc_alloc_noscan(3), *b = mgc_alloc_noscan(5), *c = mgc_alloc_noscan(8);
    CHECK_EQ((uintptr_t)a % 16, 0);
    CHECK_EQ(b, a + 8); /* packed into the same block */
    CHECK((uintptr_t)c % 16 == 0 && c != a); /* no room left: a new block */
    CHECK_EQ(t->cache.tiny_allocs, 1); /* b; a and c took whole blocks */
    CHECK_EQ(mgc_usable_size(a), 8);
    CHECK_EQ(mgc_usable_size(b), 8);
    CHECK_EQ(mgc_usable_size(c), 8); /* the second half may go to the next one */
    char *d = mgc_alloc_noscan(12); /* too big to share with c: a block of its own */
    CHECK_EQ(mgc_usable_size(d), 16);
    char *e = mgc_alloc_noscan(4);
    CHECK_EQ(e, c + 8);
    return 0;
}
