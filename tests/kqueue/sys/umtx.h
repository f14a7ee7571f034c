/* tests/kqueue/sys/umtx.h - the part of FreeBSD's <sys/umtx.h> that
 * platform/posix/park.c uses, for make check-kqueue's FreeBSD syntax check
 * on a machine without a FreeBSD sysroot. Test-only; written from the
 * FreeBSD 14 _umtx_op(2) manual page. */
#ifndef VX_TEST_SYS_UMTX_H
#define VX_TEST_SYS_UMTX_H

#include <stdint.h>
#include <time.h>

#define UMTX_OP_WAIT_UINT_PRIVATE 15 /* sleep while *(u_int *)obj == val */
#define UMTX_OP_WAKE_PRIVATE 16      /* wake up to val threads sleeping on obj */
#define UMTX_ABSTIME 0x01            /* _umtx_time._flags: _timeout is absolute */

/* Passed as uaddr2, with its size as uaddr. */
struct _umtx_time {
    struct timespec _timeout;
    uint32_t _flags;
    uint32_t _clockid;
};

/* Returns 0, or -1 with errno (ETIMEDOUT, EINTR). */
int _umtx_op(void *obj, int op, unsigned long val, void *uaddr, void *uaddr2);

#endif /* VX_TEST_SYS_UMTX_H */
