/*
 * mgc.h — the one public header of mgc, Go's memory manager as a C library.
 *
 * A program that links mgc gets a garbage-collected heap: a size-classed
 * allocator with per-thread caches (Go's mcache/mcentral/mheap), a parallel
 * tri-colour mark-sweep collector paced by GOGC, and Go's observability
 * (GODEBUG=gctrace=1, MemStats).
 *
 * Thread-safety contract, per group:
 *   - Allocation, explicit free, realloc, usable_size, base: callable from
 *     any thread at any time; a thread is attached on its first call.
 *   - Collection control and observability: callable from any attached or
 *     unattached thread; they block while a collection is in progress.
 *   - Roots: callable from any thread; a range must stay valid until it is
 *     removed.
 *   - None of mgc may be called from a signal handler.
 *
 * What the collector sees (the reachability rules): every word on an attached
 * thread's stack and in its saved registers, every word of the writable
 * data/bss of the executable and of every loaded shared object, the static
 * TLS blocks of attached threads (of every module loaded when the thread
 * attached, however many), ranges given to mgc_add_roots(), every word
 * of an object from mgc_alloc(), and the pointer words of a typed object.
 * Memory from malloc() is not scanned unless registered with mgc_add_roots(),
 * nor is C++'s operator new (std::allocator: a std::vector or std::map
 * holding the only pointer to an object does not keep it). Nor is what glibc keeps for a thread outside its stack: values given to
 * pthread_setspecific and a thread's return value waiting for
 * pthread_join are not roots (keep such an object reachable elsewhere, or
 * register the place). A pointer anywhere inside an object's usable size
 * (mgc_usable_size, which may exceed the size asked for) keeps it alive;
 * one past that end does not.
 *
 * A thread stopped while it runs on another stack than its own — a signal
 * handler on an alternate signal stack, a coroutine (makecontext/swapcontext
 * or a runtime's own) — has that stack scanned from its stack pointer up to
 * the top of the alternate stack when sigaltstack reports it (SS_ONSTACK),
 * else (SS_AUTODISARM, coroutines) to the end of the read/write memory that
 * holds it but at most 8 MiB above the stack pointer; and its own stack is
 * scanned whole, as far as it is readable (a PROT_NONE guard page of the
 * program's own inside it is skipped). The stacks of coroutines that are not
 * running are not scanned: register them with mgc_add_roots().
 *
 * Configuration comes from Go's own environment variables: GOGC, GOMEMLIMIT,
 * GODEBUG (gctrace=1, gccheckmark=1), GOMAXPROCS. See README.md.
 */
#ifndef MGC_H
#define MGC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MGC_VERSION_MAJOR 0
#define MGC_VERSION_MINOR 1
#define MGC_VERSION_PATCH 0
#define MGC_VERSION (MGC_VERSION_MAJOR * 10000 + MGC_VERSION_MINOR * 100 + MGC_VERSION_PATCH)

/* No alloc_size attribute: with it the compiler takes an object to be
   exactly the size asked, and a _FORTIFY_SOURCE build aborts a program
   that writes the mgc_usable_size bytes mgc promises it may write. */
#if defined(__GNUC__) || defined(__clang__)
#define MGC_API __attribute__((visibility("default")))
#define MGC_MALLOC __attribute__((malloc, warn_unused_result))
#define MGC_WUR __attribute__((warn_unused_result))
#define MGC_FORMAT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MGC_API
#define MGC_MALLOC
#define MGC_WUR
#define MGC_FORMAT_PRINTF(f, a)
#endif

/* The library's version, MGC_VERSION of the build that was linked. */
MGC_API int mgc_version(void);

/* ---- Start-up ---------------------------------------------------------- */

/* Optional: the first call into mgc initialises it from the environment.
   Returns 0, or an errno value (ENOMEM when no heap could be reserved, or
   mgc_thread_attach's error for the calling thread);
   once it failed, an allocation aborts with one line saying why (rather
   than answer NULL: there is no heap to collect).
   fork() is supported: initialisation registers pthread_atfork handlers
   that take mgc's locks, and the child keeps the heap with its one
   thread. Prepare handlers run in the reverse order of registration: a
   program whose own prepare handler takes a lock that a thread may hold
   across an mgc call must call mgc_init before registering it. */
