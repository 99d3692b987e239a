/* GODEBUG=gccheckmark=1: after each mark phase a second, serial marking
   checks that every reachable object was marked. It must pass on a correct
   collector, also with explicit frees, scopes and the self-freeing
   containers at work (freed slots on the reuse lists, whose link words
   must not be traced, a vector's and a map's typed storage), and it must
   catch a missed object: here a test hook unmarks a live object after
   marking, and the check must abort naming it. */
#include "internal/gc.h"
#include "internal/heap.h"
#include "testing.h"
#include <mgc.h>

typedef struct node {
    struct node *next;
    uint64_t payload[5];
} node;

static node *volatile head;
static uintptr_t victim;
static mgc_vec vec; /* every fifth node of the round */
static mgc_map map; /* every seventh, by its number */

static void unmark_victim(void)
{
    mgc_span *s = mgc__span_of(victim);
    s->mark_bytes[mgc__span_index(s, victim)] = 0;
}

/* Frees, scopes and containers between the list's allocations: nothing
   they leave behind may be marked by one marking and not the other. */
static void churn(int i, node *n)
{
    if (i % 5 == 0)
        mgc_vec_push_ptr(&vec, n);
    if (i % 7 == 0) {
        char key[16];
        int len = snprintf(key, sizeof key, "n%d", i);
        mgc_map_put(&map, key, (size_t)len, n);
    }
    if (i % 4 == 1) {
        /* Freed with a stale pointer past the link words, which the free
           overwrites with encoded links (neither marking may follow
           those). */
        node *t = mgc_alloc(sizeof *t);
        t->next = n;
        t->payload[3] = (uint64_t)(uintptr_t)n;
        mgc_free(t);
    }
    if (i % 100 == 0) {
        MGC_SCOPE(s);
        node *a = mgc_scope_alloc(&s, sizeof *a);
        a->next = n;
        (void)!mgc_scope_alloc_noscan(&s, 200);
        if (i % 200 == 0) {
            mgc_buf b = MGC_BUF_INIT;
            for (int k = 0; k < 1000; k++)
                mgc_buf_printf(&b, "%d,", k);
            mgc_scope_keep(&s, a); /* outlives the scope, then dropped */
        }
    }
}

static void workload(int corrupt)
{
    for (int round = 0; round < 20; round++) {
        node *h = NULL;
        mgc_vec_init_ptr(&vec);
        mgc_map_init(&map);
        for (int i = 0; i < 20000; i++) {
            node *n = mgc_alloc(sizeof *n);
            n->next = h;
            n->payload[0] = (uint64_t)i;
            h = n;
            if (i % 3)
                (void)!mgc_alloc_noscan(100);
            if (!corrupt)
                churn(i, n);
        }
        head = h;
        mgc_collect();
        if (!corrupt) {
            CHECK_EQ(mgc_vec_len(&vec), 4000);
            for (size_t k = 0; k < 4000; k++)
                CHECK_EQ(((node *)mgc_vec_get_ptr(&vec, k))->payload[0], 5 * k);
            CHECK_EQ(mgc_map_len(&map), 2858);
            node *n = mgc_map_get(&map, "n19999", 6);
            CHECK(n && n->payload[0] == 19999 && n == head);
            mgc_vec_free(&vec);
            mgc_map_free(&map);
        }
    }
    if (corrupt) {
        victim = (uintptr_t)head->next->next; /* reachable only through the list */
        printf("victim %p\n", (void *)victim);
        fflush(stdout);
        mgc__test_after_mark = unmark_victim;
        mgc_collect();
        printf("not caught\n");
    }
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        workload(!strcmp(argv[1], "corrupt"));
        return 0;
    }
    const char *env[] = {"GODEBUG=gccheckmark=1", NULL};
    t_child c;
    t_run_self(argv[0], "clean", env, &c);
    CHECK_MSG(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0, "clean run failed:\n%s", c.err);

    t_run_self(argv[0], "corrupt", env, &c);
    CHECK_MSG(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGABRT, "corruption not caught; status %d:\n%s%s",
              c.status, c.out, c.err);
    char victim_s[64];
    CHECK(sscanf(c.out, "victim %63s", victim_s) == 1);
    char want[128];
    snprintf(want, sizeof want, "gccheckmark: object %s ", victim_s);
    CHECK_MSG(strstr(c.err, want), "expected \"%s\" in:\n%s", want, c.err);
    CHECK(strstr(c.err, "is reachable but was not marked"));

    /* Without gccheckmark the same corruption goes unnoticed here: the check
       is what finds it. */
    t_run_self(argv[0], "corrupt", NULL, &c);
    CHECK_MSG(WIFEXITED(c.status) && strstr(c.out, "not caught"), "status %d:\n%s", c.status, c.err);
    return 0;
}
