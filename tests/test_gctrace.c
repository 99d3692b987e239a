/* GODEBUG=gctrace=1: one line per cycle on stderr in Go's format, with
   figures that match what the program did (the goal is the one the cycle
   ran under, as Go's work.heapGoal). */
#include "internal/env.h"
#include "internal/os.h"
#include "internal/trace.h"
#include "testing.h"
#include <mgc.h>
#include <regex.h>

/* 8 MiB of 1 KiB objects, live. Not static: the compiler must keep the
   stores, since another translation unit could read them. */
void *keep[8 << 10];

static void child(void)
{
    for (int i = 0; i < (int)(sizeof keep / sizeof keep[0]); i++)
        keep[i] = mgc_alloc(1024);
    for (int i = 0; i < 200000; i++) /* garbage: natural cycles */
        (void)!mgc_alloc(256);
    for (int i = 0; i < 3; i++) { /* the goal a forced cycle runs under */
        if (i == 2) /* the last one drops the live data: its goal and the next differ */
            memset(keep, 0, sizeof keep);
        mgc_memstats ms;
        mgc_read_memstats(&ms);
        fprintf(stderr, "goal-before %llu\n", (unsigned long long)(ms.next_gc >> 20));
        mgc_collect();
    }
}

/* Threads running loops free of mgc calls while the world stops:
   stopping them takes measurable time, so the STW phases are not all
   rounding. */
static atomic_int spinning, spinning_stop;
static void *spin(void *arg)
{
    (void)arg;
    atomic_fetch_add(&spinning, 1);
    volatile unsigned long x = 0;
    while (!atomic_load(&spinning_stop))
        x++;
    return NULL;
}

