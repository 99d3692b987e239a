/* A host that does not link mgc: it dlopens a plugin linked with the
   shared libmgc, runs it, and dlcloses it while a thread the plugin
   attached is still alive. libmgc.so must stay mapped (it is linked
   -z nodelete): its internal threads, its thread-exit destructor and its
   SIGPWR handler outlive the plugin. Before, the library was unmapped
   under them and the process crashed (an internal thread returning into
   it, the attached thread's exit, or a stray SIGPWR). Then the plugin is
   loaded again and finds the same heap. Usage: dlclose_host <plugin.so> */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *(*p_alloc)(size_t);
static int go, ready;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void *attached(void *arg)
{
    (void)arg;
    if (!p_alloc(100)) /* attaches this thread to mgc */
        exit(2);
    pthread_mutex_lock(&mu);
    ready = 1; /* done with the plugin's code: it may be unloaded */
    pthread_cond_broadcast(&cv);
    while (!go)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return NULL; /* exits after the dlclose: mgc's detach runs */
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    for (int round = 0; round < 2; round++) {
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 1;
        }
        int (*run)(void) = (int (*)(void))dlsym(h, "plugin_run");
        p_alloc = (void *(*)(size_t))dlsym(h, "plugin_alloc");
        if (!run || !p_alloc)
            return 1;
        go = ready = 0;
        pthread_t th;
        pthread_create(&th, NULL, attached, NULL);
        int ngc = run();
        if (ngc <= 0)
            return 1;
        pthread_mutex_lock(&mu);
        while (!ready)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
        dlclose(h);
        usleep(100 * 1000); /* mgc's internal threads run on */
        pthread_mutex_lock(&mu);
        go = 1;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
        pthread_join(th, NULL);
        kill(getpid(), SIGPWR); /* no collection: ignored */
        usleep(1200 * 1000);    /* past the internal threads' idle retirement */
        printf("round %d: %d collections, survived dlclose\n", round, ngc);
    }
    return 0;
}
