/* tests/platform/fixture.h - what the platform conformance suite needs from
 * the OS beyond the VexPlatform under test: ways to make handles and push
 * bytes through them behind the platform's back. One implementation per OS
 * family (fixture_posix.c, fixture_win32.c); the suite itself
 * (conformance.c) uses only these and the VexPlatform entries, so it builds
 * without Criterion, pthreads or POSIX headers. */
#ifndef VX_TEST_PLATFORM_FIXTURE_H
#define VX_TEST_PLATFORM_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "vexrt/platform.h"

/* Kinds of connected pairs. A kind the OS lacks makes fx_pair return -1 and
 * the checks using it report "skipped" (counted as passed, printed as SKIP). */
enum {
    FX_TCP = 1,        /* two connected TCP sockets on 127.0.0.1 */
    FX_SOCKETPAIR = 2, /* AF_UNIX stream socketpair */
    FX_PIPE = 3        /* h[0] read end, h[1] write end */
};

/* Makes a connected non-blocking pair of the given kind; 0 or -1. */
int fx_pair(int kind, IoHandle h[2]);
/* A listening non-blocking TCP socket on 127.0.0.1; its port in *port. */
int fx_listen(IoHandle *h, uint16_t *port);
/* A non-blocking TCP socket, not yet connected, and the sockaddr of
 * 127.0.0.1:port written to addr (at most *addrlen bytes, size written back),
 * for VEX_OP_CONNECT. */
int fx_socket(IoHandle *h, uint16_t port, void *addr, size_t *addrlen);
/* A regular file opened read-write (created empty in a temporary folder,
 * removed when closed); for VEX_OP_PREAD / PWRITE / FSYNC. */
int fx_file(IoHandle *h);
/* Raw, non-blocking write / read with the OS's own calls: bytes, 0 at EOF,
 * -1 if it would block, -2 on another error. */
long fx_write(IoHandle h, const void *buf, size_t len);
long fx_read(IoHandle h, void *buf, size_t len);
/* Closes h with the OS's own call (sockets, pipes and files alike). */
void fx_close(IoHandle h);
/* Aborts the connection so the peer sees a reset (SO_LINGER 0), then closes. */
void fx_reset(IoHandle h);
/* A handle value that is not open in this process. */
IoHandle fx_invalid_handle(void);
/* Sleeps the calling thread at least ms milliseconds (not through the
 * platform under test). */
void fx_sleep_ms(unsigned ms);
/* Starts a watchdog: if fx_watchdog is not called again (or with 0) within
 * seconds, prints what is running and exits the process with status 2. */
void fx_watchdog(unsigned seconds, const char *what);
/* The platforms to check, by name, in this build: fills names (at most max)
 * and returns their count. Linux: "epoll", "io_uring" (where usable), and
 * "kqueue" in the shim build; Windows: "iocp". */
int fx_platforms(const char **names, int max);

#endif /* VX_TEST_PLATFORM_FIXTURE_H */
