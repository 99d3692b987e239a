// ctest-timeout: 120
/* mgc_buf, the self-freeing byte buffer (Go's strings.Builder): contents
   and the accessors; appending the buffer's own bytes (the old storage is
   freed after the copy); printf, including output that needs growth; the
   results (string, cstr, detach); growth freeing the old storage with its
   exact size (frees_explicit rises, and the next allocation of that size
   on this thread is the old address, LIFO) for small and large storage;
   storage from 32 KiB up growing in place; the no-free switch
   neither freeing nor growing in place; contents of several MiB surviving many
   collections with garbage in between; many builds in a row keeping their
   results; mgc.h's inline append agreeing with the functions; the
   one-line aborts for misuse, including the ones the inline path must
   hand to the functions; and, under AddressSanitizer, the report of a
   read through a pointer kept across a growth. */
#include "internal/containers.h"
#include "internal/heap.h"
#include "internal/threads.h"
#include "testing.h"
#include <mgc.h>
#include <pthread.h>
#include <stdatomic.h>

static int g_sanitized;


static void basics(void)
{
    mgc_buf b = MGC_BUF_INIT;
    CHECK_EQ(mgc_buf_len(&b), 0);
    CHECK_EQ(mgc_buf_cap(&b), 0);
    CHECK(mgc_buf_bytes(&b) == NULL);
    mgc_buf_append(&b, NULL, 0); /* nothing from nowhere is fine */
    CHECK(mgc_buf_bytes(&b) == NULL);
    CHECK(!strcmp(mgc_buf_cstr(&b), ""));
    CHECK_EQ(mgc_buf_cap(&b), 16);

    mgc_buf_append_str(&b, "hello");
    mgc_buf_append_byte(&b, ',');
    mgc_buf_append(&b, " world\0junk", 6);
    CHECK_EQ(mgc_buf_len(&b), 12);
    CHECK(!memcmp(mgc_buf_bytes(&b), "hello, world", 12));
    CHECK(!strcmp(mgc_buf_cstr(&b), "hello, world"));
    CHECK_EQ(mgc_buf_len(&b), 12); /* the NUL is not counted */

    /* Capacity: powers of two from 16, exactly the allocation's size. */
    for (int i = 0; i < 1000; i++)
        mgc_buf_append_byte(&b, 'a' + i % 26);
    CHECK_EQ(mgc_buf_len(&b), 1012);
    CHECK_EQ(mgc_buf_cap(&b), 1024);
    CHECK_EQ(mgc_usable_size(mgc_buf_bytes(&b)), 1024);
    for (int i = 0; i < 1000; i++)
        CHECK(mgc_buf_bytes(&b)[12 + i] == 'a' + i % 26);

    mgc_buf_truncate(&b, 5);
    CHECK_EQ(mgc_buf_len(&b), 5);
    CHECK(!strcmp(mgc_buf_cstr(&b), "hello"));
    mgc_buf_reset(&b);
    CHECK_EQ(mgc_buf_len(&b), 0);
    CHECK_EQ(mgc_buf_cap(&b), 1024); /* kept for reuse */

    /* Grow: room for n more without another growth. */
    mgc_buf_append_str(&b, "x");
    mgc_buf_grow(&b, 5000);
    CHECK(mgc_buf_cap(&b) >= 5001);
    CHECK_EQ(mgc_buf_cap(&b), 8192);
    char *before = mgc_buf_bytes(&b);
    for (int i = 0; i < 5000; i++)
        mgc_buf_append_byte(&b, 'y');
    CHECK(mgc_buf_bytes(&b) == before);
    CHECK(mgc_buf_bytes(&b)[0] == 'x' && mgc_buf_bytes(&b)[5000] == 'y');

    /* The results. */
    mgc_buf_reset(&b);
    mgc_buf_append_str(&b, "result");
    char *s = mgc_buf_string(&b);
    CHECK(!strcmp(s, "result") && s != mgc_buf_bytes(&b));
    mgc_buf_append_str(&b, "-more"); /* the copy is not touched */
    CHECK(!strcmp(s, "result"));
    CHECK(mgc_usable_size(s) >= 7 && mgc_usable_size(s) < 16); /* right-sized: 7 bytes, not the 16 of the storage */
    size_t len = 0;
    char *d = mgc_buf_detach(&b, &len);
    CHECK_EQ(len, 11);
    CHECK(!strcmp(d, "result-more"));
    CHECK_EQ(mgc_buf_len(&b), 0);
    CHECK_EQ(mgc_buf_cap(&b), 0);
    CHECK(mgc_buf_bytes(&b) == NULL);
    CHECK_EQ(mgc_usable_size(d), 8192); /* the storage itself, now ours */
    mgc_free(d);
    /* Detach of a full buffer grows for the NUL; of an empty one gives "". */
    for (int i = 0; i < 16; i++)
        mgc_buf_append_byte(&b, 'z');
    CHECK_EQ(mgc_buf_cap(&b), 16);
    d = mgc_buf_detach(&b, NULL);
    CHECK(strlen(d) == 16 && d[15] == 'z');
    d = mgc_buf_detach(&b, &len);
    CHECK(len == 0 && !strcmp(d, ""));
    char *e = mgc_buf_string(&b);
    CHECK(e && !strcmp(e, ""));

    /* Free: storage gone, buffer usable. */
    mgc_buf_append_str(&b, "again");
    mgc_buf_free(&b);
    CHECK(mgc_buf_bytes(&b) == NULL && mgc_buf_len(&b) == 0 && mgc_buf_cap(&b) == 0);
    mgc_buf_append_str(&b, "again");
    CHECK(!strcmp(mgc_buf_cstr(&b), "again"));
    mgc_buf_free(&b);
    mgc_buf_free(&b); /* freeing an empty buffer is a no-op */
    mgc_buf_init(&b);
}

