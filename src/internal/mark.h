/*
 * mark.h — marking (Go's mgcmark.go and mgcwork.go): parallel workers, each
 * with a local LIFO stack of work, sharing through a global list of work
 * buffers; conservative scanning of mgc_alloc objects and roots, precise
 * scanning of typed objects, none of noscan ones.
 */
#ifndef MGC_MARK_H
#define MGC_MARK_H

#include "base.h"
#include "roots.h"
#include "span.h"

typedef struct mgc_mark_result {
    uint64_t marked_bytes;  /* slot bytes of marked objects */
    uint64_t scanned_bytes; /* of those, the ones scanned (not noscan or tiny); an
                               upper bound for typed objects, of which only the
                               pointer words are read */
    uint64_t stack_bytes;   /* stack roots scanned */
    uint64_t global_bytes;  /* other roots scanned */
    uint64_t cpu_ns;        /* CPU time of all workers */
    uint64_t helper_marked_bytes; /* of marked_bytes, marked by helpers (not the collector) */
    int nworkers;
} mgc_mark_result;

/* World running (it creates threads): make sure nworkers - 1 helper threads
   exist. Before every mark. */
MGC_INTERNAL void mgc__mark_prepare(int nworkers);
/* World stopped: mark everything reachable from roots with nworkers workers
   (the caller is worker 0). */
MGC_INTERNAL void mgc__mark(const mgc_root *roots, size_t nroots, int nworkers, mgc_mark_result *res);
/* GODEBUG=gccheckmark=1: mark again, serially, into separate bits, and abort
   naming the first reachable object the real marking missed. */
MGC_INTERNAL void mgc__mark_check(const mgc_root *roots, size_t nroots);
/* Allocate-black: mark the slots of s allocated in [from, to) that were
   free in alloc_bits (objects allocated while marking ran). */
MGC_INTERNAL void mgc__mark_black_range(mgc_span *s, uint32_t from, uint32_t to);
MGC_INTERNAL void mgc__mark_fork_child(void);

#endif /* MGC_MARK_H */
