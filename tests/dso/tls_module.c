/* A shared object for test_tls_modules, built 20 times (MGC_TLS_N = 01 to
   20, tests/CMakeLists.txt) and linked into the test: each copy is a module
   with a static TLS block of its own, whose one __thread pointer is the
   only reference to an mgc object. */
#define MGC_TLS_CAT2(a, b) a##b
#define MGC_TLS_CAT(a, b) MGC_TLS_CAT2(a, b)

static __thread void *held; /* this module's TLS block */

__attribute__((visibility("default"))) void MGC_TLS_CAT(mgc_tls_set, MGC_TLS_N)(void *p) { held = p; }
__attribute__((visibility("default"))) void *MGC_TLS_CAT(mgc_tls_get, MGC_TLS_N)(void) { return held; }
