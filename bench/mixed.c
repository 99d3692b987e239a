/*
 * mixed — mixed object sizes from a power law, the way a server's request
 * handling allocates.
 *
 *   mixed <drop|free> <requests> <ring_slots>
 *
 * Each request allocates 16..127 objects whose sizes follow a power law
 * (P(size >= s) ~ 16/s, 16 bytes to 64 KiB): k = trailing zeros of a random
 * word (capped at 11), size uniform in [16 << k, 32 << k). Objects of at
 * most 64 bytes are small structs (ALLOC, rounded up to 16 bytes: a next
 * pointer, a tag, data words) chained into the request's list; larger ones
 * are byte buffers (ALLOC_NOSCAN, filled) kept in the request's table. At the
 * end of the request everything is checksummed and dies (freed, or dropped),
 * except about one object in 64 that survives into a long-lived ring of
 * ring_slots entries; the object it evicts dies then.
 *
 * Reports req_p99_us and req_max_ms: per-request latency as the program sees
 * it, wall clock, pauses included.
 */
#include "sys.h"

typedef struct small {
    struct small *next;
    uint64_t tag;
    uint64_t w[6]; /* up to 64 bytes in all; only the allocated words are used */
} small;

static void **ring;
static uint64_t ring_n, ring_pos;
static int do_free;

static void keep(void *p)
{
    void *old = ring[ring_pos];
    ring[ring_pos] = p;
    ring_pos = ring_pos + 1 == ring_n ? 0 : ring_pos + 1;
    if (do_free && old)
        FREE(old);
}

int main(int argc, char **argv)
{
    const char *usage = "mixed <drop|free> <requests> <ring_slots>";
    do_free = bench_args(argc, argv, 3, usage);
    long requests = atol(argv[2]);
    ring_n = strtoull(argv[3], NULL, 0);
    if (requests < 100 || ring_n < 1)
        bench_usage(usage);
    bench_init();

    ring = ALLOC(ring_n * sizeof *ring);
    uint64_t *lat = malloc(requests * sizeof *lat); /* never holds pointers */
    if (!ring)
        bench_oom(ring_n * sizeof *ring);
    if (!lat)
        bench_oom(requests * sizeof *lat);
    memset(ring, 0, ring_n * sizeof *ring);

    uint64_t rng = 0x2545F4914F6CDD1DULL, check = 0, objects = 0, bytes = 0;
    static unsigned char *volatile bufs[128]; /* the request's buffers */
    for (long r = 0; r < requests; r++) {
        uint64_t t0 = now_ns();
        small *head = NULL;
        int nbufs = 0;
        int nobj = 16 + (int)(rng_next(&rng) % 112);
        for (int i = 0; i < nobj; i++) {
            uint64_t x = rng_next(&rng);
            int k = __builtin_ctzll(x | (1ULL << 11));
            size_t size = ((size_t)16 << k) + (size_t)((x >> 16) % ((uint64_t)16 << k));
            int survive = ((x >> 58) & 63) == 0;
            bytes += size;
            if (size <= 64) {
                size_t sz = (size + 15) & ~(size_t)15;
                small *s = ALLOC(sz);
                if (!s)
                    bench_oom(sz);
                s->tag = x;
                for (size_t w = 0; w < sz / 8 - 2; w++)
                    s->w[w] = x + w;
                if (survive) {
                    s->next = NULL;
                    keep(s);
                } else {
                    s->next = head;
                    head = s;
                }
            } else {
                unsigned char *b = ALLOC_NOSCAN(size);
                if (!b)
                    bench_oom(size);
                memset(b, (int)(1 + (x >> 40) % 64), size);
                b[size - 1] = (unsigned char)size;
                if (survive)
                    keep(b);
                else
                    bufs[nbufs++] = b;
            }
        }
        /* "Handle" the request: read what was built, then let it die. */
        uint64_t sum = 0;
        for (small *s = head, *nx; s; s = nx) {
            nx = s->next;
            sum += s->tag >> 32;
            if (do_free)
                FREE(s);
        }
        for (int i = 0; i < nbufs; i++) {
            sum += bufs[i][0];
            if (do_free)
                FREE(bufs[i]);
            bufs[i] = NULL; /* no stale pointer for a conservative scan */
        }
        check += sum;
        objects += (uint64_t)nobj;
        lat[r] = now_ns() - t0;
        if ((r & 1023) == 1023)
            gcs_poll();
    }
    uint64_t max = 0;
    for (long r = 0; r < requests; r++)
        if (lat[r] > max)
            max = lat[r];
    uint64_t p99 = percentile_u64(lat, (size_t)requests, 99.0);
    printf("%ld requests, %llu objects, %.1f MiB allocated\n", requests,
           (unsigned long long)objects, bytes / 1048576.0);
    printf("RESULT check=%llu req_p99_us=%.2f req_max_ms=%.3f", (unsigned long long)check,
           p99 / 1e3, max / 1e6);
    gcs_print(stdout);
    printf("\n");
    free(lat);
    return 0;
}
