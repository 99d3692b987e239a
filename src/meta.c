/*
 * meta.c — the metadata allocator (meta.h). Small requests are carved from
 * 1 MiB chunks obtained from the OS and recycled through per-size free lists
 * (16-byte steps up to MGC_META_STABLE_MAX, 16 KiB); larger ones map their
 * own pages.
 *
 * Invariants: every block handed out is zeroed; a freed block is reused for
 * a request of the same rounded size, or, when the OS has no chunk to give,
 * split for a smaller one; chunks are never unmapped, and the
 * last MGC_META_READ_SLACK bytes of each are never handed out, so a read that
 * far past any small block's start stays in mapped memory (meta.h). Guarded
 * by meta.lock (last in the lock order: nothing is locked while holding it).
 *
 * Accounting: sys[c] is the bytes of category c's blocks, in use or free,
 * so that inuse[c] <= sys[c] (Go's XInuse <= XSys). The free lists are
 * shared by all categories (a freed bitmap is as good a span record as a
 * fresh block); a free block remembers its category, and a block reused or
 * split for another category moves its bytes there.
 */
#include "internal/meta.h"
#include "internal/lock.h"
#include "internal/os.h"

#include <errno.h>

#define META_CHUNK (1u << 20)
#define META_STEP 16u
#define META_MAX_SMALL MGC_META_STABLE_MAX
#define META_NLISTS (META_MAX_SMALL / META_STEP + 1)

typedef struct meta_free {
    struct meta_free *next;
    uint32_t cat; /* the category whose sys counts the block */
} meta_free;

static struct {
    mgc_lock lock;
    char *cur, *end;                 /* bump region of the current chunk; lock */
    meta_free *lists[META_NLISTS];   /* freed blocks by size / 16; lock */
    _Atomic uint64_t inuse[MGC_META_NCAT]; /* bytes handed out; atomic counters */
    _Atomic uint64_t sys[MGC_META_NCAT];   /* bytes mapped for this category */
} meta MGC_STATE;

/* Address space mapped at start-up for the metadata the collector itself
   needs (root lists, mark buffers, thread records) once the OS has none
   left: the allocation path's metadata (mgc__meta_try_alloc) fails first
   and answers ENOMEM, and the collection that precedes that answer, or
   that drops objects to make room, can still run. Carved by a bump,
   never reused; lock. */
#define META_EMERGENCY (8u << 20)
static char *emerg_cur, *emerg_end;

int mgc__meta_init(void)
{
    emerg_cur = mgc__os_alloc(META_EMERGENCY);
    if (!emerg_cur)
        return ENOMEM;
    emerg_end = emerg_cur + META_EMERGENCY;
    return 0;
}

/* len bytes (a multiple of 4096) from the OS, or from the emergency
   region when may_dip and the OS has none. Caller holds the lock. */
static char *from_os(size_t len, bool may_dip)
{
    char *p = mgc__os_alloc(len);
    if (!p && may_dip && (size_t)(emerg_end - emerg_cur) >= len) {
        p = emerg_cur;
        emerg_cur += len;
    }
    return p;
}

static void *meta_alloc(size_t size, enum mgc_meta_cat cat, bool may_dip);

/* Move size bytes of free blocks from category from's sys to to's: add
   first, so that a reader summing inuse against sys never sees to's in-use
   bytes over its sys (the inuse add comes after this). */
static void move_sys(uint32_t from, enum mgc_meta_cat to, size_t size)
{
    if (from == (uint32_t)to)
        return;
    atomic_fetch_add_explicit(&meta.sys[to], size, memory_order_relaxed);
    atomic_fetch_sub_explicit(&meta.sys[from], size, memory_order_relaxed);
}

/* The first free block larger than list li's size, its tail past that size
   put on the list of the tail's size (still its category's). NULL if there
   is none; else its category in *cat. Lock held. */
static void *split_larger(size_t li, uint32_t *cat)
{
    for (size_t j = li + 1; j < META_NLISTS; j++) {
        meta_free *f = meta.lists[j];
        if (!f)
            continue;
        meta.lists[j] = f->next;
        meta_free *rest = (meta_free *)((char *)f + li * META_STEP);
        rest->next = meta.lists[j - li];
        rest->cat = *cat = f->cat;
        meta.lists[j - li] = rest;
        return f;
    }
    return NULL;
}

void *mgc__meta_alloc(size_t size, enum mgc_meta_cat cat)
{
    void *p = meta_alloc(size, cat, true);
    if (!p)
        mgc__fatal("out of memory for metadata (%zu bytes)", size);
    return p;
}

void *mgc__meta_try_alloc(size_t size, enum mgc_meta_cat cat) { return meta_alloc(size, cat, false); }

void *mgc__meta_alloc_or_null(size_t size, enum mgc_meta_cat cat) { return meta_alloc(size, cat, true); }

