/*
 * mgc-bench — the benchmark driver (bench/README.md).
 *
 * Runs every workload binary of every system, round-robin, N times each;
 * measures each run's wall time (clock_gettime around fork/exec/wait4) and
 * peak RSS (the child's ru_maxrss from wait4); parses the one
 *   RESULT key=value ...
 * line the workload prints (collector cycles and pauses, stalls, checks, and
 * workload-specific figures); prints one table per workload with min /
 * median / max wall time and ratios against mgc; writes the same as JSON and
 * Markdown: <out>/<timestamp>.{json,md} and <out>/latest.{json,md}.
 *
 *   mgc-bench [--quick] [--runs N] [--bindir DIR] [--out DIR]
 *             [--only WORKLOAD,...] [--systems SYS,...] [--timeout SECONDS]
 *
 * Binaries: <bindir>/bin/<workload>-<system>. Which systems were built and
 * why others were not: <bindir>/systems.txt (written by CMake), then
 * <bindir>/run-status.txt (written by run.sh: what it skipped, and Go),
 * lines "<system> yes|no <why>"; a later line for a system wins.
 * Versions for the report: <bindir>/versions.txt, lines "<name>: <version>".
 *
 * A workload that cannot run a variant prints "SKIP <reason>" and exits 77:
 * the row is reported as skipped with that reason. A run that fails (non-zero
 * exit, signal, timeout, no RESULT line) is reported with the reason and the
 * row is not run again; the rest of the suite carries on.
 *
 * Workloads run with GOGC, GODEBUG, GOMEMLIMIT, GOMAXPROCS and the
 * comparators' tuning variables removed from the environment.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the plan -------------------------------------------------------------- */

typedef struct {
    const char *workload;   /* one table per workload */
    const char *bin;        /* binary name prefix */
    const char *name;       /* the case, a row group in the table */
    const char *args_full;  /* arguments after the mode */
    const char *name_quick; /* the same for QUICK=1 */
    const char *args_quick;
    int runs;               /* full-mode runs if fewer than --runs */
    int timeout;            /* seconds one full-mode run may take (QUICK: 60) */
    const char *rows;       /* "system[:mode] ...": mode defaults to drop for
                               collectors, free for malloc systems */
} case_def;

#define ROWS_ALL "mgc boehm go glibc mimalloc jemalloc tcmalloc"
#define ROWS_CHURN "mgc boehm go glibc jemalloc"
#define ROWS_FREE "mgc mgc:free boehm boehm:free go glibc mimalloc jemalloc tcmalloc"
#define ROWS_BUILDER                                                                  \
    "mgc mgc:free mgc:realloc mgc:exact boehm boehm:free boehm:realloc boehm:exact " \
    "go go:exact glibc glibc:realloc glibc:exact mimalloc mimalloc:realloc "          \
    "mimalloc:exact jemalloc jemalloc:realloc jemalloc:exact tcmalloc "               \
    "tcmalloc:realloc tcmalloc:exact"

/* Sizes are chosen so that the full suite stays under 10 minutes on a
   2-core machine (docs/benchmarks.md says what was measured). */
static const case_def plan[] = {
    {"binary-trees", "binary_trees", "depth 18", "18", "depth 12", "12", 0, 60, ROWS_ALL},
    {"binary-trees", "binary_trees", "depth 21", "21", "depth 14", "14", 3, 180, ROWS_ALL},
    {"gcbench", "gcbench", "classic: 18/16/16, 500k doubles", "18 16 16 500000",
     "small: 14/12/12, 50k doubles", "14 12 12 50000", 0, 60, ROWS_ALL},
    {"builder", "builder", "64 KiB results, 256 MiB built", "65536 268435456",
     "64 KiB results, 8 MiB built", "65536 8388608", 0, 60, ROWS_BUILDER},
    {"builder", "builder", "1 MiB results, 256 MiB built", "1048576 268435456",
     "1 MiB results, 8 MiB built", "1048576 8388608", 0, 60, ROWS_BUILDER},
    {"fastpath", "fastpath", "pairs, 1 thread", "pairs 1 1", "pairs, 1 thread", "pairs 1 0.05", 0,
     60, ROWS_FREE},
    {"fastpath", "fastpath", "batch, 1 thread", "batch 1 1", "batch, 1 thread", "batch 1 0.05", 0,
     60, ROWS_FREE},
    {"fastpath", "fastpath", "pairs, 2 threads", "pairs 2 1", "pairs, 2 threads", "pairs 2 0.05",
     0, 60, ROWS_FREE},
    {"fastpath", "fastpath", "batch, 2 threads", "batch 2 1", "batch, 2 threads", "batch 2 0.05",
     0, 60, ROWS_FREE},
    /* 1 GiB live costs 4-14 s a run (4-11 s in the quoted run): 3 runs,
       and the three collectors with two malloc baselines (glibc, the default; jemalloc, standing for
       mimalloc and tcmalloc, which behaved alike in trial runs) rather than
       all seven systems. docs/benchmarks.md says why. */
    {"churn", "churn", "1 GiB live, 3 rounds", "1024 3", "32 MiB live, 3 rounds", "32 3", 3, 180,
     ROWS_CHURN},
    {"mixed", "mixed", "100k requests, 50k-slot ring", "100000 50000",
     "5k requests, 2k-slot ring", "5000 2000", 0, 60, ROWS_FREE},
};
#define NPLAN (sizeof plan / sizeof plan[0])

