/*
 * heap.c — the page heap (heap.h): reservation, commit, the page allocator
 * and span allocation.
 *
 * Page allocator (after Go's design 35112, two levels instead of five): a
 * bitmap with one bit per 8 KiB page (1 = in use) and, per 512-page chunk,
 * a summary {free pages at the start, longest free run, free pages at the
 * end}. Allocation is address-ordered first fit from `search`, the lowest
 * page that may be free; summaries let it skip full chunks and join runs
 * across chunk borders without reading their bits. Address order keeps the
 * heap compact and makes `zeroed` (the high-water mark of pages ever handed
 * out) a good test for "these pages are still zero from the OS": a span
 * reports how many of its pages, from its first, lie below it
 * (dirty_pages), and only those are zeroed. Two departures, for storage
 * that grows (mgc_buf, realloc): a placement hint
 * (room) takes the first run that long, skipping smaller holes, and holds
 * the pages after the span as its reserve, so another allocation cannot
 * land there; a large span extends in place over its reserve, then over
 * the free pages after it (mgc__heap_extend_span). A reserve is given back
 * when the span is freed, when a sweep finds it live and made before the
 * last cycle (it has stopped growing by then), or when its owner asks
 * (alloc.c: a thread's next growable allocation returns the previous one's).
 *
 * The reservation is the largest the system grants, halved from 1 TiB
 * down to one 64 MiB arena, together with its maps (span map, page bits,
 * summaries): a size whose maps do not fit is given up for the next.
 *
 * Span records: set up here, and on free put on a spare list that only
 * span allocation takes from (never back to the metadata allocator), with
 * their incarnation number odd while free, even while in use: lock-free
 * readers may hold a record across its free and reuse (span.h).
 *
 * Invariants (all under heap.lock):
 *   - sums[c] describes pagebits of chunk c, unless it is marked stale: a
 *     partly changed chunk is summarized again only when a search reads it
 *     (a span allocated, extended and freed in one chunk between two
 *     searches costs one summary, not three);
 *   - no page below `search` is free;
 *   - pages at or above `zeroed` have never been handed out and read zero;
 *   - spanmap[p] is the in-use span holding page p, NULL for free pages
 *     and reserved ones;
 *   - a reserved page is marked used in pagebits, counted in no
 *     pages_inuse, and belongs to the reserve of exactly one span;
 *   - a record on the spare list has an odd incarnation and is in no
 *     span map entry, list or cache.
 */
#include "internal/heap.h"
#include "internal/meta.h"
#include "internal/os.h"
#include "internal/track.h"

#include <errno.h>

mgc_heap mgc__heap MGC_STATE;
#define H mgc__heap

#define NONE UINTPTR_MAX

int mgc__heap_init(void)
{
    /* As much address space as the system grants, from 1 TiB down to one
       arena (64 MiB): a process capped below 1 GiB (ulimit -v) still gets
       a heap. PROT_NONE and MAP_NORESERVE: no commit charge until used. */
    size_t size = (size_t)1 << 40;
    void *base = NULL;
    for (; size >= MGC_ARENA_SIZE; size /= 2) {
        /* The reservation and its maps (about size / 1024) together: with
           an address-space limit, a reservation that fits may leave no
           room for its maps, and the next size down must be tried (the
           maps once failed there, and the process got no heap). */
        if (!(base = mgc__os_reserve(size, MGC_ARENA_SIZE)))
            continue;
        uintptr_t npages = size >> MGC_PAGE_SHIFT;
        size_t nmap = npages * sizeof(H.spanmap[0]), nbits = npages / 8,
               nsums = (npages / MGC_CHUNK_PAGES) * sizeof(mgc_chunk_sum);
        H.spanmap = mgc__os_alloc_sparse(nmap);
        H.pagebits = mgc__os_alloc_sparse(nbits);
        H.sums = mgc__os_alloc_sparse(nsums);
        if (H.spanmap && H.pagebits && H.sums)
            break;
        if (H.spanmap)
            mgc__os_free(H.spanmap, nmap);
        if (H.pagebits)
            mgc__os_free(H.pagebits, nbits);
        if (H.sums)
            mgc__os_free(H.sums, nsums);
        H.spanmap = NULL;
        H.pagebits = NULL;
        H.sums = NULL;
        mgc__os_unreserve(base, size);
        base = NULL;
    }
    if (!base)
        return ENOMEM;
    H.base = (uintptr_t)base;
    H.reserved = size;
    atomic_store_explicit(&H.mapped, 0, memory_order_relaxed);
    H.search = 0;
    H.zeroed = 0;
    mgc__lock_init(&H.lock);
    return 0;
}

