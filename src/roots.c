/*
 * roots.c — the root set (roots.h): data segments found with
 * dl_iterate_phdr, registered ranges, thread stacks, saved registers,
 * static TLS blocks and the arguments of threads being started.
 *
 * The data segments are cached: dl_iterate_phdr (which takes the loader's
 * lock) runs again only when the loader's load or unload count has changed
 * since the last walk (mgc__roots_refresh_segments, world running). A cycle
 * walks and marks inside one hold of that lock
 * (mgc__roots_with_loader_held), so the list stays true until the world
 * runs again.
 *
 * What is left out: mgc's own state (the "mgc_state" section: central lists,
 * heap tables, registry), which holds metadata addresses and would only slow
 * marking or keep objects alive that the program dropped, and each
 * segment's RELRO part, read-only after relocation.
 */
#include "internal/roots.h"
#include "internal/lock.h"
#include "internal/meta.h"
#include "internal/os.h"
#include "internal/threads.h"

#include <link.h>
#include <stddef.h>
#include <unistd.h>

#define ROOT_BLOCK (256 * 1024)

/* How far above the stop point a stack that is not the thread's own is
   scanned when its end is unknown (mgc.h, docs/design.md section 4):
   glibc's default thread stack, and Linux's default RLIMIT_STACK. */
#define MGC_FOREIGN_STACK_SCAN ((uintptr_t)8 << 20)

typedef struct range {
    uintptr_t lo, hi;
} range;

typedef struct range_vec {
    range *v;
    size_t n, cap;
} range_vec;

static struct {
    mgc_lock lock;    /* user ranges; taken inside no-suspend sections */
    range_vec user;   /* lock */
    range_vec segs;   /* writable data of loaded objects; gc lock */
    /* The loader's load and unload counts when segs was built (0 before
       the first walk: the loader has counted its initial objects); gc lock. */
    unsigned long long seg_adds, seg_subs;
    mgc_root *jobs;   /* gc lock */
    size_t njobs, capjobs; /* of jobs; gc lock */
} R MGC_STATE;

extern char __start_mgc_state[] __attribute__((visibility("hidden")));
extern char __stop_mgc_state[] __attribute__((visibility("hidden")));

static void vec_push(range_vec *v, uintptr_t lo, uintptr_t hi)
{
    v->v = mgc__meta_grow(v->v, v->n, &v->cap, sizeof *v->v, 32, MGC_META_GC);
    v->v[v->n++] = (range){lo, hi};
}

/* Add [lo, hi) minus the excluded ranges (sorted by lo, disjoint). */
static void push_minus(range_vec *v, uintptr_t lo, uintptr_t hi, const range *ex, size_t nex)
{
    for (size_t i = 0; i < nex && lo < hi; i++) {
        if (ex[i].hi <= lo || ex[i].lo >= hi)
            continue;
        if (ex[i].lo > lo)
            vec_push(v, lo, ex[i].lo);
        lo = ex[i].hi;
    }
    if (lo < hi)
        vec_push(v, lo, hi);
}

static int seg_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    range ex[2];
    size_t nex = 0;
    ex[nex++] = (range){(uintptr_t)__start_mgc_state, (uintptr_t)__stop_mgc_state};
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_GNU_RELRO) {
            uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
            ex[nex++] = (range){lo, lo + ph->p_memsz};
            break;
        }
    }
    if (nex == 2 && ex[1].lo < ex[0].lo) {
        range tmp = ex[0];
        ex[0] = ex[1];
        ex[1] = tmp;
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W) || ph->p_memsz == 0)
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        push_minus(&R.segs, mgc__round_up(lo, sizeof(void *)),
                   mgc__round_down(lo + ph->p_memsz, sizeof(void *)), ex, nex);
    }
    return 0;
}

/* The loader's counts of objects loaded and unloaded so far (glibc keeps
   them in every entry): stop at the first. ~0 when it does not say. */
static int count_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    unsigned long long *c = data;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
        c[0] = info->dlpi_adds;
        c[1] = info->dlpi_subs;
    }
    return 1;
}

void mgc__roots_refresh_segments(void)
{
    /* Counted before the walk: a library loaded meanwhile changes the
       counts again, so the next cycle walks again. */
    unsigned long long c[2] = {~0ull, ~0ull};
    dl_iterate_phdr(count_cb, c);
    if (c[0] != ~0ull && c[0] == R.seg_adds && c[1] == R.seg_subs)
        return;
    R.segs.n = 0;
    dl_iterate_phdr(seg_cb, NULL);
    R.seg_adds = c[0];
    R.seg_subs = c[1];
}

typedef struct held {
    void (*fn)(void *);
    void *arg;
    bool ran;
} held;

/* Called for the first object with the loader's lock held: run fn there
   (refresh_segments inside it walks again; glibc's lock is recursive),
   then stop the walk. */
static int held_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)info;
    (void)size;
    held *h = data;
    if (!h->ran) {
        h->ran = true;
        h->fn(h->arg);
    }
    return 1;
}

void mgc__roots_with_loader_held(void (*fn)(void *), void *arg)
{
    held h = {fn, arg, false};
    dl_iterate_phdr(held_cb, &h);
    if (!h.ran) /* no object at all: nothing to hold */
        fn(arg);
}

