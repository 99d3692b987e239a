/*
 * fastpath — the allocation fast path: 16, 64, 256 and 1024-byte objects.
 *
 *   fastpath <drop|free> <pairs|batch> <threads> <ops_scale>
 *
 *   pairs  allocate one object, touch it, free it (or drop it), repeat
 *   batch  allocate 1000 objects, touching each, then free them all (or
 *          drop them all), repeat
 *
 * Each of <threads> threads does the same work at the same time (a barrier
 * starts every size together), so with 2 threads ideal scaling keeps the
 * per-operation time of 1 thread. Objects come from ALLOC (collectors scan
 * them); the first and last byte are written so no allocation can be
 * optimised away, and each pointer is published to a volatile sink.
 *
 * Operations per thread and size: ops_scale x {4M, 4M, 2M, 1M} / 8 for
 * 16, 64, 256, 1024 bytes. Reports ns16 .. ns1024: nanoseconds per
 * allocation (+ free) per thread, the slower thread's time.
 */
#include "sys.h"

static const size_t sizes[4] = {16, 64, 256, 1024};
static const long base_ops[4] = {4000000 / 8, 4000000 / 8, 2000000 / 8, 1000000 / 8};

static int do_free, batch, nthreads;
static double scale;
static pthread_barrier_t barrier;
static uint64_t elapsed[4][2]; /* [size][thread] */
static void *volatile sink[2][8];

typedef struct {
    int id;
} targ;

/* Operations per thread at size index s, as run: batches run whole
   rounds of 1000. */
static long stage_ops(int s)
{
    long ops = (long)(base_ops[s] * scale);
    if (ops < 1000)
        ops = 1000;
    if (batch)
        ops = (ops + 999) / 1000 * 1000;
    return ops;
}

static void run_pairs(int id, size_t size, long ops)
{
    for (long i = 0; i < ops; i++) {
        char *p = ALLOC(size);
        if (!p)
            bench_oom(size);
        p[0] = (char)i;
        p[size - 1] = 1;
        sink[id][0] = p;
        if (do_free)
            FREE(p);
    }
}

static void run_batch(int id, size_t size, long ops)
{
    void *arr[1000];
    for (long done = 0; done < ops; done += 1000) {
        for (int j = 0; j < 1000; j++) {
            char *p = ALLOC(size);
            if (!p)
                bench_oom(size);
            p[0] = (char)j;
            p[size - 1] = 1;
            arr[j] = p;
        }
        sink[id][0] = arr[999];
        if (do_free)
            for (int j = 0; j < 1000; j++)
                FREE(arr[j]);
    }
    sink[id][1] = arr; /* keep the array observable */
}

static void *worker(void *a)
{
    int id = ((targ *)a)->id;
    for (int s = 0; s < 4; s++) {
        long ops = stage_ops(s);
        pthread_barrier_wait(&barrier);
        uint64_t t0 = now_ns();
        if (batch)
            run_batch(id, sizes[s], ops);
        else
            run_pairs(id, sizes[s], ops);
        elapsed[s][id] = now_ns() - t0;
        if (id == 0)
            gcs_poll();
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *usage = "fastpath <drop|free> <pairs|batch> <threads 1|2> <ops_scale>";
    do_free = bench_args(argc, argv, 4, usage);
    if (strcmp(argv[2], "pairs") == 0)
        batch = 0;
    else if (strcmp(argv[2], "batch") == 0)
        batch = 1;
    else
        bench_usage(usage);
    nthreads = atoi(argv[3]);
    scale = atof(argv[4]);
    if (nthreads < 1 || nthreads > 2 || scale <= 0)
        bench_usage(usage);
    bench_init();

    pthread_barrier_init(&barrier, NULL, (unsigned)nthreads);
    targ args[2] = {{0}, {1}};
    pthread_t t;
    if (nthreads == 2 && SYS_THREAD_CREATE(&t, worker, &args[1]) != 0) {
        perror("pthread_create");
        return 2;
    }
    worker(&args[0]);
    if (nthreads == 2)
        pthread_join(t, NULL);

    printf("RESULT");
    for (int s = 0; s < 4; s++) {
        long ops = stage_ops(s);
        uint64_t e = elapsed[s][0];
        if (nthreads == 2 && elapsed[s][1] > e)
            e = elapsed[s][1];
        printf(" ns%zu=%.2f", sizes[s], (double)e / (double)ops);
    }
    gcs_print(stdout);
    printf("\n");
    return 0;
}