/* ---- bitmap helpers ---------------------------------------------------- */

/* First page at or after pos, before limit, whose bit equals `used`; limit
   if none. */
static uintptr_t next_page(uintptr_t pos, uintptr_t limit, bool used)
{
    while (pos < limit) {
        uintptr_t w = pos >> 6;
        uint64_t x = used ? H.pagebits[w] : ~H.pagebits[w];
        x >>= (pos & 63);
        if (x) {
            pos += mgc__ctz64(x);
            return pos < limit ? pos : limit;
        }
        pos = (w + 1) << 6;
    }
    return limit;
}

static void set_range(uintptr_t pos, uintptr_t n, bool used)
{
    uintptr_t end = pos + n;
    while (pos < end) {
        uintptr_t w = pos >> 6;
        unsigned lo = pos & 63;
        uintptr_t take = 64 - lo;
        if (take > end - pos)
            take = end - pos;
        uint64_t mask = (take == 64 ? ~(uint64_t)0 : (((uint64_t)1 << take) - 1)) << lo;
        if (used)
            H.pagebits[w] |= mask;
        else
            H.pagebits[w] &= ~mask;
        pos += take;
    }
}

/* Longest run of zero bits strictly between the lowest and highest set
   bits of x (x has at least one set bit). */
static unsigned inner_zero_run(uint64_t x)
{
    unsigned best = 0;
    x >>= mgc__ctz64(x); /* bit 0 is now set */
    for (;;) {
        if (x == ~(uint64_t)0)
            return best; /* ones to the top: no zero above them */
        x >>= mgc__ctz64(~x); /* past the ones */
        if (!x)
            return best; /* only the top run of zeros was left */
        unsigned z = mgc__ctz64(x);
        if (z > best)
            best = z;
        x >>= z;
    }
}

/* A chunk's summary from its 8 bitmap words, a 64-page word at a time: an empty word extends the
   current run, a full one ends it, a mixed one ends it at its lowest used
   page, may hold a longer run inside, and starts the next run at its top. */
mgc_chunk_sum mgc__chunk_summary(const uint64_t *w)
{
    unsigned run = 0, max = 0, start = 0;
    bool used_seen = false;
    for (unsigned i = 0; i < MGC_CHUNK_PAGES / 64; i++) {
        uint64_t x = w[i];
        if (x == 0) {
            run += 64;
            continue;
        }
        run += mgc__ctz64(x);
        if (!used_seen)
            start = run;
        used_seen = true;
        if (run > max)
            max = run;
        unsigned inner = inner_zero_run(x);
        if (inner > max)
            max = inner;
        run = (unsigned)__builtin_clzll(x);
    }
    if (!used_seen)
        start = run;
    if (run > max)
        max = run;
    return (mgc_chunk_sum){(uint16_t)start, (uint16_t)max, (uint16_t)run, 0};
}

/* Chunk c's summary, brought up to date if its bits changed since. */
static mgc_chunk_sum summary(uintptr_t c)
{
    if (H.sums[c].stale)
        H.sums[c] = mgc__chunk_summary(&H.pagebits[c * (MGC_CHUNK_PAGES / 64)]);
    return H.sums[c];
}

