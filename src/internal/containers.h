/*
 * containers.h — what the self-freeing containers (buf.c, vec.c, map.c)
 * share: the switch that turns their frees off, the one function through
 * which they free, the two through which they allocate storage that may
 * grow in place and grow it (all three obey the switch), the rounding
 * of a request up to what the allocator would hand out anyway, and their
 * one-line abort when an allocation fails (MGC_CONTAINER_CHECK).
 *
 * Invariant kept by all three: a container's storage is freed only after
 * the last read from it (a growth copies first, then frees), and only
 * through mgc__containers_release, with its current size (as allocated, or
 * as grown in place) and kind.
 */
#ifndef MGC_CONTAINERS_H
#define MGC_CONTAINERS_H

#include "alloc.h"
#include "base.h"
#include "sizeclass.h"
#include "threads.h"

/* true (the default): containers free the storage they replace or drop,
   and grow large storage in place when the pages after it are free (a
   free of the old storage fused with the allocation, as realloc's).
   false: neither; they leave old storage to the collector, as a program
   without explicit free would. Set only by the benchmark
   (bench/containers) and by the tests of this switch, while no container
   is in use; read without synchronisation. Defined in buf.c. */
extern MGC_INTERNAL bool mgc__containers_free;

/* A container's allocation p failed, and a container has no error to
   answer: one abort line. A thread mgc could not attach (which gets NULL
   from every allocation) is named by that line instead of the out of
   memory one the container would give. */
#define MGC_CONTAINER_CHECK(p, ...)                                          \
    do {                                                                     \
        if (unlikely(!(p))) {                                                \
            mgc__attach_caller();                                            \
            mgc__fatal(__VA_ARGS__);                                         \
        }                                                                    \
    } while (0)

/* mgc_map's hash of an n-byte key under a map's seed (never 0 or 1).
   Internal, and callable by the tests. */
MGC_INTERNAL uint64_t mgc__map_hash(const void *key, size_t n, uint64_t seed);

/* Free what a container no longer uses: size bytes asked at allocation
   (for a typed array, type size x count), noscan as allocated. */
MGC_INLINE void mgc__containers_release(void *p, size_t size, int noscan)
{
    if (mgc__containers_free && p)
        mgc_free_sized(p, size, noscan);
}

/* Grow a container's large storage p in place to size bytes (alloc.h's
   mgc__grow_in_place), unless the frees are switched off: growth in place
   hands the old storage back as a free does. */
MGC_INLINE bool mgc__containers_grow_in_place(void *p, size_t size, bool zeroed)
{
    return mgc__containers_free && p && mgc__grow_in_place(p, size, zeroed);
}

/* Raw noscan storage of size bytes placed to grow in place (alloc.h's
   mgc__alloc_growable_raw, room bytes from its start) while the frees are
   on; with them off, what a program without the free would get: a plain
   raw allocation. */
MGC_INLINE void *mgc__containers_alloc_growable(size_t size, size_t room)
{
    return mgc__containers_free ? mgc__alloc_growable_raw(size, room) : mgc__alloc_noscan_raw(size);
}

/* The bytes the allocator hands out for a request of size bytes (typed:
   an array of a pointer-holding type; else noscan), minus what it keeps
   for itself: a small request fills its size class (less the header of a
   typed object over 512 bytes), a large one whole pages. size >= 16 and
   not near SIZE_MAX (the callers check). */
MGC_INLINE size_t mgc__containers_fit(size_t size, bool typed)
{
    size_t need = mgc__alloc_need(size, typed ? MGC_KIND_TYPED : MGC_KIND_NOSCAN);
    if (need > MGC_SMALL_MAX)
        return mgc__round_up(size, MGC_PAGE_SIZE);
    return mgc__class_size[mgc__size_to_class(need)] - (need - size);
}

/* Largest request a container makes: leaves room for rounding and
   doubling without overflow. */
#define MGC_CONTAINERS_MAX ((size_t)1 << (sizeof(size_t) * 8 - 2))

#endif /* MGC_CONTAINERS_H */
