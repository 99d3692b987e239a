/* A program linked with the static libmgc that loads a plugin linked with
   the shared one: two copies of mgc in one process, which both want
   SIGPWR, and whose collections deadlocked. The second copy must abort
   at its start with one line saying so. Usage: two_host <plugin.so> */
#include <dlfcn.h>
#include <mgc.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2 || !mgc_alloc(100)) /* this copy starts first */
        return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    int (*run)(void) = (int (*)(void))dlsym(h, "plugin_run");
    if (!run)
        return 1;
    run(); /* the plugin's copy starts here: it must abort */
    printf("two copies ran\n");
    return 0;
}
