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
 */
#include "internal/barrier.h"

static void track(mgc_scope *s, void *p)
{
    if (!s->items) {
        s->items = s->inline_items;
        s->cap = MGC_SCOPE_INLINE;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap * 2;
        void **items = mgc_alloc(cap * sizeof(void *));
        MGC_CHECK(items != NULL, "mgc_scope: out of memory for %zu tracked objects", cap);
        mgc_memmove(items, s->items, s->n * sizeof(void *)); /* through the barrier */
        if (s->items != s->inline_items)
            mgc_free_sized(s->items, s->cap * sizeof(void *), 0);
        else /* the copies left inline would keep what they name after it is freed */
            for (size_t i = 0; i < s->n; i++)
                mgc__wb_store(&s->inline_items[i], NULL);
        s->items = items;
        s->cap = cap;
    }
    mgc__wb_store(&s->items[s->n++], p);
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
    /* Most often the newest entry: search from the end. */
    for (size_t i = s->n; i-- > 0;) {
        if (s->items[i] == p) {
            --s->n;
            mgc__wb_store(&s->items[i], s->items[s->n]);
            mgc__wb_store(&s->items[s->n], NULL); /* the list keeps it alive no longer */
            return;
        }
    }
    mgc__fatal("mgc_scope_keep: %p was not allocated through this scope (or was kept already)", p);
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
    if (s->items && s->items != s->inline_items)
        mgc_free_sized(s->items, s->cap * sizeof(void *), 0);
    s->items = NULL;
    s->n = s->cap = 0;
}