static void child_stw(void)
{
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(mgc_pthread_create(&t[i], NULL, spin, NULL), 0);
    while (atomic_load(&spinning) < 3)
        usleep(100);
    for (int i = 0; i < 5; i++)
        mgc_collect();
    atomic_store(&spinning_stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    /* MemStats counts each pause on min(GOMAXPROCS, ncpu) CPUs out of
       GOMAXPROCS: gc_cpu_fraction x wall x GOMAXPROCS / pause_total_ns is
       that CPU count, for the wall time since start-up that
       mgc_read_memstats reads (between w0 and w1). */
    int ncpu = mgc__os_ncpu(), procs = mgc__opts.gomaxprocs, stwprocs = procs < ncpu ? procs : ncpu;
    uint64_t w0 = mgc__os_nanotime() - mgc__gc.start_ns;
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    uint64_t w1 = mgc__os_nanotime() - mgc__gc.start_ns;
    CHECK(ms.pause_total_ns > 0);
    double per_ns = ms.gc_cpu_fraction * procs / (double)ms.pause_total_ns;
    CHECK_MSG(per_ns * (double)w0 <= stwprocs * (1 + 1e-9) && per_ns * (double)w1 >= stwprocs * (1 - 1e-9),
              "gc_cpu_fraction %g: pauses counted on %g to %g CPUs, not %d (GOMAXPROCS=%d, %d CPUs)",
              ms.gc_cpu_fraction, per_ns * (double)w0, per_ns * (double)w1, stwprocs, procs, ncpu);
}

/* A figure of the trace in ms, and the unit of its last digit (whole ms
   from 10 ms, else truncated microseconds with at most two significant
   digits, "0" under one): the true value lies in [figure, figure + unit). */
static double ms_at(const char *line, regmatch_t m, double *unit)
{
    char buf[32];
    size_t n = (size_t)(m.rm_eo - m.rm_so);
    CHECK(n > 0 && n < sizeof buf);
    memcpy(buf, line + m.rm_so, n);
    buf[n] = 0;
    const char *dot = strchr(buf, '.');
    *unit = 1;
    for (size_t i = dot ? strlen(dot + 1) : (strcmp(buf, "0") ? 0 : 3); i > 0; i--)
        *unit /= 10;
    return atof(buf);
}

/* GOMAXPROCS above the CPUs: the STW phases cost their wall time on
   min(GOMAXPROCS, ncpu) CPUs (Go's work.stwprocs), so the cpu figures d
   and h are a and c times that, not times GOMAXPROCS; " P" is still
   GOMAXPROCS. */
static void stw_cpu_is_clamped_to_ncpu(const char *argv0)
{
    int ncpu = mgc__os_ncpu(), procs = 4 * ncpu;
    if (procs > MGC_MAX_PROCS) {
        printf("stw_cpu_is_clamped_to_ncpu: skipped, %d CPUs\n", ncpu);
        return;
    }
    char gmp[32];
    snprintf(gmp, sizeof gmp, "GOMAXPROCS=%d", procs);
    const char *env[] = {"GODEBUG=gctrace=1", gmp, NULL};
    t_child ch;
    t_run_self(argv0, "stw", env, &ch);
    CHECK_MSG(WIFEXITED(ch.status) && WEXITSTATUS(ch.status) == 0, "child failed:\n%s", ch.err);
    regex_t re;
    CHECK(regcomp(&re,
                  "^gc [0-9]+ @[0-9]+\\.[0-9]{3}s [0-9]+%: ([0-9.]+)\\+[0-9.]+\\+([0-9.]+) ms clock, "
                  "([0-9.]+)\\+[0-9.]+/[0-9.]+/[0-9.]+\\+([0-9.]+) ms cpu, .* MB globals, ([0-9]+) P( \\(forced\\))?$",
                  REG_EXTENDED | REG_NEWLINE) == 0);
    int lines = 0;
    for (char *line = strtok(ch.err, "\n"); line; line = strtok(NULL, "\n")) {
        regmatch_t m[7];
        CHECK_MSG(regexec(&re, line, 7, m, 0) == 0, "not a gctrace line: %s", line);
        lines++;
        CHECK_MSG(atoi(line + m[5].rm_so) == procs, "GOMAXPROCS=%d printed as: %s", procs, line);
        for (int k = 0; k < 2; k++) { /* a with d, c with h */
            const char *phase = k ? "mark termination" : "sweep termination";
            double uclock, ucpu;
            double clock = ms_at(line, m[1 + k], &uclock), cpu = ms_at(line, m[3 + k], &ucpu);
            /* cpu = v x ncpu for the phase's wall time v in
               [clock, clock + uclock), and the figure printed is at most
               one unit of its last digit under it. */
            CHECK_MSG(cpu <= (clock + uclock) * ncpu * (1 + 1e-9),
                      "%s: %g ms cpu for %g ms clock on %d CPUs (GOMAXPROCS=%d): %s", phase, cpu, clock, ncpu,
                      procs, line);
            CHECK_MSG(cpu + ucpu >= clock * ncpu * (1 - 1e-9), "%s: %g ms cpu for %g ms clock on %d CPUs: %s",
                      phase, cpu, clock, ncpu, line);
        }
    }
    CHECK_MSG(lines == 5, "%d cycles, not 5", lines);
    regfree(&re);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "child")) {
        child();
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "stw")) {
        child_stw();
        return 0;
    }
    /* The formatter, figure by figure (Go's fmtNSAsMS: two significant
       digits under 10 ms, whole ms above). */
    mgc_cycle c = {0};
    c.num = 7;
    c.t_start = mgc__gc.start_ns + 1234567890; /* @1.234s */
    c.t_mark = c.t_start + 14000;              /* 0.014 */
    c.t_markterm = c.t_mark + 1520000;         /* 1.5 */
    c.t_end = c.t_markterm + 12345678;         /* 12 */
    c.stwprocs = 2; /* GOMAXPROCS=8 on 2 CPUs */
    c.maxprocs = 8;
    c.mark_cpu_ns = 523000; /* 0.52 */
    c.heap0 = 9u << 20;
    c.heap1 = 9u << 20;
    c.heap2 = 3u << 20;
    c.goal = 6u << 20;
    c.stack_bytes = 1u << 20;
    c.global_bytes = 0;
    c.forced = true;
    char buf[512];
    mgc__trace_format(buf, sizeof buf, &c, 3);
    const char *want = "gc 7 @1.234s 3%: 0.014+1.5+12 ms clock, 0.028+0/0.52/0+24 ms cpu, "
                       "9->9->3 MB, 6 MB goal, 1 MB stacks, 0 MB globals, 8 P (forced)\n";
    CHECK_MSG(!strcmp(buf, want), "got  %swant %s", buf, want);

    /* A real run. */
    const char *env[] = {"GODEBUG=gctrace=1", "GOMAXPROCS=2", NULL};
    t_child ch;
    t_run_self(argv[0], "child", env, &ch);
    CHECK_MSG(WIFEXITED(ch.status) && WEXITSTATUS(ch.status) == 0, "child failed:\n%s", ch.err);
    regex_t re;
    CHECK(regcomp(&re,
                  "^gc ([0-9]+) @[0-9]+\\.[0-9]{3}s [0-9]+%: [0-9.]+\\+[0-9.]+\\+[0-9.]+ ms clock, "
                  "[0-9.]+\\+[0-9.]+/[0-9.]+/[0-9.]+\\+[0-9.]+ ms cpu, ([0-9]+)->([0-9]+)->([0-9]+) MB, "
                  "([0-9]+) MB goal, [0-9]+ MB stacks, [0-9]+ MB globals, 2 P( \\(forced\\))?$",
                  REG_EXTENDED | REG_NEWLINE) == 0);
    int lines = 0, forced = 0, forced_live = -1, goal_before = -1;
    for (char *line = strtok(ch.err, "\n"); line; line = strtok(NULL, "\n")) {
        if (sscanf(line, "goal-before %d", &goal_before) == 1)
            continue;
        regmatch_t m[7];
        CHECK_MSG(regexec(&re, line, 7, m, 0) == 0, "not a gctrace line: %s", line);
        lines++;
        CHECK_EQ(atoi(line + m[1].rm_so), lines); /* numbered 1, 2, 3, ... */
        int h2 = atoi(line + m[4].rm_so), goal = atoi(line + m[5].rm_so);
        CHECK(goal >= 4);
        if (m[6].rm_so >= 0) {
            if (++forced == 2)
                forced_live = h2;
            /* This cycle's goal, not the one it sets for the next. */
            CHECK_MSG(goal == goal_before, "forced cycle printed goal %d MB, ran under %d MB: %s", goal,
                      goal_before, line);
        }
    }
    CHECK_EQ(forced, 3);
    CHECK_MSG(lines >= 5, "only %d cycles", lines);
    /* 8 MiB of 1 KiB objects were live at the first two forced cycles. */
    CHECK_MSG(forced_live >= 8 && forced_live <= 9, "live %d MB", forced_live);
    regfree(&re);

    stw_cpu_is_clamped_to_ncpu(argv[0]);
    return 0;
}
