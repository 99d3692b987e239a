/*
 * barrier.h — the one write barrier every heap-pointer store the library
 * makes into heap memory goes through (DESIGN.md section 1). Marking stops
 * the world today, so the barrier is the store itself; when marking becomes
 * concurrent, Go's hybrid barrier (shade the old and the new pointer while
 * marking) goes here and in mgc__wb_bulk, and nowhere else.
 */
#ifndef MGC_BARRIER_H
#define MGC_BARRIER_H

#include "base.h"

MGC_INLINE void mgc__wb_store(void **slot, void *value) { *slot = value; }

/* Before a bulk copy of n bytes that may hold pointers into dst. */
MGC_INLINE void mgc__wb_bulk(void *dst, const void *src, size_t n)
{
    (void)dst;
    (void)src;
    (void)n;
}

#endif /* MGC_BARRIER_H */
