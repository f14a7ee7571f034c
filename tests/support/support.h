/* tests/support/support.h - helpers shared by the test files: a counting
 * (and optionally failing) allocator, a counting platform, and assertions
 * that print both sides. Works with Criterion and with tests/minicrit. */
#ifndef VX_TEST_SUPPORT_H
#define VX_TEST_SUPPORT_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <criterion/criterion.h>

#include "runtime.h"
#include "vexrt/config.h"

/* --- Assertions that show both values --- */

#define CHECK_EQ(got, want)                                                            \
    do {                                                                               \
        unsigned long long g_ = (unsigned long long)(got), w_ = (unsigned long long)(want); \
        cr_assert(g_ == w_, "%s == %s: got %llu, want %llu", #got, #want, g_, w_);      \
    } while (0)
#define CHECK_INT(got, want)                                                           \
    do {                                                                               \
        long long g_ = (long long)(got), w_ = (long long)(want);                       \
        cr_assert(g_ == w_, "%s == %s: got %lld, want %lld", #got, #want, g_, w_);      \
    } while (0)
#define CHECK_LE(got, bound)                                                           \
    do {                                                                               \
        unsigned long long g_ = (unsigned long long)(got), b_ = (unsigned long long)(bound); \
        cr_assert(g_ <= b_, "%s <= %s: got %llu, bound %llu", #got, #bound, g_, b_);    \
    } while (0)
#define CHECK_GE(got, bound)                                                           \
    do {                                                                               \
        unsigned long long g_ = (unsigned long long)(got), b_ = (unsigned long long)(bound); \
        cr_assert(g_ >= b_, "%s >= %s: got %llu, bound %llu", #got, #bound, g_, b_);    \
    } while (0)
#define CHECK_OK(expr)                                                                 \
    do {                                                                               \
        int rc_ = (expr);                                                              \
        cr_assert(rc_ == 0, "%s: %s (%d)", #expr, vex_strerror(rc_), rc_);             \
    } while (0)

/* --- Counting allocator --- */

typedef struct CountingAlloc {
    VexAllocator vt;              /* hand &vt to RuntimeConfig.allocator */
    _Atomic long long live_bytes;
    _Atomic long long live_blocks;
    _Atomic long long peak_bytes;
    _Atomic long long allocs;     /* calls of alloc, failed ones included */
    _Atomic long long fail_at;    /* the n-th call (1-based) returns NULL; 0 = never */
    _Atomic long long failures;   /* NULLs returned by injection */
    _Atomic long long bad_frees;  /* frees whose size did not match a live block */
} CountingAlloc;

void counting_alloc_init(CountingAlloc *ca);
/* Blocks freed with a size or alignment differing from their allocation are
 * counted in bad_frees (each block carries a hidden header). */

/* --- Counting platform --- */

typedef struct CountingPlatform {
    VexPlatform vt;               /* hand &vt to RuntimeConfig.platform */
    const VexPlatform *inner;
    _Atomic long long spawns, joins, parks, unparks, park_timeouts;
    _Atomic long long fail_spawn_at; /* the n-th spawn (1-based) fails; 0 = never */
} CountingPlatform;

void counting_platform_init(CountingPlatform *cp);

/* --- Misc --- */

uint64_t test_now_ns(void);
void test_sleep_ms(unsigned ms);
/* Threads of this process, from /proc/self/task (Linux). */
int test_thread_count(void);
/* CPU time (user + system) of this process in ns. */
uint64_t test_cpu_ns(void);

/* Creates a runtime with n workers on the given allocator/platform (either
 * may be NULL for the default) and asserts success. */
Runtime *test_runtime(int n, CountingAlloc *ca, CountingPlatform *cp);

/* Runs runtime_run(rt) on a new thread (asserting it returns 0 when joined). */
pthread_t test_run_async(Runtime *rt);
void test_join(pthread_t th);

#endif /* VX_TEST_SUPPORT_H */
