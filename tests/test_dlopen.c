/* A library loaded with dlopen after collections have run: its data and
   bss become roots at the next cycle (roots.c walks the loaded objects
   again when the loader's load count has changed, and only then). An
   object whose only reference is in the library's bss survives many
   collections; a library loaded again after dlclose is seen again; and
   collections run safely while another thread, one mgc never stops,
   loads and unloads it. MGC_TEST_DSO is the library's path
   (tests/CMakeLists.txt). */
#include "testing.h"
#include <dlfcn.h>
#include <mgc.h>
#include <pthread.h>
#include <stdatomic.h>

typedef void (*set_fn)(void *);
typedef void *(*get_fn)(void);

static void *load(set_fn *set, get_fn *get)
{
    void *h = dlopen(MGC_TEST_DSO, RTLD_NOW | RTLD_LOCAL);
    CHECK_MSG(h != NULL, "dlopen %s: %s", MGC_TEST_DSO, dlerror());
    *set = (set_fn)dlsym(h, "holder_set");
    *get = (get_fn)dlsym(h, "holder_get");
    CHECK(*set && *get);
    return h;
}

/* Several MiB of garbage and a forced collection, from a clean stack. */
static __attribute__((noinline)) void churn(void)
{
    for (int i = 0; i < 20000; i++) {
        (void)!mgc_alloc(64 + (size_t)(i % 512));
        (void)!tagged(7); /* the size class of the held object: a freed slot is reused */
    }
    t_scrub_stack();
    mgc_collect();
}

/* Hand the library one tagged object; nothing else keeps it. */
static __attribute__((noinline)) uintptr_t give(set_fn set, uint64_t tag)
{
    uint64_t *p = tagged(tag);
    set(p);
    return t_hide(p);
}

static void round_trip(uint64_t tag)
{
    set_fn set;
    get_fn get;
    void *h = load(&set, &get);
    uintptr_t hidden = give(set, tag);
    for (int i = 0; i < 10; i++)
        churn();
    uint64_t *p = get();
    CHECK_MSG(p == t_unhide(hidden), "the library's pointer changed");
    CHECK_MSG(mgc_base(p) == p, "object %p held in the dlopen'd library's bss was reclaimed", (void *)p);
    CHECK_MSG(tag_ok(p, tag), "object %p held in the library's bss was reclaimed and reused", (void *)p);
    p = NULL;
    set(NULL);
    CHECK_EQ(dlclose(h), 0);
}

/* A thread mgc never stops (it never calls mgc) loads and unloads the
   library while the main thread collects: the segment list a cycle walks
   must stay mapped until it has marked (the marker faulted on a library
   unmapped between the walk and the stop). */
static atomic_int g_stop_loader;
static atomic_long g_loads;
static void *loader(void *arg)
{
    (void)arg;
    while (!atomic_load(&g_stop_loader)) {
        void *h = dlopen(MGC_TEST_DSO, RTLD_NOW | RTLD_LOCAL);
        CHECK_MSG(h != NULL, "dlopen %s: %s", MGC_TEST_DSO, dlerror());
        CHECK_EQ(dlclose(h), 0);
        atomic_fetch_add(&g_loads, 1);
    }
    return NULL;
}
static void racing_unload(void)
{
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, loader, NULL), 0);
    double t0 = t_now();
    long n = 0;
    while ((t_now() - t0 < 1.5 || atomic_load(&g_loads) < 100) && t_now() - t0 < 30) {
        (void)!mgc_alloc(64);
        mgc_collect();
        n++;
    }
    atomic_store(&g_stop_loader, 1);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_MSG(atomic_load(&g_loads) >= 100, "only %ld loads beside %ld collections", (long)atomic_load(&g_loads), n);
    printf("dlopen: %ld collections beside %ld loads and unloads on another thread\n", n, (long)atomic_load(&g_loads));
}

int main(void)
{
    t_seed();
    mgc_init();
    for (int i = 0; i < 3; i++)
        churn(); /* the segments are walked and their counts remembered */
    round_trip(101);
    round_trip(202); /* loaded again after an unload */
    racing_unload();
    printf("dlopen: objects held only by a dlopen'd library survived\n");
    return 0;
}
