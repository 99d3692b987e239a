/*
 * track.h — telling AddressSanitizer and Valgrind what the heap is doing
 * (mimalloc's track.h). One set of macros; each tool gets what it needs:
 *
 *   MGC_TRACK_ALLOC(p, n)    an object of n bytes is handed out, zeroed
 *   MGC_TRACK_ALLOC_RAW(p, n) the same, its bytes undefined (containers'
 *                            noscan storage, which they overwrite)
 *   MGC_TRACK_UNDEFINED(p, n) an allocated object's bytes become undefined
 *   MGC_TRACK_RESIZE(p, o, n) the object at p grows in place from o to n
 *                            bytes, the new ones undefined
 *   MGC_TRACK_DEFINED(p, n)  bytes of an object become defined (zero pages
 *                            fresh from the OS, which no store made so)
 *   MGC_TRACK_FREE(p, n)     an object is freed (by the sweeper or by hand)
 *   MGC_TRACK_NOACCESS(p, n) pages that hold no object (fresh or freed)
 *   MGC_TRACK_QUIET_BEGIN/END  the collector is about to read the program's
 *                            memory word by word (stacks, objects past their
 *                            requested size, freed slots' link words):
 *                            Valgrind must not report that
 *
 * With AddressSanitizer, free slots and pages are poisoned, so a program (or
 * a collector bug) touching an object the GC reclaimed is reported at the
 * access; the scanning functions carry no_sanitize instead of QUIET. With
 * Valgrind (cmake -DMGC_VALGRIND=ON), objects are MALLOCLIKE/FREELIKE blocks
 * for memcheck. Without either, everything compiles to nothing.
 */
#ifndef MGC_TRACK_H
#define MGC_TRACK_H

#include "base.h"

#if MGC_ASAN
#include <sanitizer/asan_interface.h>
#define MGC_TRACK_ALLOC(p, n) ASAN_UNPOISON_MEMORY_REGION((void *)(p), (n))
#define MGC_TRACK_ALLOC_RAW(p, n) ASAN_UNPOISON_MEMORY_REGION((void *)(p), (n))
#define MGC_TRACK_UNDEFINED(p, n) ((void)(p), (void)(n))
#define MGC_TRACK_RESIZE(p, o, n) ASAN_UNPOISON_MEMORY_REGION((char *)(p) + (o), (n) - (o))
#define MGC_TRACK_DEFINED(p, n) ((void)(p), (void)(n))
#define MGC_TRACK_FREE(p, n) ASAN_POISON_MEMORY_REGION((void *)(p), (n))
#define MGC_TRACK_NOACCESS(p, n) ASAN_POISON_MEMORY_REGION((void *)(p), (n))
#define MGC_TRACK_QUIET_BEGIN() ((void)0)
#define MGC_TRACK_QUIET_END() ((void)0)
#define MGC_TRACKING 1
#elif defined(MGC_VALGRIND) && MGC_VALGRIND
#include <valgrind/memcheck.h>
#define MGC_TRACK_ALLOC(p, n) do { VALGRIND_MALLOCLIKE_BLOCK((void *)(p), (n), 0, 1); } while (0)
#define MGC_TRACK_ALLOC_RAW(p, n) do { VALGRIND_MALLOCLIKE_BLOCK((void *)(p), (n), 0, 0); } while (0)
#define MGC_TRACK_UNDEFINED(p, n) do { (void)VALGRIND_MAKE_MEM_UNDEFINED((void *)(p), (n)); } while (0)
#define MGC_TRACK_RESIZE(p, o, n) do { VALGRIND_RESIZEINPLACE_BLOCK((void *)(p), (o), (n), 0); } while (0)
#define MGC_TRACK_DEFINED(p, n) do { (void)VALGRIND_MAKE_MEM_DEFINED((void *)(p), (n)); } while (0)
#define MGC_TRACK_FREE(p, n) do { (void)(n); VALGRIND_FREELIKE_BLOCK((void *)(p), 0); } while (0)
#define MGC_TRACK_NOACCESS(p, n) do { (void)VALGRIND_MAKE_MEM_NOACCESS((void *)(p), (n)); } while (0)
#define MGC_TRACK_QUIET_BEGIN() do { VALGRIND_DISABLE_ERROR_REPORTING; } while (0)
#define MGC_TRACK_QUIET_END() do { VALGRIND_ENABLE_ERROR_REPORTING; } while (0)
#define MGC_TRACKING 1
#else
#define MGC_TRACK_ALLOC(p, n) ((void)(p), (void)(n))
#define MGC_TRACK_ALLOC_RAW(p, n) ((void)(p), (void)(n))
#define MGC_TRACK_UNDEFINED(p, n) ((void)(p), (void)(n))
#define MGC_TRACK_RESIZE(p, o, n) ((void)(p), (void)(o), (void)(n))
#define MGC_TRACK_DEFINED(p, n) ((void)(p), (void)(n))
#define MGC_TRACK_FREE(p, n) ((void)(p), (void)(n))
#define MGC_TRACK_NOACCESS(p, n) ((void)(p), (void)(n))
#define MGC_TRACK_QUIET_BEGIN() ((void)0)
#define MGC_TRACK_QUIET_END() ((void)0)
#define MGC_TRACKING 0
#endif

#endif /* MGC_TRACK_H */