MGC_API int mgc_init(void);

/* ---- Threads ----------------------------------------------------------- */

/* A thread is attached on its first mgc call that allocates or hands it a
   heap pointer (below). A thread that holds heap pointers it got
   otherwise (from another thread, through the program's own memory) must
   attach itself first. Attached threads are
   stopped with a signal (SIGPWR) during collections; the handler uses
   SA_RESTART. SIGPWR is mgc's: a program must not install its own handler
   for it, block it in an attached thread, or ignore it (a collection then
   waits for ever, warning every few seconds). A SIGPWR from elsewhere
   (kill -PWR) is ignored outside a collection and by the thread
   collecting; another attached thread that takes one during a collection
   just stops for it a moment early. Attaching unblocks SIGPWR in the
   thread (glibc runs timer_create and aio SIGEV_THREAD callbacks with
   every signal blocked; such a callback may allocate). Detached
   automatically at thread exit; detaching takes SIGPWR while it waits,
   even where the program blocked it, and gives the mask back.
   Cancellation: no mgc function is a cancellation point. A cancel pending
   or arriving during an mgc call is acted on at the thread's next
   cancellation point after it; a thread cancelled while stopped for a
   collection inside a blocking call (read, pthread_cond_wait...) unwinds
   once the collection ends. mgc is not async-cancel-safe: do not call it
   with PTHREAD_CANCEL_ASYNCHRONOUS in effect. The main thread's stack is
   found through /proc/self/maps (glibc's pthread_getattr_np): without
   /proc mounted it cannot attach (ENOENT). One mgc per process: a second
   copy (a program linked with libmgc.a loading a plugin linked with
   libmgc.so) aborts with one line as it starts; link the shared library
   everywhere, or export the whole static copy (-rdynamic -Wl,--whole-archive
   libmgc.a -Wl,--no-whole-archive). Returns 0 or an errno
   (ENOMEM when there is no memory for the thread's record, or
   pthread_getattr_np's error), the thread then not attached. A thread
   attached on its first call that cannot be attached gets NULL with ENOMEM
   from an allocation and the errno from mgc_pthread_create; an mgc call
   that has no error to answer (mgc_free, mgc_collect, the containers...)
   aborts with one line naming the thread. Besides the allocations, every
   call that hands the thread a heap pointer attaches it (mgc_map_get,
   mgc_map_next, mgc_vec_at, mgc_vec_get, mgc_vec_pop, mgc_vec_push,
   mgc_buf_bytes, mgc_base,
   mgc_usable_size, mgc_write...): what a thread holds from such a call on
   is safe. */
MGC_API int mgc_thread_attach(void);
MGC_API void mgc_thread_detach(void);
/* mgc's own threads (mark helpers, the background sweeper) end after a
   second without work and are started again by the next collection that
   needs them: a program whose main thread calls pthread_exit still ends,
   with status 0, when its last own thread does. */
/* pthread_create whose argument stays reachable until the new thread runs;
   the new thread is attached before fn is called. */
MGC_API int mgc_pthread_create(pthread_t *t, const pthread_attr_t *a,
                               void *(*fn)(void *), void *arg);

/* ---- Allocation -------------------------------------------------------- */

/* Precise object layout: one bit per pointer-sized word, 1 = pointer. */
typedef struct mgc_type {
    size_t size;            /* bytes */
    size_t ptrdata;         /* bytes from the start that may hold pointers */
    const uint8_t *ptrmask; /* ptrdata / sizeof(void*) bits, LSB first */
    const char *name;       /* for profiles and errors */
} mgc_type;

/* All allocations are zeroed and aligned to 16 bytes (noscan objects under 16
   bytes, which the tiny allocator packs: 8 or their size's alignment). NULL
   with errno = ENOMEM only after a full collection could not make room. */
MGC_API void *mgc_alloc(size_t size) MGC_MALLOC;         /* scanned conservatively */
MGC_API void *mgc_alloc_noscan(size_t size) MGC_MALLOC;  /* never scanned */
MGC_API void *mgc_alloc_typed(const mgc_type *t) MGC_MALLOC;               /* precise */
/* A precise array of n elements (n = 0: none). Its capacity is every whole
   element its usable size holds, n or more (a Go slice's rounded-up cap):
   all of them are scanned, so the slack mgc_usable_size reports may hold
   pointers too. A type with no pointers (ptrdata 0) makes a plain noscan
   object, never scanned, which mgc_realloc and mgc_free_sized size in
   bytes. */
