/* tests/win32/posix_compat.h - the few Linux calls the runtime's API tests
 * use that MinGW does not have, on Windows terms; force-included (-include)
 * into the Windows test build only. No <windows.h> here: its near/far
 * macros would break test code. */
#ifndef VX_TEST_WIN32_POSIX_COMPAT_H
#define VX_TEST_WIN32_POSIX_COMPAT_H

#include <stddef.h>

/* The process affinity mask (support_win32.c): what the platform's
 * cpu_count counts. */
unsigned long long vx_compat_affinity_mask(void);

/* sched_getaffinity(0, ...) and CPU_COUNT over that mask. */
typedef struct {
    unsigned long long mask;
} cpu_set_t;

static inline int sched_getaffinity(int pid, size_t size, cpu_set_t *set)
{
    (void)pid;
    (void)size;
    set->mask = vx_compat_affinity_mask();
    return set->mask ? 0 : -1;
}

static inline int vx_compat_cpu_count(const cpu_set_t *set)
{
    int n = 0;
    for (unsigned long long m = set->mask; m; m &= m - 1) n++;
    return n;
}
#define CPU_COUNT(set) vx_compat_cpu_count(set)

#endif /* VX_TEST_WIN32_POSIX_COMPAT_H */
