/*
 * os_linux.c — the os layer for Linux: address space (mmap, mprotect,
 * madvise), clocks, futexes, CPU count, the mappings listed in
 * /proc/self/maps (through a descriptor it keeps open). The only file
 * that calls them.
 *
 * Invariants: memory returned by mgc__os_reserve is PROT_NONE and costs no
 * commit charge until mgc__os_commit; committed pages that were never
 * touched, or were decommitted, read as zero (the heap relies on this to skip
 * zeroing fresh spans). Nothing here is a cancellation point: raw system
 * calls (syscall(2) is not one), and TSan's usleep with cancellation
 * disabled; callers hold locks or have the world stopped.
 */
#include "internal/os.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000 /* Linux 4.17; older kernels take it as a hint, checked below */
#endif

/* size bytes at exactly addr, or NULL. */
static void *reserve_at(uintptr_t addr, size_t size)
{
    void *p = mmap((void *)addr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if ((uintptr_t)p != addr) { /* a kernel that took it as a hint */
        munmap(p, size);
        return NULL;
    }
    return p;
}

/* Without room for size + align (an address-space limit: the last, 64 MiB
   try needed 128 MiB), size alone: kept if aligned, else tried again at
   the aligned addresses either side of where it went. */
static void *reserve_tight(size_t size, size_t align)
{
    void *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uintptr_t start = (uintptr_t)p;
    if (start % align == 0)
        return p;
    munmap(p, size);
    void *q = reserve_at(mgc__round_up(start, align), size);
    return q ? q : reserve_at(start / align * align, size);
}

void *mgc__os_reserve(size_t size, size_t align)
{
    size_t len = size + align;
    void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return reserve_tight(size, align);
    uintptr_t start = (uintptr_t)p;
    uintptr_t aligned = mgc__round_up(start, align);
    /* Trim the unaligned head and the tail so exactly [aligned, aligned+size)
       stays reserved. */
    if (aligned > start)
        munmap(p, aligned - start);
    uintptr_t end = start + len;
    if (end > aligned + size)
        munmap((void *)(aligned + size), end - (aligned + size));
    return (void *)aligned;
}

void mgc__os_unreserve(void *p, size_t size) { munmap(p, size); }

int mgc__os_commit(void *p, size_t size)
{
    if (mprotect(p, size, PROT_READ | PROT_WRITE) != 0)
        return errno;
    return 0;
}

void mgc__os_decommit(void *p, size_t size)
{
    /* MADV_DONTNEED (Go's default since 1.16): RSS drops at once and the
       pages read as zero afterwards. */
    madvise(p, size, MADV_DONTNEED);
}

void *mgc__os_alloc(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *mgc__os_alloc_sparse(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void mgc__os_free(void *p, size_t size) { munmap(p, size); }

int mgc__os_ncpu(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t mgc__os_nanotime(void) { return clock_ns(CLOCK_MONOTONIC); }
uint64_t mgc__os_walltime(void) { return clock_ns(CLOCK_REALTIME); }
uint64_t mgc__os_thread_cputime(void) { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }
int mgc__os_gettid(void) { return (int)syscall(SYS_gettid); }

bool mgc__os_thread_gone(int tid)
{
    /* Signal 0 checks without sending. It fails (ESRCH) only once the
       kernel has released the thread: every user-space part of its exit
       is over. A tid is reused only after the kernel has cycled through
       the others (pid_max), not within the moments this is asked for. Any
       other failure (a filter forbidding tgkill) cannot tell, and counts
       as gone, so that no one waits for ever. */
    return syscall(SYS_tgkill, (pid_t)getpid(), (pid_t)tid, 0) != 0;
}

void mgc__os_futex_wait(_Atomic uint32_t *addr, uint32_t val, uint64_t timeout_ns)
{
    /* ThreadSanitizer defers a signal until the thread enters one of the
       calls it intercepts or makes an atomic access, and a thread waiting
       in the raw futex does neither: waiting here for a lock, it would
       never take the signal that stops the world. Under TSan the wait is
       cut to 1 ms and followed by such a call, with cancellation
       disabled: usleep is a cancellation point, and a cancel pending in
       a thread stopped in mgc's handler, or waiting for one of mgc's
       locks, must not be acted on there (threads.c, mask_cancel_signal). */
    if (MGC_TSAN && (!timeout_ns || timeout_ns > 1000000u))
        timeout_ns = 1000000u;
    struct timespec ts, *tsp = NULL;
    if (timeout_ns) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
        ts.tv_nsec = (long)(timeout_ns % 1000000000u);
        tsp = &ts;
    }
    /* Spurious returns (EINTR, EAGAIN, timeout) are fine: every caller
       re-checks its condition in a loop. */
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0);
    if (MGC_TSAN) {
        int cs;
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
        usleep(0);
        pthread_setcancelstate(cs, NULL);
    }
}

void mgc__os_futex_wake(_Atomic uint32_t *addr, int n)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static uintptr_t parse_hex(const char **s)
{
    uintptr_t v = 0;
    for (;; (*s)++) {
        char c = **s;
        if (c >= '0' && c <= '9')
            v = v * 16 + (uintptr_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v * 16 + (uintptr_t)(c - 'a' + 10);
        else
            return v;
    }
}

/* One line of /proc/self/maps: "lo-hi rwxp offset major:minor inode
   path". anon: no device and no inode, memory no file backs (no path,
   [heap], [stack], [anon:name]), or shared anonymous memory (shared_anon);
   a file's pages past its end raise SIGBUS when read, and the maps do not
   say where that end is. */
typedef struct maps_line {
    uintptr_t lo, hi;
    bool r, w, anon;
} maps_line;

/* /proc/self/maps, opened once (mgc__os_maps_open) and kept: a stop must
   not depend on a free descriptor (with none, EMFILE, the open failed and
   coroutine stacks went unscanned), nor on /proc staying mounted. Read
   with pread from offset 0, so no reader depends on a file position. The
   device and inode say it is still ours (a program may close every
   descriptor and open others), the pid that it is this process's
   (/proc/self resolves when it is opened, and a fork child inherits the
   parent's). -1 when not open. Written only at start-up and in a fork
   child, with one thread running (fd last, release); read by any thread
   (fd acquire, then the rest). */
static struct {
    _Atomic int fd;
    int pid;
    dev_t dev;
    ino_t ino;
} maps_kept = {.fd = -1};

/* O_NONBLOCK (which procfs ignores) with O_CLOEXEC marks the kept
   description as mgc's: a program that opens /proc/self/maps itself and
   gets the same number (after closing every descriptor) has the same
   device and inode, and a fork child closed and replaced it. */
#define MAPS_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK)

static int maps_open_raw(void)
{
    return (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", MAPS_FLAGS);
}

/* Is fd the description mgc__os_maps_open kept (see MAPS_FLAGS)? */
static bool maps_is_kept(int fd)
{
    struct stat st;
    long fl = syscall(SYS_fcntl, fd, F_GETFL), fdfl = syscall(SYS_fcntl, fd, F_GETFD);
    return fl >= 0 && (fl & O_NONBLOCK) && fdfl >= 0 && (fdfl & FD_CLOEXEC) && syscall(SYS_fstat, fd, &st) == 0 &&
           st.st_dev == maps_kept.dev && st.st_ino == maps_kept.ino;
}

/* The kept descriptor, still the maps of this process, or -1. */
static int maps_kept_fd(void)
{
    int fd = atomic_load_explicit(&maps_kept.fd, memory_order_acquire);
    if (fd < 0)
        return -1;
    if ((int)syscall(SYS_getpid) != maps_kept.pid || !maps_is_kept(fd))
        return -1;
    return fd;
}

void mgc__os_maps_open(void)
{
    int fd = maps_open_raw();
    if (fd < 0)
        return; /* no descriptor or no /proc now: maps_walk opens it per use */
    if (fd <= 2) {
        /* Opened while a standard stream was closed: keep it above them,
           where the program's next open(), meant for the stream, does not
           find it in the way. */
        int hi = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 3);
        syscall(SYS_close, fd);
        if (hi < 0)
            return;
        fd = hi;
    }
    struct stat st;
    if (syscall(SYS_fstat, fd, &st) != 0) {
        syscall(SYS_close, fd);
        return;
    }
    maps_kept.pid = (int)syscall(SYS_getpid);
    maps_kept.dev = st.st_dev;
    maps_kept.ino = st.st_ino;
    atomic_store_explicit(&maps_kept.fd, fd, memory_order_release);
}

void mgc__os_fork_child(void)
{
    /* The inherited descriptor lists the parent's mappings. Closed only
       if it is still ours: the program may have reused the number. */
    int fd = atomic_load_explicit(&maps_kept.fd, memory_order_relaxed);
    atomic_store_explicit(&maps_kept.fd, -1, memory_order_relaxed);
    if (fd >= 0 && maps_is_kept(fd))
        syscall(SYS_close, fd);
    mgc__os_maps_open();
}

static bool starts(const char *s, const char *prefix)
{
    while (*prefix)
        if (*s++ != *prefix++)
            return false;
    return true;
}

/* A path /proc/self/maps gives memory that shmem backs but no file the
   program opened: MAP_SHARED|MAP_ANONYMOUS ("/dev/zero (deleted)", or
   "[anon_shmem:name]"), huge-page anonymous memory, SysV shared memory.
   Its object is exactly the mapping's size: no page of it raises SIGBUS.
   (A memfd can be shorter than its mapping: it counts as a file.) */
static bool shared_anon(const char *path)
{
    return starts(path, "/dev/zero (deleted)") || starts(path, "/anon_hugepage (deleted)") ||
           starts(path, "[anon_shmem:") || starts(path, "/SYSV");
}

/* Call fn(ctx, line) for each mapping, lowest first, until it returns
   false. Raw system calls and this frame's buffers only. false when the
   file cannot be read, or a read fails part-way (what was seen may end
   early). */
static bool maps_walk(bool (*fn)(void *ctx, const maps_line *m), void *ctx)
{
    int fd = maps_kept_fd();
    bool own = fd < 0;
    if (own) {
        fd = maps_open_raw();
        if (fd < 0)
            return false;
    }
    char buf[4096], line[256];
    size_t len = 0;
    off_t off = 0;
    bool more = true, ok = true;
    while (more) {
        ssize_t n = syscall(SYS_pread64, fd, buf, sizeof buf, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            ok = false;
        if (n <= 0)
            break;
        off += n;
        for (ssize_t i = 0; i < n && more; i++) {
            if (buf[i] != '\n') {
                if (len < sizeof line - 1)
                    line[len++] = buf[i];
                continue;
            }
            line[len] = 0;
            len = 0;
            const char *s = line;
            maps_line m;
            m.lo = parse_hex(&s);
            if (*s++ != '-')
                continue;
            m.hi = parse_hex(&s);
            if (*s++ != ' ' || !s[0] || !s[1])
                continue;
            m.r = s[0] == 'r';
            m.w = s[1] == 'w';
            while (*s && *s != ' ')
                s++;
            if (*s++ != ' ')
                continue;
            (void)parse_hex(&s); /* offset */
            if (*s++ != ' ')
                continue;
            uintptr_t major = parse_hex(&s);
            if (*s++ != ':')
                continue;
            uintptr_t minor = parse_hex(&s);
            if (*s++ != ' ')
                continue;
            uintptr_t inode = 0;
            if (*s < '0' || *s > '9')
                continue;
            for (; *s >= '0' && *s <= '9'; s++)
                inode = inode * 10 + (uintptr_t)(*s - '0');
            while (*s == ' ')
                s++;
            m.anon = (!major && !minor && !inode) || shared_anon(s);
            more = fn(ctx, &m);
        }
    }
    if (own)
        syscall(SYS_close, fd);
    return ok;
}

typedef struct extent_ctx {
    uintptr_t addr, lo, hi;
    bool found, run; /* run: [lo, hi) is a run of anonymous rw mappings so far */
} extent_ctx;

static bool extent_cb(void *p, const maps_line *m)
{
    extent_ctx *x = p;
    bool ok = m->r && m->w && m->anon;
    if (x->found) {
        if (!ok || m->lo != x->hi)
            return false; /* the run containing addr ends here */
        x->hi = m->hi;
        return true;
    }
    if (!ok) {
        x->run = false;
        return m->lo <= x->addr; /* past addr: it is in no mapping of the kind */
    }
    if (x->run && m->lo == x->hi) {
        x->hi = m->hi;
    } else {
        x->lo = m->lo;
        x->hi = m->hi;
        x->run = true;
    }
    if (x->lo <= x->addr && x->addr < x->hi)
        x->found = true;
    return x->hi <= x->addr || x->found;
}

bool mgc__os_rw_extent(uintptr_t addr, uintptr_t *lo, uintptr_t *hi)
{
    extent_ctx x = {.addr = addr};
    if (!maps_walk(extent_cb, &x) || !x.found)
        return false;
    *lo = x.lo;
    *hi = x.hi;
    return true;
}

void mgc__os_write_stderr(const char *buf, size_t n)
{
    /* The raw system call: write(2) is a cancellation point, and mgc
       writes (gctrace, warnings) with its locks held, or from a collection
       with the world stopped; a pending cancel acted on there left the gc
       lock held for ever. syscall(2) is not one. */
    while (n > 0) {
        ssize_t w = syscall(SYS_write, 2, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += w;
        n -= (size_t)w;
    }
}
