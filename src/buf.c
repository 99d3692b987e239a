/*
 * buf.c — mgc_buf, the byte buffer (Go's strings.Builder and bytes.Buffer;
 * declared in mgc.h), and the switch mgc__containers_free that all the
 * containers obey (containers.h).
 *
 * Storage is one noscan object whose size, the capacity, is a power of two
 * of at least 16 bytes: a size-class slot below 32 KiB (every power of two
 * from 16 bytes is a class), a span of its own from 32 KiB up (whole pages,
 * mgc__alloc_growable_raw, placed with room for four times its size), so
 * no byte is wasted, and a request of 16 bytes or more is never a tiny
 * block (those cannot be freed). When an append does not fit, the buffer
 * doubles (or jumps to the power of two that fits): a span with reserved
 * or free pages after it grows in place (no copy, no free:
 * mgc__grow_in_place, as realloc extends a chunk); otherwise new storage,
 * the bytes copied, then the old storage freed with
 * mgc_free_sized(old, cap, 1). On the same thread the next request of a
 * small size gets it back (free.c's LIFO reuse lists), so a program
 * building one string after another recycles the small steps of each
 * build instead of leaving them to the collector, which is what Go's
 * runtime.free does for strings.Builder (issue 74299).
 *
 * Invariants, checked on entry (MGC_CHECK): len <= cap, and data is NULL
 * exactly when cap is 0. cap is the exact size asked of the allocator, so
 * the free can pass it. The old storage is freed only after the last read
 * from it: appending bytes that live in the buffer itself is safe, and
 * printf's arguments are read before the old storage goes.
 */
#include "internal/alloc.h"
#include "internal/containers.h"

#include <stdarg.h>
#include <stdio.h>

bool mgc__containers_free = true;

#define BUF_MIN 16 /* the smallest noscan request that is not tiny */
/* Storage of this size and up is a span of its own, placed with room for
   BUF_ROOM times its size where the heap has such a place (held as its
   reserve, heap.c), and grows in place over the reserve and then while
   the pages after it are free. 32 KiB: below it, a size-class
   slot comes from the thread's cache without a global lock and is reused
   LIFO, where a span takes the central and heap locks to be allocated,
   extended and freed. Measured on two threads building results of 16 and
   32 KiB (medians of 31 interleaved rounds, docs/benchmarks.md): from 8
   KiB, 46% and 30% slower than with no growable storage; from 16 KiB,
   even and 17% slower; from 32 KiB, even at both. On one thread a 64 KiB
   build gains 3% more from 8 or 16 KiB than from 32. */
#define BUF_SPAN_MIN MGC_SMALL_MAX
#define BUF_ROOM 4

static MGC_COLD MGC_NORETURN void null_buf(const char *fn)
{
    mgc__fatal("%s: the buffer is NULL", fn);
}

static MGC_COLD MGC_NORETURN void corrupt_buf(const char *fn, const mgc_buf *b)
{
    mgc__fatal("%s: buffer %p is not a valid mgc_buf (data %p, len %zu, cap %zu): "
               "never initialised, or overwritten",
               fn, (const void *)b, (void *)b->data, b->len, b->cap);
}

MGC_INLINE void check(const mgc_buf *b, const char *fn)
{
    if (unlikely(!b))
        null_buf(fn);
    if (unlikely(b->len > b->cap || (b->cap == 0) != (b->data == NULL)))
        corrupt_buf(fn, b);
}

/* Make room for n more bytes: new storage with the bytes copied. Returns
   the old storage (NULL if there was none) and its size in *oldcap; the
   caller frees it once it has read from it what it needs. */