static int opt_quick;

static const char *case_name(const case_def *d)
{
    return opt_quick ? d->name_quick : d->name;
}

static const char *const collectors[] = {"mgc", "boehm", "go"};

static int is_collector(const char *sys)
{
    for (size_t i = 0; i < sizeof collectors / sizeof collectors[0]; i++)
        if (strcmp(sys, collectors[i]) == 0)
            return 1;
    return 0;
}

static const char *default_mode(const char *sys)
{
    return is_collector(sys) ? "drop" : "free";
}

/* Environment variables removed before running a workload. */
static const char *const env_exact[] = {"GOGC", "GODEBUG", "GOMEMLIMIT", "GOMAXPROCS",
                                        "MALLOC_CONF", "GLIBC_TUNABLES", NULL};
static const char *const env_prefix[] = {"GC_", "MIMALLOC_", "TCMALLOC_", "MALLOC_", NULL};

/* ---- results --------------------------------------------------------------- */

#define MAX_RUNS 64
#define MAX_KEYS 24
#define MAX_ROWS 32

typedef struct {
    char key[32];
    double v[MAX_RUNS];
    char s[MAX_RUNS][24]; /* the text as printed (checks are compared as text) */
} metric;

typedef struct {
    char sys[16], mode[16], label[40];
    char path[1024];
    int state; /* 0 active, 1 skipped, 2 failed, 3 done */
    char reason[256];
    int n; /* successful runs */
    double wall[MAX_RUNS];
    double rss_kib[MAX_RUNS];
    double cpu[MAX_RUNS];
    metric m[MAX_KEYS];
    int nm;
    double med, lo, hi, rss_med, cpu_med;
} row;

typedef struct {
    const case_def *def;
    row r[MAX_ROWS];
    int nr;
    int runs;
    char check_note[256];
} case_res;

static case_res results[NPLAN];

/* ---- options and context ---------------------------------------------------- */

static int opt_runs = 5, opt_timeout = 0;
static const char *opt_bindir = "build/bench", *opt_out = "bench/results";
static const char *opt_only, *opt_systems;

typedef struct {
    char sys[16];
    int ok;
    char why[256];
} sys_status;
static sys_status statuses[32];
static int nstatus;

static char versions[64][256];
static int nversions;

/* The 1-minute load average: the machine's other work, recorded with the
   results because it moves them. */
static double loadavg1(void)
{
    double l = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = NAN;
        fclose(f);
    }
    return l;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mgc-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = 0;
}

static void read_status(const char *file)
{
    char path[1200], line[512];
    snprintf(path, sizeof path, "%s/%s", opt_bindir, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f) && nstatus < 32) {
        chomp(line);
        char sys[16] = "", ok[8] = "";
        int off = 0;
        if (sscanf(line, "%15s %7s %n", sys, ok, &off) < 2)
            continue;
        sys_status *s = NULL;
        for (int i = 0; i < nstatus; i++)
            if (strcmp(statuses[i].sys, sys) == 0)
                s = &statuses[i];
        if (!s)
            s = &statuses[nstatus++];
        snprintf(s->sys, sizeof s->sys, "%s", sys);
        s->ok = strcmp(ok, "yes") == 0;
        snprintf(s->why, sizeof s->why, "%s", line + off);
    }
    fclose(f);
}

static const sys_status *status_of(const char *sys)
{
    for (int i = 0; i < nstatus; i++)
        if (strcmp(statuses[i].sys, sys) == 0)
            return &statuses[i];
    return NULL;
}

static void read_versions(void)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/versions.txt", opt_bindir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (nversions < 64 && fgets(versions[nversions], sizeof versions[0], f)) {
        chomp(versions[nversions]);
        if (versions[nversions][0])
            nversions++;
    }
    fclose(f);
}

/* Whether plan[ci] is its workload's last case (a workload is selected or
   left out whole, so its cases all run or none does). */
static int last_case_of_workload(size_t ci)
{
    for (size_t k = ci + 1; k < NPLAN; k++)
        if (strcmp(plan[k].workload, plan[ci].workload) == 0)
            return 0;
    return 1;
}

static int in_list(const char *list, const char *word)
{
    if (!list || !*list)
        return 1;
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, word, n) == 0)
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

/* ---- running one workload --------------------------------------------------- */

static volatile sig_atomic_t alarmed;
static void on_alarm(int sig)
{
    (void)sig;
    alarmed = 1;
}

static void clean_env(void)
{
    extern char **environ;
    for (int i = 0; env_exact[i]; i++)
        unsetenv(env_exact[i]);
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; e && *e; e++) {
            for (int i = 0; env_prefix[i]; i++) {
                if (strncmp(*e, env_prefix[i], strlen(env_prefix[i])) == 0) {
                    char name[256];
                    size_t n = strcspn(*e, "=");
                    if (n >= sizeof name)
                        n = sizeof name - 1;
                    memcpy(name, *e, n);
                    name[n] = 0;
                    unsetenv(name);
                    again = 1;
                    break;
                }
            }
            if (again)
                break;
        }
    }
}

typedef struct {
    int ok;            /* 1 result, 0 failed, 2 skipped */
    char reason[256];  /* failure or skip reason */
    double wall;       /* seconds */
    double rss_kib;
    double cpu;        /* user + system seconds, all threads */
    char result[2048]; /* the RESULT line, after "RESULT" */
} run_out;