MGC_API void *mgc_alloc_array(const mgc_type *t, size_t n) MGC_MALLOC;
/* Keeps the object's kind (conservative, noscan, typed). The object stays
   where it is when a request of the new size would get the same block
   (its size class; for a large object its number of pages), or when a
   large object can grow over free pages after it; otherwise it moves and
   the old one is freed (mgc_free), as realloc's contract says the old
   pointer is dead. Either way the bytes past the new size read zero.
   realloc(NULL, n) is alloc(n); realloc(p, 0) returns a fresh minimal
   object of p's kind. NULL with errno = ENOMEM, p unchanged, when there is
   no room, at once for a size larger than the heap can ever hold. */
MGC_API void *mgc_realloc(void *p, size_t size) MGC_WUR;
MGC_API char *mgc_strdup(const char *s) MGC_MALLOC;                        /* noscan */
/* >= the size asked; writing that much never touches another object. p must
   be a pointer mgc returned (aborts otherwise). */
MGC_API size_t mgc_usable_size(const void *p);
/* Object base for an interior pointer, or NULL if p is not inside a live
   heap object; inside a tiny block: that 16-byte block's start. */
MGC_API void *mgc_base(const void *p);

/* ---- Explicit free (Go's runtime.free) --------------------------------- */

#define MGC_HAVE_FREE 1

/* Hand an object back at once. A small object goes on this thread's reuse
   list: the next allocation of its size class and kind on this thread gets
   it first (LIFO), zeroed; if none comes before the next collection, the
   collector reclaims it. A large object (> 32 KiB, or an mgc_buf's storage
   from 32 KiB, mgc_buf_detach's result included) returns its pages to the
   heap at once. Tiny objects (noscan, < 16 bytes) share blocks: freeing one
   is a no-op, the collector reclaims it (and the only check is that p
   starts a tiny object: a double free of one is not caught). NULL is
   ignored.
   Safe in any phase of the collector, from any thread. The program must
   hold the only reference (freeing what it still uses is its bug).
   Aborts with one line naming p for: a pointer mgc did not return, an
   interior pointer, an object already freed (double free), an object the
   last collection found unreachable (a hidden pointer). The last two only
   while the block is not allocated again: with LIFO reuse the next
   allocation of its size class on the freeing thread takes it at once,
   and a second free of p then frees that new object, which mgc cannot
   tell from a valid free. */
MGC_API void mgc_free(void *p);
/* The same, and the size is checked too: size is the size asked at
   allocation, or of the last mgc_realloc that returned p (for a typed
   object with pointers, type size x count, a realloc's count being its
   size rounded up to whole elements; a pointer-free typed array is a
   noscan object, sized in bytes), and noscan says whether it was a noscan
   (or pointer-free typed) object. Aborts if they do not match p: as far as
   mgc can tell, which is the size class (a size that would have been
   given another class, or for a large object other pages or a size
   class) and the kind;
   the exact size is not recorded. */
MGC_API void mgc_free_sized(void *p, size_t size, int noscan);

/* ---- Tracked scopes (Go's freeTracked) --------------------------------- */

/* What is allocated through a scope is freed (mgc_free) when the scope
   ends, unless kept with mgc_scope_keep. MGC_SCOPE(s) declares a scope that
   ends by itself when the enclosing block exits (the cleanup attribute of
   GCC and Clang); mgc_scope_end ends it early (it can then be used again).
   Scopes nest: each frees only what was allocated through it.
   The caller's responsibility: an object still referenced from outside the
   scope when it ends must have been kept, or the reference dangles; an
   object allocated through a scope is the scope's to free, so mgc_free or
   mgc_realloc it only after mgc_scope_keep (else the scope frees it again,
   or whatever has taken its place). Until the scope ends, the scope itself
   keeps its objects alive, if it lives where the collector looks (a local,
   as MGC_SCOPE's is, a global, or mgc heap memory). A scope belongs to one
   thread and is not copied (its list may point into itself). The cleanup
   runs when the block is left normally, by return, break or goto, and
   when a C++ exception or a pthread_cancel unwinds through it (C code
   built with -fexceptions); a longjmp out of the block skips it, and what
   the scope held is then left to the collector. */
