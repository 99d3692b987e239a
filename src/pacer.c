/*
 * pacer.c — the heap goal and trigger (pacer.h), Go's GOGC formula:
 *
 *   goal = M + (M + S + G) * GOGC/100, and at least 4 MiB * GOGC/100
 *
 * M = bytes marked by the last cycle, S = stack bytes scanned, G = global
 * bytes scanned. Counting S and G (design 44167 as implemented, not as
 * written) keeps a program with big stacks or globals from collecting
 * constantly over a small heap. With GOGC off (< 0) there is no goal.
 */
#include "internal/pacer.h"
#include "internal/gc.h"

mgc_pacer mgc__pacer MGC_STATE;

#define HEAP_MIN (4 * MGC_MiB)

/* x * pct / 100, saturating: a large GOGC over a large heap must not wrap
   to a small goal (continuous collection); past 2^64 it means never. */
static uint64_t percent_of(uint64_t x, int pct)
{
    uint64_t p;
    if (__builtin_mul_overflow(x, (uint64_t)pct, &p))
        return UINT64_MAX;
    return p / 100;
}

static void set_goal(uint64_t marked, uint64_t stacks, uint64_t globals)
{
    int pct = atomic_load_explicit(&mgc__pacer.gc_percent, memory_order_relaxed);
    uint64_t goal, trigger;
    if (pct < 0) {
        goal = trigger = UINT64_MAX;
    } else {
        uint64_t extra = percent_of(marked + stacks + globals, pct);
        goal = extra > UINT64_MAX - marked ? UINT64_MAX : marked + extra;
        uint64_t min = percent_of(HEAP_MIN, pct);
        if (goal < min)
            goal = min;
        /* The world is stopped for marking: nothing to run ahead of. */
        trigger = goal;
    }
    atomic_store_explicit(&mgc__pacer.goal, goal, memory_order_relaxed);
    atomic_store_explicit(&mgc__pacer.trigger, trigger, memory_order_relaxed);
}

void mgc__pacer_init(int gogc)
{
    atomic_store_explicit(&mgc__pacer.gc_percent, gogc, memory_order_relaxed);
    set_goal(0, 0, 0);
}

void mgc__pacer_commit(uint64_t marked, uint64_t scanned, uint64_t stacks, uint64_t globals)
{
    mgc__pacer.heap_marked = marked;
    mgc__pacer.heap_scan = scanned;
    mgc__pacer.stack_scan = stacks;
    mgc__pacer.globals_scan = globals;
    atomic_store_explicit(&mgc__pacer.heap_live, marked, memory_order_relaxed);
    set_goal(marked, stacks, globals);
}

int mgc_set_gc_percent(int percent)
{
    mgc__ensure_init();
    /* Under the gc lock, so the new goal is computed from a finished cycle's
       figures and no cycle is half-way (Go also waits for marking). */
    int cs = mgc__gc_lock();
    int old = atomic_exchange_explicit(&mgc__pacer.gc_percent, percent < 0 ? -1 : percent,
                                       memory_order_relaxed);
    set_goal(mgc__pacer.heap_marked, mgc__pacer.stack_scan, mgc__pacer.globals_scan);
    mgc__gc_unlock(cs);
    /* A lower goal may already be exceeded: collect now rather than at the
       next refill. */
    mgc__gc_maybe();
    return old;
}
