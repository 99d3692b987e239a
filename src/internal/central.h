/*
 * central.h — one mcentral per span class (Go's mcentral.go): the spans of
 * that class not held by any thread's cache, in four lists.
 *
 * partial[i] holds spans with free slots, full[i] spans without. Which index
 * is swept flips every cycle with the heap's sweepgen sg: [sg/2 % 2] is the
 * swept set, the other the unswept one (they swap roles when mark
 * termination adds 2 to sg, which is why the unswept lists must be empty
 * before a cycle starts). Large spans (size class 0) live on the full lists
 * of class 0.
 *
 * Every move of a span between a list, a cache, the sweeper and the page
 * heap happens under the class's lock: no span is ever "in flight" outside
 * a lock, which is what lets fork() take a consistent snapshot by taking
 * every lock (init.c).
 */
#ifndef MGC_CENTRAL_H
#define MGC_CENTRAL_H

#include "base.h"
#include "lock.h"
#include "span.h"

enum { MGC_LIST_NONE = 0, MGC_LIST_PARTIAL, MGC_LIST_FULL, MGC_LIST_CACHED };

typedef struct mgc_central {
    mgc_lock lock;
    mgc_span *partial[2]; /* lock */
    mgc_span *full[2];    /* lock */
} __attribute__((aligned(64))) mgc_central;

extern MGC_INTERNAL mgc_central mgc__central[MGC_NUM_SPAN_CLASSES];

MGC_INLINE unsigned mgc__swept_index(uint32_t sg) { return (sg >> 1) & 1; }
MGC_INLINE unsigned mgc__unswept_index(uint32_t sg) { return ((sg >> 1) & 1) ^ 1; }

/* List operations; caller holds the class lock. */
MGC_INTERNAL void mgc__list_push(mgc_span **head, mgc_span *s, uint8_t which);
MGC_INTERNAL void mgc__list_remove(mgc_span **head, mgc_span *s);
MGC_INTERNAL mgc_span *mgc__list_pop(mgc_span **head);

/* A swept span of class spc with at least one free slot, marked cached and
   already set in *slot (under the lock, so fork never sees it in flight).
   Sweeps unswept spans of the class first (lazy sweep); takes a fresh span
   from the page heap last. Returns false when the heap cannot grow. */
MGC_INTERNAL bool mgc__central_cache_span(unsigned spc, mgc_span **slot);
/* Give back the span in a cache slot: count what was allocated from it,
   then, under the class lock, empty the slot and put the span on the swept
   partial or full list. */
MGC_INTERNAL void mgc__central_uncache_span(mgc_span **slot);
/* A large span of npages (its own class-0 span of kind `kind`), on the full
   swept list; room, prev and owner: mgc__heap_alloc_span's placement hint
   (0: none), the span whose reserve to give back (0: none) and who asks.
   NULL when the heap cannot grow. */
MGC_INTERNAL mgc_span *mgc__central_alloc_large(uintptr_t npages, unsigned kind, uintptr_t room, uintptr_t prev,
                                                uintptr_t owner);
MGC_INTERNAL void mgc__central_fork_prepare(void);
MGC_INTERNAL void mgc__central_fork_parent(void);
MGC_INTERNAL void mgc__central_fork_child(void);

#endif /* MGC_CENTRAL_H */
