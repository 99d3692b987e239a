/*
 * barrier.c — the public face of the write barrier (barrier.h): mgc_write
 * and mgc_memmove. Programs that store heap pointers through these keep
 * working unchanged when marking becomes concurrent. Both attach their
 * caller (the pointers it stores are on its stack).
 */
#include "internal/barrier.h"
#include "internal/threads.h"

void mgc_write(void **slot, void *value)
{
    mgc__attach_caller();
    mgc__wb_store(slot, value);
}

void *mgc_memmove(void *dst, const void *src, size_t n)
{
    mgc__attach_caller();
    mgc__wb_bulk(dst, src, n);
    return memmove(dst, src, n);
}
