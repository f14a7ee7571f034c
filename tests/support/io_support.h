/* tests/support/io_support.h - what the I/O tests share: running one test
 * body on every I/O backend this machine has (IO_TEST), and small socket
 * helpers. */
#ifndef VX_TEST_IO_SUPPORT_H
#define VX_TEST_IO_SUPPORT_H

#include "support/support.h" /* criterion.h first: parameterized.h after it */

#include <criterion/parameterized.h>

#include "vexrt/io.h"

/* A backend parameter: the name is stored inline because Criterion copies
 * parameters into the test's process (a pointer would not survive). */
typedef struct IoBackend {
    char name[16];
} IoBackend;

/* The backends this build offers and this machine can use, among "epoll",
 * "io_uring", "kqueue" (the shim build) and "iocp", for
 * ParameterizedTestParameters. */
struct criterion_test_params io_backends(void);

/* IO_TEST(suite, name, options...) { body using `b` (const IoBackend *) }:
 * one test body, run once per backend (parametrized, not copied). */
#define IO_TEST(suite, name, ...)                                                  \
    ParameterizedTestParameters(suite, name) { return io_backends(); }             \
    ParameterizedTest(IoBackend *b, suite, name, __VA_ARGS__)

/* A runtime with n workers on backend b (asserts it got that backend). */
Runtime *io_runtime(const IoBackend *b, int workers);
/* Same, with a counting allocator. */
Runtime *io_runtime_alloc(const IoBackend *b, int workers, CountingAlloc *ca);

/* Runs spawned work to completion: auto-shutdown, run, and asserts no task
 * is left. */
void io_run(Runtime *rt);

/* Non-blocking (O_NONBLOCK, CLOEXEC) socketpair / pipe; asserts success. */
void io_socketpair(int sv[2]);
void io_pipe(int p[2]);
void io_set_nonblocking(int fd);
/* A listening TCP socket on 127.0.0.1 with a kernel-chosen port, returned
 * in *port; backlog as given. */
int io_listen(uint16_t *port, int backlog);
/* A blocking TCP connection to 127.0.0.1:port. */
int io_connect(uint16_t port);
/* A sockaddr for 127.0.0.1:port, for VEX_OP_CONNECT. */
void io_addr(uint16_t port, void *sockaddr_in_out);
/* Raises the soft open-file limit to at least n (up to the hard limit);
 * returns the limit now in force. */
long io_raise_nofile(long n);
/* Shrinks a socket's send/receive buffers (to provoke partial writes). */
void io_small_buffers(int fd);

#endif /* VX_TEST_IO_SUPPORT_H */
