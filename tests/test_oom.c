// ctest-timeout: 120
// ctest-tsan: no (it caps the address space, where TSan maps its shadow)
/* Out of memory: the heap is capped (RLIMIT_AS makes the reservation fall
   back to a small one); an allocation that finds no room collects, retries,
   and returns NULL with ENOMEM only if the collection did not help. The
   process survives and allocation works again once memory is dropped;
   also when what runs out first is the address space for the metadata of
   a heap of small objects. */
#include "internal/heap.h"
#include "testing.h"
#include <mgc.h>
#include <sys/resource.h>

static void capped(void *arg)
{
    (void)arg;
    /* 2 GiB of address space: the 1 TiB..2 GiB reservations fail, 1 GiB fits. */
    struct rlimit rl = {2ull << 30, 2ull << 30};
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    CHECK_EQ(mgc_init(), 0);
    CHECK_EQ(mgc__heap.reserved, 1ull << 30);
    mgc_set_gc_percent(-1); /* only the out-of-memory path collects */

    /* Garbage alone never runs out: the OOM path collects it. */
    mgc_memstats m0, m1;
    mgc_read_memstats(&m0);
    for (int i = 0; i < 600000; i++) /* 2.4 GiB of 4000-byte garbage */
        CHECK(mgc_alloc(4000) != NULL);
    mgc_read_memstats(&m1);
    CHECK(m1.num_gc > m0.num_gc);

    /* Live data fills the heap: NULL and ENOMEM, no crash. The chunks are
       independent and held in a registered malloc'd array, so a stale
       pointer on the stack can retain one chunk, never a chain. */
    enum { MAX = 400000 };
    void **slots = calloc(MAX, sizeof(void *));
    mgc_add_roots(slots, slots + MAX);
    size_t n = 0;
    for (;;) {
        errno = 0;
        void *c = mgc_alloc_noscan(4000);
        if (!c) {
            CHECK_EQ(errno, ENOMEM);
            break;
        }
        slots[n++] = c;
        CHECK(n < MAX); /* 1 GiB / 4 KiB = 262144 */
    }
    CHECK(n > 200000);
    errno = 0;
    CHECK(mgc_alloc(1 << 20) == NULL && errno == ENOMEM);
    /* Drop half: allocation works again, small and large. */
    memset(slots, 0, n / 2 * sizeof(void *));
    CHECK(mgc_alloc(1 << 20) != NULL);
    CHECK(mgc_alloc(4000) != NULL);
    printf("ok: %zu live chunks filled the heap\n", n);
}

/* The process's address space in use now (VmSize), in bytes. */
static uint64_t vm_size(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    CHECK(f != NULL);
    char line[256];
    uint64_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %" SCNu64 " kB", &kb) == 1)
            break;
    fclose(f);
    CHECK(kb > 0);
    return kb << 10;
}

/* Small objects held in chunks of 4096 pointers, the chunks in a global
   array (a root): a stale word can keep one chunk alive, not (as with a
   linked list, where it kept every older node) the whole heap. */
#define CHUNK 4096
static void **g_chunks[1 << 14];

/* Objects of size bytes, held, until one is refused (ENOMEM); how many. */
static __attribute__((noinline)) size_t fill(size_t size)
{
    size_t n = 0;
    for (size_t c = 0; c < sizeof g_chunks / sizeof g_chunks[0]; c++) {
        errno = 0;
        void **chunk = mgc_alloc(CHUNK * sizeof(void *));
        if (!chunk) {
            CHECK_EQ(errno, ENOMEM);
            return n;
        }
        g_chunks[c] = chunk;
        for (size_t i = 0; i < CHUNK; i++) {
            errno = 0;
            if (!(chunk[i] = mgc_alloc(size))) {
                CHECK_EQ(errno, ENOMEM);
                return n;
            }
            n++;
        }
    }
    CHECK_MSG(0, "%zu objects of %zu bytes and no ENOMEM", n, size);
    return n;
}

