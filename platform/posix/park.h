/* platform/posix/park.h - parking for systems without Linux's futex: a
 * portable, address-keyed parking lot on pthread mutexes and condition
 * variables, and the native wait-on-address calls where a system has them
 * (FreeBSD _umtx_op, macOS 14.4 os_sync_wait_on_address). Each function has
 * the contract of VexPlatform.park / unpark in vexrt/platform.h. */
#ifndef VX_PLATFORM_POSIX_PARK_H
#define VX_PLATFORM_POSIX_PARK_H

#include <stdint.h>

/* The parking lot: any POSIX system. */
int vx_lot_park(void *ctx, uint32_t *word, uint32_t expected, uint64_t timeout_ns);
void vx_lot_unpark(void *ctx, uint32_t *word, uint32_t count);

/* The system's own wait-on-address, where park.c knows one (VX_HAVE_NATIVE_PARK). */
#if defined(__FreeBSD__) ||                                                                     \
    (defined(__APPLE__) && defined(__ENVIRONMENT_MAC_OS_X_VERSION_MIN_REQUIRED__) &&            \
     __ENVIRONMENT_MAC_OS_X_VERSION_MIN_REQUIRED__ >= 140400)
#define VX_HAVE_NATIVE_PARK 1
int vx_native_park(void *ctx, uint32_t *word, uint32_t expected, uint64_t timeout_ns);
void vx_native_unpark(void *ctx, uint32_t *word, uint32_t count);
#else
#define VX_HAVE_NATIVE_PARK 0
#endif

#endif /* VX_PLATFORM_POSIX_PARK_H */