static void *meta_alloc(size_t size, enum mgc_meta_cat cat, bool may_dip)
{
    size = mgc__round_up(size ? size : 1, META_STEP);
    if (size > META_MAX_SMALL) {
        size_t len = mgc__round_up(size, 4096);
        mgc__lock(&meta.lock);
        void *p = from_os(len, may_dip);
        mgc__unlock(&meta.lock);
        if (!p)
            return NULL;
        atomic_fetch_add_explicit(&meta.sys[cat], len, memory_order_relaxed);
        atomic_fetch_add_explicit(&meta.inuse[cat], len, memory_order_relaxed);
        return p;
    }
    size_t li = size / META_STEP;
    mgc__lock(&meta.lock);
    meta_free *f = meta.lists[li];
    void *p;
    if (f) {
        meta.lists[li] = f->next;
        mgc__unlock(&meta.lock);
        move_sys(f->cat, cat, size);
        memset(f, 0, size);
        p = f;
    } else {
        if ((size_t)(meta.end - meta.cur) < size) {
            /* The rest of the old chunk is abandoned: less than 16 KiB of
               1 MiB. The slack after end is never handed out. */
            char *c = from_os(META_CHUNK, may_dip);
            if (!c) {
                /* No address space for a chunk: a larger free block, split
                   (a heap of one class, dropped, leaves its bitmaps on one
                   list; another class's spans need other sizes). */
                uint32_t was;
                p = split_larger(li, &was);
                mgc__unlock(&meta.lock);
                if (!p)
                    return NULL;
                move_sys(was, cat, size);
                memset(p, 0, size);
                atomic_fetch_add_explicit(&meta.inuse[cat], size, memory_order_relaxed);
                return p;
            }
            meta.cur = c;
            meta.end = meta.cur + META_CHUNK - MGC_META_READ_SLACK;
        }
        p = meta.cur;
        meta.cur += size;
        mgc__unlock(&meta.lock);
        atomic_fetch_add_explicit(&meta.sys[cat], size, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&meta.inuse[cat], size, memory_order_relaxed);
    return p;
}

static void *grow(void *arr, size_t n, size_t *cap, size_t elem, size_t first, enum mgc_meta_cat cat,
                  bool may_dip);

void *mgc__meta_grow(void *arr, size_t n, size_t *cap, size_t elem, size_t first, enum mgc_meta_cat cat)
{
    void *p = grow(arr, n, cap, elem, first, cat, true);
    if (!p)
        mgc__fatal("out of memory for metadata (%zu bytes)", (*cap ? *cap * 2 : first) * elem);
    return p;
}

void *mgc__meta_try_grow(void *arr, size_t n, size_t *cap, size_t elem, size_t first, enum mgc_meta_cat cat)
{
    return grow(arr, n, cap, elem, first, cat, false);
}

static void *grow(void *arr, size_t n, size_t *cap, size_t elem, size_t first, enum mgc_meta_cat cat,
                  bool may_dip)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : first;
    void *p = meta_alloc(ncap * elem, cat, may_dip);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, arr, n * elem);
    mgc__meta_free(arr, *cap * elem, cat);
    *cap = ncap;
    return p;
}

void mgc__meta_free(void *p, size_t size, enum mgc_meta_cat cat)
{
    if (!p)
        return;
    size = mgc__round_up(size ? size : 1, META_STEP);
    if (size > META_MAX_SMALL) {
        size_t len = mgc__round_up(size, 4096);
        mgc__os_free(p, len);
        atomic_fetch_sub_explicit(&meta.sys[cat], len, memory_order_relaxed);
        atomic_fetch_sub_explicit(&meta.inuse[cat], len, memory_order_relaxed);
        return;
    }
    atomic_fetch_sub_explicit(&meta.inuse[cat], size, memory_order_relaxed);
    meta_free *f = p;
    f->cat = (uint32_t)cat;
    mgc__lock(&meta.lock);
    f->next = meta.lists[size / META_STEP];
    meta.lists[size / META_STEP] = f;
    mgc__unlock(&meta.lock);
}

void mgc__meta_account_sys(enum mgc_meta_cat cat, int64_t bytes)
{
    atomic_fetch_add_explicit(&meta.sys[cat], (uint64_t)bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&meta.inuse[cat], (uint64_t)bytes, memory_order_relaxed);
}

void mgc__meta_account_inuse(enum mgc_meta_cat cat, int64_t bytes)
{
    atomic_fetch_add_explicit(&meta.inuse[cat], (uint64_t)bytes, memory_order_relaxed);
}

void mgc__meta_read(uint64_t inuse[MGC_META_NCAT], uint64_t sys[MGC_META_NCAT])
{
    for (int i = 0; i < MGC_META_NCAT; i++) {
        inuse[i] = atomic_load_explicit(&meta.inuse[i], memory_order_relaxed);
        sys[i] = atomic_load_explicit(&meta.sys[i], memory_order_relaxed);
    }
}

void mgc__meta_fork_prepare(void) { mgc__lock(&meta.lock); }
void mgc__meta_fork_parent(void) { mgc__unlock(&meta.lock); }
void mgc__meta_fork_child(void) { mgc__lock_init(&meta.lock); }
