/* tests/support/fault_syscalls.h - EINTR and short transfers injected below
 * the platform layer (Linux): the test binary defines read, write, recv,
 * send, accept4, close, epoll_wait and syscall, which forward to the C library's
 * (dlsym RTLD_NEXT) and, while enabled, make some calls fail with EINTR or
 * transfer fewer bytes. This proves the Linux backends retry what the OS
 * may interrupt, without needing a signal to land at the right moment.
 *
 * Off by default: every test in the binary goes through the wrappers, which
 * then only forward. Data calls are faulted only on the descriptors a test
 * watches; the kernel waits (futex, epoll_pwait2/epoll_wait, io_uring_enter
 * with GETEVENTS) on any descriptor of the process. */
#ifndef VX_TEST_FAULT_SYSCALLS_H
#define VX_TEST_FAULT_SYSCALLS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct FaultSyscalls {
    uint32_t eintr_1_in;      /* data calls on watched fds fail with EINTR, 1 in N (0 = never) */
    uint32_t wait_eintr_1_in; /* futex, epoll and io_uring waits return EINTR (the first, then
                               * every N-th) */
    uint32_t short_1_in;      /* fault_sys_read/write (the test's own raw I/O) transfer less */
    uint64_t seed;
} FaultSyscalls;

/* Counts of what was injected, and of the calls seen on watched fds. */
extern _Atomic long long fault_sys_data_calls, fault_sys_data_eintrs, fault_sys_accept_eintrs;
extern _Atomic long long fault_sys_wait_calls, fault_sys_wait_eintrs, fault_sys_shorts;
extern _Atomic long long fault_sys_close_eintrs;

/* Starts injecting as cfg says (counters reset). Single-threaded setup. */
void fault_sys_enable(const FaultSyscalls *cfg);
/* Stops injecting; the wrappers forward only. */
void fault_sys_disable(void);
/* Data calls on fd are faulted from now on (up to 64 fds). */
void fault_sys_watch(int fd);
/* Forgets every watched fd. */
void fault_sys_unwatch_all(void);

/* The test's own raw I/O: as read/write, and while short transfers are
 * enabled they may move fewer bytes than asked. (The runtime's own calls are
 * never shortened: on a byte stream a short transfer means "drained" to the
 * edge-triggered epoll backend, which a real stream honours; the platform
 * wrapper in fault_platform.h covers short transfers inside the contract.) */
ssize_t fault_sys_read(int fd, void *buf, size_t n);
ssize_t fault_sys_write(int fd, const void *buf, size_t n);
/* The test's own close: never reported as interrupted (only the runtime's
 * closes are, every other one: Linux releases the fd and says EINTR). */
int fault_sys_close(int fd);

#endif /* VX_TEST_FAULT_SYSCALLS_H */
