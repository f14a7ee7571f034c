/* platform/linux/futex.c - parking on a 32-bit word with futex(2). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../posix/posix.h"
#include "vexrt/error.h"

int vx_futex_park(void *ctx, uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
    (void)ctx;
    if (timeout_ns == 0)
        return __atomic_load_n(word, __ATOMIC_SEQ_CST) == expected ? VEX_ETIMEDOUT : 0;
    struct timespec ts, *tp = NULL;
    if (timeout_ns != VEX_WAIT_FOREVER) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
        ts.tv_nsec = (long)(timeout_ns % 1000000000u);
        tp = &ts;
    }
    /* FUTEX_WAIT's relative timeout runs on CLOCK_MONOTONIC and never
     * expires early. EAGAIN (word changed) and EINTR are ordinary returns. */
    long rc = syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, tp, NULL, 0);
    if (rc == -1 && errno == ETIMEDOUT) return VEX_ETIMEDOUT;
    return 0;
}

void vx_futex_unpark(void *ctx, uint32_t *word, uint32_t count)
{
    (void)ctx;
    int n = count > (uint32_t)INT_MAX ? INT_MAX : (int)count;
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}
