/*
 * graph.h — the random object graphs that test_threads and test_fork build
 * and check: self-describing nodes of the three kinds and a walker that
 * verifies every node it reaches, word for word. Include after testing.h.
 *
 * A node: w0 = MAGIC << 48 | kind << 44 | nptr << 28; w1 = 1 << 63 | id << 32
 * | nwords. K_SCAN (mgc_alloc): words 2 .. 2+nptr-1 are pointers. K_TYPED
 * (mgc_alloc_array of T_ELEM): 8-word elements whose words 2 and 5 are
 * pointers (words 0 and 1 of element 0 hold the tag). K_NOSCAN: no
 * pointers. Every other word from w = 2 is payload_word(id, w), so a node
 * reclaimed and reused while reachable is caught. Pointer words are read
 * and written atomically (relaxed): other threads rewrite them.
 */
#ifndef MGC_TEST_GRAPH_H
#define MGC_TEST_GRAPH_H

#include <stdatomic.h>
#include <stdbool.h>

#define MAGIC 0xBEEFull
enum { K_SCAN = 1, K_NOSCAN = 2, K_TYPED = 3 };

static const uint8_t elem_mask[] = {0x24}; /* words 2 and 5 */
static const mgc_type T_ELEM = {64, 48, elem_mask, "graph-elem"};

static _Atomic uint32_t g_next_id = 1;

static inline int is_ptr(int kind, unsigned nptr, size_t w)
{
    if (w < 2)
        return 0;
    if (kind == K_SCAN)
        return w < 2 + (size_t)nptr;
    if (kind == K_TYPED)
        return (w % 8) == 2 || (w % 8) == 5;
    return 0;
}

/* A fresh node (checked zeroed and 16-aligned), its pointer words NULL.
   nwords: a multiple of 8 for K_TYPED; nptr < 65536, for K_SCAN only. */
static uint64_t *node_new(int kind, size_t nwords, unsigned nptr)
{
    uint64_t *p = kind == K_SCAN     ? mgc_alloc(nwords * 8)
                  : kind == K_NOSCAN ? mgc_alloc_noscan(nwords * 8)
                                     : mgc_alloc_array(&T_ELEM, nwords / 8);
    CHECK(p != NULL);
    CHECK_MSG((uintptr_t)p % 16 == 0, "%p not 16-aligned", (void *)p);
    t_check_zero(p, nwords * 8, "fresh node");
    uint32_t id = atomic_fetch_add(&g_next_id, 1) & 0x7FFFFFFF;
    p[0] = MAGIC << 48 | (uint64_t)kind << 44 | (uint64_t)nptr << 28;
    p[1] = 1ull << 63 | (uint64_t)id << 32 | nwords;
    for (size_t w = 2; w < nwords; w++)
        if (!is_ptr(kind, nptr, w))
            p[w] = payload_word(id, w);
    return p;
}

/* Verifies the nodes reachable from a reference, each once. seen holds the
   bases already verified (malloc'd: it keeps nothing alive). stk holds
   references still to visit; while other threads drop and rewrite the
   graph it may hold the only reference to a subgraph, so it lives in the
   collected heap (a scanned mgc object), as DESIGN invariant 3 requires of
   any memory holding heap references. count: nodes verified. */
typedef struct walker {
    t_addrset seen;
    uintptr_t *stk;
    size_t n, cap;
    uint64_t count;
} walker;

/* seencap: a power of two above the number of nodes a walk can reach. */
static void walker_init(walker *w, size_t seencap)
{
    memset(w, 0, sizeof *w);
    t_addrset_init(&w->seen, seencap);
    w->cap = 1 << 12;
    w->stk = mgc_alloc(w->cap * sizeof *w->stk);
    CHECK(w->stk);
}

static void walker_free(walker *w)
{
    t_addrset_free(&w->seen);
    mgc_free(w->stk);
}

/* Forget what earlier walks saw: seen and count. */
static void walker_reset(walker *w)
{
    t_addrset_clear(&w->seen);
    w->count = 0;
}

static void walker_push(walker *w, uintptr_t c)
{
    if (w->n == w->cap) {
        w->cap *= 2;
        w->stk = mgc_realloc(w->stk, w->cap * sizeof *w->stk);
        CHECK(w->stk);
    }
    w->stk[w->n++] = c;
}

/* A node's header, as node_new writes it: false if the tag is not there. */
static inline bool node_header(const uint64_t *p, int *kind, unsigned *nptr, uint64_t *id, size_t *nwords)
{
    uint64_t w0 = p[0], w1 = p[1];
    *kind = (int)((w0 >> 44) & 0xF);
    *nptr = (unsigned)((w0 >> 28) & 0xFFFF);
    *id = (w1 >> 32) & 0x7FFFFFFF;
    *nwords = w1 & 0xFFFFFFFF;
    return (w0 >> 48) == MAGIC && (w1 >> 63);
}

/* Check the node at base p word for word; queue its children. */
static void verify_node(walker *w, const uint64_t *p)
{
    int kind;
    unsigned nptr;
    uint64_t id;
    size_t nwords;
    CHECK_MSG(node_header(p, &kind, &nptr, &id, &nwords), "node %p: tag %#llx %#llx: reclaimed while reachable?",
              (const void *)p, (unsigned long long)p[0], (unsigned long long)p[1]);
    CHECK(kind >= K_SCAN && kind <= K_TYPED);
    CHECK_MSG(mgc_usable_size(p) >= nwords * 8, "node %llu: usable %zu < %zu", (unsigned long long)id,
              mgc_usable_size(p), nwords * 8);
    for (size_t k = 2; k < nwords; k++) {
        if (is_ptr(kind, nptr, k)) {
            /* Acquire: another thread may have stored this pointer into
               a node it did not make (test_threads' rewrite, a release
               store); what the child's maker wrote happens before. */
            uint64_t c = __atomic_load_n(&p[k], __ATOMIC_ACQUIRE);
            if (c)
                walker_push(w, c);
        } else {
            CHECK_MSG(p[k] == payload_word(id, k),
                      "node %llu (kind %d, %zu words) word %zu is %#llx, expected %#llx: freed or overwritten "
                      "while reachable",
                      (unsigned long long)id, kind, nwords, k, (unsigned long long)p[k],
                      (unsigned long long)payload_word(id, k));
        }
    }
    w->count++;
}

/* Walk from reference v (it may point inside its node) and verify up to
   budget nodes not seen before (0: all of them). */
static void walk(walker *w, uintptr_t v, uint64_t budget)
{
    if (!v)
        return;
    w->n = 0;
    walker_push(w, v);
    uint64_t visited = 0;
    while (w->n && (!budget || visited < budget)) {
        uintptr_t c = w->stk[--w->n];
        const uint64_t *b = mgc_base((void *)c);
        CHECK_MSG(b != NULL, "reachable reference %#lx is not inside a live object", (unsigned long)c);
        CHECK_MSG(c - (uintptr_t)b < mgc_usable_size(b), "reference %#lx is past its object", (unsigned long)c);
        if (!t_addrset_add(&w->seen, (uintptr_t)b))
            continue;
        verify_node(w, b);
        visited++;
    }
}

#endif /* MGC_TEST_GRAPH_H */
