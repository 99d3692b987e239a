// ctest-timeout: 60
/*
 * test_tls_modules.c — __thread variables in many modules are roots
 * (threads.c: every loaded module's static TLS block is recorded at attach,
 * however many there are; mgc.h's reachability rules).
 *
 * The test is linked with 20 shared objects (tests/dso/tls_module.c, built
 * 20 times by tests/CMakeLists.txt), each with one __thread pointer in a
 * TLS block of its own; with the executable's and the C library's that is
 * over 20 modules with TLS. A thread stores the only reference to a tagged
 * object in each module's variable, collects 5 times while reusing the
 * objects' size class, and checks all 20: first the main thread, then a
 * second thread with its own blocks. Before the fix only 16 modules'
 * blocks were recorded and the objects held in the others were reclaimed
 * (5 of 20 on the main thread); now none is.
 */
#include "testing.h"
#include <mgc.h>
#include <pthread.h>

#define NOINLINE __attribute__((noinline))
#define NMOD 20

#define MODULES X(01) X(02) X(03) X(04) X(05) X(06) X(07) X(08) X(09) X(10) \
                X(11) X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20)
#define X(n) void mgc_tls_set##n(void *); void *mgc_tls_get##n(void);
MODULES
#undef X
#define X(n) mgc_tls_set##n,
static void (*const set[NMOD])(void *) = {MODULES};
#undef X
#define X(n) mgc_tls_get##n,
static void *(*const get[NMOD])(void) = {MODULES};
#undef X

static NOINLINE void give_all(uint64_t salt)
{
    for (int i = 0; i < NMOD; i++)
        set[i](tagged(salt + (uint64_t)i));
}

static NOINLINE void churn(void)
{
    for (int i = 0; i < 20000; i++)
        (void)!tagged(7); /* the held objects' size class: a freed slot is reused */
    t_scrub_stack();
}

/* How many of this thread's 20 objects were reclaimed. */
static NOINLINE int lost_after_collections(uint64_t salt)
{
    give_all(salt);
    t_scrub_stack();
    for (int r = 0; r < 5; r++) {
        mgc_collect();
        churn();
    }
    int lost = 0;
    for (int i = 0; i < NMOD; i++)
        if (!tag_ok(get[i](), salt + (uint64_t)i)) {
            fprintf(stderr, "object held in module %02d's __thread variable reclaimed\n", i + 1);
            lost++;
        }
    return lost;
}

static void *second(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)lost_after_collections(2000);
}

int main(void)
{
    t_watchdog(30, "collections with objects held in 20 modules' TLS");
    int lost = lost_after_collections(1000);
    CHECK_MSG(lost == 0, "main thread: %d of %d objects held in __thread variables reclaimed", lost, NMOD);
    pthread_t t;
    void *r;
    CHECK_EQ(pthread_create(&t, NULL, second, NULL), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    lost = (int)(intptr_t)r;
    CHECK_MSG(lost == 0, "second thread: %d of %d objects held in __thread variables reclaimed", lost, NMOD);
    alarm(0);
    fprintf(stderr, "%d modules' __thread variables kept their objects, on two threads\n", NMOD);
    return 0;
}
