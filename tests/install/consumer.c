/* Links against an installed mgc and uses it: allocation, collection,
   MemStats, the version call, and mgc_buf's appends. test_install.sh also
   builds it with MGC_BUF_NO_INLINE and as C++, where mgc.h's inline append
   is off and the functions are called. */
#include <mgc.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    void **keep = (void **)mgc_alloc(100 * sizeof(void *));
    for (int i = 0; i < 100000; i++)
        keep[i % 100] = mgc_alloc(64);
    mgc_collect();
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    if (mgc_version() != MGC_VERSION || ms.num_gc < 1 || ms.heap_objects < 100)
        return 1;
    mgc_buf b = MGC_BUF_INIT;
    for (int i = 0; i < 1000; i++) {
        mgc_buf_append(&b, "abc", strlen("abc"));
        mgc_buf_append_byte(&b, '0' + i % 10);
    }
    const char *s = mgc_buf_cstr(&b);
    if (mgc_buf_len(&b) != 4000 || memcmp(s, "abc0abc1", 8) != 0 || strcmp(s + 3992, "abc8abc9") != 0)
        return 2;
    mgc_buf_free(&b);
#if defined(mgc_buf_append)
    const char *path = "inline append";
#else
    const char *path = "function append";
#endif
    printf("consumer ok: mgc %d, %u cycles, %s\n", mgc_version(), ms.num_gc, path);
    return 0;
}
