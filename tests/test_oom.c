// ctest-timeout: 120
// ctest-tsan: no (it caps the address space, where TSan maps its shadow)
/* Out of memory: the heap is capped (RLIMIT_AS makes the reservation fall
   back to a small one); an allocation that finds no room collects, retries,
   and returns NULL with ENOMEM only if the collection did not help. The
   process survives and allocation works again once memory is dropped. */
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
    return 0;
}
