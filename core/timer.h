/* core/timer.h - timer entries: a wheel entry plus the task wait it ends.
 *
 * Ownership: an entry lives in the wheel of the worker whose task armed it
 * (the owner), and only the owner links, unlinks and fires it. The task's
 * runner (possibly another worker, after a steal) releases the entry when
 * the wait is over:
 *   - fired (state FIRED): the runner frees it;
 *   - still armed, runner is the owner: unlink and free at once;
 *   - still armed, runner is another worker: CAS ARMED -> CANCELLED and push
 *     it on the owner's cancel stack; the owner unlinks and frees it at its
 *     next timer pass (memory is released promptly, not at the deadline).
 * The owner fires with CAS ARMED -> FIRED, so a fire and a remote cancel
 * never both win. */
#ifndef VX_TIMER_H
#define VX_TIMER_H

#include "task.h"
#include "timer_wheel.h"

enum { VX_TIMER_ARMED = 0, VX_TIMER_FIRED = 1, VX_TIMER_CANCELLED = 2 };

typedef struct VxTimer {
    VxWheelEntry e;              /* must stay first (timer_of casts) */
    VxTask *task;                /* task whose wait this ends */
    uint64_t gen;                /* the task's wait generation when armed */
    struct VxTimer *cancel_next; /* link on the owner's cancel stack */
    _Atomic uint32_t state;      /* VX_TIMER_* */
    uint16_t owner;              /* worker whose wheel holds it */
    uint16_t pad_;
} VxTimer;

_Static_assert(sizeof(VxTimer) <= 64, "a timer entry must stay within 64 bytes");

#endif /* VX_TIMER_H */
