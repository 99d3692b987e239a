/* Configuration from Go's environment variables: good values take effect,
   a bad value costs exactly one warning line naming the variable and the
   default is used. Each case runs this program afresh (options are read
   once, at start-up). */
#include "internal/env.h"
#include "internal/os.h"
#include "testing.h"
#include <mgc.h>

static void child(void)
{
    (void)!mgc_alloc(100);
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    printf("next_gc=%llu workers=%llu\n", (unsigned long long)ms.next_gc, (unsigned long long)ms.gc_workers);
}

static t_child run(const char *argv0, const char *a, const char *b)
{
    const char *env[] = {a, b, NULL};
    t_child c;
    t_run_self(argv0, "child", env, &c);
    CHECK_MSG(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "%s %s: status %d\n%s", a, b ? b : "",
              c.status, c.err);
    return c;
}

static void expect(const char *argv0, const char *a, const char *b, int warnings, const char *needle,
                   const char *out)
{
    t_child c = run(argv0, a, b);
    CHECK_MSG(t_count_lines(c.err, "mgc: warning: ") == warnings, "%s: expected %d warning(s), got:\n%s", a,
              warnings, c.err);
    CHECK_MSG(t_count_lines(c.err, "") == warnings, "%s: stderr has more than the warning:\n%s", a, c.err);
    if (needle)
        CHECK_MSG(strstr(c.err, needle), "%s: expected \"%s\" in:\n%s", a, needle, c.err);
    if (out)
        CHECK_MSG(strstr(c.out, out), "%s: expected \"%s\" in stdout:\n%s", a, out, c.out);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "child")) {
        child();
        return 0;
    }
    /* Parsers. */
    int v;
    int64_t l;
    CHECK(mgc__parse_gogc("100", &v) && v == 100);
    CHECK(mgc__parse_gogc("off", &v) && v == -1);
    CHECK(mgc__parse_gogc("-5", &v) && v == -1);
    CHECK(mgc__parse_gogc("0", &v) && v == 0);
    CHECK(!mgc__parse_gogc("abc", &v) && !mgc__parse_gogc("10x", &v) && !mgc__parse_gogc("", &v));
    CHECK(!mgc__parse_gogc("99999999999999999999", &v));
    /* As the Go runtime's atoi (GOGC, GOMAXPROCS, GODEBUG values): an
       optional '-', then digits; no '+', no white space anywhere. */
    CHECK(!mgc__parse_gogc("+50", &v) && !mgc__parse_int("+1", 1, 10, &v) && !mgc__parse_int("+0", 0, 10, &v));
    CHECK(!mgc__parse_gogc("--5", &v) && !mgc__parse_gogc("-+5", &v));
    /* A '-' with no digits is 0, as Go's atoi64 reads it: GOGC=- is GOGC=0
       (it warned and used 100). */
    CHECK(mgc__parse_gogc("-", &v) && v == 0);
    CHECK(mgc__parse_int("-", -5, 5, &v) && v == 0 && !mgc__parse_int("-", 1, 5, &v));
    CHECK(mgc__parse_int("-3", -5, 5, &v) && v == -3);
    CHECK(!mgc__parse_gogc(" 50", &v) && !mgc__parse_gogc("\t50", &v) && !mgc__parse_gogc("50 ", &v));
    CHECK(!mgc__parse_gogc("+ 50", &v) && !mgc__parse_gogc("- 5", &v));
    CHECK(mgc__parse_memlimit("123", &l) && l == 123);
    CHECK(mgc__parse_memlimit("123B", &l) && l == 123);
    CHECK(mgc__parse_memlimit("2KiB", &l) && l == 2048);
    CHECK(mgc__parse_memlimit("3MiB", &l) && l == 3 << 20);
    CHECK(mgc__parse_memlimit("5GiB", &l) && l == 5LL << 30);
    CHECK(mgc__parse_memlimit("1TiB", &l) && l == 1LL << 40);
    CHECK(mgc__parse_memlimit("off", &l) && l == INT64_MAX);
    CHECK(!mgc__parse_memlimit("1GB", &l) && !mgc__parse_memlimit("1Gi", &l) && !mgc__parse_memlimit("-1", &l));
    CHECK(!mgc__parse_memlimit("1 GiB", &l) && !mgc__parse_memlimit("GiB", &l) && !mgc__parse_memlimit("1KiBB", &l));
    CHECK(!mgc__parse_memlimit("9999999TiB", &l) && !mgc__parse_memlimit("99999999999999999999", &l));
    CHECK(mgc__parse_int("7", 1, 10, &v) && v == 7);
    CHECK(!mgc__parse_int("0", 1, 10, &v) && !mgc__parse_int("11", 1, 10, &v) && !mgc__parse_int("", 1, 10, &v));
    CHECK(!mgc__parse_int(" 1", 1, 10, &v) && !mgc__parse_int("\n1", 1, 10, &v)); /* GOMAXPROCS=" 1" */

    /* Whole-program behaviour. The heap goal with nothing marked is the
       minimum heap, 4 MiB x GOGC/100. */
    const char *me = argv[0];
    expect(me, "GOGC=100", NULL, 0, NULL, "next_gc=4194304 ");
    expect(me, "GOGC=50", NULL, 0, NULL, "next_gc=2097152 ");
    expect(me, "GOGC=off", NULL, 0, NULL, "next_gc=18446744073709551615 ");
    expect(me, "GOGC=abc", NULL, 1, "GOGC=\"abc\"", "next_gc=4194304 ");
    expect(me, "GOGC=abc", NULL, 1, "the default, 100", NULL);
    expect(me, "GOMEMLIMIT=1GiB", NULL, 0, NULL, NULL);
    expect(me, "GOMEMLIMIT=12XB", NULL, 1, "GOMEMLIMIT=\"12XB\"", NULL);
    expect(me, "GOMAXPROCS=1", NULL, 0, NULL, "workers=1\n");
    expect(me, "GOMAXPROCS=0", NULL, 1, "GOMAXPROCS=\"0\"", NULL);
    expect(me, "GOMAXPROCS=two", NULL, 1, "GOMAXPROCS=\"two\"", NULL);
    /* Go takes any positive count: above mgc's limit, the limit (it was
       the CPU count), with one line saying so. */
    char most[64];
    snprintf(most, sizeof most, "workers=%d\n", MGC_MAX_PROCS);
    expect(me, "GOMAXPROCS=1000", NULL, 1, "above mgc's limit of", most);
    expect(me, "GOMAXPROCS=99999999999", NULL, 1, "is not a positive integer", NULL);
    /* A leading '+' is no integer to Go: a warning and the default. */
    expect(me, "GOGC=+50", NULL, 1, "GOGC=\"+50\"", "next_gc=4194304 ");
    int ncpu = mgc__os_ncpu();
    char procs[64];
    snprintf(procs, sizeof procs, "workers=%d\n", ncpu < MGC_MAX_PROCS ? ncpu : MGC_MAX_PROCS);
    expect(me, "GOMAXPROCS=+1", NULL, 1, "GOMAXPROCS=\"+1\"", procs);
    expect(me, "GODEBUG=gctrace=+1", NULL, 1, "GODEBUG gctrace=\"+1\"", NULL);
    expect(me, "GODEBUG=gctrace=x", NULL, 1, "GODEBUG gctrace=\"x\"", NULL);
    expect(me, "GODEBUG=madvdontneed=1,http2client=0", NULL, 0, NULL, NULL); /* Go's keys: ignored */
    expect(me, "GODEBUG=gccheckmark=1,gctrace=0", NULL, 0, NULL, NULL);
    /* GODEBUG has no length limit (a copy into 1 KiB cut it): a setting
       past 1 KiB is read, and one that ends exactly there is whole. */
    static char longer[1200], exact[1100];
    snprintf(longer, sizeof longer, "GODEBUG=x=%01100d,gctrace=12", 0);
    expect(me, longer, NULL, 1, "GODEBUG gctrace=\"12\"", NULL);
    snprintf(exact, sizeof exact, "GODEBUG=x=%01008d,gccheckmark=1", 0); /* a 1024-byte value */
    CHECK_EQ(strlen(exact) - strlen("GODEBUG="), 1024);
    expect(me, exact, NULL, 0, NULL, NULL);
    /* A value with a newline is still one line (it was two). */
    expect(me, "GOGC=100\n", NULL, 1, "GOGC=\"100\\x0a\"", "next_gc=4194304 ");
    /* Two bad variables: one line each. */
    expect(me, "GOGC=x", "GOMAXPROCS=-3", 2, "GOMAXPROCS", NULL);
    return 0;
}
