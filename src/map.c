/*
 * map.c — mgc_map, a hash map from byte strings to pointers (Go's
 * map[string]*T; declared in mgc.h).
 *
 * Layout: open addressing with linear probing in one table of 2^k slots
 * (k >= 3), each slot {hash, keylen, key, value}: 32 bytes, two to a cache
 * line. The table is mgc_alloc_array of a slot type whose pointer mask is
 * 0b1100, so the collector scans the key and value words of every slot and
 * never the hash and length words. Keys are copied into noscan objects of
 * keylen bytes (a key of 1-15 bytes is a tiny block; an empty key has no
 * copy); values are the caller's pointers, kept alive by the table.
 * Why this layout: one allocation per table and one per key, a probe reads
 * one word (the stored 64-bit hash) before it touches a key, growth moves
 * slots without rehashing or reading a key, and deletion never moves an
 * entry, so an iteration survives any delete (Go's rule for range).
 *
 * The hash word is the slot's state: 0 empty, 1 deleted, anything else the
 * hash of a live entry's key (wyhash's mixing, with a seed per map chosen
 * at its first table, and the secrets the key's words are mixed with drawn
 * from that seed; a hash below 2 is moved up by 2). A lookup probes
 * from hash & mask to the first empty slot. A delete frees the key copy and
 * leaves a deleted mark, or, when the next slot is empty, empties the slot
 * and the run of deleted marks before it (no probe can need them, because
 * every probe path that crossed them ends at that empty slot).
 *
 * Which key copies are freed: a delete frees its key (mgc_free_sized) —
 * the lookup just read it, so the free is cheap, and the next put on this
 * thread reuses it. mgc_map_clear and mgc_map_free leave the key copies to
 * the collector and free only the table: their keys are visited in hash
 * order, that is at random addresses, and freeing cold objects one by one
 * costs 100-130 ns each (a cache miss on the object and on its span; 18-30
 * ns in address order), more than the collector's sweep, which reads only
 * bitmaps: with 1M keys of 16 bytes, freeing them in mgc_map_free made the
 * map_1m case of bench/containers slower than not freeing at all.
 *
 * Load factor 3/4, counting deleted marks ("used"): linear probing costs
 * 1/2 (1 + 1/(1 - a)) probes for a hit and 1/2 (1 + 1/(1 - a)^2) for a miss:
 * 2.5 and 8.5 at 3/4, the worst point; as the table doubles there, the load
 * runs from 3/8 to 3/4, about 1.7 and 3.7 probes on average, that is one or
 * two cache lines. Higher (Go's 7/8 swiss tables) needs control bytes to
 * stay cheap on a miss; lower wastes memory: at 3/4 a table takes 43-85
 * bytes per entry. When a new key would pass 3/4, the table is rebuilt:
 * twice as large if the entries fill over half of the 3/4, else the same
 * size (only the deleted marks go). The old table is then freed with its
 * exact size (mgc__containers_release). It never shrinks.
 *
 * Invariants, checked on entry: slots is NULL exactly when mask is 0;
 * len <= used <= 3/4 of the table. gen takes a new value, never used by
 * any map before, whenever slots changes (gen_counter), and an iterator
 * remembers it: an iteration over a table that was replaced, rebuilt at
 * the same size or freed aborts instead of reading freed memory, even if
 * the map was initialised again since (mgc_map_init takes a new gen too;
 * MGC_MAP_INIT's is 0). Every store of a pointer into
 * the table goes through the write barrier (barrier.h).
 */
#include "internal/alloc.h"
#include "internal/barrier.h"
#include "internal/containers.h"
#include "internal/os.h"

struct mgc_map_slot {
    uint64_t hash;  /* 0 empty, 1 deleted, else the key's hash */
    size_t keylen;
    char *key;      /* noscan copy of the key, NULL if keylen is 0 */
    void *value;
};
typedef struct mgc_map_slot slot;

enum { EMPTY = 0, DELETED = 1, MIN_SLOTS = 8 };

static const uint8_t slot_mask[1] = {0x0C}; /* key and value words */
static const mgc_type slot_type = {sizeof(slot), sizeof(slot), slot_mask, "mgc_map slot"};

_Static_assert(sizeof(slot) == 4 * sizeof(void *), "slot_mask assumes 4 words");
_Static_assert(offsetof(slot, key) == 2 * sizeof(void *) && offsetof(slot, value) == 3 * sizeof(void *),
               "slot_mask marks words 2 and 3");

