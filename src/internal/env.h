/*
 * env.h — configuration from Go's own environment variables (DESIGN.md
 * section 5), parsed once at start-up from a table (mimalloc's options.c).
 * A bad value costs one warning line naming the variable, then the default.
 */
#ifndef MGC_ENV_H
#define MGC_ENV_H

#include "base.h"

typedef struct mgc_options {
    int gogc;          /* GOGC; -1 = off */
    int64_t memlimit;  /* GOMEMLIMIT bytes; INT64_MAX = none */
    int gctrace;       /* GODEBUG=gctrace=N */
    int gccheckmark;   /* GODEBUG=gccheckmark=N */
    int gomaxprocs;    /* GOMAXPROCS, default: CPUs; at most MGC_MAX_PROCS */
    int ncpu;          /* CPUs this process may run on, read at start-up (Go's ncpu) */
} mgc_options;

/* The most mark workers (GOMAXPROCS) mgc runs. */
#define MGC_MAX_PROCS 256

extern MGC_INTERNAL mgc_options mgc__opts;

MGC_INTERNAL void mgc__options_init(void);
/* Parsers, exposed for unit tests. Each returns true and sets *out on a good
   value; false on a bad one. */
MGC_INTERNAL bool mgc__parse_gogc(const char *s, int *out);
MGC_INTERNAL bool mgc__parse_memlimit(const char *s, int64_t *out);
MGC_INTERNAL bool mgc__parse_int(const char *s, int lo, int hi, int *out);

#endif /* MGC_ENV_H */
