/* tests/kqueue/os/os_sync_wait_on_address.h - the macOS 14.4 wait-on-address
 * calls platform/posix/park.c uses, for make check-kqueue's macOS syntax
 * check on a machine without a macOS SDK. Test-only; written from Apple's
 * os_sync_wait_on_address documentation. */
#ifndef VX_TEST_OS_SYNC_WAIT_ON_ADDRESS_H
#define VX_TEST_OS_SYNC_WAIT_ON_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

typedef uint32_t os_sync_wait_on_address_flags_t;
typedef uint32_t os_sync_wake_by_address_flags_t;
typedef uint32_t os_clockid_t;

#define OS_SYNC_WAIT_ON_ADDRESS_NONE 0u
#define OS_SYNC_WAKE_BY_ADDRESS_NONE 0u
#define OS_CLOCK_MACH_ABSOLUTE_TIME 32u

/* Each returns >= 0, or -1 with errno (ETIMEDOUT, EINTR, ENOENT for wakes
 * that found nobody). */
int os_sync_wait_on_address(void *addr, uint64_t value, size_t size,
                            os_sync_wait_on_address_flags_t flags);
int os_sync_wait_on_address_with_timeout(void *addr, uint64_t value, size_t size,
                                         os_sync_wait_on_address_flags_t flags,
                                         os_clockid_t clockid, uint64_t timeout_ns);
int os_sync_wake_by_address_any(void *addr, size_t size, os_sync_wake_by_address_flags_t flags);
int os_sync_wake_by_address_all(void *addr, size_t size, os_sync_wake_by_address_flags_t flags);

#endif /* VX_TEST_OS_SYNC_WAIT_ON_ADDRESS_H */
