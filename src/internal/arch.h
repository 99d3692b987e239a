/*
 * arch.h — the only place that knows which CPU mgc runs on: a spin-wait
 * hint, the stack pointer, where a signal's saved registers are in a
 * ucontext, and whether the root scan's filter may use wide vectors.
 * x86-64 first; aarch64 kept possible.
 *
 * Everything else in mgc is written against these helpers, so a new
 * architecture means a new #elif here and nothing more.
 */
#ifndef MGC_ARCH_H
#define MGC_ARCH_H

#include "base.h"
#include <ucontext.h>

#define MGC_ARCH_MAX_REGS 34 /* words copied out of a signal context */

#if defined(__x86_64__)
MGC_INLINE void mgc__arch_pause(void) { __asm__ __volatile__("pause" ::: "memory"); }
/* x86-64 leaf functions may keep live data up to 128 bytes below the stack
   pointer (the red zone); a conservative scan starts that much lower. */
#define MGC_ARCH_REDZONE 128
MGC_INLINE size_t mgc__arch_copy_regs(const void *ucv, uintptr_t *out)
{
    const ucontext_t *uc = (const ucontext_t *)ucv;
    size_t n = NGREG < MGC_ARCH_MAX_REGS ? NGREG : MGC_ARCH_MAX_REGS;
    for (size_t i = 0; i < n; i++)
        out[i] = (uintptr_t)uc->uc_mcontext.gregs[i];
    return n;
}
MGC_INLINE uintptr_t mgc__arch_context_sp(const void *ucv)
{
    return (uintptr_t)((const ucontext_t *)ucv)->uc_mcontext.gregs[REG_RSP];
}
/* Wide vectors for the root scan's filter (mark.c), which compares 64-bit
   lanes: baseline x86-64 (SSE2) has no such compare, so the filter is
   compiled for AVX2 and used only where the CPU and the kernel provide
   it, as libgcc's CPU model reports (checked once per process). */
#define MGC_ARCH_WIDE_TARGET __attribute__((target("avx2")))
MGC_INLINE bool mgc__arch_wide_ok(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}
#elif defined(__aarch64__)
MGC_INLINE void mgc__arch_pause(void) { __asm__ __volatile__("yield" ::: "memory"); }
#define MGC_ARCH_REDZONE 0
MGC_INLINE size_t mgc__arch_copy_regs(const void *ucv, uintptr_t *out)
{
    const ucontext_t *uc = (const ucontext_t *)ucv;
    size_t n = 0;
    for (; n < 31; n++)
        out[n] = (uintptr_t)uc->uc_mcontext.regs[n];
    out[n++] = (uintptr_t)uc->uc_mcontext.sp;
    return n;
}
MGC_INLINE uintptr_t mgc__arch_context_sp(const void *ucv)
{
    return (uintptr_t)((const ucontext_t *)ucv)->uc_mcontext.sp;
}
/* NEON compares 64-bit lanes at the baseline. */
#define MGC_ARCH_WIDE_TARGET
MGC_INLINE bool mgc__arch_wide_ok(void) { return true; }
#else
#error "mgc: unsupported architecture (add it to src/internal/arch.h)"
#endif

/* The current stack pointer. Everything the caller's frame holds, including
   callee-saved registers spilled by __builtin_unwind_init, lies above it. */
MGC_INLINE uintptr_t mgc__arch_sp(void)
{
    uintptr_t sp;
#if defined(__x86_64__)
    __asm__ __volatile__("mov %%rsp, %0" : "=r"(sp));
#elif defined(__aarch64__)
    __asm__ __volatile__("mov %0, sp" : "=r"(sp));
#endif
    return sp;
}
#define MGC_ARCH_SP() mgc__arch_sp()

#endif /* MGC_ARCH_H */
