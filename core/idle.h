/* core/idle.h - the idle set: which workers sleep, which search for work,
 * and whom a producer wakes (the protocol is in idle.c). */
#ifndef VX_IDLE_H
#define VX_IDLE_H

#include "lock.h"

struct VxWorker;
struct Runtime;

typedef struct VxIdle {
    /* (unparked << 32) | searching; every access an RMW or seq_cst. */
    VX_ALIGNED _Atomic uint64_t word;
    VxLock lock;          /* sleepers[], nsleepers, and each worker's in_sleepers */
    uint32_t *sleepers;   /* ids of the parked workers, nworkers slots */
    uint32_t nsleepers;
} VxIdle;

/* The two halves of the idle word. */
VX_INLINE uint32_t vx_idle_searching(uint64_t word) { return (uint32_t)word; }
VX_INLINE uint32_t vx_idle_unparked(uint64_t word) { return (uint32_t)(word >> 32); }

/* Sets up the set for n workers, all unparked (sleepers: n slots from the
 * caller). */
void vx_idle_init(VxIdle *idle, uint32_t n, uint32_t *sleepers);

/* Makes w a searcher unless half the workers already search; true if it
 * is one. Owner. */
bool vx_idle_try_search(struct Runtime *rt, struct VxWorker *w);
/* w stops searching; true if it was the last searcher (it then wakes
 * another, ramping parallelism up one worker at a time). Owner. */
bool vx_idle_stop_search(struct Runtime *rt, struct VxWorker *w);
/* Wakes a sleeper if nobody searches and somebody sleeps: call after
 * publishing work others should take. Any thread. */
void vx_idle_notify(struct Runtime *rt);
/* Moves w into the idle set; *awake_left gets how many workers are still
 * awake after it (decided by the RMW, so exactly one of the workers going
 * to sleep sees 0). Returns true if w was the last searcher. Owner. */
bool vx_idle_park(struct Runtime *rt, struct VxWorker *w, uint32_t *awake_left);
/* Takes w out of the idle set after it woke; true if a notifier had
 * already taken it out (it was asked to search). Owner. */
bool vx_idle_leave(struct Runtime *rt, struct VxWorker *w);
/* True if any queue holds work (the rescan of the lost-wake-up guard). */
bool vx_idle_work_pending(struct Runtime *rt);

#endif /* VX_IDLE_H */
