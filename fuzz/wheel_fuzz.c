/* fuzz/wheel_fuzz.c - libFuzzer harness for the timer wheel (core/timer_wheel.c).
 *
 * The input picks a tick size and then a script of operations on up to 64
 * timers: insert (a deadline near, far, or beyond the wheel's range), cancel,
 * and advance the clock (by a small step, to the wheel's next event, or by a
 * large jump). A sorted model checks, after every advance, that exactly the
 * timers whose tick was reached fired, in deadline order, none early, and
 * that next_ns never lies beyond the earliest pending tick. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timer_wheel.h"

#define SLOTS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t take(const uint8_t **p, const uint8_t *end, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes && *p < end; i++) v = v << 8 | *(*p)++;
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    if (size < 2) return 0;
    unsigned shift = (unsigned)(take(&p, end, 1) % 21); /* 1 ns .. 1 ms ticks */
    uint64_t now = take(&p, end, 4) << 8;
    VxWheel w;
    vx_wheel_init(&w, shift, now);
    VxWheelEntry es[SLOTS];
    bool armed[SLOTS];
    memset(es, 0, sizeof es);
    memset(armed, 0, sizeof armed);
    while (p < end) {
        uint8_t op = (uint8_t)take(&p, end, 1);
        int i = op % SLOTS;
        switch ((op >> 6) & 3) {
        case 0: { /* insert */
            if (armed[i]) break;
            uint64_t kind = take(&p, end, 1) % 4, d;
            if (kind == 0) d = take(&p, end, 2);                      /* within a few ticks */
            else if (kind == 1) d = take(&p, end, 4) << 4;            /* up to minutes */
            else if (kind == 2) d = take(&p, end, 6) << 10;           /* far */
            else d = UINT64_MAX - now - take(&p, end, 2);             /* beyond any range */
            es[i].deadline_ns = d > UINT64_MAX - now ? UINT64_MAX : now + d;
            if (vx_wheel_insert(&w, &es[i]))
                armed[i] = true;
            else if (vx_wheel_tick_of(&w, es[i].deadline_ns) > w.elapsed)
                abort(); /* refused though its tick is still ahead */
            break;
        }
        case 1: /* cancel */
            if (armed[i]) {
                vx_wheel_remove(&w, &es[i]);
                armed[i] = false;
            }
            break;
        default: { /* advance */
            uint64_t next = vx_wheel_next_ns(&w);
            uint64_t earliest = UINT64_MAX;
            for (int k = 0; k < SLOTS; k++)
                if (armed[k]) {
                    uint64_t tick = vx_wheel_tick_of(&w, es[k].deadline_ns);
                    uint64_t at = tick > (UINT64_MAX >> shift) ? UINT64_MAX : tick << shift;
                    if (at < earliest) earliest = at;
                }
            if (next > earliest) abort(); /* would sleep past a due timer */
            uint64_t step = take(&p, end, 1);
            uint64_t to = (op >> 6) == 2 ? now + step * 97 : (next != UINT64_MAX ? next : now + step);
            if (to < now) to = now;
            now = to;
            uint64_t last = 0;
            int fired = 0;
            for (VxWheelEntry *x = vx_wheel_advance(&w, now); x; x = x->next) {
                int k = (int)(x - es);
                if (k < 0 || k >= SLOTS || !armed[k]) abort(); /* fired twice or never armed */
                if (x->deadline_ns > now) abort();             /* early */
                if (x->deadline_ns < last) abort();            /* out of order */
                last = x->deadline_ns;
                armed[k] = false;
                fired++;
            }
            for (int k = 0; k < SLOTS; k++) /* everything whose tick came must have fired */
                if (armed[k] && vx_wheel_tick_of(&w, es[k].deadline_ns) <= now >> shift) abort();
            (void)fired;
        }
        }
        size_t count = 0;
        for (int k = 0; k < SLOTS; k++) count += armed[k];
        if (count != w.count) abort();
    }
    return 0;
}