static void job(uintptr_t lo, uintptr_t hi, enum mgc_root_kind kind)
{
    lo = mgc__round_up(lo, sizeof(void *));
    while (lo < hi) {
        uintptr_t end = hi - lo > ROOT_BLOCK ? lo + ROOT_BLOCK : hi;
        R.jobs = mgc__meta_grow(R.jobs, R.njobs, &R.capjobs, sizeof *R.jobs, 256, MGC_META_GC);
        R.jobs[R.njobs++] = (mgc_root){lo, end, kind};
        lo = end;
    }
}

static void starting_job(void *ctx, uintptr_t lo, uintptr_t hi)
{
    (void)ctx;
    job(lo, hi, MGC_ROOT_GLOBAL);
}

size_t mgc__roots_collect(mgc_root **out)
{
    R.njobs = 0;
    for (size_t i = 0; i < R.segs.n; i++)
        job(R.segs.v[i].lo, R.segs.v[i].hi, MGC_ROOT_GLOBAL);
    /* No mutator holds R.lock: it is taken only inside no-suspend sections. */
    mgc__lock(&R.lock);
    for (size_t i = 0; i < R.user.n; i++)
        job(R.user.v[i].lo, R.user.v[i].hi, MGC_ROOT_GLOBAL);
    mgc__unlock(&R.lock);
    MGC_FOR_EACH_THREAD(t)
    {
        uintptr_t lo = t->stop_sp;
        uintptr_t mlo, mhi;
        bool main_thread = t->tid == getpid();
        if (mgc__thread_stack_unknown(t) && main_thread && t->stop_sp < t->stack_lo &&
            mgc__os_rw_extent(t->stack_hi - 1, &mlo, &mhi) && t->stop_sp >= mlo) {
            /* The main thread, on its own stack grown past what was
               recorded at attach (pthread_getattr_np answers from the
               RLIMIT_STACK of that moment; the program raised it since):
               the frames from the stop point up. */
        } else if (mgc__thread_stack_unknown(t) || t->alt_inside) {
            /* Stopped on a stack that is not its own: an alternate signal
               stack (perhaps a buffer inside its own stack: alt_inside),
               or a coroutine's (makecontext, a runtime's own). From
               the stop point up: to the top of the alternate stack when
               sigaltstack said which it is (SS_ONSTACK); otherwise (an
               SS_AUTODISARM alternate stack, a coroutine stack) to the end
               of the anonymous read/write memory holding the stop point
               (a file mapping may fault past the file's end), at most
               MGC_FOREIGN_STACK_SCAN bytes (a stack in malloc's heap lies
               in one mapping with the whole heap). */
            if (t->alt_hi && t->stop_sp >= t->alt_lo && t->stop_sp < t->alt_hi)
                job(t->stop_sp, t->alt_hi, MGC_ROOT_STACK);
            else if (mgc__os_rw_extent(t->stop_sp, &mlo, &mhi))
                job(t->stop_sp, mhi - t->stop_sp > MGC_FOREIGN_STACK_SCAN ? t->stop_sp + MGC_FOREIGN_STACK_SCAN : mhi,
                    MGC_ROOT_STACK);
            /* And the thread's own stack, whose depth at the switch is
               unknown: all of it that can be read. A stack the program
               gave (pthread_attr_setstack) may keep its own PROT_NONE
               guard page, or even a file mapping, inside [stack_lo,
               stack_hi); the main thread's grows down to its mapping's
               current extent. */
            if (mgc__os_rw_extent(t->stack_hi - 1, &mlo, &mhi))
                lo = main_thread || mlo > t->stack_lo ? mlo : t->stack_lo;
            else if (main_thread)
                lo = t->stack_hi; /* cannot tell what is mapped */
            else
                lo = t->stack_lo; /* a pthread stack is mapped whole, unless the program says otherwise */
        }
        job(lo, t->stack_hi, MGC_ROOT_STACK);
        job((uintptr_t)t->regs, (uintptr_t)(t->regs + t->nregs), MGC_ROOT_STACK);
        for (size_t i = 0; i < t->ntls; i++)
            job(t->tls[i].lo, t->tls[i].hi, MGC_ROOT_GLOBAL);
    }
    mgc__threads_starting_roots(starting_job, NULL);
    *out = R.jobs;
    return R.njobs;
}

void mgc_add_roots(void *start, void *end)
{
    MGC_CHECK((uintptr_t)start <= (uintptr_t)end, "mgc_add_roots: start %p is above end %p", start, end);
    mgc_thread *t = mgc__thread_current();
    mgc__cs_enter(t);
    mgc__lock(&R.lock);
    vec_push(&R.user, (uintptr_t)start, (uintptr_t)end);
    mgc__unlock(&R.lock);
    mgc__cs_exit(t);
}

void mgc_remove_roots(void *start, void *end)
{
    /* Removes every registered range lying within [start, end). */
    mgc_thread *t = mgc__thread_current();
    mgc__cs_enter(t);
    mgc__lock(&R.lock);
    size_t j = 0;
    for (size_t i = 0; i < R.user.n; i++) {
        range r = R.user.v[i];
        if (r.lo >= (uintptr_t)start && r.hi <= (uintptr_t)end)
            continue;
        R.user.v[j++] = r;
    }
    R.user.n = j;
    mgc__unlock(&R.lock);
    mgc__cs_exit(t);
}

void mgc__roots_fork_prepare(void) { mgc__lock(&R.lock); }
void mgc__roots_fork_parent(void) { mgc__unlock(&R.lock); }
void mgc__roots_fork_child(void) { mgc__lock_init(&R.lock); }