#define MGC_SCOPE_INLINE 16
typedef struct mgc_scope {
    void **items; /* inline_items, or a larger array from mgc_alloc */
    size_t n, cap;
    void *inline_items[MGC_SCOPE_INLINE];
} mgc_scope;

MGC_API void mgc_scope_end(mgc_scope *s);
#define MGC_SCOPE(name) \
    mgc_scope name __attribute__((cleanup(mgc_scope_end))) = {0, 0, 0, {0}}
MGC_API void *mgc_scope_alloc(mgc_scope *s, size_t size) MGC_MALLOC;
MGC_API void *mgc_scope_alloc_noscan(mgc_scope *s, size_t size) MGC_MALLOC;
/* Let p, allocated through s, outlive it. Aborts if s did not allocate p. */
MGC_API void mgc_scope_keep(mgc_scope *s, void *p);

/* ---- Self-freeing containers (buf.c, vec.c, map.c) ---------------------- */
/* BEGIN containers */
#include <stdarg.h> /* va_list, for mgc_buf_vprintf */

/* Growable containers that hand their old storage back at once (mgc_free)
   when they grow, the places Go's runtime.free proposal names: a string
   builder, a growing slice, a map. Small storage that is replaced goes to
   this thread's reuse list (the next allocation of its size class on this
   thread gets it); large storage returns its pages to the heap at once.

   Rules common to the three:
   - The struct is the caller's (a local, a global, or inside mgc heap
     memory) and must live where the collector looks: its first member is
     its one heap pointer (inside a typed object, mark that word a pointer).
     A struct in malloc memory is not scanned: its storage would be
     reclaimed, and the next growth's free aborts naming it (not
     allocated, or found unreachable) only if nothing took the storage's
     place meanwhile; if another object did, that object is freed in its
     stead, which corrupts the heap (register the struct with
     mgc_add_roots instead). All-zero is a valid empty buf and
     map; a vec needs an init call (its element type).
   - Aliasing: a pointer into a container's storage (mgc_buf_bytes,
     mgc_buf_cstr, mgc_vec_at, mgc_vec_data, mgc_vec_push's result) is
     invalidated by the next growth, because the old storage is freed, like
     a C++ vector's data(). Passing such a pointer back to the same
     container's append, push or set is fine: the old storage is freed only
     after the copy. (A map's keys are objects of their own: see delete.)
   - Do not use two copies of one struct: the first to grow frees what the
     other still points to. Moving it (never using the old copy) is fine.
   - Not thread-safe, as Go's maps and slices: one thread at a time.
   - Misuse (NULL container, index out of range, a pointer stored in
     pointer-free elements, an iteration that outlives a resize) aborts with
     one line naming the container. So does running out of memory (the
     allocator's collect-and-retry failed), as Go's runtime throws. */

/* mgc_buf: a byte buffer, Go's strings.Builder / bytes.Buffer. The storage
   is noscan and its capacity a power of two (>= 16); it doubles when full,
   freeing the old storage (mgc_free_sized), or, when it is large and the
   pages after it are free, grows where it is. The bytes are not
   NUL-terminated except through mgc_buf_cstr, mgc_buf_string and
   mgc_buf_detach. */
typedef struct mgc_buf {
    char *data; /* the storage, NULL until the first byte (the heap pointer) */
    size_t len; /* bytes in use */
    size_t cap; /* bytes of storage: its exact allocation size */
} mgc_buf;
#define MGC_BUF_INIT {0, 0, 0}

MGC_API void mgc_buf_init(mgc_buf *b);
MGC_API void mgc_buf_append(mgc_buf *b, const void *bytes, size_t n);
MGC_API void mgc_buf_append_str(mgc_buf *b, const char *s);
MGC_API void mgc_buf_append_byte(mgc_buf *b, int c);
/* Formatted text (vsnprintf into the buffer's own spare room, growing once
   if it does not fit; output that fills the room exactly fits, though
   vsnprintf's NUL would not; nothing is malloc'd). Returns the bytes appended, or
   -1 (nothing appended) on an encoding error. Arguments must not point into
   the buffer. */
