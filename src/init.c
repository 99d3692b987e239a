/*
 * init.c — start-up and fork: the order in which the layers come up, the
 * pthread_atfork handlers that take every mgc lock so the child inherits a
 * consistent heap, and the error printers every file uses.
 *
 * Fork (docs/design.md#fork): prepare takes the gc lock (so no cycle or
 * stop is in progress), then every other lock in lock order. Every span is
 * then on a list or in a cache (central.h), so the child only has to reset
 * the locks, give the other threads' caches back and forget the helper
 * threads, which it re-creates at its first collection.
 */
#include "internal/base.h"
#include "internal/central.h"
#include "internal/env.h"
#include "internal/free.h"
#include "internal/gc.h"
#include "internal/heap.h"
#include "internal/mark.h"
#include "internal/meta.h"
#include "internal/os.h"
#include "internal/pacer.h"
#include "internal/roots.h"
#include "internal/sweep.h"
#include "internal/threads.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_err;

static void fork_prepare(void)
{
    mgc__gc_fork_prepare();
    mgc__threads_fork_prepare();
    mgc__roots_fork_prepare();
    mgc__central_fork_prepare();
    mgc__heap_fork_prepare();
    mgc__meta_fork_prepare();
}

static void fork_parent(void)
{
    mgc__meta_fork_parent();
    mgc__heap_fork_parent();
    mgc__central_fork_parent();
    mgc__roots_fork_parent();
    mgc__threads_fork_parent();
    mgc__gc_fork_parent();
}

static void fork_child(void)
{
    mgc__os_fork_child();
    mgc__meta_fork_child();
    mgc__heap_fork_child();
    mgc__central_fork_child();
    mgc__roots_fork_child();
    mgc__mark_fork_child();
    mgc__sweep_fork_child();
    mgc__threads_fork_child();
    mgc__gc_fork_child();
}

static void do_init(void)
{
    mgc__gc.start_ns = mgc__os_nanotime();
    mgc__os_maps_open();
    mgc__options_init();
    init_err = mgc__meta_init();
    if (!init_err)
        init_err = mgc__heap_init();
    if (init_err)
        return;
    /* Start at 4 so that sg-2 and sg-1 never wrap in the first cycles. */
    atomic_store_explicit(&mgc__gc.sweepgen, 4, memory_order_relaxed);
    mgc__pacer_init(mgc__opts.gogc);
    mgc__free_init();
    mgc__threads_init();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void mgc__ensure_init(void)
{
    int err = mgc__try_init();
    if (unlikely(err))
        mgc__fatal("cannot reserve address space for the heap: %s", strerror(err));
}

int mgc__try_init(void)
{
    pthread_once(&init_once, do_init);
    return init_err;
}

int mgc_init(void)
{
    pthread_once(&init_once, do_init);
    if (init_err)
        return init_err;
    return mgc_thread_attach(); /* the caller: 0 or an errno, as mgc_thread_attach */
}

int mgc_version(void) { return MGC_VERSION; }

/* ---- messages ---------------------------------------------------------- */

/* One line, whatever the arguments hold: a control character (a newline
   in an environment value, say) is written as \xNN. */
static void vmessage(const char *prefix, const char *fmt, va_list ap)
{
    char text[1024], buf[1024];
    int k = vsnprintf(text, sizeof text, fmt, ap);
    size_t len = k < 0 ? 0 : (size_t)k < sizeof text ? (size_t)k : sizeof text - 1;
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s", prefix);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len && n < sizeof buf - 5; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f) {
            buf[n++] = '\\';
            buf[n++] = 'x';
            buf[n++] = hex[c >> 4];
            buf[n++] = hex[c & 15];
        } else {
            buf[n++] = (char)c;
        }
    }
    buf[n++] = '\n';
    mgc__os_write_stderr(buf, n);
}

void mgc__fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage("mgc: fatal: ", fmt, ap);
    va_end(ap);
    abort();
}

void mgc__warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage("mgc: warning: ", fmt, ap);
    va_end(ap);
}
