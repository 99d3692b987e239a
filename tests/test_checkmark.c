/* GODEBUG=gccheckmark=1: after each mark phase a second, serial marking
   checks that every reachable object was marked. It must pass on a correct
   collector, and it must catch a missed object: here a test hook unmarks a
   live object after marking, and the check must abort naming it. */
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

static void unmark_victim(void)
{
    mgc_span *s = mgc__span_of(victim);
    s->mark_bytes[mgc__span_index(s, victim)] = 0;
}

static void workload(int corrupt)
{
    for (int round = 0; round < 20; round++) {
        node *h = NULL;
        for (int i = 0; i < 20000; i++) {
            node *n = mgc_alloc(sizeof *n);
            n->next = h;
            h = n;
            if (i % 3)
                (void)!mgc_alloc_noscan(100);
        }
        head = h;
        mgc_collect();
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