MGC_API int mgc_buf_printf(mgc_buf *b, const char *fmt, ...) MGC_FORMAT_PRINTF(2, 3);
MGC_API int mgc_buf_vprintf(mgc_buf *b, const char *fmt, va_list ap) MGC_FORMAT_PRINTF(2, 0);
/* Room for n more bytes without growing (Go's Builder.Grow). */
MGC_API void mgc_buf_grow(mgc_buf *b, size_t n);
MGC_API size_t mgc_buf_len(const mgc_buf *b);
MGC_API size_t mgc_buf_cap(const mgc_buf *b);
/* The bytes, valid until the next growth; NULL while there is no storage. */
MGC_API char *mgc_buf_bytes(const mgc_buf *b);
/* The bytes followed by a NUL (not counted in len; the next append
   overwrites it); may grow. Never NULL. */
MGC_API char *mgc_buf_cstr(mgc_buf *b);
/* Keep the first n <= len bytes. */
MGC_API void mgc_buf_truncate(mgc_buf *b, size_t n);
/* len = 0; the storage is kept for reuse. */
MGC_API void mgc_buf_reset(mgc_buf *b);
/* Taking the result. mgc_buf_string: a new NUL-terminated copy of exactly
   len + 1 bytes (noscan) that the buffer does not touch again; the buffer
   is unchanged. mgc_buf_detach: the storage itself, NUL-terminated (it may
   grow for the NUL), now the caller's (free it with mgc_free, or let the
   collector); the buffer is left empty, without storage. *len_out, if not
   NULL, gets the length. */
MGC_API char *mgc_buf_string(const mgc_buf *b) MGC_MALLOC;
MGC_API char *mgc_buf_detach(mgc_buf *b, size_t *len_out) MGC_WUR;
/* Free the storage now (mgc_free_sized); the buffer is empty and usable. */
MGC_API void mgc_buf_free(mgc_buf *b);

/* The appends' fast path, inline in the caller as Go's compiler inlines
   append: when the bytes fit, copy them and bump len; anything else (no
   room, n == 0, a NULL buffer or one whose len exceeds its cap, NULL
   bytes) goes to the function of the same name, which grows, checks and
   aborts. The function also refuses storage lost with a capacity left
   (data NULL, cap not 0), which the inline path does not test (two more
   instructions in every append; such a buffer writes near address 0,
   which faults). The macros keep the
   functions' names, addresses and exported symbols; (mgc_buf_append)(...)
   calls the function itself. MGC_BUF_NO_INLINE before including mgc.h
   turns them off; C++ and compilers other than GCC and Clang get the
   functions.

   The copy is a call of the C library's memcpy, not the compiler's inline
   expansion: for a length it cannot know but can bound (a piece of at most
   255 bytes, say) GCC emits rep movs, which costs twice the call per
   16-64-byte piece (measured: docs/benchmarks.md, containers). The asm
   label names the same memcpy symbol under a name the compiler does not
   treat as its builtin. A length known at compile time is left to the
   compiler, which copies it with a few moves. Where the compiler has it
   (GCC), noplt makes the call go straight through the GOT, as -fno-plt
   would, instead of through a PLT stub's extra jump: with the PLT, a
   64 KiB build of 16-64-byte pieces appended into a presized buffer ran
   10% slower (docs/benchmarks.md, containers). */
#if !defined(MGC_BUF_NO_INLINE) && (defined(__GNUC__) || defined(__clang__)) && defined(__ELF__) && \
    !defined(__cplusplus)
#if defined(__has_attribute)
#if __has_attribute(noplt)
#define MGC__NOPLT __attribute__((noplt))
#endif
#endif
#ifndef MGC__NOPLT
#define MGC__NOPLT
#endif
extern void *mgc__libc_memcpy(void *dst, const void *src, size_t n) __asm__("memcpy") MGC__NOPLT;

static inline __attribute__((always_inline)) void mgc__buf_append_inline(mgc_buf *b, const void *bytes, size_t n)
{
    size_t len, cap;
    /* len <= cap keeps a damaged buffer off the fast path; n - 1 < room
       is 1 <= n <= room, so an empty append and a buffer without storage
       (cap 0) take the slow path too, as do NULL bytes. */
    if (__builtin_expect(b != NULL && bytes != NULL && (len = b->len) <= (cap = b->cap) && n - 1 < cap - len, 1)) {
        b->len = len + n;
        if (__builtin_constant_p(n))
            __builtin_memcpy(b->data + len, bytes, n);
        else
            mgc__libc_memcpy(b->data + len, bytes, n);
        return;
    }
    (mgc_buf_append)(b, bytes, n);
}