/* ---- hashing (wyhash's mum mixing) ------------------------------------ */

#define P0 0xa0761d6478bd642full
#define P1 0xe7037ed1a0b428dbull
#define P2 0x8ebc6af09c88c6e3ull
#define P3 0x589965cc75374cc3ull

MGC_INLINE uint64_t mum(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)(r >> 64) ^ (uint64_t)r;
}
MGC_INLINE uint64_t rd8(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
MGC_INLINE uint64_t rd4(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The key's words are mixed with secrets drawn from the map's seed, not
   with wyhash's public constants: a key word equal to a public constant
   zeroed its product (mum(0, x) == 0) whatever the seed, so keys built to
   that pattern all hashed to 2 in every map, and each put and get walked
   them all (32000 16-byte keys: 1.3 s of puts). k1..k3 cost one multiply
   each. */
uint64_t mgc__map_hash(const void *key, size_t n, uint64_t seed)
{
    const uint8_t *p = key;
    uint64_t a, b, k1 = mum(seed ^ P1, P2);
    if (n <= 16) {
        if (n >= 4) {
            size_t d = (n >> 3) << 2;
            a = rd4(p) << 32 | rd4(p + d);
            b = rd4(p + n - 4) << 32 | rd4(p + n - 4 - d);
        } else if (n > 0) {
            a = (uint64_t)p[0] << 16 | (uint64_t)p[n >> 1] << 8 | p[n - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t i = n;
        if (i > 48) {
            uint64_t s1 = seed, s2 = seed, k2 = mum(seed ^ P2, P3), k3 = mum(seed ^ P3, P1);
            do {
                seed = mum(rd8(p) ^ k1, rd8(p + 8) ^ seed);
                s1 = mum(rd8(p + 16) ^ k2, rd8(p + 24) ^ s1);
                s2 = mum(rd8(p + 32) ^ k3, rd8(p + 40) ^ s2);
                p += 48;
                i -= 48;
            } while (i > 48);
            seed ^= s1 ^ s2;
        }
        while (i > 16) {
            seed = mum(rd8(p) ^ k1, rd8(p + 8) ^ seed);
            p += 16;
            i -= 16;
        }
        a = rd8(p + i - 16);
        b = rd8(p + i - 8);
    }
    uint64_t h = mum(P1 ^ n, mum(a ^ k1, b ^ seed));
    return h < 2 ? h + 2 : h;
}

static _Atomic uint64_t seed_counter;

static uint64_t new_seed(const mgc_map *m)
{
    uint64_t c = atomic_fetch_add_explicit(&seed_counter, 1, memory_order_relaxed);
    uint64_t s = mum(mgc__os_nanotime() ^ P0, (c + (uintptr_t)m) ^ P1);
    return (s ^ mum(s ^ P0, P1)) | 1; /* never 0: 0 means "not chosen yet" */
}

/* ---- checks ------------------------------------------------------------ */

static MGC_COLD MGC_NORETURN void bad_map(const char *fn, const mgc_map *m)
{
    if (!m)
        mgc__fatal("%s: the map is NULL", fn);
    mgc__fatal("%s: map %p is not a valid mgc_map (slots %p, len %zu, used %zu, mask %zu): never "
               "initialised, or overwritten",
               fn, (const void *)m, (void *)m->slots, m->len, m->used, m->mask);
}

MGC_INLINE size_t max_used(size_t nslots) { return nslots - nslots / 4; }

MGC_INLINE void check(const mgc_map *m, const char *fn)
{
    if (unlikely(!m || (m->slots == NULL) != (m->mask == 0) || m->len > m->used ||
                 (m->slots && m->used > max_used(m->mask + 1)) || (m->mask & (m->mask + 1))))
        bad_map(fn, m);
}

MGC_INLINE void check_key(const mgc_map *m, const void *key, size_t keylen, const char *fn)
{
    MGC_CHECK(key || !keylen, "%s: a key of %zu bytes at NULL (map %p)", fn, keylen, (const void *)m);
}

MGC_INLINE bool same_key(const slot *e, uint64_t h, const void *key, size_t keylen)
{
    return e->hash == h && e->keylen == keylen && (keylen == 0 || memcmp(e->key, key, keylen) == 0);
}

/* The slot holding key, or NULL. */
static slot *find(const mgc_map *m, const void *key, size_t keylen)
{
    if (!m->slots)
        return NULL;
    uint64_t h = mgc__map_hash(key, keylen, m->seed);
    size_t mask = m->mask;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        slot *e = &m->slots[i];
        if (e->hash == EMPTY)
            return NULL;
        if (same_key(e, h, key, keylen))
            return e;
    }
}

/* ---- the table --------------------------------------------------------- */

/* Free the key copy of a slot the map no longer uses. */
MGC_INLINE void release_key(char *key, size_t keylen) { mgc__containers_release(key, keylen, 1); }

/* Replace the table by one of nslots slots holding the same entries (no
   deleted marks), then free the old one. */
/* Every table of every map gets its own generation: a map initialised
   again restarts at 0, and per-map counting would then give a stale
   iterator the number of the new table. Relaxed: only the uniqueness of
   the values matters, which the read-modify-write gives in any order. */
static _Atomic uint64_t gen_counter;
static uint64_t new_gen(void) { return atomic_fetch_add_explicit(&gen_counter, 1, memory_order_relaxed) + 1; }

static MGC_NOINLINE void rebuild(mgc_map *m, size_t nslots, const char *fn)
{
    MGC_CHECK(nslots <= MGC_CONTAINERS_MAX / sizeof(slot), "%s: map %p cannot grow to %zu slots", fn,
              (void *)m, nslots);
    slot *t = mgc_alloc_array(&slot_type, nslots);
    MGC_CONTAINER_CHECK(t, "%s: out of memory growing map %p to %zu slots (%zu bytes)", fn, (void *)m,
                        nslots, nslots * sizeof(slot));
    if (!m->seed)
        m->seed = new_seed(m);
    slot *old = m->slots;
    size_t oldn = old ? m->mask + 1 : 0, mask = nslots - 1;
    for (size_t i = 0; i < oldn; i++) {
        const slot *e = &old[i];
        if (e->hash < 2)
            continue;
        size_t j = e->hash & mask;
        while (t[j].hash != EMPTY)
            j = (j + 1) & mask;
        mgc__wb_bulk(&t[j], e, sizeof(slot));
        t[j] = *e;
    }
    m->slots = t;
    m->mask = mask;
    m->used = m->len;
    m->gen = new_gen();
    mgc__containers_release(old, oldn * sizeof(slot), 0);
}

void mgc_map_init(mgc_map *m)
{
    if (unlikely(!m))
        bad_map("mgc_map_init", m);
    *m = (mgc_map)MGC_MAP_INIT;
    /* A new generation, not MGC_MAP_INIT's 0: an iterator begun on this
       map before, when it had no table yet (gen 0), must not match it. */
    m->gen = new_gen();
}

void mgc_map_put(mgc_map *m, const void *key, size_t keylen, void *value)
{
    check(m, "mgc_map_put");
    check_key(m, key, keylen, "mgc_map_put");
    if (unlikely(!m->slots))
        rebuild(m, MIN_SLOTS, "mgc_map_put");
    uint64_t h = mgc__map_hash(key, keylen, m->seed);
    size_t mask = m->mask, i = h & mask;
    slot *dst = NULL; /* the first deleted slot on the path */
    for (;; i = (i + 1) & mask) {
        slot *e = &m->slots[i];
        if (e->hash == EMPTY)
            break;
        if (e->hash == DELETED) {
            if (!dst)
                dst = e;
        } else if (same_key(e, h, key, keylen)) {
            mgc__wb_store(&e->value, value);
            return;
        }
    }
    if (!dst) {
        if (unlikely(m->used + 1 > max_used(mask + 1))) {
            size_t n = mask + 1;
            rebuild(m, m->len + 1 > max_used(n) / 2 ? n * 2 : n, "mgc_map_put");
            mask = m->mask;
            for (i = h & mask; m->slots[i].hash != EMPTY; i = (i + 1) & mask)
                ;
        }
        dst = &m->slots[i];
        m->used++;
    }
    char *k = NULL;
    if (keylen) {
        k = mgc__alloc_noscan_raw(keylen); /* copied whole: no need to zero */
        MGC_CONTAINER_CHECK(k, "mgc_map_put: out of memory for a key of %zu bytes (map %p)", keylen, (void *)m);
        memcpy(k, key, keylen);
    }
    dst->hash = h;
    dst->keylen = keylen;
    mgc__wb_store((void **)&dst->key, k);
    mgc__wb_store(&dst->value, value);
    m->len++;
}

void *mgc_map_get(const mgc_map *m, const void *key, size_t keylen)
{
    mgc__attach_caller(); /* hands this thread a heap pointer: its stack must be scanned */
    check(m, "mgc_map_get");
    check_key(m, key, keylen, "mgc_map_get");
    slot *e = find(m, key, keylen);
    return e ? e->value : NULL;
}

int mgc_map_lookup(const mgc_map *m, const void *key, size_t keylen, void **value)
{
    mgc__attach_caller(); /* hands this thread a heap pointer: its stack must be scanned */
    check(m, "mgc_map_lookup");
    check_key(m, key, keylen, "mgc_map_lookup");
    slot *e = find(m, key, keylen);
    if (value)
        *value = e ? e->value : NULL;
    return e != NULL;
}

int mgc_map_delete(mgc_map *m, const void *key, size_t keylen)
{
    check(m, "mgc_map_delete");
    check_key(m, key, keylen, "mgc_map_delete");
    slot *e = find(m, key, keylen);
    if (!e)
        return 0;
    char *k = e->key;
    size_t kl = e->keylen, mask = m->mask, i = (size_t)(e - m->slots);
    if (m->slots[(i + 1) & mask].hash == EMPTY) {
        /* Nothing probes past here: this slot and the deleted run before it empty. */
        e->hash = EMPTY;
        m->used--;
        for (size_t j = (i - 1) & mask; m->slots[j].hash == DELETED; j = (j - 1) & mask) {
            m->slots[j].hash = EMPTY;
            m->used--;
        }
    } else {
        e->hash = DELETED;
    }
    e->keylen = 0;
    mgc__wb_store((void **)&e->key, NULL);
    mgc__wb_store(&e->value, NULL);
    m->len--;
    release_key(k, kl); /* after the last read of key, which may be this copy */
    return 1;
}

size_t mgc_map_len(const mgc_map *m)
{
    check(m, "mgc_map_len");
    return m->len;
}

void mgc_map_clear(mgc_map *m)
{
    check(m, "mgc_map_clear");
    if (!m->slots)
        return;
    size_t bytes = (m->mask + 1) * sizeof(slot);
    mgc__wb_bulk(m->slots, NULL, bytes);
    memset(m->slots, 0, bytes);
    m->len = m->used = 0;
}

void mgc_map_free(mgc_map *m)
{
    check(m, "mgc_map_free");
    slot *old = m->slots;
    size_t oldn = old ? m->mask + 1 : 0;
    m->slots = NULL;
    m->len = m->used = m->mask = 0;
    m->gen = new_gen();
    mgc__containers_release(old, oldn * sizeof(slot), 0);
}

/* ---- iteration --------------------------------------------------------- */

static _Atomic uint64_t iter_counter;

void mgc_map_iter_init(mgc_map_iter *it, const mgc_map *m)
{
    mgc__attach_caller(); /* hands this thread a heap pointer: its stack must be scanned */
    check(m, "mgc_map_iter_init");
    MGC_CHECK(it != NULL, "mgc_map_iter_init: the iterator is NULL (map %p)", (const void *)m);
    it->key = NULL;
    it->keylen = 0;
    it->value = NULL;
    it->map = m;
    it->gen = m->gen;
    it->left = m->slots ? m->mask + 1 : 0;
    uint64_t c = atomic_fetch_add_explicit(&iter_counter, 1, memory_order_relaxed);
    it->pos = (size_t)mum(c ^ m->seed, P2) & m->mask;
}

int mgc_map_next(mgc_map_iter *it)
{
    mgc__attach_caller(); /* hands this thread a heap pointer: its stack must be scanned */
    MGC_CHECK(it != NULL && it->map != NULL, "mgc_map_next: the iterator %p is NULL or not initialised",
              (void *)it);
    const mgc_map *m = it->map;
    check(m, "mgc_map_next");
    MGC_CHECK(it->gen == m->gen,
              "mgc_map_next: map %p was resized or freed during the iteration (a put of a new key grew or "
              "rebuilt its table, or mgc_map_free freed it); the iteration cannot go on",
              (const void *)m);
    while (it->left) {
        const slot *e = &m->slots[it->pos];
        it->pos = (it->pos + 1) & m->mask;
        it->left--;
        if (e->hash >= 2) {
            it->key = e->key;
            it->keylen = e->keylen;
            it->value = e->value;
            return 1;
        }
    }
    it->key = NULL;
    it->keylen = 0;
    it->value = NULL;
    return 0;
}
