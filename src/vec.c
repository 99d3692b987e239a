/*
 * vec.c — mgc_vec, the growable array (Go's append to a slice; declared in
 * mgc.h).
 *
 * Storage is one array of cap elements of the kind its elements need:
 *   - they hold pointers: mgc_alloc_array of the element type, so the
 *     collector scans exactly the pointer words of every element (a vector
 *     of pointers uses a one-word type whose word is a pointer);
 *   - they hold none: noscan and allocated raw (mgc__alloc_noscan_raw:
 *     every element is written before it is read), never scanned.
 * Growth: twice the capacity, or what is asked if more, rounded up so the
 * array fills the slot the allocator gives anyway (mgc__containers_fit;
 * Go's growslice does the same with roundupsize); then the elements are
 * copied and the old array freed with its exact size and kind. A request
 * below 16 bytes is raised to 16, so pointer-free arrays are not tiny blocks
 * (those cannot be freed), except when elements of under 16 bytes leave a
 * remainder (cap 5 of 3 bytes): such a free is a no-op, never an error.
 *
 * Invariants, checked on entry: len <= cap; data is NULL exactly when cap
 * is 0; elem_size is not 0 (the vector was initialised). The size asked of
 * the allocator is cap * elem_size, so the free can pass it. In a
 * pointer-holding array the elements in [len, cap) are zero: they are
 * scanned, and a stale pointer there would keep its object alive, so pop
 * and truncate clear what they drop. Every store into such an array goes
 * through the write barrier (barrier.h): whole elements with mgc__wb_bulk
 * before the copy, single pointers with mgc__wb_store, and clearing with
 * mgc__wb_bulk(dst, NULL, n) before the memset (src NULL: Go's
 * bulkBarrierPreWrite for memclrHasPointers). The old array is freed only
 * after the last read from it: pushing an element of the vector itself is
 * safe.
 */
#include "internal/barrier.h"
#include "internal/alloc.h"
#include "internal/containers.h"

static const uint8_t ptr_mask[1] = {0x01};
static const mgc_type ptr_type = {sizeof(void *), sizeof(void *), ptr_mask, "void *"};

static MGC_COLD MGC_NORETURN void bad_vec(const char *fn, const mgc_vec *v)
{
    if (!v)
        mgc__fatal("%s: the vector is NULL", fn);
    if (!v->elem_size)
        mgc__fatal("%s: vector %p is not initialised (element size 0; call mgc_vec_init, "
                   "mgc_vec_init_ptr or mgc_vec_init_noscan first)",
                   fn, (const void *)v);
    mgc__fatal("%s: vector %p is not a valid mgc_vec (data %p, len %zu, cap %zu): overwritten?", fn,
               (const void *)v, v->data, v->len, v->cap);
}

MGC_INLINE void check(const mgc_vec *v, const char *fn)
{
    if (unlikely(!v || !v->elem_size || v->len > v->cap || (v->cap == 0) != (v->data == NULL)))
        bad_vec(fn, v);
}

/* Do the elements hold pointers (a typed, scanned array)? */
MGC_INLINE bool scanned(const mgc_vec *v) { return v->type && v->type->ptrdata; }

static MGC_COLD MGC_NORETURN void not_ptrs(const char *fn, const mgc_vec *v)
{
    const char *name = v->type && v->type->name ? v->type->name : "(unnamed)";
    if (!scanned(v))
        mgc__fatal("%s: vector %p holds %zu-byte elements without pointers (noscan): a pointer stored "
                   "there would be hidden from the collector",
                   fn, (const void *)v, v->elem_size);
    mgc__fatal("%s: vector %p holds %zu-byte elements of type %s, not pointers", fn, (const void *)v,
               v->elem_size, name);
}

/* A vector of pointers: one word per element, and that word a pointer. */
MGC_INLINE void check_ptrs(const mgc_vec *v, const char *fn)
{
    check(v, fn);
    if (unlikely(v->type != &ptr_type) &&
        !(v->elem_size == sizeof(void *) && v->type && v->type->ptrdata == sizeof(void *) &&
          (v->type->ptrmask[0] & 1)))
        not_ptrs(fn, v);
}

MGC_INLINE void check_index(const mgc_vec *v, size_t i, const char *fn)
{
    MGC_CHECK(i < v->len, "%s: index %zu out of range [0, %zu) of vector %p", fn, i, v->len, (const void *)v);
}

MGC_INLINE char *elem_at(const mgc_vec *v, size_t i) { return (char *)v->data + i * v->elem_size; }

/* Copy n elements into the array (dst inside it) from src, or zero them
   if src is NULL; src may overlap dst. */
static void store(const mgc_vec *v, char *dst, const void *src, size_t n)
{
    size_t bytes = n * v->elem_size;
    if (scanned(v))
        mgc__wb_bulk(dst, src, bytes);
    if (src)
        memmove(dst, src, bytes);
    else
        memset(dst, 0, bytes);
}

/* Copy element bytes out to memory that is the caller's, which may be
   heap memory that holds pointers: through the barrier. */