static void update_sums(uintptr_t pos, uintptr_t n, bool used)
{
    uintptr_t c0 = pos / MGC_CHUNK_PAGES, c1 = (pos + n - 1) / MGC_CHUNK_PAGES;
    H.sums[c0].stale = 1;
    H.sums[c1].stale = 1;
    mgc_chunk_sum mid = used ? (mgc_chunk_sum){0, 0, 0, 0}
                             : (mgc_chunk_sum){MGC_CHUNK_PAGES, MGC_CHUNK_PAGES, MGC_CHUNK_PAGES, 0};
    for (uintptr_t c = c0 + 1; c < c1; c++)
        H.sums[c] = mid;
}

/* First fit for n pages at or after `search`; NONE if the mapped heap has
   no such run. *trail gets the free pages at the very end of the heap. */
static uintptr_t find_pages(uintptr_t n, uintptr_t *trail)
{
    uintptr_t mapped_pages = atomic_load_explicit(&H.mapped, memory_order_relaxed) >> MGC_PAGE_SHIFT;
    uintptr_t nchunks = mapped_pages / MGC_CHUNK_PAGES;
    uintptr_t run = 0; /* free pages ending at the current chunk's start */
    for (uintptr_t c = H.search / MGC_CHUNK_PAGES; c < nchunks; c++) {
        mgc_chunk_sum s = summary(c);
        uintptr_t lo = c * MGC_CHUNK_PAGES;
        if (run + s.start >= n)
            return lo - run;
        if (s.max >= n) {
            uintptr_t pos = lo > H.search ? lo : H.search, hi = lo + MGC_CHUNK_PAGES;
            while (pos < hi) {
                uintptr_t f = next_page(pos, hi, false);
                if (f >= hi)
                    break;
                uintptr_t u = next_page(f, hi, true);
                if (u - f >= n)
                    return f;
                pos = u;
            }
        }
        run = s.start == MGC_CHUNK_PAGES ? run + MGC_CHUNK_PAGES : s.end;
    }
    *trail = run;
    return NONE;
}

static bool grow(uintptr_t npages)
{
    uintptr_t mapped = atomic_load_explicit(&H.mapped, memory_order_relaxed);
    uintptr_t bytes = mgc__round_up(npages * MGC_PAGE_SIZE, MGC_CHUNK_BYTES);
    if (bytes < npages * MGC_PAGE_SIZE || mapped + bytes > H.reserved)
        return false;
    if (mgc__os_commit((void *)(H.base + mapped), bytes) != 0)
        return false;
    uintptr_t c0 = mapped / MGC_CHUNK_BYTES, c1 = (mapped + bytes) / MGC_CHUNK_BYTES;
    for (uintptr_t c = c0; c < c1; c++)
        H.sums[c] = (mgc_chunk_sum){MGC_CHUNK_PAGES, MGC_CHUNK_PAGES, MGC_CHUNK_PAGES, 0};
    /* The page tables touched for these pages are metadata too. */
    uintptr_t pages = bytes >> MGC_PAGE_SHIFT;
    mgc__meta_account_sys(MGC_META_GC, (int64_t)(pages * sizeof(H.spanmap[0]) + pages / 8 +
                                                 (c1 - c0) * sizeof(mgc_chunk_sum)));
    /* Poisoned until a span is carved out of it. */
    MGC_TRACK_NOACCESS(H.base + mapped, bytes);
    atomic_store_explicit(&H.mapped, mapped + bytes, memory_order_release);
    return true;
}

/* Move pages [idx, idx + n) out of the free set (used) or back into it:
   the bits, the summaries, the search start. Caller holds the lock. */
static void mark_pages(uintptr_t idx, uintptr_t n, bool used)
{
    set_range(idx, n, used);
    update_sums(idx, n, used);
    if (used && idx <= H.search && H.search < idx + n)
        H.search = idx + n;
    else if (!used && idx < H.search)
        H.search = idx;
}

