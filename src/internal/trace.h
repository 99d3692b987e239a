/*
 * trace.h — gctrace: one line per cycle on stderr in Go's format.
 */
#ifndef MGC_TRACE_H
#define MGC_TRACE_H

#include "gc.h"

/* Format Go's gctrace line for c into buf (NUL-terminated); returns length. */
MGC_INTERNAL size_t mgc__trace_format(char *buf, size_t cap, const mgc_cycle *c, int cpu_percent);
MGC_INTERNAL void mgc__trace_cycle(const mgc_cycle *c);

#endif /* MGC_TRACE_H */