static void drop(void) { memset(g_chunks, 0, sizeof g_chunks); }

/* An address-space limit that leaves the 1 GiB reservation room but not
   the metadata of a heap full of 16-byte objects (about a tenth of it):
   the allocation's metadata runs out first, and the answer is still NULL
   and ENOMEM after a collection, not an abort (it was "fatal: out of
   memory for metadata"); the collection itself runs on the emergency
   metadata reserved at start-up. */
static void capped_metadata(void *arg)
{
    (void)arg;
    /* The reservation maps 64 MiB more while it aligns itself; the
       emergency metadata is 8 MiB. */
    uint64_t lim = vm_size() + (1ull << 30) + (64ull << 20) + (8ull << 20);
    struct rlimit rl = {lim, lim};
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    CHECK_EQ(mgc_init(), 0);
    CHECK_EQ(mgc__heap.reserved, 1ull << 30);
    mgc_set_gc_percent(-1);
    size_t n = fill(16);
    /* Stopped by the metadata, with pages to spare. */
    CHECK_MSG(n * 16 < (1ull << 30) - (64ull << 20), "%zu objects: the heap filled up first", n);
    drop();
    t_scrub_stack();
    CHECK(mgc_alloc(16) != NULL);
    CHECK(mgc_alloc(1 << 20) != NULL);
    /* Dropped, they leave their spans' metadata free but of their own
       sizes; objects of another class must get it (split), not ENOMEM
       over an empty heap (they got 0). */
    size_t n48 = fill(48);
    CHECK_MSG(n48 * 48 > n * 16 / 4, "after %zu MiB of 16-byte objects were dropped, only %zu MiB of 48-byte ones",
              n * 16 >> 20, n48 * 48 >> 20);
    drop();
    printf("ok: %zu small objects (%zu MiB) until the metadata ran out, then %zu MiB of another class\n", n,
           n * 16 >> 20, n48 * 48 >> 20);
}

/* The heap a child gets with room bytes of address space above what it
   has mapped: mgc_init must succeed, and n objects of 100 KiB survive a
   collection. */
static void capped_heap(uint64_t room, int n)
{
    uint64_t cap = vm_size() + room;
    struct rlimit rl = {cap, cap};
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    CHECK_EQ(mgc_init(), 0);
    static void *keep[1000];
    CHECK(n <= 1000);
    for (int i = 0; i < n; i++)
        CHECK((keep[i] = mgc_alloc_noscan(100 << 10)) != NULL);
    mgc_collect();
    for (int i = 0; i < n; i++)
        CHECK(mgc_base(keep[i]) == keep[i]);
}

/* Under 1 GiB of address space (ulimit -v 900000): a smaller heap, down to
   one 64 MiB arena, not none (the reservation stopped halving at 1 GiB,
   and such a process could not allocate at all). 100 MiB live. */
static void small_cap(void *arg)
{
    (void)arg;
    capped_heap(600ull << 20, 1000);
    CHECK(mgc__heap.reserved >= (64ull << 20) && mgc__heap.reserved < (1ull << 30));
    printf("ok: %llu MiB reserved\n", (unsigned long long)(mgc__heap.reserved >> 20));
}

/* Room for one arena but not for its alignment slack (the reservation
   maps size + 64 MiB to align it): 100 MiB above what is mapped still
   gives a 64 MiB heap, by reserving the size alone at an aligned address
   (the last try needed 128 MiB, and such a process got no heap). 16 MiB
   live. */
static void arena_cap(void *arg)
{
    (void)arg;
    capped_heap(100ull << 20, 160);
    CHECK_EQ(mgc__heap.reserved, 64ull << 20);
    CHECK_EQ(mgc__heap.base % (64ull << 20), 0);
    printf("ok: 64 MiB heap\n");
}

/* Once a heap fits, a little more room never loses it: a reservation
   that fits but leaves no room for its maps (about size / 1024) is given
   back and the next size down tried. Just above 136 MiB of room (128 MiB
   and the 8 MiB emergency metadata region) the maps failed and mgc_init
   said ENOMEM, though 135 MiB gave a 64 MiB heap. One child per room,
   120-140 MiB in 64 KiB steps. */