/* Pages [idx, idx + n), already out of the free set, go into use.
   Returns how many of them, from idx, may hold old data: those below
   `zeroed`; the rest read zero from the OS. Caller holds the lock. */
static uintptr_t use_pages(uintptr_t idx, uintptr_t n)
{
    uintptr_t dirty = idx >= H.zeroed ? 0 : H.zeroed - idx < n ? H.zeroed - idx : n;
    if (idx + n > H.zeroed)
        H.zeroed = idx + n;
    H.pages_inuse += n;
    return dirty;
}

/* Free pages [idx, idx + n) into use; returns use_pages' count of pages
   that may hold old data. Caller holds the lock. */
static uintptr_t take_pages(uintptr_t idx, uintptr_t n)
{
    mark_pages(idx, n, true);
    return use_pages(idx, n);
}

/* Point the span map's entries for pages [idx, idx + n) at s, or at NULL
   when they are freed (release: a lock-free lookup that finds s sees it
   initialised). */
static void publish(mgc_span *s, uintptr_t idx, uintptr_t n)
{
    for (uintptr_t i = idx; i < idx + n; i++)
        atomic_store_explicit(&H.spanmap[i], s, memory_order_release);
}

/* Give s's reserve back to the free set. Caller holds the lock. */
static void release_reserve(mgc_span *s)
{
    if (!s->reserved)
        return;
    mark_pages(((s->base - H.base) >> MGC_PAGE_SHIFT) + s->npages, s->reserved, false);
    __atomic_store_n(&s->reserved, 0, __ATOMIC_RELAXED); /* span.h: read unlocked as a hint */
}

/* Allocate n pages; NONE if the heap cannot grow. With room > n, the
   first run of room free pages is taken, n in use at its start and the
   rest reserved for the span's growth (*reserved); when the mapped heap
   has no such run, plain first fit and no reserve. Without the reserve,
   two buffers growing at once took turns: the second went right after the
   first, and in 19% of the steps of two threads building 64 KiB results
   the first could not grow in place (31% for 1 MiB results); with it,
   none of 68580. Aligning each span to its room would also keep them
   apart, but spread results that never grow over up to four times the
   address range (tried: 20000 dropped 64 KiB results peaked at 9.6 MiB of
   RSS against 6.6-8.3 without it). When the heap must grow for n pages
   anyway, it grows by enough for the room too. Caller holds the lock. */
static uintptr_t alloc_pages(uintptr_t n, uintptr_t room, uintptr_t *dirty, uintptr_t *reserved)
{
    uintptr_t idx, trail = 0;
    bool hint = room > n;
    *reserved = 0;
    for (;;) {
        if (hint && (idx = find_pages(room, &trail)) != NONE) {
            *dirty = take_pages(idx, n);
            mark_pages(idx + n, room - n, true); /* the reserve: out of the free set, not in use */
            *reserved = room - n;
            return idx;
        }
        if ((idx = find_pages(n, &trail)) != NONE) {
            *dirty = take_pages(idx, n);
            return idx;
        }
        if (hint && grow(room - trail))
            continue;
        hint = false; /* no room for the room: n pages will do */
        if (!grow(n - trail))
            return NONE;
    }
}

static void free_pages(uintptr_t idx, uintptr_t n)
{
    mark_pages(idx, n, false);
    H.pages_inuse -= n;
}

/* Give back the reserve of the span that starts at base, if one does and
   owner gave it: the span the owner allocated may have been freed since,
   and another's taken its place. Caller holds the lock. */
static void release_reserve_at(uintptr_t base, uintptr_t owner)
{
    if (base - H.base >= atomic_load_explicit(&H.mapped, memory_order_relaxed))
        return;
    mgc_span *s = atomic_load_explicit(&H.spanmap[(base - H.base) >> MGC_PAGE_SHIFT], memory_order_relaxed);
    if (s && s->base == base && s->reserve_owner == owner)
        release_reserve(s);
}