static inline __attribute__((always_inline)) void mgc__buf_append_byte_inline(mgc_buf *b, int c)
{
    size_t len;
    if (__builtin_expect(b != NULL && (len = b->len) < b->cap, 1)) {
        b->data[len] = (char)c;
        b->len = len + 1;
        return;
    }
    (mgc_buf_append_byte)(b, c);
}

#define mgc_buf_append(b, bytes, n) mgc__buf_append_inline((b), (bytes), (n))
#define mgc_buf_append_byte(b, c) mgc__buf_append_byte_inline((b), (c))
#endif

/* mgc_vec: a growable array (Go's append to a slice) of pointers or of
   fixed-size elements, scanned precisely: its storage is mgc_alloc_array
   of the element type (every word a pointer for a vector of pointers;
   noscan when the elements hold none). It doubles when full (capacity
   rounded up to fill the size class, as Go's growslice) and frees the old
   array. Stores into pointer-holding elements go through the write barrier.
   Popped and truncated elements of a vector that holds pointers are
   zeroed, so the vector does not keep what they pointed to alive (a
   noscan vector's keep their bytes). */
typedef struct mgc_vec {
    void *data;           /* the array, NULL until the first element (the heap pointer) */
    size_t len;           /* elements in use */
    size_t cap;           /* elements the array holds */
    size_t elem_size;     /* bytes per element; 0 = not initialised */
    const mgc_type *type; /* element type; NULL: the elements hold no pointers */
} mgc_vec;

/* A vector of void *. */
MGC_API void mgc_vec_init_ptr(mgc_vec *v);
/* Elements of type t (t->size bytes each; t must outlive the vector, as
   for mgc_alloc_array). A t with ptrdata 0 makes a noscan vector. */
MGC_API void mgc_vec_init(mgc_vec *v, const mgc_type *t);
/* Elements of elem_size bytes that hold no pointers (never scanned). */
MGC_API void mgc_vec_init_noscan(mgc_vec *v, size_t elem_size);
/* Append a copy of *elem (elem_size bytes; NULL appends a zeroed element).
   Returns the new element's address, valid until the next growth. */
MGC_API void *mgc_vec_push(mgc_vec *v, const void *elem);
/* Append n elements copied from elems (n * elem_size bytes). */
MGC_API void mgc_vec_append(mgc_vec *v, const void *elems, size_t n);
/* Remove the last element, copying it to *out if out is not NULL. Aborts
   on an empty vector. */
MGC_API void mgc_vec_pop(mgc_vec *v, void *out);
/* Element i (bounds-checked): its address (valid until the next growth),
   or a copy of it. */
MGC_API void *mgc_vec_at(const mgc_vec *v, size_t i);
MGC_API void mgc_vec_get(const mgc_vec *v, size_t i, void *out);
MGC_API void mgc_vec_set(mgc_vec *v, size_t i, const void *elem);
/* The same for a vector of pointers (elements of one pointer word; any
   other vector aborts). */
MGC_API void mgc_vec_push_ptr(mgc_vec *v, void *p);
MGC_API void *mgc_vec_pop_ptr(mgc_vec *v);
MGC_API void *mgc_vec_get_ptr(const mgc_vec *v, size_t i);
MGC_API void mgc_vec_set_ptr(mgc_vec *v, size_t i, void *p);
MGC_API size_t mgc_vec_len(const mgc_vec *v);
MGC_API size_t mgc_vec_cap(const mgc_vec *v);
/* The array (elements 0..len-1), valid until the next growth. */
MGC_API void *mgc_vec_data(const mgc_vec *v);
/* Capacity for at least n elements in all (C++'s reserve). */
MGC_API void mgc_vec_reserve(mgc_vec *v, size_t n);
/* Keep the first n <= len elements; in a vector that holds pointers the
   rest are zeroed (see above), a noscan vector's keep their bytes. */
MGC_API void mgc_vec_truncate(mgc_vec *v, size_t n);
/* Free the array now; the vector is empty and keeps its element type. */
MGC_API void mgc_vec_free(mgc_vec *v);