/* Appending from the buffer itself: the growth copies before it frees. */
static void self_append(void)
{
    mgc_buf b = MGC_BUF_INIT;
    mgc_buf_append_str(&b, "0123456789abcdef"); /* exactly full: 16 */
    CHECK_EQ(mgc_buf_cap(&b), 16);
    for (int round = 0; round < 12; round++) {
        size_t n = mgc_buf_len(&b);
        CHECK_EQ(mgc_buf_cap(&b), n); /* full: the append grows */
        mgc_buf_append(&b, mgc_buf_bytes(&b), n);
        CHECK_EQ(mgc_buf_len(&b), 2 * n);
    }
    for (size_t i = 0; i < mgc_buf_len(&b); i++)
        CHECK(mgc_buf_bytes(&b)[i] == "0123456789abcdef"[i % 16]);
    /* A middle slice, growing. */
    mgc_buf_reset(&b);
    mgc_buf_append_str(&b, "abcdefghijklmnop");
    mgc_buf_truncate(&b, 16);
    mgc_buf_free(&b);
    mgc_buf_append_str(&b, "abcdefghijklmnop");
    mgc_buf_append(&b, mgc_buf_bytes(&b) + 4, 8);
    CHECK(!strcmp(mgc_buf_cstr(&b), "abcdefghijklmnopefghijkl"));
    mgc_buf_free(&b);
}

