/* platform/virtual/virtual.h - a platform whose clock only moves when told.
 *
 * Threads are real (POSIX); now_ns returns a virtual time that the test
 * advances by hand, and a park with a timeout wakes when virtual time passes
 * its deadline, never because real time passed. So timer and cancellation
 * tests neither sleep nor flake: an hour-long timer fires as soon as the test
 * advances the clock by an hour. Built into the tests, not the library. */
#ifndef VX_PLATFORM_VIRTUAL_H
#define VX_PLATFORM_VIRTUAL_H

#include <pthread.h>
#include <stdint.h>

#include "vexrt/platform.h"

typedef struct VxVirtualClock {
    VexPlatform vt;            /* hand &vt to RuntimeConfig.platform */
    pthread_mutex_t mu;
    pthread_cond_t cv;         /* parked threads wait here */
    pthread_cond_t idle_cv;    /* vclock_wait_parked waits here */
    uint64_t now;              /* virtual ns, under mu (read atomically by now_ns) */
    unsigned parked;           /* threads inside park, under mu */
    struct {
        uint32_t *word;
        uint32_t expected;
        uint64_t deadline;
    } waiters[64];             /* what each parked thread waits for, under mu */
} VxVirtualClock;

/* Prepares vc with virtual time start_ns. */
void vclock_init(VxVirtualClock *vc, uint64_t start_ns);
void vclock_destroy(VxVirtualClock *vc);

/* Moves virtual time forward by dt_ns (or to t_ns) and wakes every thread
 * whose deadline has passed. */
void vclock_advance(VxVirtualClock *vc, uint64_t dt_ns);
void vclock_set(VxVirtualClock *vc, uint64_t t_ns);
uint64_t vclock_now(VxVirtualClock *vc);

/* Blocks (for real) until at least n threads are parked: with n = workers
 * plus the thread blocked in runtime_run, the runtime has nothing left to do
 * at the current virtual time. */
void vclock_wait_parked(VxVirtualClock *vc, unsigned n);

#endif /* VX_PLATFORM_VIRTUAL_H */
