/*
 * trace.c — GODEBUG=gctrace=1: one line per cycle on stderr, in Go's own
 * format (Go's mgc.go, gcMarkTermination), every figure measured:
 *
 *   gc N @Ts P%: a+b+c ms clock, d+e/f/g+h ms cpu, H0->H1->H2 MB, X MB goal,
 *   Y MB stacks, Z MB globals, W P [(forced)]
 *
 * a = stopping the world and sweep termination, b = marking, c = mark
 * termination and restart (wall clock). d and h are a and c times
 * min(GOMAXPROCS, CPUs), Go's work.stwprocs; W is GOMAXPROCS;
 * e (assists) and g (idle marking) are 0 while marking is stop-the-world; f
 * is the mark workers' CPU time. H0 = heap_live at the start, H1 at mark
 * termination, H2 = marked. Times under 10 ms print with two significant
 * digits, as Go's fmtNSAsMS does.
 */
#include "internal/trace.h"
#include "internal/os.h"
#include "internal/stats.h"

#include <stdio.h>

/* Go's fmtNSAsMS. */
static int fmt_ms(char *buf, size_t cap, uint64_t ns)
{
    if (ns >= 10000000u)
        return snprintf(buf, cap, "%llu", (unsigned long long)(ns / 1000000u));
    uint64_t x = ns / 1000u;
    if (x == 0)
        return snprintf(buf, cap, "0");
    int dec = 3;
    while (x >= 100) {
        x /= 10;
        dec--;
    }
    uint64_t p = 1;
    for (int i = 0; i < dec; i++)
        p *= 10;
    if (dec == 0)
        return snprintf(buf, cap, "%llu", (unsigned long long)x);
    return snprintf(buf, cap, "%llu.%0*llu", (unsigned long long)(x / p), dec, (unsigned long long)(x % p));
}

size_t mgc__trace_format(char *buf, size_t cap, const mgc_cycle *c, int cpu_percent)
{
    char t[5][32], k[5][32];
    uint64_t a = c->t_mark - c->t_start, b = c->t_markterm - c->t_mark, cc = c->t_end - c->t_markterm;
    fmt_ms(t[0], sizeof t[0], a);
    fmt_ms(t[1], sizeof t[1], b);
    fmt_ms(t[2], sizeof t[2], cc);
    fmt_ms(k[0], sizeof k[0], a * (uint64_t)c->stwprocs);
    fmt_ms(k[1], sizeof k[1], 0);
    fmt_ms(k[2], sizeof k[2], c->mark_cpu_ns);
    fmt_ms(k[3], sizeof k[3], 0);
    fmt_ms(k[4], sizeof k[4], cc * (uint64_t)c->stwprocs);
    uint64_t since = c->t_start - mgc__gc.start_ns;
    int n = snprintf(buf, cap,
                     "gc %llu @%llu.%03llus %d%%: %s+%s+%s ms clock, %s+%s/%s/%s+%s ms cpu, "
                     "%llu->%llu->%llu MB, %llu MB goal, %llu MB stacks, %llu MB globals, %d P%s\n",
                     (unsigned long long)c->num, (unsigned long long)(since / 1000000000u),
                     (unsigned long long)(since / 1000000u % 1000u), cpu_percent, t[0], t[1], t[2], k[0], k[1],
                     k[2], k[3], k[4], (unsigned long long)(c->heap0 >> 20), (unsigned long long)(c->heap1 >> 20),
                     (unsigned long long)(c->heap2 >> 20), (unsigned long long)(c->goal >> 20),
                     (unsigned long long)(c->stack_bytes >> 20), (unsigned long long)(c->global_bytes >> 20),
                     c->maxprocs, c->forced ? " (forced)" : "");
    return n < 0 ? 0 : ((size_t)n < cap ? (size_t)n : cap - 1);
}

void mgc__trace_cycle(const mgc_cycle *c)
{
    char buf[512];
    size_t n = mgc__trace_format(buf, sizeof buf, c, (int)(mgc__stats_gc_cpu_fraction() * 100));
    mgc__os_write_stderr(buf, n);
}
