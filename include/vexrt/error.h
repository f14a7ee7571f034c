/* vexrt/error.h - error codes shared by every libvexrt call.
 *
 * Functions that can fail return int: 0 on success, a negative VEX_E* code
 * otherwise. The values are libvexrt's own and identical on every platform:
 * ports translate errno / GetLastError() to them before returning. */
#ifndef VEXRT_ERROR_H
#define VEXRT_ERROR_H

#include "vexrt/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One table generates the enum and vex_strerror's strings. Append only:
 * the numbers are part of the ABI. */
#define VEX_ERRNO_MAP(X)                                                    \
    X(EINVAL, -1, "invalid argument")                                       \
    X(ENOMEM, -2, "out of memory")                                          \
    X(EAGAIN, -3, "resource temporarily unavailable")                       \
    X(EBADF, -4, "bad handle")                                              \
    X(ECANCELED, -5, "operation canceled")                                  \
    X(ETIMEDOUT, -6, "timed out")                                           \
    X(ESHUTDOWN, -7, "runtime is shutting down")                            \
    X(ENOSYS, -8, "not supported by this platform")                         \
    X(EIO, -9, "i/o error")                                                 \
    X(EBUSY, -10, "busy")                                                   \
    X(ENOTSUP, -11, "operation not supported on this handle")               \
    X(ECONNRESET, -12, "connection reset by peer")                          \
    X(EPIPE, -13, "broken pipe")                                            \
    X(ECONNREFUSED, -14, "connection refused")                              \
    X(ENOTCONN, -15, "socket is not connected")                             \
    X(EADDRINUSE, -16, "address already in use")                            \
    X(ENOENT, -17, "no such file or directory")                             \
    X(EACCES, -18, "permission denied")                                     \
    X(EEXIST, -19, "already exists")                                        \
    X(ENOSPC, -20, "no space left on device")                               \
    X(EINTR, -21, "interrupted")                                            \
    X(EMFILE, -22, "too many open files")                                   \
    X(ENOBUFS, -23, "no buffer space available")                            \
    X(EADDRNOTAVAIL, -24, "address not available")                          \
    X(ENETUNREACH, -25, "network unreachable")                              \
    X(EHOSTUNREACH, -26, "host unreachable")                                \
    X(EISCONN, -27, "socket is already connected")                          \
    X(EINPROGRESS, -28, "operation in progress")                            \
    X(EFBIG, -29, "file too large")                                         \
    X(EISDIR, -30, "is a directory")                                        \
    X(ENOTSOCK, -31, "not a socket")                                        \
    X(EOVERFLOW, -32, "value too large")                                    \
    X(ERANGE, -33, "result out of range")

enum {
    VEX_OK = 0,
#define VEX__ERR_ENUM(name, value, text) VEX_##name = (value),
    VEX_ERRNO_MAP(VEX__ERR_ENUM)
#undef VEX__ERR_ENUM
    VEX_ERRNO_LAST = -34 /* one past the most negative code in use */
};

/* Returns a static, human-readable string for a VEX_E* code (or for 0);
 * "unknown error" for anything else. Any thread. */
VEX_API const char *vex_strerror(int err);

/* Returns the symbolic name of a code ("VEX_EINVAL"), or "VEX_E?" if unknown. */
VEX_API const char *vex_errname(int err);

#ifdef __cplusplus
}
#endif
#endif /* VEXRT_ERROR_H */
