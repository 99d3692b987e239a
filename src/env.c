/*
 * env.c — options from the environment (env.h), one table row per variable
 * with its default and parser; the warning for a bad value is written once,
 * here. Go treats a malformed GOMEMLIMIT as fatal; mgc, a library inside
 * someone else's program, warns and uses the default instead.
 *
 * GODEBUG is a comma-separated list of key=value; keys mgc does not know are
 * ignored silently (they are usually meant for Go programs in the same
 * environment), a known key with a bad value is warned about.
 */
#include "internal/env.h"
#include "internal/os.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

mgc_options mgc__opts MGC_STATE;

bool mgc__parse_int(const char *s, int lo, int hi, int *out)
{
    /* The Go runtime's atoi (GOGC, GOMAXPROCS and GODEBUG values are read
       with it, not with strconv.Atoi): an optional '-', then digits, none
       at all after the '-' reading 0 ("-" is 0 there). strtol would also
       take a '+' and skip leading white space, which Go rejects. */
    const char *d = s && *s == '-' ? s + 1 : s;
    if (!d || (*d == '\0' && d == s) || (*d != '\0' && !(*d >= '0' && *d <= '9')))
        return false;
    char *end;
    errno = 0;
    long v = *d ? strtol(s, &end, 10) : 0;
    if (!*d)
        end = (char *)d;
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

bool mgc__parse_gogc(const char *s, int *out)
{
    if (!strcmp(s, "off")) {
        *out = -1;
        return true;
    }
    int v;
    if (!mgc__parse_int(s, INT_MIN, INT_MAX, &v))
        return false;
    *out = v < 0 ? -1 : v;
    return true;
}

bool mgc__parse_memlimit(const char *s, int64_t *out)
{
    /* Go's syntax: ^[0-9]+(([KMGT]i)?B)?$, or "off". */
    if (!strcmp(s, "off")) {
        *out = INT64_MAX;
        return true;
    }
    const char *p = s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    unsigned shift = 0;
    if (*p) {
        switch (*p) {
        case 'K': shift = 10; break;
        case 'M': shift = 20; break;
        case 'G': shift = 30; break;
        case 'T': shift = 40; break;
        case 'B': break;
        default: return false;
        }
        if (shift) {
            if (p[1] != 'i' || p[2] != 'B' || p[3])
                return false;
        } else if (p[1]) {
            return false;
        }
    }
    if (shift && v > (uint64_t)INT64_MAX >> shift)
        return false;
    v <<= shift;
    if (v > (uint64_t)INT64_MAX)
        return false;
    *out = (int64_t)v;
    return true;
}

static void opt_gogc(const char *v)
{
    if (!mgc__parse_gogc(v, &mgc__opts.gogc))
        mgc__warn("GOGC=\"%s\" is not an integer or \"off\"; using the default, 100", v);
}

static void opt_memlimit(const char *v)
{
    if (!mgc__parse_memlimit(v, &mgc__opts.memlimit))
        mgc__warn("GOMEMLIMIT=\"%s\" is not a byte count (digits with an optional B, KiB, MiB, GiB "
                  "or TiB) or \"off\"; using the default, no limit", v);
}

static void opt_gomaxprocs(const char *v)
{
    int n;
    if (!mgc__parse_int(v, 1, INT_MAX, &n)) {
        mgc__warn("GOMAXPROCS=\"%s\" is not a positive integer; using the default, %d", v,
                  mgc__opts.gomaxprocs);
    } else if (n > MGC_MAX_PROCS) {
        /* Go takes any positive count; the closest mgc has is its own. */
        mgc__opts.gomaxprocs = MGC_MAX_PROCS;
        mgc__warn("GOMAXPROCS=\"%s\" is above mgc's limit of %d worker threads; using %d", v, MGC_MAX_PROCS,
                  MGC_MAX_PROCS);
    } else {
        mgc__opts.gomaxprocs = n;
    }
}

static void opt_godebug(const char *v)
{
    static const struct {
        const char *key;
        int *dst;
        int max;
    } keys[] = {
        {"gctrace", &mgc__opts.gctrace, 2},
        {"gccheckmark", &mgc__opts.gccheckmark, 1},
    };
    /* Read in place: Go puts no bound on GODEBUG, and a copy into a fixed
       buffer cut long values (shared with Go programs, they carry many
       keys) in the middle of an item. */
    for (const char *item = v;;) {
        const char *end = strchr(item, ',');
        size_t n = end ? (size_t)(end - item) : strlen(item);
        const char *eq = memchr(item, '=', n);
        if (eq) {
            size_t klen = (size_t)(eq - item), vlen = n - klen - 1;
            for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
                if (strlen(keys[i].key) != klen || memcmp(item, keys[i].key, klen))
                    continue;
                char val[32];
                bool ok = vlen < sizeof val;
                if (ok) {
                    memcpy(val, eq + 1, vlen);
                    val[vlen] = 0;
                    ok = mgc__parse_int(val, 0, keys[i].max, keys[i].dst);
                }
                if (!ok) {
                    *keys[i].dst = 0;
                    mgc__warn("GODEBUG %s=\"%.*s\" is not an integer from 0 to %d; using the default, 0",
                              keys[i].key, (int)vlen, eq + 1, keys[i].max);
                }
            }
        }
        if (!end)
            break;
        item = end + 1;
    }
}

static const struct {
    const char *name;
    void (*parse)(const char *value);
} options[] = {
    {"GOGC", opt_gogc},
    {"GOMEMLIMIT", opt_memlimit},
    {"GOMAXPROCS", opt_gomaxprocs},
    {"GODEBUG", opt_godebug},
};

void mgc__options_init(void)
{
    mgc__opts.gogc = 100;
    mgc__opts.memlimit = INT64_MAX;
    mgc__opts.gctrace = 0;
    mgc__opts.gccheckmark = 0;
    int ncpu = mgc__os_ncpu();
    mgc__opts.ncpu = ncpu;
    mgc__opts.gomaxprocs = ncpu > MGC_MAX_PROCS ? MGC_MAX_PROCS : ncpu;
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        const char *v = getenv(options[i].name);
        if (v && *v)
            options[i].parse(v);
    }
}