/* mgc_map: a hash map from byte strings to pointers (Go's map[string]*T).
   Open addressing with linear probing in one typed table (map.c says why);
   keys are copied into noscan storage; values are pointers that the map
   keeps alive. When a put would pass 3/4 full the table is rebuilt,
   twice as large (or at the same size, when deleted entries made up the
   load) and the old table freed; it never shrinks. Deleting an entry frees its key copy; clear and free
   free the table and leave the key copies to the collector (freeing cold
   keys one by one costs more than the sweep; map.c has the numbers). */
struct mgc_map_slot;
typedef struct mgc_map {
    struct mgc_map_slot *slots; /* the table, NULL until the first put (the heap pointer) */
    size_t len;                 /* entries */
    size_t used;                /* entries + deleted slots not yet reclaimed */
    size_t mask;                /* table size - 1 (a power of two), 0 without a table */
    uint64_t seed;              /* hash seed, chosen with the first table */
    uint64_t gen;               /* new, for every map, whenever the table is replaced */
} mgc_map;
#define MGC_MAP_INIT {0, 0, 0, 0, 0, 0}

MGC_API void mgc_map_init(mgc_map *m);
/* Set key -> value. A new key is copied (keylen bytes; key may be NULL
   when keylen is 0); an existing one keeps its copy, its value replaced. */
MGC_API void mgc_map_put(mgc_map *m, const void *key, size_t keylen, void *value);
/* The value, or NULL if absent (mgc_map_lookup tells a NULL value apart:
   1 and *value set if present, else 0). */
MGC_API void *mgc_map_get(const mgc_map *m, const void *key, size_t keylen);
MGC_API int mgc_map_lookup(const mgc_map *m, const void *key, size_t keylen, void **value);
/* Remove key; 1 if it was present. Its key copy is freed: a key pointer
   from iteration is valid until its entry is deleted. */
MGC_API int mgc_map_delete(mgc_map *m, const void *key, size_t keylen);
MGC_API size_t mgc_map_len(const mgc_map *m);
/* Delete every entry; the table is kept (zeroed), the key copies are left
   to the collector. */
MGC_API void mgc_map_clear(mgc_map *m);
/* Free the table now (the key copies are left to the collector); the map
   is empty and usable. */
MGC_API void mgc_map_free(mgc_map *m);

/* Iteration, in no particular order (it starts at a random slot, as Go's
   range does: do not depend on it). While iterating, deleting any entry
   and replacing values is allowed; a new key may or may not be visited.
   If its put replaces the table (it grows, or is rebuilt at the same size
   once deleted entries have piled up), or the map is freed, the next
   mgc_map_next aborts, even if the map was initialised again since (by
   mgc_map_init). */
typedef struct mgc_map_iter {
    const void *key;  /* the current entry, after mgc_map_next returned 1 */
    size_t keylen;
    void *value;
    const mgc_map *map; /* the rest is private */
    size_t pos, left;
    uint64_t gen;
} mgc_map_iter;
MGC_API void mgc_map_iter_init(mgc_map_iter *it, const mgc_map *m);
/* 1 and the next entry in it->key, keylen, value; 0 at the end. */
MGC_API int mgc_map_next(mgc_map_iter *it);
/* END containers */

/* ---- Collection control ------------------------------------------------ */

/* Blocks until a full cycle that started after the call has finished,
   sweeping included; concurrent callers share one cycle. */
MGC_API void mgc_collect(void);
/* GOGC: returns the previous value; < 0 = off. */
MGC_API int mgc_set_gc_percent(int percent);

/* ---- Roots ------------------------------------------------------------- */

/* Scan [start, end) conservatively in every collection until removed. */
MGC_API void mgc_add_roots(void *start, void *end);
/* Stop scanning every registered range that lies within [start, end)
   (a range added twice goes at once, as in the Boehm GC). */
MGC_API void mgc_remove_roots(void *start, void *end);

/* ---- Write barrier ----------------------------------------------------- */

/* Store a heap pointer into heap memory through the collector's barrier.
   The collector is stop-the-world today, so this is a plain store; programs
   that use it now keep working when marking becomes concurrent. */
MGC_API void mgc_write(void **slot, void *value);
#define MGC_WRITE(lvalue, value) \
    mgc_write((void **)&(lvalue), (void *)(value))
