/*
 * arch.h — the only place that knows which CPU mgc runs on: a spin-wait
 * hint, the stack pointer, and where a signal's saved registers are in a
 * ucontext. x86-64 first; aarch64 kept possible.
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