static void printf_(void)
{
    mgc_buf b = MGC_BUF_INIT;
    CHECK_EQ(mgc_buf_printf(&b, "%d-%s-%c", 42, "abc", 'z'), 8);
    CHECK(!strcmp(mgc_buf_cstr(&b), "42-abc-z"));
    CHECK_EQ(mgc_buf_cap(&b), 16);
    /* 7 more fit in 16 without the NUL's byte: 8 + 7 = 15, then the NUL. */
    CHECK_EQ(mgc_buf_printf(&b, "%s", "1234567"), 7);
    CHECK_EQ(mgc_buf_cap(&b), 16);
    /* Exactly the room left (1): it fits, though vsnprintf's NUL does not:
       no growth (it grew, and freed the storage). */
    char *before = mgc_buf_bytes(&b);
    CHECK_EQ(mgc_buf_printf(&b, "%s", "Q"), 1);
    CHECK_EQ(mgc_buf_len(&b), 16);
    CHECK_EQ(mgc_buf_cap(&b), 16);
    CHECK(mgc_buf_bytes(&b) == before);
    CHECK(!memcmp(mgc_buf_bytes(&b), "42-abc-z1234567Q", 16));
    /* Nothing into a full buffer: no growth either. */
    CHECK_EQ(mgc_buf_printf(&b, "%s", ""), 0);
    CHECK_EQ(mgc_buf_cap(&b), 16);
    CHECK(!strcmp(mgc_buf_cstr(&b), "42-abc-z1234567Q"));
    /* mgc_buf_grow's room, filled by printf exactly, small and large
       (the last byte formatted again in scratch of each kind). */
    for (size_t room = 16; room <= 65536; room *= 8) {
        mgc_buf g = MGC_BUF_INIT;
        mgc_buf_grow(&g, room);
        char *kept = mgc_buf_bytes(&g);
        size_t cap = mgc_buf_cap(&g);
        CHECK_EQ(mgc_buf_printf(&g, "<%0*d>", (int)(cap - 2), 5), (int)cap);
        CHECK_MSG(mgc_buf_bytes(&g) == kept && mgc_buf_cap(&g) == cap, "printf of the %zu bytes grown moved the buffer",
                  cap);
        CHECK(kept[0] == '<' && kept[1] == '0' && kept[cap - 2] == '5' && kept[cap - 1] == '>');
        mgc_buf_free(&g);
    }
    /* Large output through the growth path. */
    mgc_buf_reset(&b);
    CHECK_EQ(mgc_buf_printf(&b, "<%0*d>", 100000, 7), 100002);
    CHECK_EQ(mgc_buf_len(&b), 100002);
    CHECK(mgc_buf_bytes(&b)[0] == '<' && mgc_buf_bytes(&b)[1] == '0' && mgc_buf_bytes(&b)[100000] == '7' &&
          mgc_buf_bytes(&b)[100001] == '>');
    CHECK_EQ(mgc_buf_cap(&b), 131072);
    /* Many small ones, compared with snprintf. */
    mgc_buf_free(&b);
    char ref[64];
    size_t off = 0;
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(ref, sizeof ref, "[%d:%x:%.3f]", i, i * 7, i / 3.0);
        CHECK_EQ(mgc_buf_printf(&b, "[%d:%x:%.3f]", i, i * 7, i / 3.0), n);
        CHECK(!memcmp(mgc_buf_bytes(&b) + off, ref, (size_t)n));
        off += (size_t)n;
    }
    CHECK_EQ(mgc_buf_len(&b), off);
    mgc_buf_free(&b);
    CHECK_EQ(mgc_buf_printf(&b, "%s", ""), 0);
}

/* Growth frees the old storage at once, with its exact size: the next
   allocation of that size on this thread gets it back (LIFO). */