static void room_child(void *arg)
{
    uint64_t cap = vm_size() + (uint64_t)(uintptr_t)arg;
    struct rlimit rl = {cap, cap};
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    int err = mgc_init();
    printf("%d %llu\n", err, (unsigned long long)(err ? 0 : mgc__heap.reserved >> 20));
}

static void room_sweep(void)
{
    int fits = 0;
    for (uint64_t room = 120ull << 20; room <= 140ull << 20; room += 64 << 10) {
        t_child c;
        t_run_child(room_child, (void *)(uintptr_t)room, &c);
        int err = -1;
        unsigned long long mib = 0;
        CHECK_MSG(WIFEXITED(c.status) && sscanf(c.out, "%d %llu", &err, &mib) == 2, "room %llu KiB: status %d\n%s",
                  (unsigned long long)(room >> 10), c.status, c.err);
        CHECK_MSG(err == 0 || !fits, "room %llu KiB: mgc_init %d, where less room gave a heap",
                  (unsigned long long)(room >> 10), err);
        fits = fits || err == 0;
    }
    CHECK(fits);
}

/* No address space for any heap: mgc_init says ENOMEM (again when asked
   again), and an allocation then aborts with one line (mgc.h). The cap
   leaves less than one arena's reservation (64 MiB and its alignment). */
static void no_heap(void *arg)
{
    (void)arg;
    uint64_t cap = vm_size() + (48ull << 20);
    struct rlimit rl = {cap, cap};
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    CHECK_EQ(mgc_init(), ENOMEM);
    CHECK_EQ(mgc_init(), ENOMEM);
    CHECK_EQ(mgc_thread_attach(), ENOMEM); /* an errno, not the abort */
    (void)!mgc_alloc(16);
}

static void capped_metadata_checked(void *arg)
{
    setenv("GODEBUG", "gccheckmark=1", 1); /* mgc starts in this child */
    capped_metadata(arg);
}

int main(void)
{
    if (getenv("MGC_TEST_SANITIZE")) {
        /* ASan reserves terabytes of shadow: an address-space limit cannot
           coexist with it. */
        printf("skipped under the sanitizer build: RLIMIT_AS conflicts with ASan's shadow memory\n");
        return 0;
    }
    t_child c;
    t_run_child(capped, NULL, &c);
    CHECK_MSG(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "status %d\n%s%s", c.status, c.out, c.err);
    CHECK(strstr(c.out, "ok: "));
    printf("%s", c.out);
    t_run_child(small_cap, NULL, &c);
    CHECK_MSG(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "small cap: status %d\n%s%s", c.status, c.out,
              c.err);
    CHECK(strstr(c.out, "ok: "));
    printf("%s", c.out);
    t_run_child(arena_cap, NULL, &c);
    CHECK_MSG(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "arena cap: status %d\n%s%s", c.status, c.out,
              c.err);
    CHECK(strstr(c.out, "ok: "));
    printf("%s", c.out);
    room_sweep();
    t_expect_abort(no_heap, NULL, "mgc: fatal: cannot reserve address space for the heap");
    t_run_child(capped_metadata, NULL, &c);
    CHECK_MSG(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "status %d\n%s%s", c.status, c.out, c.err);
    CHECK(strstr(c.out, "ok: "));
    printf("%s", c.out);
    /* The same under gccheckmark: its bitmaps are metadata too (it
       aborted); without them a cycle goes unchecked, with one warning. */
    t_run_child(capped_metadata_checked, NULL, &c);
    CHECK_MSG(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "gccheckmark: status %d\n%s%s", c.status, c.out,
              c.err);
    CHECK(strstr(c.out, "ok: "));
    CHECK_MSG(t_count_lines(c.err, "mgc: warning: gccheckmark: no memory") <= 1, "%s", c.err);
    return 0;
}
