/* GODEBUG=gctrace=1: one line per cycle on stderr in Go's format, with
   figures that match what the program did (the goal is the one the cycle
   ran under, as Go's work.heapGoal). */
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

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "child")) {
        child();
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
    c.stwprocs = 2;
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
                       "9->9->3 MB, 6 MB goal, 1 MB stacks, 0 MB globals, 2 P (forced)\n";
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
    return 0;
}