/* A record's bytes as the metadata allocator counts them (rounded to its
   16-byte step), so MSpanInuse is exact whichever way a record goes. */
#define RECORD_BYTES mgc__round_up(sizeof(mgc_span), 16)

/* A span record to set up, its incarnation odd: a spare one (a reader may
   still look at it: every field but the bitmap pointers, which must never
   be NULL, and the incarnation is reset, and span_init points the bitmaps
   at the new span's), or a new one; NULL if there is no memory for one.
   Caller holds the lock. */
static mgc_span *new_record(void)
{
    mgc_span *s = H.spare;
    if (!s) {
        s = mgc__meta_try_alloc(RECORD_BYTES, MGC_META_MSPAN);
        if (s)
            atomic_store_explicit(&s->incarnation, 1, memory_order_relaxed);
        return s;
    }
    H.spare = s->next;
    mgc__meta_account_inuse(MGC_META_MSPAN, (int64_t)RECORD_BYTES);
    memset(s, 0, offsetof(mgc_span, alloc_bits));
    memset(&s->slot_types, 0, offsetof(mgc_span, incarnation) - offsetof(mgc_span, slot_types));
    return s;
}

/* s (incarnation odd) onto the spare list. Caller holds the lock. */
static void spare_record(mgc_span *s)
{
    s->next = H.spare;
    H.spare = s;
    mgc__meta_account_inuse(MGC_META_MSPAN, -(int64_t)RECORD_BYTES);
}

mgc_span *mgc__heap_alloc_span(uintptr_t npages, unsigned spanclass, uintptr_t room, uintptr_t prev,
                               uintptr_t owner)
{
    uintptr_t dirty = 0, reserved, idx = NONE;
    mgc__lock(&H.lock);
    if (prev)
        release_reserve_at(prev, owner);
    /* The metadata before the pages: without it (an address-space limit
       reached by a heap of small objects), the caller gets NULL and
       answers ENOMEM after a collection, as for pages. */
    size_t words = mgc__span_bits_words(spanclass, (uint32_t)npages);
    uint64_t *bits = NULL;
    mgc_span **all = mgc__meta_try_grow(H.allspans, H.nallspans, &H.allspans_cap, sizeof *H.allspans, 1024,
                                        MGC_META_MSPAN);
    mgc_span *s = NULL;
    if (all) {
        H.allspans = all;
        s = new_record();
    }
    if (s && words > 2 && !(bits = mgc__meta_try_alloc(words * 8, MGC_META_GC))) {
        spare_record(s);
        s = NULL;
    }
    if (s)
        idx = alloc_pages(npages, room, &dirty, &reserved);
    if (idx == NONE) {
        if (s) {
            mgc__meta_free(bits, words * 8, MGC_META_GC);
            spare_record(s);
        }
        mgc__unlock(&H.lock);
        return NULL;
    }
    uintptr_t base = H.base + idx * MGC_PAGE_SIZE;
    mgc__span_init(s, spanclass, base, (uint32_t)npages, bits);
    s->reserved = (uint32_t)reserved;
    s->reserve_owner = owner;
    if (s->large) {
        s->elemsize = npages * MGC_PAGE_SIZE;
        MGC_TRACK_ALLOC(base, s->elemsize);
    }
    s->needzero = dirty != 0;
    s->dirty_pages = (uint32_t)dirty;
    s->allspans_index = (uint32_t)H.nallspans;
    H.allspans[H.nallspans++] = s;
    /* Even: set up. Release, so a reader that sees it sees the fields (and
       the span map's release store below orders it before the lookup). */
    atomic_store_explicit(&s->incarnation, atomic_load_explicit(&s->incarnation, memory_order_relaxed) + 1,
                          memory_order_release);
    publish(s, idx, npages);
    mgc__unlock(&H.lock);
    return s;
}