static void growth_frees(void)
{
    int gogc = mgc_set_gc_percent(-1); /* no cycle may drop the reuse lists */
    mgc_buf b = MGC_BUF_INIT;
    for (size_t cap = 16; cap <= 16384; cap *= 2) {
        while (mgc_buf_len(&b) < cap)
            mgc_buf_append_byte(&b, 'q');
        CHECK_EQ(mgc_buf_cap(&b), cap);
        char *old = mgc_buf_bytes(&b);
        uint64_t f0 = T_MEMSTAT(frees_explicit);
        mgc_buf_append_byte(&b, 'r');
        CHECK_EQ(mgc_buf_cap(&b), cap * 2);
        CHECK(mgc_buf_bytes(&b) != old);
        CHECK_EQ(T_MEMSTAT(frees_explicit) - f0, 1);
        char *again = mgc_alloc_noscan(cap);
        CHECK_MSG(again == old, "cap %zu: the old storage %p was not reused (got %p)", cap, (void *)old,
                  (void *)again);
        mgc_free(again);
        mgc_buf_truncate(&b, cap); /* drop the 'r' so the loop fills exactly */
    }
    /* From 32 KiB the storage is a span of its own (even at 32 KiB, a size
       class), placed with room after it: the step from 16 KiB moves (the
       16 KiB slot freed, LIFO as above), then each doubling up to four
       times the first span's size happens where the storage is, no copy
       and nothing freed (the room is free, and nothing else allocates). */
    while (mgc_buf_len(&b) < 32768)
        mgc_buf_append_byte(&b, 's');
    char *span = mgc_buf_bytes(&b);
    CHECK_EQ(mgc_buf_cap(&b), 32768);
    CHECK(mgc__span_of((uintptr_t)span)->large && mgc__span_of((uintptr_t)span)->base == (uintptr_t)span);
    CHECK_EQ(mgc_usable_size(span), 32768);
    uint64_t fi = T_MEMSTAT(frees_explicit);
    for (size_t cap = 32768; cap < 131072; cap *= 2) {
        while (mgc_buf_len(&b) < cap + 1)
            mgc_buf_append_byte(&b, (char)('a' + cap % 7));
        CHECK_EQ(mgc_buf_cap(&b), cap * 2);
        CHECK_MSG(mgc_buf_bytes(&b) == span, "cap %zu: moved from %p to %p", cap * 2, (void *)span,
                  (void *)mgc_buf_bytes(&b));
        CHECK_EQ(mgc_usable_size(span), cap * 2);
    }
    CHECK_EQ(T_MEMSTAT(frees_explicit), fi);
    CHECK(span[0] == 'q' && span[32767] == 's' && span[32768] == 'a' + 32768 % 7 &&
          span[65536] == 'a' + 65536 % 7);
    /* Exactly 32 KiB of such storage is a 4-page large object, which
       mgc_free_sized takes with its size (a size class's size). */
    mgc_buf tmp = MGC_BUF_INIT;
    mgc_buf_grow(&tmp, 32768);
    char *d32 = mgc_buf_detach(&tmp, NULL);
    CHECK(mgc__span_of((uintptr_t)d32)->large && mgc_usable_size(d32) == 32768);
    uint64_t fl32 = T_MEMSTAT(frees_explicit_large);
    mgc_free_sized(d32, 32768, 1);
    CHECK_EQ(T_MEMSTAT(frees_explicit_large) - fl32, 1);
    CHECK(mgc_base(d32) == NULL);
    /* Large storage grows where it is when the pages after it are free;
       else it moves, its pages go back at once, and the next large request
       of that size gets them. Both, in turn: a blocker allocated right after
       the buffer takes its neighbouring pages. */
    for (int blocked = 0; blocked < 2; blocked++) {
        mgc_buf_free(&b);
        mgc_buf_grow(&b, 65536);
        CHECK_EQ(mgc_buf_cap(&b), 65536);
        char *old = mgc_buf_bytes(&b);
        mgc_span *sp = mgc__span_of((uintptr_t)old);
        /* The pages after it are its reserve (heap.c): one-page objects
           allocated now go elsewhere. */
        CHECK(sp->reserved > 0);
        uintptr_t rlo = (uintptr_t)old + 65536, rhi = rlo + (uintptr_t)sp->reserved * MGC_PAGE_SIZE;
        void *probe[32];
        for (int i = 0; i < 32; i++) {
            probe[i] = mgc_alloc_noscan(8192);
            CHECK((uintptr_t)probe[i] < rlo || (uintptr_t)probe[i] >= rhi);
        }
        for (int i = 0; i < 32; i++)
            mgc_free(probe[i]);
        size_t nheld = 0;
        if (blocked) { /* give the reserve back, then fill the page after it */
            mgc_thread *self = mgc__thread_current();
            mgc__cs_enter(self);
            mgc__heap_trim_reserve(sp);
            mgc__cs_exit(self);
        }
        void **held = blocked ? t_occupy_after(old, 65536, &nheld) : NULL;
        memset(old, 'L', 65536);
        b.len = 65536;
        uint64_t fl = T_MEMSTAT(frees_explicit_large), f0 = T_MEMSTAT(frees_explicit);
        mgc_buf_append_byte(&b, '!');
        CHECK_EQ(mgc_buf_cap(&b), 131072);
        CHECK(mgc_buf_bytes(&b)[65535] == 'L' && mgc_buf_bytes(&b)[65536] == '!');
        if (!blocked) {
            CHECK(mgc_buf_bytes(&b) == old); /* in place: nothing freed */
            CHECK_EQ(T_MEMSTAT(frees_explicit) - f0, 0);
            continue;
        }
        CHECK(mgc_buf_bytes(&b) != old);
        CHECK_EQ(T_MEMSTAT(frees_explicit_large) - fl, 1);
        CHECK_EQ(T_MEMSTAT(frees_explicit) - f0, 1);
        char *again = mgc_alloc_noscan(65536);
        CHECK(again == old && again[0] == 0 && again[65535] == 0); /* and zeroed */
        mgc_free(again);
        t_release(held, nheld);
    }
    /* mgc_buf_free frees; truncate and reset do not. */
    uint64_t f0 = T_MEMSTAT(frees_explicit);
    mgc_buf_truncate(&b, 10);
    mgc_buf_reset(&b);
    CHECK_EQ(T_MEMSTAT(frees_explicit), f0);
    mgc_buf_free(&b);
    CHECK_EQ(T_MEMSTAT(frees_explicit) - f0, 1);
    mgc_set_gc_percent(gogc);
}

