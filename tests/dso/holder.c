/* A shared object for test_dlopen: its only pointer to an mgc object lives
   in its own writable data (bss), which the collector must find through
   dl_iterate_phdr once the object is loaded after the first collections. */
#include <stdint.h>

static void *held; /* bss of this library */

__attribute__((visibility("default"))) void holder_set(void *p) { held = p; }
__attribute__((visibility("default"))) void *holder_get(void) { return held; }
