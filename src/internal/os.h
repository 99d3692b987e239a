/*
 * os.h — the whole contract between mgc and the operating system (mimalloc's
 * prim.h). Nothing outside os_linux.c calls mmap, madvise, futex or clock_*.
 *
 * Address space moves through three states, as in Go's mem_linux.go:
 *   reserved (PROT_NONE, no commit charge) -> committed (read/write, pages
 *   appear zero-filled on first touch) -> decommitted (pages given back with
 *   MADV_DONTNEED; still read/write, they read as zero again).
 */
#ifndef MGC_OS_H
#define MGC_OS_H

#include "base.h"
#include <time.h>

/* Reserve size bytes aligned to align (a power of two); NULL on failure. */
MGC_INTERNAL void *mgc__os_reserve(size_t size, size_t align);
MGC_INTERNAL void mgc__os_unreserve(void *p, size_t size);
/* Make reserved memory usable. 0 or an errno value. */
MGC_INTERNAL int mgc__os_commit(void *p, size_t size);
/* Hand the pages back; the range stays usable and reads as zero. */
MGC_INTERNAL void mgc__os_decommit(void *p, size_t size);
/* Fresh zeroed read/write memory for metadata; NULL on failure. */
MGC_INTERNAL void *mgc__os_alloc(size_t size);
/* Read/write, demand-zero, no commit charge: for large sparse tables. */
MGC_INTERNAL void *mgc__os_alloc_sparse(size_t size);
MGC_INTERNAL void mgc__os_free(void *p, size_t size);

MGC_INTERNAL int mgc__os_ncpu(void);
MGC_INTERNAL uint64_t mgc__os_nanotime(void);      /* monotonic ns */
MGC_INTERNAL uint64_t mgc__os_walltime(void);      /* Unix epoch ns */
MGC_INTERNAL uint64_t mgc__os_thread_cputime(void); /* this thread's CPU ns */
MGC_INTERNAL int mgc__os_gettid(void);
/* Has thread tid of this process ended (its exit is complete, the kernel
   has released it)? */
MGC_INTERNAL bool mgc__os_thread_gone(int tid);

/* Futex on a 32-bit word: sleep while *addr == val (timeout_ns 0 = none). */
MGC_INTERNAL void mgc__os_futex_wait(_Atomic uint32_t *addr, uint32_t val, uint64_t timeout_ns);
MGC_INTERNAL void mgc__os_futex_wake(_Atomic uint32_t *addr, int n);

/* Open /proc/self/maps for mgc__os_rw_extent and keep it open (at
   start-up, world running): a stop then needs no free descriptor. If it
   cannot be opened now, each use opens it. */
MGC_INTERNAL void mgc__os_maps_open(void);
/* In a fork child: the kept descriptor lists the parent's mappings
   (/proc/self resolved when it was opened); open the child's. */
MGC_INTERNAL void mgc__os_fork_child(void);

/* The readable and writable memory around addr: the run of adjacent
   anonymous read/write mappings that contains it, from /proc/self/maps
   (the kernel lists one line per VMA and need not merge neighbours). Read with raw
   system calls and stack buffers only (no malloc, no stdio: safe with the
   world stopped; about 4.5 KiB of stack), through the descriptor kept
   open, or one opened for the call when there is none. false when addr is
   in no such mapping or the file cannot be read (in full). Anonymous
   (no device, no inode) and writable only, as a stack always is: a file
   mapping's pages past the file's end raise SIGBUS when read, and the
   maps do not say where that end is, so a file-backed line ends the run
   (before, a writable MAP_SHARED mapping of a short file just above a
   coroutine's stack killed the collector). */
MGC_INTERNAL bool mgc__os_rw_extent(uintptr_t addr, uintptr_t *lo, uintptr_t *hi);

/* write(2) the whole buffer to fd 2, retrying on EINTR; not a
   cancellation point (a raw system call). */
MGC_INTERNAL void mgc__os_write_stderr(const char *buf, size_t n);

#endif /* MGC_OS_H */