/* The benchmark's switch: the same code without the frees. */
static void no_free_variant(void)
{
    int gogc = mgc_set_gc_percent(-1);
    mgc__containers_free = false;
    mgc_buf b = MGC_BUF_INIT;
    uint64_t f0 = T_MEMSTAT(frees_explicit);
    char *olds[16];
    int n = 0;
    for (int i = 0; i < 5000; i++) {
        if (mgc_buf_len(&b) == mgc_buf_cap(&b) && mgc_buf_cap(&b) && n < 16)
            olds[n++] = mgc_buf_bytes(&b);
        mgc_buf_append_byte(&b, 'n');
    }
    CHECK_EQ(mgc_buf_cap(&b), 8192);
    CHECK(n == 9);
    mgc_buf_free(&b);
    CHECK_EQ(T_MEMSTAT(frees_explicit), f0); /* nothing freed, not even by mgc_buf_free */
    for (int i = 0; i < n; i++)
        CHECK(mgc_base(olds[i]) == olds[i]); /* still allocated: left to the collector */
    char *x = mgc_alloc_noscan(4096);
    CHECK(x != olds[n - 1]);
    /* Nor does storage from 32 KiB grow in place (that would hand the old
       storage back as a free does): each doubling moves, the old one kept. */
    mgc_buf_init(&b);
    mgc_buf_grow(&b, 32768);
    for (size_t cap = 32768; cap <= 262144; cap *= 2) {
        char *old = mgc_buf_bytes(&b);
        CHECK_EQ(mgc_buf_cap(&b), cap);
        mgc_buf_grow(&b, cap + 1);
        CHECK(mgc_buf_bytes(&b) != old);
        CHECK(mgc_base(old) == old && mgc_usable_size(old) == cap);
    }
    CHECK_EQ(T_MEMSTAT(frees_explicit), f0);
    mgc__containers_free = true;
    mgc_set_gc_percent(gogc);
}

static inline uint8_t byte_at(uint64_t seed, size_t i)
{
    uint64_t x = (seed + i) * 0x9E3779B97F4A7C15ull;
    return (uint8_t)(32 + (x >> 40) % 95); /* printable: printf's %.*s copies it whole */
}

/* Several MiB, appended in random pieces of 1-100 bytes (append or
   printf), with collections and garbage in between: the only reference to
   the storage is the struct on this stack. */
static void survives_collections(void)
{
    size_t total = g_sanitized ? (1u << 20) : (8u << 20);
    uint64_t seed = t_rand();
    mgc_memstats ms0, ms1;
    mgc_read_memstats(&ms0);
    mgc_buf b = MGC_BUF_INIT;
    uint8_t piece[100];
    size_t len = 0, next_gc = total / 16;
    while (len < total) {
        size_t n = 1 + t_rand_below(100);
        if (n > total - len)
            n = total - len;
        for (size_t i = 0; i < n; i++)
            piece[i] = byte_at(seed, len + i);
        if (t_rand_below(4) == 0)
            CHECK_EQ(mgc_buf_printf(&b, "%.*s", (int)n, (const char *)piece), n);
        else
            mgc_buf_append(&b, piece, n);
        len += n;
        for (size_t i = 0; i < 3; i++)
            (void)!mgc_alloc(16 + t_rand_below(200)); /* garbage */
        if (len >= next_gc) {
            mgc_collect();
            next_gc += total / 16;
        }
    }
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 10000; j++)
            (void)!mgc_alloc(64);
        mgc_collect();
    }
    CHECK_EQ(mgc_buf_len(&b), total);
    const uint8_t *d = (const uint8_t *)mgc_buf_bytes(&b);
    CHECK(mgc_base(d) == d);
    for (size_t i = 0; i < total; i++)
        CHECK_MSG(d[i] == byte_at(seed, i), "byte %zu", i);
    mgc_read_memstats(&ms1);
    CHECK(ms1.num_gc - ms0.num_gc >= 10);
    mgc_buf_free(&b);
}

/* Many builds in a row, each result kept (a string copy or the detached
   storage) in a scanned array; they must all survive. */
