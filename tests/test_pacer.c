/* The pacer's GOGC part: goal = marked + (marked + stacks + globals) x
   GOGC/100, at least 4 MiB x GOGC/100; cycles start when the heap reaches
   the goal; mgc_set_gc_percent changes it at once; off means no automatic
   cycles. */
#include "internal/pacer.h"
#include "testing.h"
#include <limits.h>
#include <mgc.h>

#define LIVE (16 << 20)
void *live[LIVE / 4096]; /* 16 MiB of 4 KiB objects (not static: see test_gctrace) */

static uint64_t expected_goal(const mgc_memstats *m, int gogc)
{
    uint64_t g = m->heap_marked + (m->heap_marked + m->gc_scan_stack_bytes + m->gc_scan_global_bytes) * gogc / 100;
    uint64_t min = (4ull << 20) * gogc / 100;
    return g < min ? min : g;
}

int main(void)
{
    CHECK_EQ(mgc_init(), 0);
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
        live[i] = mgc_alloc_noscan(4000);
    mgc_collect();
    mgc_memstats m;
    mgc_read_memstats(&m);
    CHECK(m.heap_marked >= LIVE && m.heap_marked < LIVE + (2 << 20));
    CHECK(m.gc_scan_global_bytes >= sizeof live); /* our array was scanned */
    CHECK(m.gc_scan_stack_bytes > 0);
    CHECK_EQ(m.next_gc, expected_goal(&m, 100));

    /* Allocation triggers a cycle near the goal, not much before or after. */
    uint32_t n0 = m.num_gc;
    uint64_t allocated = 0;
    while (1) {
        (void)!mgc_alloc(1000);
        allocated += 1024;
        mgc_memstats x;
        if (allocated % (1 << 20) == 0) {
            mgc_read_memstats(&x);
            if (x.num_gc != n0)
                break;
        }
        CHECK_MSG(allocated < 2 * m.next_gc, "no cycle after %llu bytes", (unsigned long long)allocated);
    }
    uint64_t room = m.next_gc - m.heap_marked;
    CHECK_MSG(allocated > room / 2 && allocated < room + (4 << 20), "cycle after %llu bytes, room %llu",
              (unsigned long long)allocated, (unsigned long long)room);

    /* SetGCPercent: returns the old value, re-paces at once. */
    CHECK_EQ(mgc_set_gc_percent(50), 100);
    mgc_collect();
    mgc_read_memstats(&m);
    CHECK_EQ(m.next_gc, expected_goal(&m, 50));
    CHECK_EQ(mgc_set_gc_percent(200), 50);
    mgc_read_memstats(&m);
    CHECK_EQ(m.next_gc, expected_goal(&m, 200));

    /* Off: no automatic cycles however much is allocated; mgc_collect works. */
    CHECK_EQ(mgc_set_gc_percent(-1), 200);
    mgc_read_memstats(&m);
    CHECK_EQ(m.next_gc, UINT64_MAX);
    uint32_t before = m.num_gc;
    for (int i = 0; i < 100000; i++) /* 100 MB */
        (void)!mgc_alloc(1000);
    mgc_read_memstats(&m);
    CHECK_EQ(m.num_gc, before);
    mgc_collect();
    mgc_read_memstats(&m);
    CHECK_EQ(m.num_gc, before + 1);
    CHECK_EQ(mgc_set_gc_percent(100), -1);
    mgc_read_memstats(&m);
    CHECK_EQ(m.next_gc, expected_goal(&m, 100));

    /* A large GOGC over a large marked heap saturates, never wraps to a
       small goal (16 GiB x 2^31 passes 2^64). The pacer is fed the figures
       of such a cycle directly, then a real one puts it right. */
    CHECK_EQ(mgc_set_gc_percent(INT_MAX), 100);
    mgc__pacer_commit((uint64_t)16 << 30, (uint64_t)16 << 30, 0, 0);
    CHECK_MSG(atomic_load(&mgc__pacer.goal) == UINT64_MAX, "goal %llu for 16 GiB marked at GOGC=%d",
              (unsigned long long)atomic_load(&mgc__pacer.goal), INT_MAX);
    mgc__pacer_commit((uint64_t)1 << 30, (uint64_t)1 << 30, 0, 0);
    CHECK_EQ(atomic_load(&mgc__pacer.goal), ((uint64_t)1 << 30) + ((uint64_t)1 << 30) * INT_MAX / 100);
    CHECK_EQ(mgc_set_gc_percent(100), INT_MAX);
    mgc_collect();
    mgc_read_memstats(&m);
    CHECK_EQ(m.next_gc, expected_goal(&m, 100));
    return 0;
}