static void load(const mgc_vec *v, void *out, const char *src)
{
    if (scanned(v))
        mgc__wb_bulk(out, src, v->elem_size);
    memcpy(out, src, v->elem_size);
}

/* Zero elements [from, to) of a pointer-holding array (the invariant). */
static void clear_tail(const mgc_vec *v, size_t from, size_t to)
{
    if (scanned(v) && to > from)
        store(v, elem_at(v, from), NULL, to - from);
}

/* Capacity for at least need elements: a new array with the elements
   copied. Returns the old array (NULL if there was none) and its capacity
   in *oldcap; the caller frees it (release) once it has read from it. */
static MGC_NOINLINE void *grow(mgc_vec *v, size_t need, size_t *oldcap, const char *fn)
{
    size_t esz = v->elem_size;
    MGC_CHECK(need <= MGC_CONTAINERS_MAX / esz, "%s: vector %p cannot hold %zu elements of %zu bytes", fn,
              (void *)v, need, esz);
    size_t want = v->cap * 2;
    if (want < need || want > MGC_CONTAINERS_MAX / esz)
        want = need;
    size_t bytes = want * esz;
    if (bytes < 16)
        bytes = 16;
    bool typed = scanned(v);
    size_t cap = mgc__containers_fit(bytes, typed) / esz;
    /* Large storage first tries to grow where it is (free pages after it):
       no copy, nothing to free. A typed array's new part is zeroed. */
    if (mgc__containers_grow_in_place(v->data, cap * esz, typed)) {
        *oldcap = 0;
        v->cap = cap;
        return NULL;
    }
    /* Noscan arrays are allocated raw (Go's growslice: needzero false for
       pointer-free arrays): elements are written before they are read,
       a pushed NULL element is stored as zeros. */
    void *p = typed ? mgc_alloc_array(v->type, cap) : mgc__alloc_noscan_raw(cap * esz);
    MGC_CONTAINER_CHECK(p, "%s: out of memory growing vector %p to %zu elements of %zu bytes", fn, (void *)v,
                        cap, esz);
    if (v->len) {
        if (typed)
            mgc__wb_bulk(p, v->data, v->len * esz);
        memcpy(p, v->data, v->len * esz);
    }
    void *old = v->data;
    *oldcap = v->cap;
    v->data = p;
    v->cap = cap;
    return old;
}

MGC_INLINE void release(const mgc_vec *v, void *old, size_t oldcap)
{
    mgc__containers_release(old, oldcap * v->elem_size, !scanned(v));
}

/* ---- initialisation ---------------------------------------------------- */

void mgc_vec_init_ptr(mgc_vec *v)
{
    if (unlikely(!v))
        bad_vec("mgc_vec_init_ptr", v);
    *v = (mgc_vec){NULL, 0, 0, sizeof(void *), &ptr_type};
}

void mgc_vec_init(mgc_vec *v, const mgc_type *t)
{
    if (unlikely(!v))
        bad_vec("mgc_vec_init", v);
    MGC_CHECK(t != NULL, "mgc_vec_init: vector %p: the element type is NULL", (void *)v);
    const char *name = t->name ? t->name : "(unnamed)";
    MGC_CHECK(t->size > 0, "mgc_vec_init: vector %p: element type %s has size 0", (void *)v, name);
    MGC_CHECK(t->ptrdata <= t->size, "mgc_vec_init: vector %p: element type %s has ptrdata %zu > size %zu",
              (void *)v, name, t->ptrdata, t->size);
    if (t->ptrdata) {
        MGC_CHECK(t->size % sizeof(void *) == 0 && t->ptrdata % sizeof(void *) == 0,
                  "mgc_vec_init: vector %p: element type %s: size %zu and ptrdata %zu must be multiples of %zu",
                  (void *)v, name, t->size, t->ptrdata, sizeof(void *));
        MGC_CHECK(t->ptrmask != NULL, "mgc_vec_init: vector %p: element type %s has pointers but no ptrmask",
                  (void *)v, name);
    }
    *v = (mgc_vec){NULL, 0, 0, t->size, t};
}

void mgc_vec_init_noscan(mgc_vec *v, size_t elem_size)
{
    if (unlikely(!v))
        bad_vec("mgc_vec_init_noscan", v);
    MGC_CHECK(elem_size > 0, "mgc_vec_init_noscan: vector %p: element size 0", (void *)v);
    *v = (mgc_vec){NULL, 0, 0, elem_size, NULL};
}

/* ---- elements ---------------------------------------------------------- */

/* n more elements copied from elems (zeros if NULL), growing first if
   needed; returns where the first one went. The old storage is freed
   after the copy: elems may lie in it. */
static void *append_n(mgc_vec *v, const void *elems, size_t n, const char *fn)
{
    void *old = NULL;
    size_t oldcap = 0;
    if (unlikely(n > v->cap - v->len)) { /* within cap, len + n cannot overflow */
        MGC_CHECK(n <= MGC_CONTAINERS_MAX - v->len, "%s: vector %p cannot hold %zu more elements", fn,
                  (void *)v, n);
        old = grow(v, v->len + n, &oldcap, fn);
    }
    char *dst = elem_at(v, v->len);
    store(v, dst, elems, n);
    v->len += n;
    release(v, old, oldcap);
    return dst;
}

