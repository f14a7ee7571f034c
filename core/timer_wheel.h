/* core/timer_wheel.h - a hierarchical timing wheel (Varghese & Lauck 1987,
 * with Tokio's bitmap-per-level and cascading).
 *
 * Geometry: 8 levels of 64 slots; a tick is 2^shift ns (default 2^10 = 1.024
 * us). Level L's slots are 64^L ticks wide, so with 1 us ticks level 0 spans
 * 65 us, level 3 17 s and level 7 about 9 years. An entry lives at the level
 * of the highest 6-bit digit in which its deadline tick differs from the
 * wheel's current tick; when the wheel reaches the start of a slot above level
 * 0, the slot's entries are re-filed lower (cascade), so every entry fires
 * from level 0 at its own tick. Entries beyond the top level's range wait in
 * the top level and are re-filed until they are in range.
 *
 * Deadlines are rounded up to a tick, and an entry is returned only when its
 * tick is <= the current tick: a timer never fires early. Insert, remove and
 * per-slot work are O(1); finding the next slot is 8 bit-scans. Entries
 * returned together come out sorted by deadline_ns.
 *
 * A wheel has one owner thread; nothing here is atomic. Freestanding. */
#ifndef VX_TIMER_WHEEL_H
#define VX_TIMER_WHEEL_H

#include "vx.h"

#define VX_WHEEL_LEVELS 8
#define VX_WHEEL_SLOTS 64

typedef struct VxWheelEntry {
    struct VxWheelEntry *next; /* slot list while linked; result list after advance */
    struct VxWheelEntry *prev;
    uint64_t deadline_ns;      /* set by the caller before insert */
    uint8_t level, slot;       /* position while linked */
    uint8_t linked;            /* 1 while in a slot list */
} VxWheelEntry;

typedef struct VxWheel {
    uint64_t elapsed;  /* current tick: everything at or before it has been returned */
    unsigned shift;    /* tick = 2^shift ns */
    size_t count;      /* linked entries */
    uint64_t occupied[VX_WHEEL_LEVELS];
    VxWheelEntry *slots[VX_WHEEL_LEVELS][VX_WHEEL_SLOTS];
} VxWheel;

/* Prepares an empty wheel with 2^shift ns ticks (shift <= 32) whose current
 * tick is now_ns's. */
void vx_wheel_init(VxWheel *w, unsigned shift, uint64_t now_ns);

/* Files e (deadline_ns set). Returns false, without filing it, if its tick
 * has already been reached: the caller fires it at once. */
bool vx_wheel_insert(VxWheel *w, VxWheelEntry *e);

/* Unlinks a filed entry. */
void vx_wheel_remove(VxWheel *w, VxWheelEntry *e);

/* Moves the wheel to now_ns's tick and returns every entry whose tick was
 * reached, unlinked and chained through next in deadline_ns order (NULL if
 * none). The wheel never moves backwards. */
VxWheelEntry *vx_wheel_advance(VxWheel *w, uint64_t now_ns);

/* Returns the earliest time in ns at which vx_wheel_advance has work (a fire
 * or a cascade), or UINT64_MAX for an empty wheel. Never later than any
 * filed entry's tick. */
uint64_t vx_wheel_next_ns(const VxWheel *w);

/* Returns the tick (ns) an entry with deadline_ns fires at: the deadline
 * rounded up to the wheel's tick. */
VX_INLINE uint64_t vx_wheel_tick_of(const VxWheel *w, uint64_t deadline_ns)
{
    /* Rounded up without overflow: a deadline in the clock's very last tick
     * gets a tick no clock reading reaches, so it never fires early. */
    uint64_t mask = ((uint64_t)1 << w->shift) - 1;
    return (deadline_ns >> w->shift) + ((deadline_ns & mask) != 0);
}

#endif /* VX_TIMER_WHEEL_H */
