/* tests/support/fault_platform.h - a VexPlatform that wraps a real backend
 * and injects the faults its contract allows: failing thread spawns, short
 * io_try transfers, spurious returns from park and poller_wait (what EINTR
 * gives), and poller_arm / poller_submit failing with VEX_EINTR. Seeded and
 * deterministic in the sequence of decisions (not in which thread gets which
 * one). Every injection is counted, so a test can prove it happened. */
#ifndef VX_TEST_FAULT_PLATFORM_H
#define VX_TEST_FAULT_PLATFORM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vexrt/platform.h"

typedef struct FaultPlatform {
    VexPlatform vt;                /* hand &vt to RuntimeConfig.platform */
    const VexPlatform *inner;      /* the real backend every call goes to */
    /* Knobs, each "1 in N" calls (0 = never). Set before the runtime exists. */
    uint32_t short_io_1_in;        /* io_try READ/WRITE/RECV/SEND asks for fewer bytes */
    uint32_t spurious_park_1_in;   /* park returns 0 at once, without sleeping */
    uint32_t spurious_wait_1_in;   /* poller_wait returns 0 events at once (the first call
                                    * that may block, then by count) */
    uint32_t fail_arm_1_in;        /* poller_arm and poller_submit fail with VEX_EINTR */
    long long fail_spawn_at;       /* the n-th thread_spawn (1-based) fails; 0 = never */
    bool fail_spawn_after;         /* ... and every spawn after it too */
    uint64_t seed;
    /* Counters. */
    _Atomic uint64_t rng_next;
    _Atomic long long spawns;      /* thread_spawn calls, failed ones included */
    _Atomic long long spawns_ok;
    _Atomic long long joins;
    _Atomic long long io_tries, short_ios;
    _Atomic long long parks, spurious_parks;
    _Atomic long long waits, blocking_waits, spurious_waits;
    _Atomic long long arms, failed_arms;
    _Atomic long long submits, failed_submits;
} FaultPlatform;

/* Wraps backend ("epoll", "io_uring"; NULL = the default platform) with no
 * fault enabled. Returns false if that backend is not usable here. */
bool fault_platform_init(FaultPlatform *fp, const char *backend, uint64_t seed);

#endif /* VX_TEST_FAULT_PLATFORM_H */