static MGC_NOINLINE char *grow(mgc_buf *b, size_t n, size_t *oldcap, const char *fn)
{
    MGC_CHECK(n <= MGC_CONTAINERS_MAX - b->len, "%s: buffer %p cannot grow by %zu bytes (it holds %zu)", fn,
              (void *)b, n, b->len);
    size_t need = b->len + n;
    size_t cap = b->cap ? b->cap * 2 : BUF_MIN;
    if (cap < need)
        cap = (size_t)1 << (64 - __builtin_clzll((unsigned long long)need - 1));
    /* Raw: every byte below len is copied or appended before it is read,
       and what lies beyond len is not the caller's (detach clears it). */
    if (b->cap >= BUF_SPAN_MIN && mgc__containers_grow_in_place(b->data, cap, false)) {
        *oldcap = 0; /* grew where it was: no copy, nothing to free */
        b->cap = cap;
        return NULL;
    }
    size_t room = cap <= SIZE_MAX / BUF_ROOM ? cap * BUF_ROOM : cap;
    char *p = cap < BUF_SPAN_MIN ? mgc__alloc_noscan_raw(cap) : mgc__containers_alloc_growable(cap, room);
    MGC_CONTAINER_CHECK(p, "%s: out of memory growing buffer %p to %zu bytes", fn, (void *)b, cap);
    char *old = b->data;
    if (b->len)
        memcpy(p, old, b->len);
    *oldcap = b->cap;
    b->data = p;
    b->cap = cap;
    return old;
}

/* grow, and free the old storage at once: nothing reads from it. */
static void grow_release(mgc_buf *b, size_t n, const char *fn)
{
    size_t oldcap;
    char *old = grow(b, n, &oldcap, fn);
    mgc__containers_release(old, oldcap, 1);
}

void mgc_buf_init(mgc_buf *b)
{
    if (unlikely(!b))
        null_buf("mgc_buf_init");
    b->data = NULL;
    b->len = b->cap = 0;
}

static MGC_NOINLINE void append_grow(mgc_buf *b, const void *bytes, size_t n, const char *fn)
{
    size_t oldcap;
    char *old = grow(b, n, &oldcap, fn);
    memcpy(b->data + b->len, bytes, n); /* bytes may be in old: still there */
    b->len += n;
    mgc__containers_release(old, oldcap, 1);
}

/* len is updated before the copy so that memcpy is a tail call. */
static inline void append(mgc_buf *b, const void *bytes, size_t n, const char *fn)
{
    size_t len = b->len;
    if (unlikely(n > b->cap - len)) {
        append_grow(b, bytes, n, fn);
        return;
    }
    b->len = len + n;
    if (likely(n))
        memcpy(b->data + len, bytes, n);
}

/* The whole append: the checks, the growth, the copy. mgc.h inlines the
   common case (the bytes fit) into the caller and falls back to these two
   (the parentheses keep its macros off the definitions); a caller that
   takes their address or defines MGC_BUF_NO_INLINE calls them always. The
   copy is a tail call to the C library's memcpy, as the inline path's is
   a call: the compiler's own expansion of a copy whose length it can bound
   is rep movs, which costs twice as much per small piece. */
void(mgc_buf_append)(mgc_buf *b, const void *bytes, size_t n)
{
    check(b, "mgc_buf_append");
    MGC_CHECK(bytes || !n, "mgc_buf_append: %zu bytes from NULL into buffer %p", n, (void *)b);
    append(b, bytes, n, "mgc_buf_append");
}

void mgc_buf_append_str(mgc_buf *b, const char *s)
{
    check(b, "mgc_buf_append_str");
    MGC_CHECK(s != NULL, "mgc_buf_append_str: the string is NULL (buffer %p)", (void *)b);
    append(b, s, strlen(s), "mgc_buf_append_str");
}

void(mgc_buf_append_byte)(mgc_buf *b, int c)
{
    check(b, "mgc_buf_append_byte");
    if (unlikely(b->len == b->cap))
        grow_release(b, 1, "mgc_buf_append_byte");
    b->data[b->len++] = (char)c;
}

