/* test_timer_wheel - the hierarchical wheel as a pure data structure, on a
 * clock the test moves by hand: every level, cascades, far-future entries,
 * removal anywhere, never early, exact deadline order, and a randomized
 * comparison with a sorted model. */
#include <stdlib.h>

#include "support/support.h"
#include "timer_wheel.h"

TestSuite(timer_wheel, .timeout = 60);

#define SHIFT 10 /* 1.024 us ticks */
#define TICK ((uint64_t)1 << SHIFT)

static void check_fires_exactly_at(uint64_t start, uint64_t delay)
{
    VxWheel w;
    vx_wheel_init(&w, SHIFT, start);
    VxWheelEntry e = {0};
    e.deadline_ns = start + delay;
    cr_assert(vx_wheel_insert(&w, &e), "delay %llu accepted", (unsigned long long)delay);
    uint64_t due = vx_wheel_tick_of(&w, e.deadline_ns) << SHIFT;
    /* Never before its tick, wherever the clock stops on the way. */
    uint64_t now = start;
    while (now + TICK < due) {
        uint64_t next = vx_wheel_next_ns(&w);
        cr_assert(next <= due, "next_ns %llu after the due time %llu", (unsigned long long)next,
                  (unsigned long long)due);
        now = next > now ? next : now + 1;
        if (now >= due) break;
        cr_assert_null(vx_wheel_advance(&w, now), "fired early at %llu < %llu",
                       (unsigned long long)now, (unsigned long long)due);
    }
    VxWheelEntry *got = vx_wheel_advance(&w, due);
    cr_assert(got == &e, "fires at its tick (delay %llu)", (unsigned long long)delay);
    CHECK_EQ(w.count, 0);
}

Test(timer_wheel, fires_at_its_tick_from_every_level)
{
    uint64_t start = 123456789;
    for (int level = 0; level < VX_WHEEL_LEVELS; level++) {
        uint64_t span = TICK << (6 * level);
        check_fires_exactly_at(start, span / 2 + 17);
        check_fires_exactly_at(start, span - 1);
        check_fires_exactly_at(start, span * 63 + 5);
    }
}

Test(timer_wheel, beyond_the_top_level_is_kept_not_fired_early)
{
    VxWheel w;
    vx_wheel_init(&w, 0, 0); /* 1 ns ticks: the wheel spans 2^48 ns */
    VxWheelEntry e = {0};
    e.deadline_ns = (uint64_t)1 << 50;
    cr_assert(vx_wheel_insert(&w, &e));
    uint64_t now = 0;
    for (int hops = 0; hops < 100; hops++) {
        uint64_t next = vx_wheel_next_ns(&w);
        cr_assert(next <= e.deadline_ns);
        now = next;
        VxWheelEntry *got = vx_wheel_advance(&w, now);
        if (got) {
            cr_assert(got == &e);
            CHECK_GE(now, e.deadline_ns);
            return;
        }
    }
    cr_assert_fail("the far entry never fired");
}

Test(timer_wheel, insert_in_the_past_is_refused)
{
    VxWheel w;
    vx_wheel_init(&w, SHIFT, 1000000);
    VxWheelEntry e = {0};
    /* The wheel counts whole ticks: a deadline whose tick has been reached is
     * refused (the caller fires it at once); one later in the current tick
     * fires at the next tick boundary, which is never early. */
    e.deadline_ns = 990000;
    cr_assert(!vx_wheel_insert(&w, &e), "already due: the caller fires it");
    e.deadline_ns = (1000000 >> SHIFT) << SHIFT;
    cr_assert(!vx_wheel_insert(&w, &e));
    CHECK_EQ(w.count, 0);
    e.deadline_ns = 999999;
    cr_assert(vx_wheel_insert(&w, &e));
    CHECK_GE(vx_wheel_next_ns(&w), e.deadline_ns);
    cr_assert(vx_wheel_advance(&w, vx_wheel_next_ns(&w)) == &e);
}

