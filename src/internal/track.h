/*
 * track.h — telling AddressSanitizer what the heap is doing (mimalloc's
 * track.h). Free slots and free pages are poisoned; a slot is unpoisoned when
 * it is handed out and poisoned again when the sweeper frees it, so a program
 * (or a collector bug) that touches an object the GC reclaimed is reported at
 * the faulting access. Compiles to nothing without ASan.
 */
#ifndef MGC_TRACK_H
#define MGC_TRACK_H

#include "base.h"

#if MGC_ASAN
#include <sanitizer/asan_interface.h>
#define MGC_TRACK_POISON(p, n) ASAN_POISON_MEMORY_REGION((void *)(p), (n))
#define MGC_TRACK_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((void *)(p), (n))
#else
#define MGC_TRACK_POISON(p, n) ((void)(p), (void)(n))
#define MGC_TRACK_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#endif /* MGC_TRACK_H */
