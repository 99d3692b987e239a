/* Run under memcheck by test_valgrind.sh, with mgc built with
   MGC_VALGRIND=1. "clean" must report nothing (the collector's own word-by-
   word reads are hidden from memcheck), storage grown in place included;
   each use-after-free mode must be reported as an invalid read. */
#include <mgc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct node {
    struct node *next;
    long v[3];
} node;

static void *work(void *arg)
{
    (void)arg;
    node *h = NULL;
    for (int i = 0; i < 20000; i++) {
        node *x = mgc_alloc(sizeof *x);
        x->next = (i % 7) ? NULL : h;
        if (i % 7 == 0)
            h = x;
        if (i % 5 == 0)
            mgc_free(mgc_alloc_noscan(100));
    }
    long c = 0;
    for (; h; h = h->next)
        c++;
    return (void *)c;
}

/* XOR with this leaves no value the collector could take for a heap
   pointer (not even an interior one). */
#define HIDE 0xA5A5000000000000ul

static __attribute__((noinline)) void hide(unsigned long *hidden, int n)
{
    for (int i = 0; i < n; i++)
        hidden[i] = (unsigned long)mgc_alloc(48) ^ HIDE;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "clean";
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        mgc_pthread_create(&t[i], NULL, work, NULL);
    for (int i = 0; i < 5; i++)
        mgc_collect();
    void *r;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], &r);
    char *s = mgc_strdup("hello");
    char *big = mgc_alloc(100000);
    memset(big, 1, 100000);
    /* A buffer whose storage grows in place (32 KiB, then 64 and 128 in the
       room it was placed with): one block to memcheck, every byte written
       defined; a large object grown by mgc_realloc reads zero past its old
       end. */
    mgc_buf b = MGC_BUF_INIT;
    for (int i = 0; i < 120000; i++)
        mgc_buf_append_byte(&b, 'a' + i % 26);
    long sum = 0;
    for (size_t i = 0; i < mgc_buf_len(&b); i++)
        sum += mgc_buf_bytes(&b)[i];
    char *grown = mgc_alloc(40000);
    grown = mgc_realloc(grown, 120000);
    for (int i = 40000; i < 120000; i++)
        sum += grown[i];
    if (!strcmp(mode, "uaf-grown")) {
        /* Freed after growing in place: the whole block is gone, not just
           the pages it started with. */
        char *d = mgc_buf_detach(&b, NULL);
        mgc_free(d);
        return d[100000]; /* in the pages the growth added */
    }
    mgc_buf_free(&b);
    /* Short container storage, raw (undefined past what was written):
       freed by growth and by hand, and dropped for the collector, with no
       report (the freed-mark check read bytes 8-15 of it). */
    mgc_buf hi = MGC_BUF_INIT, dropped = MGC_BUF_INIT;
    mgc_buf_append(&hi, "hi", 2);
    mgc_buf_append(&hi, "a longer piece that makes it grow", 33);
    mgc_buf_free(&hi);
    mgc_buf_append(&dropped, "hi", 2);
    dropped = (mgc_buf)MGC_BUF_INIT;
    mgc_collect();
    if (!strcmp(mode, "uaf-free")) {
        char *p = mgc_alloc(64);
        mgc_free(p);
        return p[3];
    }
    if (!strcmp(mode, "uaf-large")) {
        mgc_free(big);
        return big[5];
    }
    if (!strcmp(mode, "uaf-gc")) {
        /* Read an object the collector reclaimed (mgc_base says so; a stale
           stack word may keep one of them alive). */
        static unsigned long hidden[64];
        hide(hidden, 64);
        mgc_collect();
        for (int i = 0; i < 64; i++)
            if (!mgc_base((void *)(hidden[i] ^ HIDE)))
                return ((volatile char *)(hidden[i] ^ HIDE))[0];
        fprintf(stderr, "nothing was reclaimed\n");
        return 1;
    }
    printf("%s %d %ld\n", s, big[99], sum);
    return 0;
}
