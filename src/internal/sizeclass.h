/*
 * sizeclass.h — Go's size classes (the generated table in sizeclasses.h) and
 * mgc's span classes.
 *
 * A span class is a size class and an object kind: sizeclass << 2 | kind.
 * Go splits scan/noscan; mgc also keeps typed (precisely scanned) objects
 * and tiny blocks apart, because each kind is scanned, or described, its
 * own way. Size class 0 means a large object (> 32 KiB, or a container's
 * growable storage from 32 KiB) with a span of its own.
 */
#ifndef MGC_SIZECLASS_H
#define MGC_SIZECLASS_H

#include "base.h"
#include "sizeclasses.h"

enum mgc_kind {
    MGC_KIND_SCAN = 0,   /* mgc_alloc: every word scanned conservatively */
    MGC_KIND_NOSCAN = 1, /* mgc_alloc_noscan: never scanned */
    MGC_KIND_TYPED = 2,  /* mgc_alloc_typed/array: pointer words from the type */
    MGC_KIND_TINY = 3,   /* 16-byte blocks shared by noscan objects < 16 bytes */
};

#define MGC_NUM_SPAN_CLASSES (MGC_NUM_SIZE_CLASSES * 4)
#define MGC_TINY_SIZE 16
#define MGC_TINY_CLASS 2
#define MGC_TINY_SPANCLASS ((MGC_TINY_CLASS << 2) | MGC_KIND_TINY)
/* Typed objects up to this slot size describe their words in a per-span
   bitmap (one bit per word, Go's heap bits); bigger ones carry a 16-byte
   header {type, count} before the object (Go's malloc header). */
#define MGC_TYPED_BITS_MAX 512
#define MGC_TYPED_HEADER 16

MGC_INLINE unsigned mgc__spanclass(unsigned sizeclass, unsigned kind) { return sizeclass << 2 | kind; }
MGC_INLINE unsigned mgc__spanclass_sizeclass(unsigned spc) { return spc >> 2; }
MGC_INLINE unsigned mgc__spanclass_kind(unsigned spc) { return spc & 3; }

/* Slot bytes a request of size bytes of this kind needs: typed objects over
   512 bytes carry a 16-byte header when small. Over MGC_SMALL_MAX, the
   object is large and the request itself is what counts (a large object
   keeps its type in its span). No addition before the comparison: sizes
   from SIZE_MAX - 15 would wrap into the smallest classes. */
MGC_INLINE size_t mgc__alloc_need(size_t size, unsigned kind)
{
    size_t need = size ? size : 1;
    if (kind == MGC_KIND_TYPED && size > MGC_TYPED_BITS_MAX && need <= MGC_SMALL_MAX - MGC_TYPED_HEADER)
        need += MGC_TYPED_HEADER;
    else if (kind == MGC_KIND_TYPED && size > MGC_TYPED_BITS_MAX && need <= MGC_SMALL_MAX)
        need = MGC_SMALL_MAX + 1; /* the header would overflow the largest class */
    return need;
}

/* Size class for 0 < size <= MGC_SMALL_MAX (size 0 is treated as 1). */
MGC_INLINE unsigned mgc__size_to_class(size_t size)
{
    if (size <= MGC_SMALL_SIZE_MAX)
        return mgc__size_to_class8[(size + MGC_SMALL_SIZE_DIV - 1) / MGC_SMALL_SIZE_DIV];
    return mgc__size_to_class128[(size - MGC_SMALL_SIZE_MAX + MGC_LARGE_SIZE_DIV - 1) /
                                 MGC_LARGE_SIZE_DIV];
}

#endif /* MGC_SIZECLASS_H */
