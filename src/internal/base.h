/*
 * base.h — what every mgc source file shares: branch hints, visibility,
 * fatal errors, debug assertions, bit helpers and the compile-time switches.
 *
 * Conventions kept everywhere in src/:
 *   - public symbols are mgc_* and declared in include/mgc.h;
 *   - internal symbols shared between files are mgc__* and MGC_INTERNAL
 *     (hidden from the shared library's exports); the rest is static;
 *   - every shared field names what guards it, in a comment beside it.
 */
#ifndef MGC_BASE_H
#define MGC_BASE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mgc.h"

#define MGC_INTERNAL __attribute__((visibility("hidden")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define MGC_NOINLINE __attribute__((noinline))
#define MGC_INLINE static inline __attribute__((always_inline))
#define MGC_COLD __attribute__((cold, noinline))
#define MGC_NORETURN __attribute__((noreturn))
#define MGC_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Functions that read memory the program owns word by word (stacks, data,
   conservatively scanned objects) are excluded from AddressSanitizer: they
   read stack red zones and bytes past requested sizes by design. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MGC_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MGC_ASAN 1
#endif
#ifndef MGC_ASAN
#define MGC_ASAN 0
#endif
#define MGC_NO_SANITIZE __attribute__((no_sanitize("address", "hwaddress", "thread")))

/* ThreadSanitizer builds (make test-tsan) give TSan a chance to hand over
   the stop signal after each futex wait (os_linux.c). Compiled out
   otherwise. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MGC_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define MGC_TSAN 1
#endif
#ifndef MGC_TSAN
#define MGC_TSAN 0
#endif

/* A seqlock reader's reads, which another thread may be writing (free.h,
   mgc__span_pin): the answer is used only once a sequence number, read
   outside such a function, shows that nothing changed. ThreadSanitizer
   cannot know that and would report each one as a race. */
#if MGC_TSAN
#define MGC_SPECULATIVE __attribute__((no_sanitize("thread"), noinline))
#else
#define MGC_SPECULATIVE
#endif

/* mgc's global state that may hold heap addresses lives in this section so
   the root scanner can leave it out (roots.c). */
#define MGC_STATE __attribute__((section("mgc_state"), aligned(64)))

/* Compile-time switches (jemalloc style: code stays compiled and checked). */
#ifdef MGC_DEBUG_BUILD
static const bool mgc__debug = true;
#else
static const bool mgc__debug = false;
#endif

MGC_INTERNAL MGC_NORETURN MGC_COLD MGC_PRINTF(1, 2) void mgc__fatal(const char *fmt, ...);
MGC_INTERNAL MGC_COLD MGC_PRINTF(1, 2) void mgc__warn(const char *fmt, ...);

#define MGC_ASSERT(cond)                                                     \
    do {                                                                     \
        if (mgc__debug && unlikely(!(cond)))                                 \
            mgc__fatal("assertion failed: %s (%s:%d)", #cond, __FILE__,      \
                       __LINE__);                                            \
    } while (0)
/* Checked in every build: cheap invariants whose failure would corrupt. */
#define MGC_CHECK(cond, ...)                                                 \
    do {                                                                     \
        if (unlikely(!(cond)))                                               \
            mgc__fatal(__VA_ARGS__);                                         \
    } while (0)

MGC_INLINE unsigned mgc__ctz64(uint64_t x) { return (unsigned)__builtin_ctzll(x); }
MGC_INLINE unsigned mgc__popcount64(uint64_t x) { return (unsigned)__builtin_popcountll(x); }
MGC_INLINE uintptr_t mgc__round_up(uintptr_t x, uintptr_t a) { return (x + a - 1) & ~(a - 1); }
MGC_INLINE uintptr_t mgc__round_down(uintptr_t x, uintptr_t a) { return x & ~(a - 1); }

MGC_INLINE bool mgc__bit_get(const uint64_t *bits, uintptr_t i)
{
    return (bits[i >> 6] >> (i & 63)) & 1;
}
MGC_INLINE void mgc__bit_set(uint64_t *bits, uintptr_t i)
{
    bits[i >> 6] |= (uint64_t)1 << (i & 63);
}

/* Intrusive doubly-linked lists: a head pointer and next/prev fields,
   changed under the owner's lock. The head is stored atomically (relaxed:
   it publishes nothing) because some heads are read without the lock, as
   an emptiness hint that the reader checks again under it (central.c,
   sweep.c); a plain store would race with that read. */
#define MGC_DLIST_PUSH(head, node)                                           \
    do {                                                                     \
        (node)->prev = NULL;                                                 \
        (node)->next = (head);                                               \
        if (head)                                                            \
            (head)->prev = (node);                                           \
        __atomic_store_n(&(head), (node), __ATOMIC_RELAXED);                 \
    } while (0)
#define MGC_DLIST_REMOVE(head, node)                                         \
    do {                                                                     \
        if ((node)->prev)                                                    \
            (node)->prev->next = (node)->next;                               \
        else                                                                 \
            __atomic_store_n(&(head), (node)->next, __ATOMIC_RELAXED);       \
        if ((node)->next)                                                    \
            (node)->next->prev = (node)->prev;                               \
        (node)->next = (node)->prev = NULL;                                  \
    } while (0)

#define MGC_MiB ((uint64_t)1 << 20)
#define MGC_GiB ((uint64_t)1 << 30)

#endif /* MGC_BASE_H */