static void many_builds(void)
{
    int nres = g_sanitized ? 2000 : 20000;
    char **res = mgc_alloc((size_t)nres * sizeof(char *));
    mgc_buf b = MGC_BUF_INIT;
    for (int i = 0; i < nres; i++) {
        mgc_buf_reset(&b);
        int pieces = 1 + i % 40;
        for (int k = 0; k < pieces; k++)
            mgc_buf_printf(&b, "%d.%d;", i, k);
        res[i] = (i & 1) ? mgc_buf_string(&b) : mgc_buf_detach(&b, NULL);
        if (i % 5000 == 4999)
            mgc_collect();
    }
    mgc_buf_free(&b);
    mgc_collect();
    char expect[1024];
    for (int i = 0; i < nres; i++) {
        size_t off = 0;
        for (int k = 0; k < 1 + i % 40; k++)
            off += (size_t)snprintf(expect + off, sizeof expect - off, "%d.%d;", i, k);
        CHECK_MSG(!strcmp(res[i], expect), "result %d: %s", i, res[i]);
    }
}

/* A reserve lasts while its storage may still grow: the same thread's next
   growable storage gives it back, and so does a sweep that finds the
   storage live. */
static void reserves_given_back(void)
{
    int gogc = mgc_set_gc_percent(-1); /* no sweep but the one asked for */
    mgc_buf a = MGC_BUF_INIT, b = MGC_BUF_INIT;
    mgc_buf_grow(&a, 32768);
    mgc_span *sa = mgc__span_of((uintptr_t)mgc_buf_bytes(&a));
    CHECK(sa->large && sa->reserved > 0);
    mgc_buf_grow(&b, 32768);
    mgc_span *sb = mgc__span_of((uintptr_t)mgc_buf_bytes(&b));
    CHECK_EQ(sa->reserved, 0);
    CHECK(sb->reserved > 0);
    /* b is live, but allocated since the last cycle: it may still be
       growing, and the sweep leaves its reserve; after a whole cycle the
       next sweep gives it back. */
    mgc_collect();
    CHECK(sb->reserved > 0);
    mgc_collect();
    CHECK_EQ(sb->reserved, 0);
    CHECK(mgc__span_of((uintptr_t)mgc_buf_bytes(&b)) == sb);
    mgc_buf_free(&a);
    mgc_buf_free(&b);
    mgc_set_gc_percent(gogc);
}

/* Two threads building 128 KiB results at the same time: each buffer's
   storage from 32 KiB is placed with a reserve of four times that size
   (heap.c), so neither lands in the other's way and every step from 32 to
   128 KiB grows in place. Before the reserve, the second buffer went right
   after the first and about one step in five had to move. Collections are
   off: a sweep gives back the reserve of a live storage made before the
   last cycle. */
#define CG_BUILDS 400
static t_barrier cg_barrier;
static _Atomic int cg_moves;

static void *concurrent_builder(void *arg)
{
    (void)arg;
    static const char piece[48] = "concurrent growth in place, pieces of 48 bytes";
    for (int i = 0; i < CG_BUILDS; i++) {
        mgc_buf b = MGC_BUF_INIT;
        mgc_buf_grow(&b, 32768);
        t_barrier_wait(&cg_barrier); /* both have their storage now */
        char *first = mgc_buf_bytes(&b);
        while (mgc_buf_len(&b) + sizeof piece <= 131072) {
            mgc_buf_append(&b, piece, sizeof piece);
            if (mgc_buf_bytes(&b) != first) {
                cg_moves++;
                first = mgc_buf_bytes(&b);
            }
        }
        CHECK(!memcmp(mgc_buf_bytes(&b) + 48 * 1000, piece, sizeof piece));
        mgc_buf_free(&b);
    }
    return NULL;
}