static char *read_all(int fd)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        die("out of memory");
    lseek(fd, 0, SEEK_SET);
    for (;;) {
        if (n + 4096 > cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                die("out of memory");
            buf = nb;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = 0;
    return buf;
}

/* The last few lines of output, for a failure message. */
static void tail_of(const char *out, char *dst, size_t cap)
{
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
        n--;
    size_t start = n;
    int lines = 0;
    while (start > 0 && lines < 2) {
        start--;
        if (out[start] == '\n')
            lines++;
    }
    if (out[start] == '\n')
        start++;
    size_t len = n - start;
    if (len > cap - 1)
        start = n - (len = cap - 1);
    memcpy(dst, out + start, len);
    dst[len] = 0;
    for (char *p = dst; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
}

static run_out run_one(const char *path, const char *mode, const char *args, int timeout)
{
    run_out o;
    memset(&o, 0, sizeof o);
    char *argv[32], argbuf[512];
    int argc = 0;
    argv[argc++] = (char *)path;
    argv[argc++] = (char *)mode;
    snprintf(argbuf, sizeof argbuf, "%s", args);
    for (char *tok = strtok(argbuf, " "); tok && argc < 31; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    argv[argc] = NULL;

    char tmpl[] = "/tmp/mgc-bench-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0)
        die("mkstemp: %s", strerror(errno));
    unlink(tmpl);

    fflush(stdout);
    fflush(stderr);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        clean_env();
        execv(path, argv);
        fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: wait4 returns EINTR */
    sigaction(SIGALRM, &sa, NULL);
    alarmed = 0;
    alarm((unsigned)timeout);
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    int timed_out = 0;
    for (;;) {
        pid_t w = wait4(pid, &st, 0, &ru);
        if (w == pid)
            break;
        if (w < 0 && errno == EINTR && alarmed) {
            kill(pid, SIGKILL);
            timed_out = 1;
            alarmed = 0;
            continue;
        }
        if (w < 0 && errno != EINTR)
            die("wait4: %s", strerror(errno));
    }
    alarm(0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    o.wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    o.rss_kib = (double)ru.ru_maxrss;
    o.cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
            (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;

    char *out = read_all(fd);
    close(fd);
    char tail[200];
    tail_of(out, tail, sizeof tail);
    if (timed_out) {
        snprintf(o.reason, sizeof o.reason, "timed out after %d s", timeout);
    } else if (WIFSIGNALED(st)) {
        snprintf(o.reason, sizeof o.reason, "killed by signal %d (%s): %s", WTERMSIG(st),
                 strsignal(WTERMSIG(st)), tail);
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
        char *s = strstr(out, "SKIP ");
        o.ok = 2;
        snprintf(o.reason, sizeof o.reason, "%s", s ? s + 5 : "skipped");
        chomp(o.reason);
        char *nl = strchr(o.reason, '\n');
        if (nl)
            *nl = 0;
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(o.reason, sizeof o.reason, "exit status %d: %s", WEXITSTATUS(st), tail);
    } else {
        char *last = NULL;
        for (char *p = out; (p = strstr(p, "RESULT")); p++)
            if (p == out || p[-1] == '\n')
                last = p;
        if (!last) {
            snprintf(o.reason, sizeof o.reason, "no RESULT line: %s", tail);
        } else {
            size_t len = strcspn(last + 6, "\n");
            if (len >= sizeof o.result)
                len = sizeof o.result - 1;
            memcpy(o.result, last + 6, len);
            o.result[len] = 0;
            o.ok = 1;
        }
    }
    free(out);
    return o;
}

static metric *metric_of(row *r, const char *key)
{
    for (int i = 0; i < r->nm; i++)
        if (strcmp(r->m[i].key, key) == 0)
            return &r->m[i];
    if (r->nm == MAX_KEYS)
        return NULL;
    metric *m = &r->m[r->nm++];
    memset(m, 0, sizeof *m);
    snprintf(m->key, sizeof m->key, "%s", key);
    for (int i = 0; i < MAX_RUNS; i++)
        m->v[i] = NAN;
    return m;
}

static void record(row *r, const run_out *o)
{
    int k = r->n++;
    r->wall[k] = o->wall;
    r->rss_kib[k] = o->rss_kib;
    r->cpu[k] = o->cpu;
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", o->result);
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
        char *eq = strchr(tok, '=');
        if (!eq)
            continue;
        *eq = 0;
        metric *m = metric_of(r, tok);
        if (!m)
            continue;
        m->v[k] = strtod(eq + 1, NULL);
        snprintf(m->s[k], sizeof m->s[k], "%s", eq + 1);
    }
}

/* ---- statistics ------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_of(const double *v, int n)
{
    double t[MAX_RUNS];
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i]))
            t[k++] = v[i];
    if (k == 0)
        return NAN;
    qsort(t, (size_t)k, sizeof t[0], cmp_d);
    return k % 2 ? t[k / 2] : (t[k / 2 - 1] + t[k / 2]) / 2;
}

static double mmin(const double *v, int n)
{
    double m = NAN;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i]) && (isnan(m) || v[i] < m))
            m = v[i];
    return m;
}

static double mmax(const double *v, int n)
{
    double m = NAN;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i]) && (isnan(m) || v[i] > m))
            m = v[i];
    return m;
}

static double metric_median(row *r, const char *key)
{
    for (int i = 0; i < r->nm; i++)
        if (strcmp(r->m[i].key, key) == 0)
            return median_of(r->m[i].v, r->n);
    return NAN;
}

static void summarise(case_res *c)
{
    for (int i = 0; i < c->nr; i++) {
        row *r = &c->r[i];
        if (r->n == 0)
            continue;
        r->med = median_of(r->wall, r->n);
        r->lo = mmin(r->wall, r->n);
        r->hi = mmax(r->wall, r->n);
        r->rss_med = median_of(r->rss_kib, r->n);
        r->cpu_med = median_of(r->cpu, r->n);
    }
    /* Every system must compute the same thing: compare the checks. */
    const char *ref = NULL, *ref_label = NULL;
    for (int i = 0; i < c->nr; i++) {
        row *r = &c->r[i];
        for (int j = 0; j < r->nm; j++) {
            if (strcmp(r->m[j].key, "check") != 0)
                continue;
            for (int k = 0; k < r->n; k++) {
                if (!ref) {
                    ref = r->m[j].s[k];
                    ref_label = r->label;
                } else if (strcmp(ref, r->m[j].s[k]) != 0 && !c->check_note[0]) {
                    snprintf(c->check_note, sizeof c->check_note,
                             "CHECK MISMATCH: %s computed %s, %s computed %s", ref_label, ref,
                             r->label, r->m[j].s[k]);
                }
            }
        }
    }
}

/* The mgc row a row is compared with ("x mgc"):
     - mgc's own rows, and malloc systems in their one mode (free): plain mgc,
       the collector reclaiming dropped objects (mode drop);
     - every other row (Boehm and Go, and variants such as realloc or exact):
       mgc in the same mode, so like is compared with like; plain mgc if mgc
       has no such row. */
static row *reference(case_res *c, row *r)
{
    row *same = NULL, *dflt = NULL;
    for (int i = 0; i < c->nr; i++) {
        row *m = &c->r[i];
        if (strcmp(m->sys, "mgc") != 0 || m->n == 0)
            continue;
        if (strcmp(m->mode, r->mode) == 0)
            same = m;
        if (strcmp(m->mode, "drop") == 0)
            dflt = m;
    }
    int like = strcmp(r->sys, "mgc") != 0 &&
               (is_collector(r->sys) || strcmp(r->mode, default_mode(r->sys)) != 0);
    return like && same ? same : dflt;
}

/* ---- output ----------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0)
            die("vsnprintf failed");
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t nc = b->cap ? b->cap * 2 : 65536;
        while (nc < b->n + (size_t)k + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np)
            die("out of memory");
        b->p = np;
        b->cap = nc;
    }
}

static void sb_json_str(sbuf *b, const char *s)
{
    sb_printf(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            sb_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            sb_printf(b, "\\u%04x", ch);
        else
            sb_printf(b, "%c", ch);
    }
    sb_printf(b, "\"");
}

static void sb_json_num(sbuf *b, double v)
{
    if (isnan(v) || isinf(v))
        sb_printf(b, "null");
    else
        sb_printf(b, "%.9g", v);
}

/* "\"median\": m, \"min\": lo, \"max\": hi" of a run series. */
static void sb_json_spread(sbuf *b, double med, double lo, double hi)
{
    sb_printf(b, "\"median\": ");
    sb_json_num(b, med);
    sb_printf(b, ", \"min\": ");
    sb_json_num(b, lo);
    sb_printf(b, ", \"max\": ");
    sb_json_num(b, hi);
}

/* ", \"runs\": [v0, v1, ...]": the n values of a run series. */
static void sb_json_runs(sbuf *b, const double *v, int n)
{
    sb_printf(b, ", \"runs\": [");
    for (int k = 0; k < n; k++) {
        sb_printf(b, k ? ", " : "");
        sb_json_num(b, v[k]);
    }
    sb_printf(b, "]");
}

/* Keys of a workload's RESULT lines that get their own column, in order of
   first appearance. The collector keys have fixed columns. */
static int is_fixed_key(const char *k)
{
    static const char *const fixed[] = {"check", "cycles", "pause_max_ns", "pause_p99_ns",
                                        "pause_total_ns", "pause_samples", "pause_lost",
                                        "live_bytes", NULL};
    for (int i = 0; fixed[i]; i++)
        if (strcmp(k, fixed[i]) == 0)
            return 1;
    return 0;
}

static void fmt_num(char *dst, size_t cap, double v)
{
    if (isnan(v))
        snprintf(dst, cap, "-");
    else if (fabs(v) < 10)
        snprintf(dst, cap, "%.2f", v);
    else if (fabs(v) < 1000)
        snprintf(dst, cap, "%.1f", v);
    else
        snprintf(dst, cap, "%.0f", v);
}

static void fmt_ratio(char *dst, size_t cap, double v)
{
    if (isnan(v))
        snprintf(dst, cap, "-");
    else
        snprintf(dst, cap, "%.2f", v);
}

/* Builds the table of one workload as rows of cells; prints it aligned to
   stdout (print) and appends it as Markdown to md (if not NULL). */
static void emit_table(const char *workload, sbuf *md, int print)
{
    /* Collect the rows and the extra keys. */
    char extra[16][32];
    int nextra = 0, has_gc = 0, has_live = 0;
    for (size_t ci = 0; ci < NPLAN; ci++) {
        case_res *c = &results[ci];
        if (!c->def || strcmp(c->def->workload, workload) != 0)
            continue;
        for (int i = 0; i < c->nr; i++) {
            row *r = &c->r[i];
            for (int j = 0; j < r->nm; j++) {
                const char *k = r->m[j].key;
                if (strcmp(k, "cycles") == 0)
                    has_gc = 1;
                if (strcmp(k, "live_bytes") == 0)
                    has_live = 1;
                if (is_fixed_key(k))
                    continue;
                int seen = 0;
                for (int e = 0; e < nextra; e++)
                    seen |= strcmp(extra[e], k) == 0;
                if (!seen && nextra < 16)
                    snprintf(extra[nextra++], sizeof extra[0], "%s", k);
            }
        }
    }

    enum { MAXC = 32, MAXR = 256 };
    const char *head[MAXC];
    int nc = 0;
    head[nc++] = "case";
    head[nc++] = "system";
    head[nc++] = "runs";
    head[nc++] = "median s";
    head[nc++] = "min s";
    head[nc++] = "max s";
    head[nc++] = "x mgc";
    head[nc++] = "CPU s";
    head[nc++] = "RSS MiB";
    head[nc++] = "RSS x mgc";
    if (has_live)
        head[nc++] = "RSS/live";
    if (has_gc) {
        head[nc++] = "cycles";
        head[nc++] = "max pause ms";
        head[nc++] = "p99 pause ms";
    }
    int first_extra = nc;
    for (int e = 0; e < nextra; e++)
        head[nc++] = extra[e];

    static char cells[MAXR][MAXC][48];
    int nrow = 0;
    char notes[64][320];
    int nnotes = 0;
    for (size_t ci = 0; ci < NPLAN; ci++) {
        case_res *c = &results[ci];
        if (!c->def || strcmp(c->def->workload, workload) != 0)
            continue;
        int first = 1;
        for (int i = 0; i < c->nr && nrow < MAXR; i++) {
            row *r = &c->r[i];
            if (r->state == 1 || (r->state == 2 && r->n == 0)) {
                /* A system left out is one note, whatever the modes. */
                const sys_status *s = status_of(r->sys);
                const char *who = r->state == 1 && s && !s->ok ? r->sys : r->label;
                char note[320];
                if (r->state == 1)
                    snprintf(note, sizeof note, "skipped %s: %s", who, r->reason);
                else
                    snprintf(note, sizeof note, "FAILED %s (%s): %s", who, case_name(c->def),
                             r->reason);
                int dup = 0;
                for (int k = 0; k < nnotes; k++)
                    dup |= strcmp(notes[k], note) == 0;
                if (!dup && nnotes < 64)
                    snprintf(notes[nnotes++], sizeof notes[0], "%s", note);
                continue;
            }
            char(*cl)[48] = cells[nrow++];
            for (int k = 0; k < nc; k++)
                snprintf(cl[k], 48, "-");
            snprintf(cl[0], 48, "%s", first ? case_name(c->def) : "");
            first = 0;
            snprintf(cl[1], 48, "%s%s", r->label, r->state == 2 ? " (FAILED)" : "");
            snprintf(cl[2], 48, "%d", r->n);
            snprintf(cl[3], 48, "%.3f", r->med);
            snprintf(cl[4], 48, "%.3f", r->lo);
            snprintf(cl[5], 48, "%.3f", r->hi);
            row *ref = reference(c, r);
            fmt_ratio(cl[6], 48, ref ? r->med / ref->med : NAN);
            snprintf(cl[7], 48, "%.3f", r->cpu_med);
            fmt_num(cl[8], 48, r->rss_med / 1024.0);
            fmt_ratio(cl[9], 48, ref ? r->rss_med / ref->rss_med : NAN);
            int col = 10;
            if (has_live) {
                double live = metric_median(r, "live_bytes");
                fmt_ratio(cl[col++], 48, r->rss_med * 1024.0 / live);
            }
            if (has_gc) {
                double cy = metric_median(r, "cycles");
                if (!isnan(cy)) {
                    snprintf(cl[col], 48, "%.0f", cy);
                    fmt_num(cl[col + 1], 48, metric_median(r, "pause_max_ns") / 1e6);
                    fmt_num(cl[col + 2], 48, metric_median(r, "pause_p99_ns") / 1e6);
                    if (!isnan(metric_median(r, "pause_lost")))
                        strncat(cl[col + 2], "*", 47 - strlen(cl[col + 2]));
                }
                col += 3;
            }
            for (int e = 0; e < nextra; e++)
                fmt_num(cl[first_extra + e], 48, metric_median(r, extra[e]));
            if (r->state == 2) {
                char note[320];
                snprintf(note, sizeof note, "FAILED %s (%s) after %d good run(s): %s", r->label,
                         case_name(c->def), r->n, r->reason);
                if (nnotes < 64)
                    snprintf(notes[nnotes++], sizeof notes[0], "%s", note);
            }
        }
        if (c->check_note[0] && nnotes < 64)
            snprintf(notes[nnotes++], sizeof notes[0], "%s: %s", case_name(c->def), c->check_note);
    }

    /* Aligned text. */
    if (print) {
        int w[MAXC];
        for (int k = 0; k < nc; k++) {
            w[k] = (int)strlen(head[k]);
            for (int i = 0; i < nrow; i++)
                if ((int)strlen(cells[i][k]) > w[k])
                    w[k] = (int)strlen(cells[i][k]);
        }
        printf("\n== %s == (wall time of the process over the runs; x mgc = median / mgc's "
               "median; the other columns are medians)\n",
               workload);
        for (int k = 0; k < nc; k++)
            printf(k < 2 ? "%-*s  " : "%*s  ", w[k], head[k]);
        printf("\n");
        for (int i = 0; i < nrow; i++) {
            for (int k = 0; k < nc; k++)
                printf(k < 2 ? "%-*s  " : "%*s  ", w[k], cells[i][k]);
            printf("\n");
        }
        for (int k = 0; k < nnotes; k++)
            printf("  %s\n", notes[k]);
        fflush(stdout);
    }
    if (!md)
        return;

    /* Markdown. */
    sb_printf(md, "\n### %s\n\n", workload);
    for (size_t ci = 0; ci < NPLAN; ci++)
        if (results[ci].def && strcmp(results[ci].def->workload, workload) == 0)
            sb_printf(md, "- %s: `%s-<system> <mode> %s`, %d run(s)\n", case_name(results[ci].def),
                      results[ci].def->bin, opt_quick ? results[ci].def->args_quick
                                                      : results[ci].def->args_full,
                      results[ci].runs);
    sb_printf(md, "\n|");
    for (int k = 0; k < nc; k++)
        sb_printf(md, " %s |", head[k]);
    sb_printf(md, "\n|");
    for (int k = 0; k < nc; k++)
        sb_printf(md, k < 2 ? " --- |" : " ---: |");
    sb_printf(md, "\n");
    for (int i = 0; i < nrow; i++) {
        sb_printf(md, "|");
        for (int k = 0; k < nc; k++)
            sb_printf(md, " %s |", cells[i][k]);
        sb_printf(md, "\n");
    }
    if (nnotes)
        sb_printf(md, "\n");
    for (int k = 0; k < nnotes; k++)
        sb_printf(md, "- %s\n", notes[k]);
}

static void emit_json_row(sbuf *j, case_res *c, row *r)
{
    sb_printf(j, "        {\"system\": ");
    sb_json_str(j, r->sys);
    sb_printf(j, ", \"mode\": ");
    sb_json_str(j, r->mode);
    sb_printf(j, ", \"label\": ");
    sb_json_str(j, r->label);
    const char *st = r->state == 1 ? "skipped" : r->state == 2 ? "failed" : "ok";
    sb_printf(j, ", \"status\": \"%s\"", st);
    if (r->reason[0]) {
        sb_printf(j, ", \"reason\": ");
        sb_json_str(j, r->reason);
    }
    if (r->n > 0) {
        row *ref = reference(c, r);
        sb_printf(j, ",\n         \"wall_s\": {");
        sb_json_spread(j, r->med, r->lo, r->hi);
        sb_json_runs(j, r->wall, r->n);
        sb_printf(j, "}, \"cpu_s\": {\"median\": ");
        sb_json_num(j, r->cpu_med);
        sb_json_runs(j, r->cpu, r->n);
        sb_printf(j, "}, \"ratio_vs_mgc\": ");
        sb_json_num(j, ref ? r->med / ref->med : NAN);
        sb_printf(j, ",\n         \"peak_rss_kib\": {\"median\": ");
        sb_json_num(j, r->rss_med);
        sb_json_runs(j, r->rss_kib, r->n);
        sb_printf(j, "}, \"rss_ratio_vs_mgc\": ");
        sb_json_num(j, ref ? r->rss_med / ref->rss_med : NAN);
        sb_printf(j, ",\n         \"metrics\": {");
        for (int m = 0; m < r->nm; m++) {
            sb_printf(j, m ? ", " : "");
            sb_json_str(j, r->m[m].key);
            if (strcmp(r->m[m].key, "check") == 0) {
                sb_printf(j, ": {\"runs\": [");
                for (int k = 0; k < r->n; k++) {
                    sb_printf(j, k ? ", " : "");
                    sb_json_str(j, r->m[m].s[k]);
                }
                sb_printf(j, "]}");
                continue;
            }
            sb_printf(j, ": {");
            sb_json_spread(j, median_of(r->m[m].v, r->n), mmin(r->m[m].v, r->n), mmax(r->m[m].v, r->n));
            sb_json_runs(j, r->m[m].v, r->n);
            sb_printf(j, "}");
        }
        sb_printf(j, "}");
    }
    sb_printf(j, "}");
}

/* ---- main ------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: mgc-bench [--quick] [--runs N] [--bindir DIR] [--out DIR]\n"
            "                 [--only WORKLOAD,...] [--systems SYSTEM,...] [--timeout SECONDS]\n"
            "workloads:");
    const char *last = "";
    for (size_t i = 0; i < NPLAN; i++)
        if (strcmp(plan[i].workload, last) != 0)
            fprintf(stderr, " %s", last = plan[i].workload);
    fprintf(stderr, "\nsystems: mgc boehm go glibc mimalloc jemalloc tcmalloc\n");
    exit(64);
}

static void write_file(const char *dir, const char *name, const sbuf *b)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(b->p, 1, b->n, f) != b->n || fclose(f) != 0)
        die("cannot write %s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0)
            opt_quick = 1;
        else if (strcmp(a, "--runs") == 0 && v)
            opt_runs = atoi(argv[++i]);
        else if (strcmp(a, "--bindir") == 0 && v)
            opt_bindir = argv[++i];
        else if (strcmp(a, "--out") == 0 && v)
            opt_out = argv[++i];
        else if (strcmp(a, "--only") == 0 && v)
            opt_only = argv[++i];
        else if (strcmp(a, "--systems") == 0 && v)
            opt_systems = argv[++i];
        else if (strcmp(a, "--timeout") == 0 && v)
            opt_timeout = atoi(argv[++i]);
        else
            usage();
    }
    if (opt_runs < 1 || opt_runs > MAX_RUNS)
        die("--runs must be 1..%d", MAX_RUNS);
    setvbuf(stdout, NULL, _IOLBF, 0);
    read_status("systems.txt");
    read_status("run-status.txt");
    read_versions();

    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32], iso[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    struct utsname un;
    uname(&un);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double mem_gib = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / 1073741824.0;

    double load_start = loadavg1();
    printf("mgc-bench: %s, %s %s, %ld CPUs, %.1f GiB RAM, load %.2f, %s\n", iso, un.sysname,
           un.release, ncpu, mem_gib, load_start,
           opt_quick ? "QUICK: 1 run, small sizes" : "full run");
    if (load_start > 0.5 * (double)ncpu)
        printf("  note: the machine is busy (load %.2f on %ld CPUs): figures will be noisy\n",
               load_start, ncpu);
    static const char *const all_sys[] = {"mgc", "boehm", "go", "glibc", "mimalloc", "jemalloc",
                                          "tcmalloc"};
    for (size_t i = 0; i < sizeof all_sys / sizeof all_sys[0]; i++) {
        const sys_status *s = status_of(all_sys[i]);
        if (!in_list(opt_systems, all_sys[i]))
            printf("  %-9s not selected (--systems)\n", all_sys[i]);
        else if (!s)
            printf("  %-9s skipped: no build status (run bench/run.sh)\n", all_sys[i]);
        else if (!s->ok)
            printf("  %-9s skipped: %s\n", all_sys[i], s->why);
        else
            printf("  %-9s %s\n", all_sys[i], s->why);
    }

    /* Run the plan, one case at a time; inside a case, round-robin. */
    for (size_t ci = 0; ci < NPLAN; ci++) {
        const case_def *d = &plan[ci];
        if (!in_list(opt_only, d->workload))
            continue;
        case_res *c = &results[ci];
        c->def = d;
        c->runs = opt_quick ? 1 : (d->runs && d->runs < opt_runs ? d->runs : opt_runs);
        char spec[1024];
        snprintf(spec, sizeof spec, "%s", d->rows);
        char *save = NULL;
        for (char *tok = strtok_r(spec, " ", &save); tok && c->nr < MAX_ROWS;
             tok = strtok_r(NULL, " ", &save)) {
            row *r = &c->r[c->nr];
            memset(r, 0, sizeof *r);
            char *colon = strchr(tok, ':');
            if (colon)
                *colon = 0;
            const char *sys = tok, *mode = colon ? colon + 1 : default_mode(tok);
            if (!in_list(opt_systems, sys))
                continue;
            c->nr++;
            snprintf(r->sys, sizeof r->sys, "%s", sys);
            snprintf(r->mode, sizeof r->mode, "%s", mode);
            if (strcmp(mode, default_mode(sys)) == 0)
                snprintf(r->label, sizeof r->label, "%s", sys);
            else
                snprintf(r->label, sizeof r->label, "%s %s", sys, mode);
            snprintf(r->path, sizeof r->path, "%s/bin/%s-%s", opt_bindir, d->bin, sys);
            const sys_status *s = status_of(r->sys);
            if (s && !s->ok) { /* a stale binary of a system now left out is not run */
                r->state = 1;
                snprintf(r->reason, sizeof r->reason, "%s", s->why);
            } else if (access(r->path, X_OK) != 0) {
                r->state = 1;
                snprintf(r->reason, sizeof r->reason, "binary not built (run bench/run.sh)");
            }
        }
        for (int run = 0; run < c->runs; run++) {
            fprintf(stderr, "%s / %s, run %d/%d:", d->workload, case_name(d), run + 1, c->runs);
            for (int k = 0; k < c->nr; k++) {
                row *r = &c->r[(k + run) % c->nr]; /* rotate the order every run */
                if (r->state != 0)
                    continue;
                int timeout = opt_timeout ? opt_timeout : opt_quick ? 60 : d->timeout;
                run_out o = run_one(r->path, r->mode, opt_quick ? d->args_quick : d->args_full,
                                    timeout);
                if (o.ok == 1) {
                    record(r, &o);
                    fprintf(stderr, " %s %.2fs", r->label, o.wall);
                } else if (o.ok == 2) {
                    r->state = 1;
                    snprintf(r->reason, sizeof r->reason, "%s", o.reason);
                    fprintf(stderr, " %s skipped", r->label);
                } else {
                    r->state = 2;
                    snprintf(r->reason, sizeof r->reason, "%s", o.reason);
                    fprintf(stderr, " %s FAILED", r->label);
                }
            }
            fprintf(stderr, "\n");
        }
        summarise(c);
        /* Print the workload's table once its last case is done. */
        if (last_case_of_workload(ci))
            emit_table(d->workload, NULL, 1);
    }

    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    double total = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    double load_end = loadavg1();

    /* Markdown. */
    sbuf md = {0};
    sb_printf(&md, "# mgc benchmark results, %s\n\n", iso);
    sb_printf(&md, "- machine: %s %s %s, %ld CPUs, %.1f GiB RAM\n", un.sysname, un.release,
              un.machine, ncpu, mem_gib);
    sb_printf(&md, "- mode: %s; suite time %.0f s; load average %.2f at the start, %.2f at the end\n",
              opt_quick ? "QUICK=1 (1 run, small sizes)" : "full", total, load_start, load_end);
    sb_printf(&md, "- reproduce: `make bench%s`\n", opt_quick ? " QUICK=1" : "");
    for (int i = 0; i < nversions; i++)
        sb_printf(&md, "- %s\n", versions[i]);
    sb_printf(&md,
              "\nWall time of the whole process (median, min, max over the runs) and its CPU "
              "time (all threads). x mgc = median / mgc's median in the same case: against "
              "plain mgc (the collector reclaims dropped objects) for mgc's own variants and "
              "the malloc systems; against mgc in the same mode for Boehm, Go and the "
              "realloc / exact variants. Peak RSS, cycles, pauses and the workloads' own "
              "figures are medians over the runs; pauses are each collector's own "
              "stop-the-world pauses (the longest and the p99 of a run).\n");
    for (size_t ci = 0; ci < NPLAN; ci++)
        if (results[ci].def && last_case_of_workload(ci))
            emit_table(results[ci].def->workload, &md, 0);

    /* JSON. */
    sbuf js = {0};
    sb_printf(&js, "{\n  \"timestamp\": \"%s\",\n  \"quick\": %s,\n  \"suite_seconds\": %.1f,\n",
              iso, opt_quick ? "true" : "false", total);
    sb_printf(&js, "  \"loadavg_start\": ");
    sb_json_num(&js, load_start);
    sb_printf(&js, ",\n  \"loadavg_end\": ");
    sb_json_num(&js, load_end);
    sb_printf(&js, ",\n  \"machine\": {\"kernel\": ");
    sb_json_str(&js, un.release);
    sb_printf(&js, ", \"arch\": ");
    sb_json_str(&js, un.machine);
    sb_printf(&js, ", \"cpus\": %ld, \"mem_gib\": %.1f},\n  \"versions\": [", ncpu, mem_gib);
    for (int i = 0; i < nversions; i++) {
        sb_printf(&js, i ? ", " : "");
        sb_json_str(&js, versions[i]);
    }
    sb_printf(&js, "],\n  \"systems\": {");
    for (int i = 0; i < nstatus; i++) {
        sb_printf(&js, i ? ", " : "");
        sb_json_str(&js, statuses[i].sys);
        sb_printf(&js, ": {\"available\": %s, \"note\": ", statuses[i].ok ? "true" : "false");
        sb_json_str(&js, statuses[i].why);
        sb_printf(&js, "}");
    }
    sb_printf(&js, "},\n  \"cases\": [\n");
    int firstc = 1;
    for (size_t ci = 0; ci < NPLAN; ci++) {
        case_res *c = &results[ci];
        if (!c->def)
            continue;
        sb_printf(&js, "%s    {\"workload\": ", firstc ? "" : ",\n");
        firstc = 0;
        sb_json_str(&js, c->def->workload);
        sb_printf(&js, ", \"case\": ");
        sb_json_str(&js, case_name(c->def));
        sb_printf(&js, ", \"binary\": ");
        sb_json_str(&js, c->def->bin);
        sb_printf(&js, ", \"args\": ");
        sb_json_str(&js, opt_quick ? c->def->args_quick : c->def->args_full);
        sb_printf(&js, ", \"runs\": %d", c->runs);
        if (c->check_note[0]) {
            sb_printf(&js, ", \"check_note\": ");
            sb_json_str(&js, c->check_note);
        }
        sb_printf(&js, ",\n      \"rows\": [\n");
        for (int i = 0; i < c->nr; i++) {
            emit_json_row(&js, c, &c->r[i]);
            sb_printf(&js, i + 1 < c->nr ? ",\n" : "\n");
        }
        sb_printf(&js, "      ]}");
    }
    sb_printf(&js, "\n  ]\n}\n");

    if (mkdir(opt_out, 0777) != 0 && errno != EEXIST)
        die("cannot create %s: %s", opt_out, strerror(errno));
    char name[64];
    snprintf(name, sizeof name, "%s.json", stamp);
    write_file(opt_out, name, &js);
    snprintf(name, sizeof name, "%s.md", stamp);
    write_file(opt_out, name, &md);
    write_file(opt_out, "latest.json", &js);
    write_file(opt_out, "latest.md", &md);
    printf("\nsuite time %.0f s; results: %s/%s.{json,md} (and latest.{json,md})\n", total, opt_out,
           stamp);
    /* Exit status: 1 if an mgc run failed or the systems disagree on a
       result; a comparator that fails is reported, not fatal. */
    int failed = 0, bad = 0;
    for (size_t ci = 0; ci < NPLAN; ci++) {
        bad |= results[ci].check_note[0] != 0;
        for (int i = 0; i < results[ci].nr; i++) {
            failed += results[ci].r[i].state == 2;
            bad |= results[ci].r[i].state == 2 && strcmp(results[ci].r[i].sys, "mgc") == 0;
        }
    }
    if (failed)
        printf("%d row(s) FAILED: see the notes under the tables\n", failed);
    return bad;
}
