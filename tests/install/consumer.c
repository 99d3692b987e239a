/* Links against an installed mgc and uses it: allocation, collection,
   MemStats and the version call. */
#include <mgc.h>
#include <stdio.h>

int main(void)
{
    void **keep = mgc_alloc(100 * sizeof(void *));
    for (int i = 0; i < 100000; i++)
        keep[i % 100] = mgc_alloc(64);
    mgc_collect();
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    if (mgc_version() != MGC_VERSION || ms.num_gc < 1 || ms.heap_objects < 100)
        return 1;
    printf("consumer ok: mgc %d, %u cycles\n", mgc_version(), ms.num_gc);
    return 0;
}