/* memmove for memory that may hold heap pointers (barrier-aware). */
MGC_API void *mgc_memmove(void *dst, const void *src, size_t n);

/* ---- Observability ----------------------------------------------------- */

typedef struct mgc_size_stats {
    uint32_t size;    /* the class's object size in bytes */
    uint64_t mallocs; /* objects of this class allocated */
    uint64_t frees;   /* objects of this class freed */
} mgc_size_stats;

/* Go's runtime.MemStats, field for field, in snake case. Byte counts are
   bytes; times are nanoseconds (last_gc and pause_end: Unix epoch). */
typedef struct mgc_memstats {
    /* General. */
    uint64_t alloc;       /* bytes of allocated heap objects (= heap_alloc) */
    uint64_t total_alloc; /* cumulative bytes allocated (object slot sizes) */
    uint64_t sys;         /* total bytes obtained from the OS (sum of *_sys) */
    uint64_t lookups;     /* always 0, as in Go */
    uint64_t mallocs;     /* cumulative objects allocated (tiny included) */
    uint64_t frees;       /* cumulative objects freed (tiny included) */

    /* Heap. */
    uint64_t heap_alloc;    /* bytes of allocated objects, live or not yet swept */
    uint64_t heap_sys;      /* bytes of heap address space mapped from the OS */
    uint64_t heap_idle;     /* bytes in spans with no objects */
    uint64_t heap_inuse;    /* bytes in spans with at least one object */
    uint64_t heap_released; /* bytes of idle spans returned to the OS */
    uint64_t heap_objects;  /* allocated objects, live or not yet swept */

    /* Stacks (C stacks are not mgc's: always 0). */
    uint64_t stack_inuse;
    uint64_t stack_sys;

    /* Off-heap metadata. */
    uint64_t mspan_inuse;
    uint64_t mspan_sys;
    uint64_t mcache_inuse;
    uint64_t mcache_sys;
    uint64_t buck_hash_sys;
    uint64_t gc_sys;
    uint64_t other_sys;

    /* Collector. */
    uint64_t next_gc;            /* heap goal of the next cycle */
    uint64_t last_gc;            /* end of the last cycle, Unix ns */
    uint64_t pause_total_ns;     /* cumulative stop-the-world time */
    uint64_t pause_ns[256];      /* ring: latest at (num_gc + 255) % 256 */
    uint64_t pause_end[256];     /* ring of pause end times, Unix ns */
    uint32_t num_gc;             /* completed cycles */
    uint32_t num_forced_gc;      /* cycles forced by mgc_collect */
    double gc_cpu_fraction;      /* GC CPU (each pause x min(GOMAXPROCS, CPUs): marking
                                    runs inside the pause, so the mark workers are in it;
                                    sweeping is not counted, as in Go) / (wall since start
                                    x GOMAXPROCS) */
    int enable_gc;               /* always 1 */
    int debug_gc;                /* always 0 */

    /* Per size class, classes 0-60 as Go reports them. Entry 0 stands for
       class 0, the large objects, and stays zero, as in Go: large objects
       count in mallocs, frees and the byte totals only. */
    mgc_size_stats by_size[61];

    /* mgc's own additions. */
    uint64_t gc_scan_stack_bytes;   /* stack bytes scanned by the last cycle */
    uint64_t gc_scan_global_bytes;  /* data/bss and root bytes scanned by the last cycle */
    uint64_t heap_marked;           /* bytes marked live by the last cycle (parallel
                                       workers may count an object twice, as Go's do) */
    uint64_t pause_max_ns;          /* longest stop-the-world pause so far */
    uint64_t heap_live_peak;        /* largest heap (live + new) seen at a cycle's start */
    uint64_t num_threads;           /* attached threads now */
    uint64_t gc_workers;            /* GC worker threads (GOMAXPROCS) */
    uint64_t frees_explicit;        /* objects freed by mgc_free / mgc_free_sized / scopes */
    uint64_t frees_explicit_large;  /* of those, large objects (pages returned at once) */
} mgc_memstats;

/* Stops the world briefly, as Go's ReadMemStats does, so figures are exact. */
MGC_API void mgc_read_memstats(mgc_memstats *ms);

#ifdef __cplusplus
}
#endif

#endif /* MGC_H */
