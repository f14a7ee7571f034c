/* core/timer_wheel.c - hierarchical timing wheel (see timer_wheel.h).
 * Owner-thread only, freestanding, no allocation. */
#include "timer_wheel.h"

#define LEVEL_BITS 6
#define TOP (VX_WHEEL_LEVELS - 1)

void vx_wheel_init(VxWheel *w, unsigned shift, uint64_t now_ns)
{
    if (shift > 32) shift = 32;
    w->shift = shift;
    w->elapsed = now_ns >> shift;
    w->count = 0;
    for (int l = 0; l < VX_WHEEL_LEVELS; l++) {
        w->occupied[l] = 0;
        for (int s = 0; s < VX_WHEEL_SLOTS; s++) w->slots[l][s] = NULL;
    }
}

/* Level of the highest 6-bit digit where when and elapsed differ (level 0 if
 * they differ only in the lowest digit). Differences above the top level's
 * digit are clamped to the top level: such an entry waits there and is
 * re-filed when its slot comes round (never early: firing re-checks). */
VX_INLINE unsigned level_for(uint64_t elapsed, uint64_t when)
{
    uint64_t masked = (elapsed ^ when) | ((1u << LEVEL_BITS) - 1);
    unsigned significant = 63 - vx_clz64(masked);
    unsigned level = significant / LEVEL_BITS;
    return level > TOP ? TOP : level;
}

static void link_entry(VxWheel *w, VxWheelEntry *e, uint64_t when)
{
    unsigned level = level_for(w->elapsed, when);
    unsigned slot = (unsigned)(when >> (level * LEVEL_BITS)) & (VX_WHEEL_SLOTS - 1);
    VxWheelEntry **head = &w->slots[level][slot];
    e->level = (uint8_t)level;
    e->slot = (uint8_t)slot;
    e->linked = 1;
    e->prev = NULL;
    e->next = *head;
    if (*head) (*head)->prev = e;
    *head = e;
    w->occupied[level] |= (uint64_t)1 << slot;
    w->count++;
}

bool vx_wheel_insert(VxWheel *w, VxWheelEntry *e)
{
    uint64_t when = vx_wheel_tick_of(w, e->deadline_ns);
    if (when <= w->elapsed) {
        e->linked = 0;
        return false;
    }
    link_entry(w, e, when);
    return true;
}

void vx_wheel_remove(VxWheel *w, VxWheelEntry *e)
{
    if (!e->linked) return;
    if (e->prev)
        e->prev->next = e->next;
    else
        w->slots[e->level][e->slot] = e->next;
    if (e->next) e->next->prev = e->prev;
    if (!w->slots[e->level][e->slot]) w->occupied[e->level] &= ~((uint64_t)1 << e->slot);
    e->linked = 0;
    e->next = e->prev = NULL;
    w->count--;
}

/* Start tick of the first occupied slot of level l at or after the current
 * position, or UINT64_MAX. Slots behind the current digit belong to the next
 * rotation of the level. The slot of the current digit itself is never
 * legitimately occupied below the top level (entries there would have been
 * filed lower); at the top level it holds only entries clamped from beyond
 * the wheel's range, due a full rotation later, so it comes last: every
 * other occupied slot is looked at first (a fuzzer found the wheel sleeping
 * past a near top-level entry when the current slot was scanned first). */
static uint64_t level_next(const VxWheel *w, unsigned l)
{
    uint64_t occ = w->occupied[l];
    if (!occ) return UINT64_MAX;
    unsigned shift = l * LEVEL_BITS;
    unsigned now_slot = (unsigned)(w->elapsed >> shift) & (VX_WHEEL_SLOTS - 1);
    uint64_t level_range = (uint64_t)1 << (shift + LEVEL_BITS);
    uint64_t level_start = w->elapsed & ~(level_range - 1);
    uint64_t others = occ & ~((uint64_t)1 << now_slot);
    if (others) {
        unsigned slot = (now_slot + vx_ctz64(vx_rotr64(others, now_slot))) & (VX_WHEEL_SLOTS - 1);
        uint64_t start = level_start + ((uint64_t)slot << shift);
        if (start < w->elapsed) start += level_range; /* behind: next rotation */
        return start;
    }
    uint64_t start = level_start + ((uint64_t)now_slot << shift);
    if (l == TOP) start += level_range; /* far entries: a rotation from now */
    return start;
}

uint64_t vx_wheel_next_ns(const VxWheel *w)
{
    uint64_t best = UINT64_MAX;
    for (unsigned l = 0; l < VX_WHEEL_LEVELS; l++) {
        uint64_t t = level_next(w, l);
        if (t < best) best = t;
    }
    if (best == UINT64_MAX) return best;
    if (best > (UINT64_MAX >> w->shift)) return UINT64_MAX;
    return best << w->shift;
}

/* Stable merge sort of a singly linked list by deadline_ns. */
static VxWheelEntry *sort_by_deadline(VxWheelEntry *list)
{
    if (!list || !list->next) return list;
    VxWheelEntry *slow = list, *fast = list->next;
    while (fast && fast->next) {
        slow = slow->next;
        fast = fast->next->next;
    }
    VxWheelEntry *b = slow->next;
    slow->next = NULL;
    VxWheelEntry *a = sort_by_deadline(list);
    b = sort_by_deadline(b);
    VxWheelEntry head, *t = &head;
    while (a && b) {
        if (b->deadline_ns < a->deadline_ns) {
            t->next = b;
            b = b->next;
        } else {
            t->next = a;
            a = a->next;
        }
        t = t->next;
    }
    t->next = a ? a : b;
    return head.next;
}

VxWheelEntry *vx_wheel_advance(VxWheel *w, uint64_t now_ns)
{
    uint64_t now = now_ns >> w->shift;
    VxWheelEntry *out = NULL, **tail = &out;
    uint64_t last = 0;
    bool sorted = true;

    while (w->count) {
        /* Earliest slot over all levels; on a tie the higher level first, so
         * its entries are cascaded before anything at that tick fires. */
        uint64_t best = UINT64_MAX;
        unsigned best_l = 0;
        for (unsigned l = 0; l < VX_WHEEL_LEVELS; l++) {
            uint64_t t = level_next(w, l);
            if (t <= best && t != UINT64_MAX) {
                best = t;
                best_l = l;
            }
        }
        if (best > now) break;
        w->elapsed = best;
        unsigned slot = (unsigned)(best >> (best_l * LEVEL_BITS)) & (VX_WHEEL_SLOTS - 1);
        VxWheelEntry *e = w->slots[best_l][slot];
        w->slots[best_l][slot] = NULL;
        w->occupied[best_l] &= ~((uint64_t)1 << slot);
        while (e) {
            VxWheelEntry *next = e->next;
            w->count--;
            e->linked = 0;
            uint64_t when = vx_wheel_tick_of(w, e->deadline_ns);
            if (when <= w->elapsed) {
                e->next = NULL;
                e->prev = NULL;
                *tail = e;
                tail = &e->next;
                if (e->deadline_ns < last) sorted = false;
                last = e->deadline_ns;
            } else {
                link_entry(w, e, when); /* cascade to a lower level (or re-file far entries) */
            }
            e = next;
        }
    }
    if (now > w->elapsed) w->elapsed = now;
    return sorted ? out : sort_by_deadline(out);
}