bool mgc__heap_extend_span(mgc_span *s, uintptr_t npages, uintptr_t *dirty)
{
    MGC_ASSERT(s->large && npages > s->npages);
    uintptr_t idx = (s->base - H.base) >> MGC_PAGE_SHIFT, end = idx + s->npages, extra = npages - s->npages;
    mgc__lock(&H.lock);
    uintptr_t mapped_pages = atomic_load_explicit(&H.mapped, memory_order_relaxed) >> MGC_PAGE_SHIFT;
    /* The reserve first; past it the pages must be free, and at the top of
       the heap what is missing is committed. */
    uintptr_t from_res = extra < s->reserved ? extra : s->reserved, more = extra - from_res;
    uintptr_t rend = end + s->reserved;
    if (more) {
        /* Look only as far as the pages wanted: to the end of the free run
           cost about 1 us per GiB of it, under the heap lock, for every
           growth by a page. */
        uintptr_t lim = rend + more < mapped_pages ? rend + more : mapped_pages;
        uintptr_t avail = next_page(rend, lim, true) - rend;
        if (avail < more && (rend + avail != mapped_pages || !grow(more - avail))) {
            mgc__unlock(&H.lock);
            return false;
        }
    }
    /* The new pages are [end, end + extra), the reserve's then those after
       it: the ones that may hold old data are those from end below
       `zeroed`. */
    *dirty = end >= H.zeroed ? 0 : H.zeroed - end < extra ? H.zeroed - end : extra;
    if (from_res) { /* out of the free set already */
        use_pages(end, from_res);
        __atomic_store_n(&s->reserved, s->reserved - (uint32_t)from_res, __ATOMIC_RELAXED);
    }
    if (more) /* the reserve is used up: these follow the span */
        take_pages(rend, more);
    publish(s, end, extra);
    MGC_TRACK_RESIZE(s->base, s->elemsize, npages * MGC_PAGE_SIZE); /* the same block, larger */
    s->npages = (uint32_t)npages;
    s->elemsize = npages * MGC_PAGE_SIZE;
    mgc__unlock(&H.lock);
    return true;
}

void mgc__heap_free_span(mgc_span *s)
{
    uintptr_t idx = (s->base - H.base) >> MGC_PAGE_SHIFT;
    mgc__lock(&H.lock);
    /* Odd: freed, before anything below changes (a seqlock's writer: the
       fence orders the number before the stores after it, so a reader
       that reads any of them reads the new number after its own fence). */
    atomic_store_explicit(&s->incarnation, atomic_load_explicit(&s->incarnation, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    publish(NULL, idx, s->npages);
    release_reserve(s);
    mgc_span *last = H.allspans[--H.nallspans];
    H.allspans[s->allspans_index] = last;
    last->allspans_index = s->allspans_index;
    free_pages(idx, s->npages);
    if (s->large)
        MGC_TRACK_FREE(s->base, s->elemsize);
    MGC_TRACK_NOACCESS(s->base, (size_t)s->npages * MGC_PAGE_SIZE);
    mgc__span_release_bits(s);
    spare_record(s);
    mgc__unlock(&H.lock);
}

void mgc__heap_trim_reserve(mgc_span *s)
{
    mgc__lock(&H.lock);
    release_reserve(s);
    mgc__unlock(&H.lock);
}

void mgc__heap_read_stats(uint64_t *sys, uint64_t *inuse, uint64_t *nspans)
{
    mgc__lock(&H.lock);
    *sys = atomic_load_explicit(&H.mapped, memory_order_relaxed);
    *inuse = H.pages_inuse * MGC_PAGE_SIZE;
    *nspans = H.nallspans;
    mgc__unlock(&H.lock);
}

void mgc__heap_fork_prepare(void) { mgc__lock(&H.lock); }
void mgc__heap_fork_parent(void) { mgc__unlock(&H.lock); }
void mgc__heap_fork_child(void) { mgc__lock_init(&H.lock); }
