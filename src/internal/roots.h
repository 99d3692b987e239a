/*
 * roots.h — where marking starts (Go's markroot): the stacks and saved
 * registers of attached threads, the writable data and bss of the
 * executable and every loaded shared object, static TLS blocks, ranges given
 * to mgc_add_roots, and the arguments of threads being started. All of it is
 * scanned conservatively.
 */
#ifndef MGC_ROOTS_H
#define MGC_ROOTS_H

#include "base.h"

enum mgc_root_kind { MGC_ROOT_STACK, MGC_ROOT_GLOBAL };

typedef struct mgc_root {
    uintptr_t lo, hi;
    enum mgc_root_kind kind;
} mgc_root;

/* World running, gc lock held: refresh the list of data segments if
   libraries were loaded or unloaded (dl_iterate_phdr takes the loader's
   lock, so never call it with the world stopped). */
MGC_INTERNAL void mgc__roots_refresh_segments(void);
/* Run fn(arg) holding the loader's lock, the one dl_iterate_phdr takes and
   glibc's dlclose holds while it unmaps an object and dlopen while it adds
   one: segments found by mgc__roots_refresh_segments inside fn stay
   mapped, and no new object's data appears, until fn returns. World
   running when called; fn may stop and restart it (a thread it stops
   cannot hold this lock: it is ours). gc lock held. */
MGC_INTERNAL void mgc__roots_with_loader_held(void (*fn)(void *), void *arg);
/* World stopped: every root range, split in blocks of at most 256 KiB for
   load balancing. The array lives until the next call. */
MGC_INTERNAL size_t mgc__roots_collect(mgc_root **out);
MGC_INTERNAL void mgc__roots_fork_prepare(void);
MGC_INTERNAL void mgc__roots_fork_parent(void);
MGC_INTERNAL void mgc__roots_fork_child(void);

#endif /* MGC_ROOTS_H */
