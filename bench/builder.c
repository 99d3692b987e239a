/*
 * builder — a growing buffer, the way string builders and byte buffers grow.
 *
 *   builder <drop|free|realloc|exact> <result_bytes> <total_bytes>
 *
 * Builds total_bytes / result_bytes results; each result is made of small
 * pieces (1..32 bytes, a fixed cycle) appended to a buffer that starts at
 * 64 bytes and doubles when full (ALLOC_NOSCAN: the data holds no pointers).
 *   drop     collectors: the old buffer is dropped when the buffer grows
 *   free     the old buffer is freed (mgc_free / GC_FREE / free)
 *   realloc  the buffer grows with REALLOC (mgc_realloc / GC_REALLOC / realloc)
 *   exact    the final size is allocated once and the pieces copied in: the
 *            memcpy limit of the whole exercise
 * The finished result is checksummed, then freed (malloc systems and free
 * mode) or dropped (collectors otherwise).
 */
#include "sys.h"

static const char text[96] =
    "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs! 0123456789";

enum { M_DROP, M_FREE, M_REALLOC, M_EXACT };

static inline size_t piece_len(unsigned k)
{
    return 1 + (k * 7u) % 32u;
}

static unsigned char *build(size_t target, int mode)
{
    size_t cap = mode == M_EXACT ? target : 64, len = 0;
    unsigned char *buf = ALLOC_NOSCAN(cap);
    if (!buf)
        bench_oom(cap);
    for (unsigned k = 0; len < target; k++) {
        size_t n = piece_len(k);
        if (n > target - len)
            n = target - len;
        if (len + n > cap) {
            size_t nc = cap * 2;
            while (nc < len + n)
                nc *= 2;
            if (mode == M_REALLOC) {
                buf = REALLOC(buf, nc);
                if (!buf)
                    bench_oom(nc);
            } else {
                unsigned char *nb = ALLOC_NOSCAN(nc);
                if (!nb)
                    bench_oom(nc);
                memcpy(nb, buf, len);
                if (mode == M_FREE)
                    FREE(buf);
                buf = nb;
            }
            cap = nc;
        }
        memcpy(buf + len, text + (k % 64u), n);
        len += n;
    }
    return buf;
}

int main(int argc, char **argv)
{
    const char *usage = "builder <drop|free|realloc|exact> <result_bytes> <total_bytes>";
    if (argc != 4)
        bench_usage(usage);
    int mode, fm = bench_mode_free(argv[1]);
    if (fm == 0)
        mode = M_DROP;
    else if (fm == 1)
        mode = M_FREE;
    else if (strcmp(argv[1], "realloc") == 0)
        mode = M_REALLOC;
    else if (strcmp(argv[1], "exact") == 0)
        mode = M_EXACT;
    else
        bench_usage(usage);
    size_t target = strtoull(argv[2], NULL, 0), total = strtoull(argv[3], NULL, 0);
    if (target < 1024 || total < target)
        bench_usage(usage);
    /* The result is freed by malloc systems always, by collectors in free
       mode only. */
    int free_result = !SYS_GC || mode == M_FREE;
    bench_init();

    long results = (long)(total / target);
    uint64_t sum = 0;
    for (long r = 0; r < results; r++) {
        unsigned char *b = build(target, mode);
        for (size_t i = 0; i < target; i += 61)
            sum = sum * 31 + b[i];
        sum += b[target - 1];
        if (free_result)
            FREE(b);
        if ((r & 63) == 63)
            gcs_poll();
    }
    printf("%ld results of %zu bytes\n", results, target);
    printf("RESULT check=%llu", (unsigned long long)sum);
    gcs_print(stdout);
    printf("\n");
    return 0;
}
