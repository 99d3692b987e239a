/* A plugin linked with the shared libmgc, for dlclose_host.c: it starts
   threads that allocate, collects (so mgc's internal threads run), and
   lets its caller attach a thread of its own through plugin_alloc. */
#include <mgc.h>
#include <pthread.h>
#include <string.h>

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        char *p = mgc_alloc(64 + i % 200);
        memset(p, 1, 64);
    }
    return NULL;
}

int plugin_run(void)
{
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        if (mgc_pthread_create(&t[i], NULL, worker, NULL))
            return -1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    mgc_collect();
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    return (int)ms.num_gc;
}

void *plugin_alloc(size_t n) { return mgc_alloc(n); }
