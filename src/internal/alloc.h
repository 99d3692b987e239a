/*
 * alloc.h — allocation entry points the library itself uses beyond the
 * public ones (alloc.c).
 */
#ifndef MGC_ALLOC_H
#define MGC_ALLOC_H

#include "base.h"

/* mgc_alloc_noscan without the zeroing: the bytes are whatever the slot
   held. Only for noscan storage that its user overwrites before reading
   (the containers' buffers and arrays, as Go's growslice allocates
   pointer-free backing arrays with needzero=false); the collector never
   reads noscan memory, so old bytes can do no harm there. */
MGC_INTERNAL void *mgc__alloc_noscan_raw(size_t size);

/* Raw noscan storage of size bytes (>= 16) that is its own large span
   whatever its size, placed where room bytes from its start are free if
   the mapped heap has such a place, the pages after it held as its
   reserve, so that mgc__grow_in_place can extend it later (heap.c says
   when the reserve is given back). For a container whose storage
   grows by doubling; freed like any large object (mgc_free, or
   mgc_free_sized with the size asked, which rounds to its pages). */
MGC_INTERNAL void *mgc__alloc_growable_raw(size_t size, size_t room);

/* Grow the large object p (a pointer mgc returned, held by the caller) in
   place to at least size bytes, over its reserve and then the pages after
   it if they are free: true when
   it now has room (the new bytes zeroed if zeroed; a typed object's length
   follows), false when p is not large or its neighbours are taken. */
MGC_INTERNAL bool mgc__grow_in_place(void *p, size_t size, bool zeroed);
/* Test hook: called by mgc__grow_in_place after a growth, once the
   span's class lock is released. */
extern MGC_INTERNAL void (*mgc__test_grown_hook)(void);

/* mgc_base(p) as seen from span s, which a lookup of p found: s may have
   been freed, or set up for another span, since (tests pass a stale one). */
struct mgc_span;
MGC_INTERNAL void *mgc__base_in(const struct mgc_span *s, uintptr_t p);

#endif /* MGC_ALLOC_H */
