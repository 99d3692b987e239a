/* The README's example: a linked list the collector keeps alive while it
   is reachable and reclaims once it is not. */
#include <mgc.h>
#include <stdio.h>

typedef struct node {
    struct node *next;
    int value;
} node;

int main(void)
{
    node *list = NULL;
    for (int i = 0; i < 1000000; i++) {
        node *n = mgc_alloc(sizeof *n); /* zeroed; scanned conservatively */
        n->value = i;
        n->next = (i % 1000 == 0) ? list : NULL; /* keep one in a thousand */
        if (i % 1000 == 0)
            list = n;
    }
    mgc_collect(); /* the other 999,000 nodes are garbage: reclaimed */
    long sum = 0;
    for (node *n = list; n; n = n->next)
        sum += n->value;
    mgc_memstats ms;
    mgc_read_memstats(&ms);
    printf("sum %ld, %u collections, %llu live objects\n", sum, ms.num_gc,
           (unsigned long long)ms.heap_objects);
    return 0;
}
