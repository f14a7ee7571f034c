/* tests/kqueue/cross/darwin.h - what the macOS syntax check of make
 * check-kqueue needs beyond the host's libc headers, which stand in for a
 * macOS SDK it does not have: the few Darwin-only declarations platform/
 * uses. Force-included (-include) in that check only; test-only. Values
 * from the macOS 13 SDK's manual pages. */
#ifndef VX_TEST_CROSS_DARWIN_H
#define VX_TEST_CROSS_DARWIN_H

/* The glibc headers standing in for the SDK declare POSIX only on request
 * (macOS's do by default), and this file is read before the source's own
 * _GNU_SOURCE. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <pthread.h>
#include <time.h>

#define SO_NOSIGPIPE 0x1022 /* setsockopt: no SIGPIPE on this socket */

int pthread_cond_timedwait_relative_np(pthread_cond_t *cond, pthread_mutex_t *mutex,
                                       const struct timespec *reltime);

#endif /* VX_TEST_CROSS_DARWIN_H */