void *mgc_vec_push(mgc_vec *v, const void *elem)
{
    mgc__attach_caller(); /* hands this thread a heap pointer: its stack must be scanned */
    check(v, "mgc_vec_push");
    return append_n(v, elem, 1, "mgc_vec_push");
}

void mgc_vec_append(mgc_vec *v, const void *elems, size_t n)
{
    check(v, "mgc_vec_append");
    MGC_CHECK(elems || !n, "mgc_vec_append: %zu elements from NULL into vector %p", n, (void *)v);
    if (n)
        append_n(v, elems, n, "mgc_vec_append");
}

void mgc_vec_pop(mgc_vec *v, void *out)
{
    mgc__attach_caller(); /* hands this thread a heap pointer: its stack must be scanned */
    check(v, "mgc_vec_pop");
    MGC_CHECK(v->len > 0, "mgc_vec_pop: vector %p is empty", (void *)v);
    v->len--;
    if (out)
        load(v, out, elem_at(v, v->len));
    clear_tail(v, v->len, v->len + 1);
}

void *mgc_vec_at(const mgc_vec *v, size_t i)
{
    mgc__attach_caller(); /* hands this thread a heap pointer: its stack must be scanned */
    check(v, "mgc_vec_at");
    check_index(v, i, "mgc_vec_at");
    return elem_at(v, i);
}

void mgc_vec_get(const mgc_vec *v, size_t i, void *out)
{
    mgc__attach_caller(); /* hands this thread a heap pointer: its stack must be scanned */
    check(v, "mgc_vec_get");
    check_index(v, i, "mgc_vec_get");
    MGC_CHECK(out != NULL, "mgc_vec_get: out is NULL (vector %p)", (const void *)v);
    load(v, out, elem_at(v, i));
}

void mgc_vec_set(mgc_vec *v, size_t i, const void *elem)
{
    check(v, "mgc_vec_set");
    check_index(v, i, "mgc_vec_set");
    store(v, elem_at(v, i), elem, 1);
}

void mgc_vec_push_ptr(mgc_vec *v, void *p)
{
    check_ptrs(v, "mgc_vec_push_ptr");
    if (unlikely(v->len == v->cap)) {
        size_t oldcap;
        void *old = grow(v, v->len + 1, &oldcap, "mgc_vec_push_ptr");
        release(v, old, oldcap);
    }
    mgc__wb_store((void **)v->data + v->len, p);
    v->len++;
}

void *mgc_vec_pop_ptr(mgc_vec *v)
{
    mgc__attach_caller(); /* hands this thread a heap pointer: its stack must be scanned */
    check_ptrs(v, "mgc_vec_pop_ptr");
    MGC_CHECK(v->len > 0, "mgc_vec_pop_ptr: vector %p is empty", (void *)v);
    void **slot = (void **)v->data + --v->len;
    void *p = *slot;
    mgc__wb_store(slot, NULL);
    return p;
}

void *mgc_vec_get_ptr(const mgc_vec *v, size_t i)
{
    mgc__attach_caller(); /* hands this thread a heap pointer: its stack must be scanned */
    check_ptrs(v, "mgc_vec_get_ptr");
    check_index(v, i, "mgc_vec_get_ptr");
    return ((void **)v->data)[i];
}

void mgc_vec_set_ptr(mgc_vec *v, size_t i, void *p)
{
    check_ptrs(v, "mgc_vec_set_ptr");
    check_index(v, i, "mgc_vec_set_ptr");
    mgc__wb_store((void **)v->data + i, p);
}

/* ---- size -------------------------------------------------------------- */

size_t mgc_vec_len(const mgc_vec *v)
{
    check(v, "mgc_vec_len");
    return v->len;
}

size_t mgc_vec_cap(const mgc_vec *v)
{
    check(v, "mgc_vec_cap");
    return v->cap;
}

void *mgc_vec_data(const mgc_vec *v)
{
    mgc__attach_caller(); /* hands this thread a heap pointer: its stack must be scanned */
    check(v, "mgc_vec_data");
    return v->data;
}

void mgc_vec_reserve(mgc_vec *v, size_t n)
{
    check(v, "mgc_vec_reserve");
    if (n > v->cap) {
        size_t oldcap;
        void *old = grow(v, n, &oldcap, "mgc_vec_reserve");
        release(v, old, oldcap);
    }
}

void mgc_vec_truncate(mgc_vec *v, size_t n)
{
    check(v, "mgc_vec_truncate");
    MGC_CHECK(n <= v->len, "mgc_vec_truncate: %zu is beyond the length %zu of vector %p", n, v->len, (void *)v);
    clear_tail(v, n, v->len);
    v->len = n;
}

void mgc_vec_free(mgc_vec *v)
{
    check(v, "mgc_vec_free");
    void *old = v->data;
    size_t oldcap = v->cap;
    v->data = NULL;
    v->len = v->cap = 0;
    release(v, old, oldcap);
}
