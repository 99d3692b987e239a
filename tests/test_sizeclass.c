// ctest-label: unit
/* The size-class table: Go's 67 classes over 8 KiB pages, the derived
   columns, the division magic, and the size -> class lookup. */
#include "internal/sizeclass.h"
#include "testing.h"

int main(void)
{
    CHECK_EQ(MGC_NUM_SIZE_CLASSES, 68); /* class 0 (large) + 67 */
    CHECK_EQ(MGC_PAGE_SIZE, 8192);
    CHECK_EQ(mgc__class_size[67], 32768);
    for (int c = 1; c < MGC_NUM_SIZE_CLASSES; c++) {
        uint32_t size = mgc__class_size[c];
        uint32_t span = mgc__class_npages[c] * MGC_PAGE_SIZE;
        CHECK(size > mgc__class_size[c - 1]);
        CHECK(mgc__class_npages[c] >= 1 && mgc__class_npages[c] <= 10);
        CHECK_EQ(mgc__class_nelems[c], span / size);
        CHECK(mgc__class_nelems[c] <= MGC_MAX_OBJS_PER_SPAN);
        /* Go's rule: tail waste at most 1/8 of the span. */
        CHECK_MSG(span % size <= span / 8, "class %d wastes %u of %u", c, span % size, span);
        /* The magic divides exactly for every offset inside the span. */
        for (uint32_t off = 0; off < span; off++)
            CHECK_EQ(((uint64_t)off * mgc__class_divmagic[c]) >> 32, off / size);
    }
    /* Go's figures: 8 KiB spans hold 1024 8-byte or 512 16-byte objects. */
    CHECK_EQ(mgc__class_nelems[1], 1024);
    CHECK_EQ(mgc__class_nelems[2], 512);

    /* Lookup: the smallest class that fits, 16-byte aligned (never the 8 or
       24-byte classes), for every size. */
    for (size_t s = 0; s <= MGC_SMALL_MAX; s++) {
        unsigned c = mgc__size_to_class(s);
        CHECK(c >= 1 && c < MGC_NUM_SIZE_CLASSES);
        CHECK_MSG(mgc__class_size[c] >= (s ? s : 1), "size %zu -> class %u", s, c);
        CHECK_MSG(mgc__class_size[c] % 16 == 0, "size %zu -> class %u of %u bytes", s, c, mgc__class_size[c]);
        for (unsigned d = 1; d < c; d++)
            if (mgc__class_size[d] % 16 == 0)
                CHECK_MSG(mgc__class_size[d] < s, "size %zu -> class %u, but class %u fits", s, c, d);
    }
    CHECK_EQ(mgc__size_to_class(16), 2);
    CHECK_EQ(mgc__size_to_class(17), 4);
    CHECK_EQ(mgc__size_to_class(1024), 32);
    CHECK_EQ(mgc__size_to_class(1025), 33);
    /* Span classes: size class and kind. */
    CHECK_EQ(mgc__spanclass_sizeclass(mgc__spanclass(37, MGC_KIND_TYPED)), 37);
    CHECK_EQ(mgc__spanclass_kind(mgc__spanclass(37, MGC_KIND_TYPED)), MGC_KIND_TYPED);
    CHECK_EQ(MGC_TINY_SPANCLASS >> 2, 2);
    return 0;
}
