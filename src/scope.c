/*
 * scope.c — tracked scopes (mgc.h; Go's freeTracked, renamed freegcTracked): a list of what was
 * allocated through the scope, freed in reverse order when it ends.
 *
 * The list lives in the scope (on the caller's stack) while it fits 16
 * entries, then in an array from mgc_alloc. Both are scanned, so a tracked
 * object stays alive until the scope ends: mgc_free at the end can never
 * meet a slot the collector already reclaimed. (Go's design lets tracked
 * entries die early and cancels their free instead; in C a scope is short
 * and explicit, and keeping them is simpler and safe.)
 *
 * Every store of a tracked pointer goes through the write barrier
 * (barrier.h), the array in the heap and the inline list alike. An entry
 * no longer tracked (kept, freed, moved to the array) is cleared: the
 * scope must not keep what it no longer owns.
 *
 * The array has cap + 1 words: cap entries, then the index, a noscan table
 * of 2 * cap uint32_t (0 empty, else an entry's position + 1) placed by the
 * pointer's hash with linear probing, so mgc_scope_keep finds any entry at
 * once. Searching the list cost O(n) a keep: keeping the 64000 objects of
 * a scope oldest first took 0.3 s. The inline list is searched (16 at
 * most).
 */
#include "internal/barrier.h"

MGC_INLINE uint32_t *index_of(const mgc_scope *s) { return (uint32_t *)s->items[s->cap]; }
MGC_INLINE size_t home(const void *p, size_t mask)
{
    return (size_t)((((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

static void index_put(uint32_t *tab, size_t mask, void *const *items, size_t i)
{
    size_t h = home(items[i], mask);
    while (tab[h])
        h = (h + 1) & mask;
    tab[h] = (uint32_t)(i + 1);
}

/* The slot holding p's position, or SIZE_MAX. */
static size_t index_find(const uint32_t *tab, size_t mask, void *const *items, const void *p)
{
    for (size_t h = home(p, mask); tab[h]; h = (h + 1) & mask)
        if (items[tab[h] - 1] == p)
            return h;
    return SIZE_MAX;
}

/* Empty slot h, moving back the entries after it whose home slot lies
   before it (linear probing's deletion: no tombstones). */
static void index_del(uint32_t *tab, size_t mask, void *const *items, size_t h)
{
    for (size_t j = (h + 1) & mask; tab[j]; j = (j + 1) & mask) {
        size_t k = home(items[tab[j] - 1], mask);
        /* The entry at j may stay unless its home k lies cyclically in (h, j]. */
        bool stays = h <= j ? (h < k && k <= j) : (h < k || k <= j);
        if (!stays) {
            tab[h] = tab[j];
            h = j;
        }
    }
    tab[h] = 0;
}

static void track(mgc_scope *s, void *p)
{
    if (!s->items) {
        s->items = s->inline_items;
        s->cap = MGC_SCOPE_INLINE;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap * 2;
        void **items = mgc_alloc((cap + 1) * sizeof(void *));
        uint32_t *tab = items ? mgc_alloc_noscan(2 * cap * sizeof(uint32_t)) : NULL;
        MGC_CHECK(tab != NULL, "mgc_scope: out of memory for %zu tracked objects", cap);
        mgc_memmove(items, s->items, s->n * sizeof(void *)); /* through the barrier */
        mgc__wb_store(&items[cap], tab);
        for (size_t i = 0; i < s->n; i++)
            index_put(tab, 2 * cap - 1, items, i);
        if (s->items != s->inline_items) {
            mgc_free_sized(index_of(s), 2 * s->cap * sizeof(uint32_t), 1);
            mgc_free_sized(s->items, (s->cap + 1) * sizeof(void *), 0);
        } else { /* the copies left inline would keep what they name after it is freed */
            for (size_t i = 0; i < s->n; i++)
                mgc__wb_store(&s->inline_items[i], NULL);
        }
        s->items = items;
        s->cap = cap;
    }
    mgc__wb_store(&s->items[s->n], p);
    if (s->items != s->inline_items)
        index_put(index_of(s), 2 * s->cap - 1, s->items, s->n);
    s->n++;
}

void *mgc_scope_alloc(mgc_scope *s, size_t size)
{
    void *p = mgc_alloc(size);
    if (p)
        track(s, p);
    return p;
}

void *mgc_scope_alloc_noscan(mgc_scope *s, size_t size)
{
    void *p = mgc_alloc_noscan(size);
    if (p)
        track(s, p);
    return p;
}

void mgc_scope_keep(mgc_scope *s, void *p)
{
    size_t i = SIZE_MAX;
    if (s->items && s->items != s->inline_items) {
        uint32_t *tab = index_of(s);
        size_t mask = 2 * s->cap - 1, h = index_find(tab, mask, s->items, p);
        if (h != SIZE_MAX) {
            i = tab[h] - 1;
            index_del(tab, mask, s->items, h);
            if (i != s->n - 1) /* the last entry moves to i: its slot says so */
                tab[index_find(tab, mask, s->items, s->items[s->n - 1])] = (uint32_t)(i + 1);
        }
    } else {
        for (size_t k = s->n; k-- > 0;) /* most often the newest: from the end */
            if (s->items[k] == p) {
                i = k;
                break;
            }
    }
    if (i == SIZE_MAX)
        mgc__fatal("mgc_scope_keep: %p was not allocated through this scope (or was kept already)", p);
    --s->n;
    mgc__wb_store(&s->items[i], s->items[s->n]);
    mgc__wb_store(&s->items[s->n], NULL); /* the list keeps it alive no longer */
}

/* Each entry is cleared as its object is freed: the scope is on the
   caller's stack, which the collector scans, and a freed pointer left in
   its inline list kept the freed slot, and all it points to, alive as
   long as the caller's frame (rule 3 in free.c: a freed slot is never
   traced through). */
void mgc_scope_end(mgc_scope *s)
{
    for (size_t i = s->n; i-- > 0;) {
        void *p = s->items[i];
        mgc__wb_store(&s->items[i], NULL);
        mgc_free(p);
    }
    if (s->items && s->items != s->inline_items) {
        mgc_free_sized(index_of(s), 2 * s->cap * sizeof(uint32_t), 1);
        mgc_free_sized(s->items, (s->cap + 1) * sizeof(void *), 0);
    }
    s->items = NULL;
    s->n = s->cap = 0;
}