static void concurrent_growth_in_place(void)
{
    int gogc = mgc_set_gc_percent(-1);
    t_barrier_init(&cg_barrier, 2);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        CHECK_EQ(mgc_pthread_create(&t[i], NULL, concurrent_builder, NULL), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    mgc_set_gc_percent(gogc);
    CHECK_MSG(cg_moves == 0, "%d of %d storages moved while growing from 32 to 128 KiB", (int)cg_moves,
              2 * CG_BUILDS);
}

/* mgc.h's inline fast path (the macros) and the functions themselves
   build the same bytes: random pieces of 0-300 bytes, some of a length
   known at compile time, alternating between the two, into two buffers;
   and the functions still exist under their names. */
static void inline_path(void)
{
#ifndef mgc_buf_append
    CHECK_MSG(0, "mgc.h's inline mgc_buf_append is off in this build");
#endif
    /* The functions keep their names (this links only if they do), and
       calls through their addresses take the out-of-line path. */
    void (*fn)(mgc_buf *, const void *, size_t) = mgc_buf_append;
    void (*fn_byte)(mgc_buf *, int) = mgc_buf_append_byte;
    uint64_t seed = t_rand();
    uint8_t piece[300];
    mgc_buf a = MGC_BUF_INIT, b = MGC_BUF_INIT;
    mgc_buf_grow(&a, 100); /* a has room first: the fast path runs from the start */
    size_t len = 0;
    for (int i = 0; i < 20000; i++) {
        size_t n = t_rand_below(301);
        for (size_t k = 0; k < n; k++)
            piece[k] = byte_at(seed, len + k);
        switch (i % 4) {
        case 0:
            mgc_buf_append(&a, piece, n);
            fn(&b, piece, n);
            break;
        case 1:
            (mgc_buf_append)(&a, piece, n);
            mgc_buf_append(&b, piece, n);
            break;
        case 2: /* a constant length: the compiler's own copy */
            n = 8;
            for (size_t k = 0; k < n; k++)
                piece[k] = byte_at(seed, len + k);
            mgc_buf_append(&a, piece, 8);
            (mgc_buf_append)(&b, piece, 8);
            break;
        default:
            n = 1;
            piece[0] = byte_at(seed, len);
            mgc_buf_append_byte(&a, piece[0]);
            fn_byte(&b, piece[0]);
            break;
        }
        len += n;
        CHECK_EQ(mgc_buf_len(&a), len);
        CHECK_EQ(mgc_buf_len(&b), len);
    }
    const uint8_t *da = (const uint8_t *)mgc_buf_bytes(&a), *db = (const uint8_t *)mgc_buf_bytes(&b);
    for (size_t k = 0; k < len; k++)
        CHECK_MSG(da[k] == byte_at(seed, k) && db[k] == da[k], "byte %zu", k);
    mgc_buf_free(&a);
    mgc_buf_free(&b);
}

/* ---- aborts ------------------------------------------------------------- */

static void d_null(void *a) { mgc_buf_append_str(NULL, "x"); }
static void d_null_len(void *a) { (void)mgc_buf_len(NULL); }
static void d_truncate(void *a)
{
    mgc_buf b = MGC_BUF_INIT;
    mgc_buf_append_str(&b, "abc");
    mgc_buf_truncate(&b, 4);
}
/* len beyond cap: mgc_buf_append_byte with garbage data (a == NULL), or
   mgc_buf_append with real storage, where the fast path's room would wrap
   around. */
static void d_garbage(void *a)
{
    char junk[16];
    mgc_buf b;
    memset(&b, 0x5a, sizeof b);
    b.len = 100;
    b.cap = 10;
    if (!a) {
        mgc_buf_append_byte(&b, 'x');
        return;
    }
    b.data = junk;
    mgc_buf_append(&b, "x", 1);
}
/* Storage lost (data NULL with a capacity): the functions' line (the
   inline paths do not test it, mgc.h). */
static void d_no_data(void *a)
{
    mgc_buf b = MGC_BUF_INIT;
    b.cap = 16;
    if (a)
        (mgc_buf_append)(&b, "x", 1);
    else
        (mgc_buf_append_byte)(&b, 'x');
}
static void d_null_bytes(void *a)
{
    mgc_buf b = MGC_BUF_INIT;
    mgc_buf_append(&b, NULL, 3);
}
/* The same misuse with room in the buffer, where the inline fast path
   would copy: it must fall back to the checks, not write. */
static void d_null_bytes_room(void *a)
{
    mgc_buf b = MGC_BUF_INIT;
    mgc_buf_grow(&b, 64);
    mgc_buf_append(&b, NULL, 3);
}
static void d_null_append(void *a) { mgc_buf_append(NULL, "x", 1); }
static void d_null_append_byte(void *a) { mgc_buf_append_byte(NULL, 'x'); }
static void d_free_detached(void *a)
{
    /* The old storage is freed on growth: a pointer kept across it is
       dangling, and freeing it too is a double free mgc catches. */
    mgc_set_gc_percent(-1);
    mgc_buf b = MGC_BUF_INIT;
    mgc_buf_append_str(&b, "0123456789abcdef");
    char *old = mgc_buf_bytes(&b);
    mgc_buf_append_str(&b, "!");
    mgc_free(old);
}
/* Storage from 32 KiB is a large object whatever its size: freed with
   the size it was grown to (in place or not), not the one it started at. */
static void d_span_size(void *a)
{
    mgc_set_gc_percent(-1);
    mgc_buf b = MGC_BUF_INIT;
    mgc_buf_grow(&b, 32768);
    mgc_buf_grow(&b, 65536);
    char *d = mgc_buf_detach(&b, NULL);
    mgc_free_sized(d, 32768, 1);
}

/* A pointer kept across a growth (mgc.h: Aliasing) reads freed storage:
   under AddressSanitizer the read is reported, for a size-class slot and
   for storage of its own span (grown by a copy: in place it would stay). */
static volatile char sink_byte;
static void u_kept_small(void *a)
{
    mgc_buf b = MGC_BUF_INIT;
    mgc_buf_append_str(&b, "0123456789abcdef");
    char *old = mgc_buf_bytes(&b);
    mgc_buf_append_str(&b, "!");
    sink_byte = old[3];
}
static void u_kept_large(void *a)
{
    mgc_buf b = MGC_BUF_INIT;
    mgc_buf_grow(&b, 32768);
    /* No growth in place: the reserve given back, the page after taken. */
    mgc__heap_trim_reserve(mgc__span_of((uintptr_t)mgc_buf_bytes(&b)));
    size_t nheld;
    (void)t_occupy_after(mgc_buf_bytes(&b), 32768, &nheld);
    for (int i = 0; i < 32768; i++)
        mgc_buf_append_byte(&b, 'x');
    char *old = mgc_buf_bytes(&b);
    mgc_buf_append_byte(&b, 'y');
    if (mgc_buf_bytes(&b) == old)
        _exit(77); /* grew in place after all: nothing was freed */
    sink_byte = old[100];
}

static void asan_reports(void)
{
    if (!getenv("MGC_TEST_ASAN")) {
        printf("asan_reports: not an AddressSanitizer build, skipped\n");
        return;
    }
    t_expect_asan_report(u_kept_small, NULL, "AddressSanitizer: use-after-poison",
                         "read through a pointer kept across a slot's growth");
    t_expect_asan_report(u_kept_large, NULL, "AddressSanitizer: use-after-poison",
                         "read through a pointer kept across a large storage's move");
}

static void aborts(void)
{
    t_expect_abort(d_null, NULL, "mgc_buf_append_str: the buffer is NULL");
    t_expect_abort(d_null_len, NULL, "mgc_buf_len: the buffer is NULL");
    t_expect_abort(d_truncate, NULL, "mgc_buf_truncate: 4 is beyond the length 3 of buffer");
    t_expect_abort(d_garbage, NULL, "mgc_buf_append_byte: buffer ");
    t_expect_abort(d_garbage, NULL, "is not a valid mgc_buf (data 0x5a5a5a5a5a5a5a5a, len 100, cap 10)");
    t_expect_abort(d_null_bytes, NULL, "mgc_buf_append: 3 bytes from NULL into buffer");
    t_expect_abort(d_null_bytes_room, NULL, "mgc_buf_append: 3 bytes from NULL into buffer");
    t_expect_abort(d_null_append, NULL, "mgc_buf_append: the buffer is NULL");
    t_expect_abort(d_null_append_byte, NULL, "mgc_buf_append_byte: the buffer is NULL");
    t_expect_abort(d_garbage, "append", "mgc_buf_append: buffer ");
    t_expect_abort(d_no_data, "append", "is not a valid mgc_buf (data (nil), len 0, cap 16)");
    t_expect_abort(d_no_data, NULL, "mgc_buf_append_byte: buffer ");
    t_expect_abort(d_free_detached, NULL, "was already freed (double free)");
    t_expect_abort(d_span_size, NULL, "was freed as 32768 noscan bytes, but it is a noscan object of 65536 bytes");
}

int main(void)
{
    g_sanitized = t_sanitized();
    t_seed();
    mgc_init();
    basics();
    self_append();
    inline_path();
    printf_();
    growth_frees();
    no_free_variant();
    survives_collections();
    many_builds();
    reserves_given_back();
    concurrent_growth_in_place();
    aborts();
    asan_reports();
    printf("test_buf: ok\n");
    return 0;
}