Test(timer_wheel, remove_at_every_level)
{
    VxWheel w;
    vx_wheel_init(&w, SHIFT, 0);
    VxWheelEntry e[VX_WHEEL_LEVELS] = {{0}};
    for (int l = 0; l < VX_WHEEL_LEVELS; l++) {
        e[l].deadline_ns = (TICK << (6 * l)) * 3;
        cr_assert(vx_wheel_insert(&w, &e[l]));
        CHECK_EQ(e[l].level, l);
    }
    CHECK_EQ(w.count, VX_WHEEL_LEVELS);
    for (int l = VX_WHEEL_LEVELS - 1; l >= 0; l -= 2) vx_wheel_remove(&w, &e[l]);
    CHECK_EQ(w.count, VX_WHEEL_LEVELS / 2);
    /* Only the remaining ones ever fire. */
    uint64_t now = 0;
    int fired = 0;
    while (w.count) {
        now = vx_wheel_next_ns(&w);
        for (VxWheelEntry *x = vx_wheel_advance(&w, now); x; x = x->next) {
            int idx = (int)(x - e);
            cr_assert(idx % 2 == 0, "removed entry %d fired", idx);
            fired++;
        }
    }
    CHECK_INT(fired, VX_WHEEL_LEVELS / 2);
}

Test(timer_wheel, remove_after_cascade)
{
    VxWheel w;
    vx_wheel_init(&w, SHIFT, 0);
    VxWheelEntry a = {0}, b = {0};
    a.deadline_ns = TICK * 64 * 5 + TICK * 3; /* level 1, cascades to level 0 */
    b.deadline_ns = TICK * 64 * 5 + TICK * 9;
    vx_wheel_insert(&w, &a);
    vx_wheel_insert(&w, &b);
    CHECK_EQ(a.level, 1);
    cr_assert_null(vx_wheel_advance(&w, TICK * 64 * 5)); /* the cascade happens here */
    CHECK_EQ(a.level, 0);
    vx_wheel_remove(&w, &a);
    VxWheelEntry *got = vx_wheel_advance(&w, TICK * 64 * 6);
    cr_assert(got == &b && !got->next);
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* A million random deadlines, driven by a virtual clock that jumps from one
 * next_ns to the next: every entry fires once, in exact deadline order,
 * never before its deadline. No real time passes. */
Test(timer_wheel, million_timers_fire_in_deadline_order)
{
    enum { N = 1000000 };
    VxWheel w;
    vx_wheel_init(&w, SHIFT, 0);
    VxWheelEntry *es = calloc(N, sizeof *es);
    uint64_t *want = malloc(N * sizeof *want);
    uint64_t rng = 88172645463325252ull;
    for (int i = 0; i < N; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        es[i].deadline_ns = 1 + rng % (600ull * 1000000000ull); /* up to 10 minutes, ns-exact */
        want[i] = es[i].deadline_ns;
        cr_assert(vx_wheel_insert(&w, &es[i]));
    }
    qsort(want, N, sizeof *want, cmp_u64);
    size_t k = 0;
    uint64_t now = 0, last = 0;
    while (w.count) {
        now = vx_wheel_next_ns(&w);
        for (VxWheelEntry *x = vx_wheel_advance(&w, now); x; x = x->next) {
            cr_assert(x->deadline_ns <= now, "fired early");
            cr_assert(x->deadline_ns >= last, "out of order");
            cr_assert(x->deadline_ns == want[k], "entry %zu: got %llu, want %llu", k,
                      (unsigned long long)x->deadline_ns, (unsigned long long)want[k]);
            last = x->deadline_ns;
            k++;
        }
    }
    CHECK_EQ(k, N);
    free(es);
    free(want);
}

/* Random inserts, removes and clock moves against a brute-force model. */
Test(timer_wheel, random_operations_match_a_model)
{
    enum { SLOTS = 512, OPS = 300000 };
    VxWheel w;
    uint64_t now = 5000;
    vx_wheel_init(&w, 3, now);
    static VxWheelEntry es[SLOTS];
    static bool armed[SLOTS];
    memset(es, 0, sizeof es);
    memset(armed, 0, sizeof armed);
    uint64_t rng = 42;
    for (int op = 0; op < OPS; op++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(rng >> 33);
        int i = r % SLOTS;
        switch ((r >> 10) % 4) {
        case 0:
        case 1:
            if (!armed[i]) {
                uint64_t spread = (r >> 12) % 3 == 0 ? 1000000000ull : 20000ull;
                es[i].deadline_ns = now + 1 + (rng >> 20) % spread;
                armed[i] = vx_wheel_insert(&w, &es[i]);
                cr_assert(armed[i] || vx_wheel_tick_of(&w, es[i].deadline_ns) <= w.elapsed);
            }
            break;
        case 2:
            if (armed[i]) {
                vx_wheel_remove(&w, &es[i]);
                armed[i] = false;
            }
            break;
        default: {
            /* The model's earliest deadline bounds next_ns from above. */
            uint64_t earliest = UINT64_MAX;
            for (int j = 0; j < SLOTS; j++)
                if (armed[j] && es[j].deadline_ns < earliest) earliest = es[j].deadline_ns;
            uint64_t next = vx_wheel_next_ns(&w);
            if (earliest != UINT64_MAX)
                cr_assert(next <= vx_wheel_tick_of(&w, earliest) << 3, "next_ns too late");
            now += (rng >> 40) % 4000;
            for (VxWheelEntry *x = vx_wheel_advance(&w, now); x; x = x->next) {
                int j = (int)(x - es);
                cr_assert(armed[j], "fired an entry that was not armed");
                cr_assert(x->deadline_ns <= now, "fired early");
                armed[j] = false;
            }
            for (int j = 0; j < SLOTS; j++)
                if (armed[j])
                    cr_assert(vx_wheel_tick_of(&w, es[j].deadline_ns) > now >> 3,
                              "a due entry did not fire");
        }
        }
    }
}

/* Found by fuzz/wheel_fuzz.c: with an entry clamped from beyond the range in
 * the top level's current slot, next_ns looked at that slot first and
 * skipped a nearer top-level entry, so a worker would have slept past it. */
Test(timer_wheel, far_entry_does_not_hide_a_nearer_top_level_one)
{
    VxWheel w;
    uint64_t now = (uint64_t)1 << 49;
    vx_wheel_init(&w, 0, now); /* 1 ns ticks: range 2^48 ns */
    VxWheelEntry far = {0}, near = {0};
    far.deadline_ns = now + ((uint64_t)1 << 50) + 7; /* beyond the range */
    near.deadline_ns = now + ((uint64_t)1 << 43) + 5; /* top level, this rotation */
    cr_assert(vx_wheel_insert(&w, &far));
    cr_assert(vx_wheel_insert(&w, &near));
    CHECK_LE(vx_wheel_next_ns(&w), near.deadline_ns);
    uint64_t t = now;
    VxWheelEntry *got = NULL;
    while (!got) {
        t = vx_wheel_next_ns(&w);
        got = vx_wheel_advance(&w, t);
    }
    cr_assert(got == &near && !got->next);
    CHECK_EQ(t, near.deadline_ns);
}

/* Found by fuzz/wheel_fuzz.c: a deadline within the clock's last tick was
 * rounded down and fired early. */
Test(timer_wheel, deadline_in_the_last_tick_never_fires_early)
{
    VxWheel w;
    vx_wheel_init(&w, 17, UINT64_MAX - ((uint64_t)1 << 20));
    VxWheelEntry e = {0};
    e.deadline_ns = UINT64_MAX - 5;
    cr_assert(vx_wheel_insert(&w, &e));
    for (VxWheelEntry *x = vx_wheel_advance(&w, UINT64_MAX - 100); x; x = x->next)
        cr_assert(x->deadline_ns <= UINT64_MAX - 100, "fired before its deadline");
    CHECK_EQ(w.count, 1);
}
