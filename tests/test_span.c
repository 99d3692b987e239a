// ctest-label: unit
/* Span bitmaps: the alloc cache and free index (Go's nextFreeFast and
   nextFreeIndex), counting allocated slots, and the per-kind side tables. */
#include "internal/cache.h"
#include "internal/heap.h"
#include "internal/meta.h"
#include "internal/threads.h"
#include "testing.h"

static mgc_span *make_span(unsigned sizeclass, unsigned kind)
{
    mgc_span *s = mgc__meta_alloc(sizeof *s, MGC_META_MSPAN);
    static char mem[10 * 8192] __attribute__((aligned(16)));
    unsigned spc = mgc__spanclass(sizeclass, kind);
    size_t words = mgc__span_bits_words(spc, mgc__class_npages[sizeclass]);
    mgc__span_init(s, spc, (uintptr_t)mem, mgc__class_npages[sizeclass],
                   words > 2 ? mgc__meta_alloc(words * 8, MGC_META_GC) : NULL);
    return s;
}

static uint32_t take_all(mgc_span *s, uint8_t *seen)
{
    uint32_t n = 0;
    for (;;) {
        void *p = mgc__cache_take(s);
        if (!p) {
            if (!mgc__span_refill_cache(s))
                break;
            continue;
        }
        uintptr_t idx = ((uintptr_t)p - s->base) / s->elemsize;
        CHECK(idx < s->nelems);
        CHECK_EQ((uintptr_t)p, s->base + idx * s->elemsize);
        CHECK(!seen[idx]); /* never handed out twice */
        seen[idx] = 1;
        n++;
    }
    return n;
}

int main(void)
{
    CHECK_EQ(mgc_init(), 0);
    mgc_thread *t = mgc__thread_current();
    mgc__cs_enter(t);
    t_seed();
    uint8_t seen[1024];

    /* A fresh span hands out every slot once, in order. */
    for (unsigned c = 1; c < MGC_NUM_SIZE_CLASSES; c++) {
        mgc_span *s = make_span(c, MGC_KIND_SCAN);
        CHECK_EQ(s->nelems, mgc__class_nelems[c]);
        CHECK_EQ(mgc__span_count_alloc(s), 0);
        memset(seen, 0, sizeof seen);
        void *first = mgc__cache_take(s);
        CHECK_EQ((uintptr_t)first, s->base);
        seen[0] = 1;
        CHECK_EQ(take_all(s, seen) + 1, s->nelems);
        CHECK_EQ(mgc__span_count_alloc(s), s->nelems);
        CHECK(mgc__cache_take(s) == NULL);
        mgc__span_release_bits(s);
    }

    /* A span whose alloc bits say some slots are taken (as after a sweep)
       hands out exactly the others, across 64-slot word borders. */
    for (int round = 0; round < 200; round++) {
        mgc_span *s = make_span(2, MGC_KIND_NOSCAN); /* 512 slots */
        memset(seen, 0, sizeof seen);
        uint32_t taken = 0;
        for (uint32_t i = 0; i < s->nelems; i++) {
            if (t_rand_below(100) < (uint64_t)(round % 100)) {
                mgc__bit_set(s->alloc_bits, i);
                seen[i] = 1;
                taken++;
            }
        }
        s->alloc_cache = ~s->alloc_bits[0];
        s->freeindex = 0;
        CHECK_EQ(mgc__span_count_alloc(s), taken);
        uint32_t got = take_all(s, seen);
        CHECK_EQ(got + taken, s->nelems);
        for (uint32_t i = 0; i < s->nelems; i++)
            CHECK(seen[i]);
        /* Partially consumed: count = freeindex + alloc bits above it. */
        mgc__span_release_bits(s);
    }

    /* Allocated = below freeindex, or alloc bit set. */
    mgc_span *s = make_span(4, MGC_KIND_SCAN);
    mgc__bit_set(s->alloc_bits, 100);
    for (int i = 0; i < 10; i++)
        CHECK(mgc__cache_take(s) != NULL);
    CHECK(mgc__span_allocated(s, 9));
    CHECK(!mgc__span_allocated(s, 10));
    CHECK(mgc__span_allocated(s, 100));
    CHECK(!mgc__span_allocated(s, 101));
    CHECK_EQ(mgc__span_count_alloc(s), 11);

    /* Side tables: typed spans up to 512-byte slots get heap bits (one per
       word) and a type per slot; tiny spans a start mask per block. */
    mgc_span *ty = make_span(mgc__size_to_class(512), MGC_KIND_TYPED);
    CHECK(ty->heap_bits != NULL && ty->slot_types != NULL);
    CHECK((uintptr_t)(ty->slot_types + ty->nelems) <= (uintptr_t)(ty->heap_bits + ty->heapwords));
    mgc_span *ty2 = make_span(mgc__size_to_class(1024), MGC_KIND_TYPED);
    /* None for bigger slots: no words of heap bits, no slot types (and
       heap_bits, never NULL for lock-free readers, at the block). */
    CHECK(ty2->heapwords == 0 && ty2->slot_types == NULL && ty2->heap_bits == ty2->alloc_bits);
    mgc_span *tiny = make_span(MGC_TINY_CLASS, MGC_KIND_TINY);
    CHECK(tiny->heapwords * 8 >= tiny->nelems); /* a descriptor byte per block */
    mgc__cs_exit(t);
    return 0;
}