int mgc_buf_vprintf(mgc_buf *b, const char *fmt, va_list ap)
{
    check(b, "mgc_buf_vprintf");
    MGC_CHECK(fmt != NULL, "mgc_buf_vprintf: the format is NULL (buffer %p)", (void *)b);
    size_t avail = b->cap - b->len;
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(avail ? b->data + b->len : NULL, avail, fmt, aq);
    va_end(aq);
    if (n < 0)
        return -1;
    if ((size_t)n < avail) { /* it fit, with the NUL vsnprintf adds */
        b->len += (size_t)n;
        return n;
    }
    if (n == 0) /* nothing to add to a full buffer */
        return 0;
    if ((size_t)n == avail) {
        /* It fits exactly, but vsnprintf put its NUL where the last byte
           goes: the room mgc_buf_grow promised is used, without growing
           (which would free the storage a pointer taken after the grow
           points to). The other bytes are in place; the last is
           formatted again, into scratch. */
        char small[256], *tmp = small;
        if ((size_t)n >= sizeof small) {
            tmp = mgc__alloc_noscan_raw((size_t)n + 1);
            MGC_CONTAINER_CHECK(tmp, "mgc_buf_vprintf: out of memory formatting %d bytes (buffer %p)", n,
                                (void *)b);
        }
        int n2 = vsnprintf(tmp, (size_t)n + 1, fmt, ap);
        MGC_CHECK(n2 == n, "mgc_buf_vprintf: the format \"%s\" gave %d bytes, then %d (buffer %p)", fmt, n, n2,
                  (void *)b);
        b->data[b->len + (size_t)n - 1] = tmp[n - 1];
        if (tmp != small)
            mgc_free_sized(tmp, (size_t)n + 1, 1);
        b->len += (size_t)n;
        return n;
    }
    size_t oldcap;
    char *old = grow(b, (size_t)n + 1, &oldcap, "mgc_buf_vprintf");
    int n2 = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    mgc__containers_release(old, oldcap, 1);
    MGC_CHECK(n2 == n, "mgc_buf_vprintf: the format \"%s\" gave %d bytes, then %d (buffer %p)", fmt, n, n2,
              (void *)b);
    b->len += (size_t)n;
    return n;
}

int mgc_buf_printf(mgc_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = mgc_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return n;
}

void mgc_buf_grow(mgc_buf *b, size_t n)
{
    check(b, "mgc_buf_grow");
    if (n > b->cap - b->len)
        grow_release(b, n, "mgc_buf_grow");
}

size_t mgc_buf_len(const mgc_buf *b)
{
    check(b, "mgc_buf_len");
    return b->len;
}

size_t mgc_buf_cap(const mgc_buf *b)
{
    check(b, "mgc_buf_cap");
    return b->cap;
}

char *mgc_buf_bytes(const mgc_buf *b)
{
    mgc__attach_caller(); /* hands this thread a heap pointer: its stack must be scanned */
    check(b, "mgc_buf_bytes");
    return b->data;
}

char *mgc_buf_cstr(mgc_buf *b)
{
    mgc__attach_caller(); /* hands this thread a heap pointer: its stack must be scanned */
    check(b, "mgc_buf_cstr");
    if (b->len == b->cap)
        grow_release(b, 1, "mgc_buf_cstr");
    b->data[b->len] = 0;
    return b->data;
}

void mgc_buf_truncate(mgc_buf *b, size_t n)
{
    check(b, "mgc_buf_truncate");
    MGC_CHECK(n <= b->len, "mgc_buf_truncate: %zu is beyond the length %zu of buffer %p", n, b->len, (void *)b);
    b->len = n;
}

void mgc_buf_reset(mgc_buf *b)
{
    check(b, "mgc_buf_reset");
    b->len = 0;
}

char *mgc_buf_string(const mgc_buf *b)
{
    check(b, "mgc_buf_string");
    char *s = mgc_alloc_noscan(b->len + 1);
    MGC_CONTAINER_CHECK(s, "mgc_buf_string: out of memory for %zu bytes (buffer %p)", b->len + 1, (void *)b);
    if (b->len)
        memcpy(s, b->data, b->len);
    return s; /* zeroed: s[len] is the NUL */
}

char *mgc_buf_detach(mgc_buf *b, size_t *len_out)
{
    mgc__attach_caller(); /* hands this thread a heap pointer: its stack must be scanned */
    char *s = mgc_buf_cstr(b);
    /* The storage becomes the caller's object: zeroed past the NUL, as
       every allocation is (it was allocated raw). */
    memset(s + b->len + 1, 0, b->cap - b->len - 1);
    if (len_out)
        *len_out = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

void mgc_buf_free(mgc_buf *b)
{
    check(b, "mgc_buf_free");
    char *old = b->data;
    size_t cap = b->cap;
    b->data = NULL;
    b->len = b->cap = 0;
    mgc__containers_release(old, cap, 1);
}
