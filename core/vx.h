/* core/vx.h - base definitions shared by every core/ file.
 *
 * core/ is freestanding C11: it includes only <stddef.h> <stdint.h>
 * <stdbool.h> <stdatomic.h> and project headers, and never calls libc or the
 * OS (memory through the allocator vtable, everything else through the
 * platform vtable, see core/plat.h). */
#ifndef VX_VX_H
#define VX_VX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vexrt/runtime.h"
#include "vexrt/alloc.h"
#include "vexrt/error.h"
#include "vexrt/platform.h"

/* Everything the core declares from here on is internal to the library.
 * Hidden visibility also lets a position-independent build address internal
 * functions directly instead of through the GOT, so the freestanding object
 * has no _GLOBAL_OFFSET_TABLE_ reference. Public entry points are declared
 * above (runtime.h and include/vexrt/) with VEX_API and keep default visibility. */
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility push(hidden)
#endif

/* Two lines: modern x86 prefetches cache lines in adjacent pairs, so data
 * written by different threads is kept 128 bytes apart. */
#define VX_CACHE_LINE 128
#define VX_ALIGNED _Alignas(VX_CACHE_LINE)

#if defined(__GNUC__) || defined(__clang__)
#define VX_LIKELY(x) __builtin_expect(!!(x), 1)
#define VX_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define VX_INLINE static inline __attribute__((always_inline))
#define VX_NOINLINE __attribute__((noinline))
#else
#define VX_LIKELY(x) (x)
#define VX_UNLIKELY(x) (x)
#define VX_INLINE static inline
#define VX_NOINLINE
#endif

#define VX_CONTAINER_OF(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Internal invariants only (never user input). Compiled out unless
 * VX_DEBUG is defined; a failure traps, as there is no abort() here. */
#ifdef VX_DEBUG
#define VX_ASSERT(c) do { if (!(c)) __builtin_trap(); } while (0)
#else
#define VX_ASSERT(c) ((void)0)
#endif

/* Relaxed shorthands for fields that are atomic only so that a concurrent
 * reader (stats, hints) is race-free; the writer is a single thread. */
#define VX_LOAD_RELAXED(p) atomic_load_explicit((p), memory_order_relaxed)
#define VX_STORE_RELAXED(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)

/* Count trailing / leading zeros of a non-zero 64-bit value (compiles to one
 * instruction on x86-64 and AArch64, no libgcc call). */
VX_INLINE unsigned vx_ctz64(uint64_t x) { return (unsigned)__builtin_ctzll(x); }
VX_INLINE unsigned vx_clz64(uint64_t x) { return (unsigned)__builtin_clzll(x); }

VX_INLINE uint64_t vx_rotr64(uint64_t x, unsigned r)
{
    r &= 63;
    return r ? (x >> r) | (x << (64 - r)) : x;
}

/* Starts loading p's cache line for writing. A hint only; p may be NULL. */
#if defined(__GNUC__) || defined(__clang__)
#define VX_PREFETCH_W(p) __builtin_prefetch((p), 1, 3)
#define VX_PREFETCH_R(p) __builtin_prefetch((p), 0, 3)
#else
#define VX_PREFETCH_W(p) ((void)(p))
#define VX_PREFETCH_R(p) ((void)(p))
#endif

/* A hint to the CPU inside spin loops (architecture, not OS, specific). */
VX_INLINE void vx_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

/* xorshift64*: cheap per-worker randomness for victim selection. */
VX_INLINE uint32_t vx_rand32(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Bytes zeroed / copied without naming libc (compilers may still emit
 * memset/memcpy for these, which check-freestanding allows). */
VX_INLINE void vx_zero(void *p, size_t n)
{
    unsigned char *b = (unsigned char *)p;
    while (n--) *b++ = 0;
}

#endif /* VX_VX_H */
