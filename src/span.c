/*
 * span.c — span set-up and bitmap arithmetic (Go's mbitmap.go). The rules
 * for freeindex, alloc_cache, alloc_bits and mark_bits are in span.h.
 *
 * A span's bitmaps are one metadata block: alloc_bits, mark_bytes, then the
 * heap bits of typed and tiny spans; for a span of at most 8 slots the two
 * words live in the span itself (inline_bits).
 */
#include "internal/span.h"
#include "internal/meta.h"

uint32_t mgc__span_count_alloc(const mgc_span *s)
{
    uint32_t fi = s->freeindex;
    if (fi >= s->nelems)
        return s->nelems;
    uint32_t n = fi;
    uint32_t w = fi >> 6;
    n += mgc__popcount64(s->alloc_bits[w] >> (fi & 63));
    for (w++; w < s->nbitwords; w++)
        n += mgc__popcount64(s->alloc_bits[w]);
    return n;
}

bool mgc__span_refill_cache(mgc_span *s)
{
    uint32_t fi = s->freeindex;
    while (fi < s->nelems) {
        uint32_t w = fi >> 6;
        uint64_t free = ~s->alloc_bits[w] >> (fi & 63);
        if (free) {
            unsigned t = mgc__ctz64(free);
            fi += t;
            if (fi >= s->nelems)
                break;
            /* Bit 0 is now the free slot fi itself. */
            mgc__span_set_freeindex(s, fi);
            s->alloc_cache = free >> t;
            return true;
        }
        fi = (w + 1) << 6;
    }
    mgc__span_set_freeindex(s, s->nelems);
    s->alloc_cache = 0;
    return false;
}

/* Words of heap bits and type pointers (typed spans of small slots) or
   tiny descriptors after the alloc bits and mark bytes. */
static uint32_t heap_words(unsigned spanclass, uint32_t npages)
{
    unsigned sc = mgc__spanclass_sizeclass(spanclass), kind = mgc__spanclass_kind(spanclass);
    if (sc == 0)
        return 0;
    uint32_t nelems = mgc__class_nelems[sc];
    if (kind == MGC_KIND_TYPED && mgc__class_size[sc] <= MGC_TYPED_BITS_MAX)
        /* heap bits (one per word), then one type pointer per slot */
        return (uint32_t)(((uint64_t)npages * MGC_PAGE_SIZE / 8 + 63) / 64) + nelems;
    if (kind == MGC_KIND_TINY)
        return (nelems + 7) / 8; /* a descriptor byte per block (cache.h) */
    return 0;
}

size_t mgc__span_bits_words(unsigned spanclass, uint32_t npages)
{
    unsigned sc = mgc__spanclass_sizeclass(spanclass);
    uint32_t nelems = sc ? mgc__class_nelems[sc] : 1;
    size_t words = (size_t)(nelems + 63) / 64 + (nelems + 7) / 8 + heap_words(spanclass, npages);
    /* Never unmapped when freed (span.h: lock-free readers); 9472 bytes at
       most, for typed 8-byte objects. */
    MGC_ASSERT(words * 8 <= MGC_META_STABLE_MAX);
    return words;
}

void mgc__span_init(mgc_span *s, unsigned spanclass, uintptr_t base, uint32_t npages, uint64_t *bits)
{
    unsigned sc = mgc__spanclass_sizeclass(spanclass);
    unsigned kind = mgc__spanclass_kind(spanclass);
    s->base = base;
    s->npages = npages;
    s->reserved = 0;
    s->reserve_owner = 0;
    s->spanclass = (uint16_t)spanclass;
    s->sizeclass = (uint8_t)sc;
    s->kind = (uint8_t)kind;
    if (sc == 0) {
        s->large = 1;
        s->elemsize = 0; /* set by the caller: a large object can exceed 4 GiB */
        s->nelems = 1;
        s->divmagic = 0;
    } else {
        s->large = 0;
        s->elemsize = mgc__class_size[sc];
        s->nelems = mgc__class_nelems[sc];
        s->divmagic = mgc__class_divmagic[sc];
    }
    s->nbitwords = (s->nelems + 63) / 64;
    s->nmarkwords = (s->nelems + 7) / 8;
    s->heapwords = heap_words(spanclass, npages);
    size_t words = (size_t)s->nbitwords + s->nmarkwords + s->heapwords;
    MGC_ASSERT(words == mgc__span_bits_words(spanclass, npages) && (words <= 2) == (bits == NULL));
    if (!bits) {
        bits = s->inline_bits;
        bits[0] = bits[1] = 0;
    }
    s->alloc_bits = bits;
    s->mark_bytes = (uint8_t *)(bits + s->nbitwords);
    /* Without heap bits, the block itself: never NULL (span.h, incarnation). */
    s->heap_bits = s->heapwords ? bits + s->nbitwords + s->nmarkwords : bits;
    s->slot_types = NULL;
    if (kind == MGC_KIND_TYPED && sc != 0 && s->elemsize <= MGC_TYPED_BITS_MAX)
        s->slot_types = (const mgc_type **)(s->heap_bits + s->heapwords - s->nelems);
    s->check_bits = NULL;
    s->freeindex = 0;
    s->alloc_cache = ~(uint64_t)0;
    s->alloc_count = 0;
    s->cache_alloc_count = 0;
    s->cache_freeindex = 0;
    s->cached_in_mark = 0;
    s->next = s->prev = NULL;
    s->large_type = NULL;
    s->large_count = 0;
    s->list = 0;
}

/* The pointers are left as they are: a lock-free reader may still load
   them (span.h, incarnation), and the block stays mapped (meta.h). */
void mgc__span_release_bits(mgc_span *s)
{
    if (s->alloc_bits != s->inline_bits)
        mgc__meta_free(s->alloc_bits, ((size_t)s->nbitwords + s->nmarkwords + s->heapwords) * 8, MGC_META_GC);
}
