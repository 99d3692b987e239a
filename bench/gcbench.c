/*
 * gcbench — John Ellis and Pete Kovac's GCBench, in Hans Boehm's C version's
 * shape, single-threaded.
 *
 *   gcbench <drop|free> <stretch_depth> <long_lived_depth> <max_depth> <array_size>
 *
 * Classic parameters: 18 16 16 500000. A stretch tree; a long-lived tree of
 * long_lived_depth and an array of array_size doubles (ALLOC_NOSCAN) that
 * stay live to the end; then for d = 4, 6, .., max_depth, NumIters(d) trees
 * built top-down (Populate) and as many bottom-up (MakeTree). Nodes: two
 * pointers and two ints (24 bytes, ALLOC). In free mode every temporary
 * tree is freed node by node once built; in drop mode it is dropped.
 */
#include "sys.h"

typedef struct node {
    struct node *left, *right;
    int i, j;
} node;

static node *new_node(node *l, node *r)
{
    node *n = ALLOC(sizeof *n);
    if (!n)
        bench_oom(sizeof *n);
    n->left = l;
    n->right = r;
    n->i = n->j = 0;
    return n;
}

static int do_free;

static void destroy(node *n)
{
    if (!n)
        return;
    destroy(n->left);
    destroy(n->right);
    FREE(n);
}

static long tree_size(int i)
{
    return (1L << (i + 1)) - 1;
}

static int stretch_depth;

static long num_iters(int i)
{
    return 2 * tree_size(stretch_depth) / tree_size(i);
}

/* Build the tree top-down. */
static void populate(int depth, node *n)
{
    if (depth <= 0)
        return;
    depth--;
    n->left = new_node(NULL, NULL);
    n->right = new_node(NULL, NULL);
    populate(depth, n->left);
    populate(depth, n->right);
}

/* Build the tree bottom-up. */
static node *make_tree(int depth)
{
    if (depth <= 0)
        return new_node(NULL, NULL);
    node *l = make_tree(depth - 1);
    node *r = make_tree(depth - 1);
    return new_node(l, r);
}

static long count(const node *n)
{
    return n ? 1 + count(n->left) + count(n->right) : 0;
}

static long time_construction(int depth)
{
    long n = num_iters(depth), nodes = 0;
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        node *t = new_node(NULL, NULL);
        populate(depth, t);
        nodes += t->left ? 1 : 0;
        if (do_free)
            destroy(t);
    }
    uint64_t t1 = now_ns();
    for (long i = 0; i < n; i++) {
        node *t = make_tree(depth);
        nodes += t->left ? 1 : 0;
        if (do_free)
            destroy(t);
    }
    uint64_t t2 = now_ns();
    printf("depth %2d: %6ld trees top-down %7.1f ms, bottom-up %7.1f ms\n", depth, n,
           (t1 - t0) / 1e6, (t2 - t1) / 1e6);
    return nodes;
}

int main(int argc, char **argv)
{
    const char *usage = "gcbench <drop|free> <stretch_depth> <long_lived_depth> <max_depth> <array_size>";
    do_free = bench_args(argc, argv, 5, usage);
    stretch_depth = atoi(argv[2]);
    int long_lived_depth = atoi(argv[3]), max_depth = atoi(argv[4]);
    long array_size = atol(argv[5]);
    if (stretch_depth < 4 || long_lived_depth < 4 || max_depth < 4 || array_size < 2000)
        bench_usage(usage);
    bench_init();

    long check = 0;
    node *t = make_tree(stretch_depth);
    check += count(t);
    if (do_free)
        destroy(t);
    t = NULL;
    gcs_poll();

    node *long_lived = new_node(NULL, NULL);
    populate(long_lived_depth, long_lived);
    double *array = ALLOC_NOSCAN(array_size * sizeof(double));
    if (!array)
        bench_oom(array_size * sizeof(double));
    for (long i = 0; i < array_size / 2; i++)
        array[i] = 1.0 / (double)i;

    for (int d = 4; d <= max_depth; d += 2) {
        check += time_construction(d);
        gcs_poll();
    }

    if (array[1000] != 1.0 / 1000 || count(long_lived) != tree_size(long_lived_depth)) {
        fprintf(stderr, "gcbench: long-lived data damaged\n");
        return 3;
    }
    check += count(long_lived);
    if (do_free) {
        destroy(long_lived);
        FREE(array);
    }
    printf("RESULT check=%ld", check);
    gcs_print(stdout);
    printf("\n");
    return 0;
}
