/*
 * meta.h — memory for mgc's own bookkeeping (spans, bitmaps, thread records,
 * mark work buffers), never from malloc and never in the GC heap (Go's
 * persistentalloc and fixalloc). Metadata is not scanned by the collector.
 */
#ifndef MGC_META_H
#define MGC_META_H

#include "base.h"

/* What the bytes are for, as MemStats reports them. */
enum mgc_meta_cat {
    MGC_META_MSPAN,  /* span structures */
    MGC_META_MCACHE, /* per-thread caches and thread records */
    MGC_META_GC,     /* mark/alloc bitmaps, work buffers, page tables */
    MGC_META_OTHER,
    MGC_META_NCAT
};

/* Blocks of at most MGC_META_STABLE_MAX bytes are carved from chunks that
   stay mapped for ever, and MGC_META_READ_SLACK bytes past the start of
   any such block are mapped too: a thread that holds a stale pointer to a
   freed block (span.h: the bitmaps of a span freed under a lock-free
   reader) may read that far from it without faulting. Larger blocks are
   unmapped when freed. */
#define MGC_META_STABLE_MAX 16384u
#define MGC_META_READ_SLACK 4096u

/* Maps the emergency region (meta.c) at start-up; ENOMEM if it cannot. */
MGC_INTERNAL int mgc__meta_init(void);

/* Zeroed, 16-byte aligned. Aborts the process if the OS has no memory left:
   the collector cannot run without its metadata. */
MGC_INTERNAL void *mgc__meta_alloc(size_t size, enum mgc_meta_cat cat);
/* The same, but NULL when the OS has no memory (the allocation path, which
   can answer ENOMEM instead: heap.c). */
MGC_INTERNAL void *mgc__meta_try_alloc(size_t size, enum mgc_meta_cat cat);
/* As mgc__meta_alloc, the emergency reserve included, but NULL instead of
   the abort when that is spent too (a thread's attach: mgc_thread_attach
   answers ENOMEM). */
MGC_INTERNAL void *mgc__meta_alloc_or_null(size_t size, enum mgc_meta_cat cat);
MGC_INTERNAL void mgc__meta_free(void *p, size_t size, enum mgc_meta_cat cat);
/* Room for one more element in a metadata array of *cap elements of elem
   bytes, n of them in use: the array itself while n < *cap, else a copy
   twice as large (first elements when empty), the old one freed. */
MGC_INTERNAL void *mgc__meta_grow(void *arr, size_t n, size_t *cap, size_t elem, size_t first,
                                  enum mgc_meta_cat cat);
/* The same, but NULL (arr and *cap unchanged) when the OS has no memory. */
MGC_INTERNAL void *mgc__meta_try_grow(void *arr, size_t n, size_t *cap, size_t elem, size_t first,
                                      enum mgc_meta_cat cat);
/* Account bytes mapped for metadata outside this allocator (page tables). */
MGC_INTERNAL void mgc__meta_account_sys(enum mgc_meta_cat cat, int64_t bytes);
/* Account bytes of blocks a user of this allocator keeps on its own free
   list (heap.c's span records): out of use (negative) or back in use. */
MGC_INTERNAL void mgc__meta_account_inuse(enum mgc_meta_cat cat, int64_t bytes);
MGC_INTERNAL void mgc__meta_read(uint64_t inuse[MGC_META_NCAT], uint64_t sys[MGC_META_NCAT]);
MGC_INTERNAL void mgc__meta_fork_prepare(void);
MGC_INTERNAL void mgc__meta_fork_parent(void);
MGC_INTERNAL void mgc__meta_fork_child(void);

#endif /* MGC_META_H */
