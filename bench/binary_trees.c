/*
 * binary_trees — the benchmarks game's binary-trees shape, single-threaded.
 *
 *   binary_trees <drop|free> <max_depth>
 *
 * A stretch tree of depth max+1 (built, checked, dropped), a long-lived tree
 * of depth max, then for d = 4, 6, .., max: 2^(max-d+4) trees of depth d,
 * each built and checked. Nodes are two pointers (16 bytes, ALLOC: scanned
 * by collectors). In free mode each node is freed right after it has been
 * checked; in drop mode trees are simply dropped.
 *
 * Besides the collector's own pauses it reports stall_ms: the slowest single
 * short-lived tree (build + check [+ free]) as the program sees it, wall
 * clock; whatever stops the program (a pause, an assist, page faults, lazy
 * sweeping) shows up there.
 */
#include "sys.h"

typedef struct node {
    struct node *left, *right;
} node;

static node *make(int depth)
{
    node *n = ALLOC(sizeof *n);
    if (!n)
        bench_oom(sizeof *n);
    if (depth > 0) {
        n->left = make(depth - 1);
        n->right = make(depth - 1);
    } else {
        n->left = n->right = NULL;
    }
    return n;
}

static long check(const node *n)
{
    return 1 + (n->left ? check(n->left) + check(n->right) : 0);
}

static long check_free(node *n)
{
    long c = 1;
    if (n->left)
        c += check_free(n->left) + check_free(n->right);
    FREE(n);
    return c;
}

static long tree_nodes(int depth)
{
    return (2L << depth) - 1;
}

int main(int argc, char **argv)
{
    int do_free = bench_args(argc, argv, 2, "binary_trees <drop|free> <max_depth>");
    int max_depth = atoi(argv[2]);
    if (max_depth < 6)
        max_depth = 6;
    bench_init();

    int bad = 0;
    long total = 0;
    node *stretch = make(max_depth + 1);
    long c = do_free ? check_free(stretch) : check(stretch);
    stretch = NULL;
    printf("stretch tree of depth %d\t check: %ld\n", max_depth + 1, c);
    bad |= c != tree_nodes(max_depth + 1);
    total += c;
    gcs_poll();

    node *long_lived = make(max_depth);
    uint64_t stall = 0;
    for (int d = 4; d <= max_depth; d += 2) {
        long iterations = 1L << (max_depth - d + 4), sum = 0;
        for (long i = 0; i < iterations; i++) {
            uint64_t t0 = now_ns();
            node *t = make(d);
            sum += do_free ? check_free(t) : check(t);
            uint64_t dt = now_ns() - t0;
            if (dt > stall)
                stall = dt;
        }
        printf("%ld\t trees of depth %d\t check: %ld\n", iterations, d, sum);
        bad |= sum != iterations * tree_nodes(d);
        total += sum;
        gcs_poll();
    }
    c = do_free ? check_free(long_lived) : check(long_lived);
    long_lived = NULL;
    printf("long lived tree of depth %d\t check: %ld\n", max_depth, c);
    bad |= c != tree_nodes(max_depth);
    total += c;
    if (bad) {
        fprintf(stderr, "binary_trees: wrong node count\n");
        return 3;
    }
    printf("RESULT check=%ld stall_ms=%.3f", total, stall / 1e6);
    gcs_print(stdout);
    printf("\n");
    return 0;
}
