/*
 * churn — a long-lived heap under churn: a hash table of small records.
 *
 *   churn <drop|free> <live_mib> <rounds>
 *
 * Records are 64 bytes (next pointer, key, checksum, 40 payload bytes;
 * ALLOC: collectors scan them). The table holds N = live_mib MiB / 74
 * records (64-byte record + 8-byte bucket + 2-byte generation), built by
 * inserting keys 0..N-1. Each round replaces 10% of the records: a random
 * slot's record is deleted (freed, or dropped) and a record with a new key
 * inserted; then 1000 random records are looked up and their checksums
 * verified. The bucket array is one big ALLOC object.
 *
 * Reports live_bytes (what the program holds: records + buckets +
 * generations), the collector's pauses, and stall_ms: the slowest batch of
 * 1000 replacements as the program sees it.
 */
#include "sys.h"

typedef struct rec {
    struct rec *next;
    uint64_t key;
    uint64_t sum;
    uint64_t payload[5];
} rec;

static rec **table;
static uint64_t mask;
static int do_free;

static inline uint64_t hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

/* Payload words are derived from the key; every byte is in 1..63, so no
   word of a record's payload looks like a pointer to a conservative scan. */
static inline uint64_t fill(rec *r, uint64_t key)
{
    uint64_t sum = 0;
    for (int i = 0; i < 5; i++) {
        uint64_t w = (key + (uint64_t)i + 1) * 0x9E3779B97F4A7C15ULL;
        w ^= w >> 29;
        w = (w & 0x3f3f3f3f3f3f3f3fULL) | 0x0101010101010101ULL;
        r->payload[i] = w;
        sum = sum * 131 + w;
    }
    return sum;
}

static void insert(uint64_t key)
{
    rec *r = ALLOC(sizeof *r);
    if (!r)
        bench_oom(sizeof *r);
    r->key = key;
    r->sum = fill(r, key);
    uint64_t h = hash(key) & mask;
    r->next = table[h];
    table[h] = r;
}

static int delete(uint64_t key)
{
    rec **pp = &table[hash(key) & mask];
    for (rec *r = *pp; r; pp = &r->next, r = r->next) {
        if (r->key == key) {
            *pp = r->next;
            if (do_free)
                FREE(r);
            return 1;
        }
    }
    return 0;
}

static const rec *lookup(uint64_t key)
{
    for (const rec *r = table[hash(key) & mask]; r; r = r->next)
        if (r->key == key)
            return r;
    return NULL;
}

static inline uint64_t key_of(uint64_t slot, uint16_t gen)
{
    return ((uint64_t)gen << 40) | slot;
}

int main(int argc, char **argv)
{
    const char *usage = "churn <drop|free> <live_mib> <rounds>";
    do_free = bench_args(argc, argv, 3, usage);
    uint64_t live_mib = strtoull(argv[2], NULL, 0);
    int rounds = atoi(argv[3]);
    if (live_mib < 1 || rounds < 0 || rounds > 60000)
        bench_usage(usage);
    bench_init();

    uint64_t n = live_mib * 1048576 / (sizeof(rec) + 8 + 2);
    uint64_t nb = 1;
    while (nb < n)
        nb <<= 1;
    mask = nb - 1;
    table = ALLOC(nb * sizeof *table);
    uint16_t *gen = ALLOC_NOSCAN(n * sizeof *gen);
    if (!table)
        bench_oom(nb * sizeof *table);
    if (!gen)
        bench_oom(n * sizeof *gen);
    memset(table, 0, nb * sizeof *table);
    memset(gen, 0, n * sizeof *gen);
    uint64_t live = n * sizeof(rec) + nb * sizeof *table + n * sizeof *gen;

    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < n; i++)
        insert(key_of(i, 0));
    uint64_t t1 = now_ns();
    gcs_poll();
    printf("built %llu records (%.0f MiB live) in %.2f s\n", (unsigned long long)n,
           live / 1048576.0, (t1 - t0) / 1e9);

    uint64_t rng = 0x853c49e6748fea9bULL, stall = 0, per_round = n / 10;
    for (int r = 0; r < rounds; r++) {
        for (uint64_t done = 0; done < per_round; done += 1000) {
            uint64_t c0 = now_ns(), m = per_round - done < 1000 ? per_round - done : 1000;
            for (uint64_t k = 0; k < m; k++) {
                uint64_t slot = rng_next(&rng) % n;
                if (!delete(key_of(slot, gen[slot]))) {
                    fprintf(stderr, "churn: key %llu missing\n", (unsigned long long)slot);
                    return 3;
                }
                gen[slot]++;
                insert(key_of(slot, gen[slot]));
            }
            uint64_t dt = now_ns() - c0;
            if (dt > stall)
                stall = dt;
        }
        for (int k = 0; k < 1000; k++) {
            uint64_t slot = rng_next(&rng) % n;
            const rec *x = lookup(key_of(slot, gen[slot]));
            rec tmp;
            if (!x || x->sum != fill(&tmp, x->key) ||
                memcmp(x->payload, tmp.payload, sizeof tmp.payload) != 0) {
                fprintf(stderr, "churn: record %llu damaged\n", (unsigned long long)slot);
                return 3;
            }
        }
        gcs_poll();
    }
    uint64_t t2 = now_ns();
    printf("%d rounds of %llu replacements in %.2f s\n", rounds, (unsigned long long)per_round,
           (t2 - t1) / 1e9);

    uint64_t check = 0;
    for (uint64_t i = 0; i < n; i += 97)
        check += lookup(key_of(i, gen[i]))->sum & 0xffff;
    /* No teardown: the process exits with the table live, for every system. */
    printf("RESULT check=%llu live_bytes=%llu stall_ms=%.3f", (unsigned long long)check,
           (unsigned long long)live, stall / 1e6);
    gcs_print(stdout);
    printf("\n");
    return 0;
}
