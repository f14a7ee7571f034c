/* test_fuzz_regressions - inputs the libFuzzer harnesses (fuzz/) found
 * failing, kept as plain tests so the bug stays fixed without a fuzzer. */
#include "local_queue.h"
#include "support/support.h"

TestSuite(fuzz_regressions, .timeout = 10);

/* fuzz/local_queue_fuzz: stealing from a ring larger than the thief's own
 * spun forever once half the victim's entries exceeded half the thief's
 * ring (the "torn read" retry took it for an inconsistent snapshot). The
 * steal now takes what fits: half of the thief's ring. */
Test(fuzz_regressions, steal_into_smaller_ring_takes_what_fits)
{
    VxLocalQueue big, small;
    vx_lq_init(&big, 64);
    vx_lq_init(&small, 4);
    for (uintptr_t i = 1; i <= 28; i++) cr_assert(vx_lq_push_owner(&big, (void *)i));
    uint32_t n = 0;
    void *first = vx_lq_steal_into(&big, &small, &n);
    CHECK_EQ(n, 2);                   /* half of the 4-slot ring, not 14 */
    CHECK_EQ((uintptr_t)first, 2);    /* the last one taken runs at once */
    CHECK_EQ(vx_lq_len(&small), 1);
    CHECK_EQ((uintptr_t)vx_lq_pop_owner(&small), 1);
    CHECK_EQ(vx_lq_len(&big), 26);
    CHECK_EQ((uintptr_t)vx_lq_pop_owner(&big), 3); /* the oldest left, nothing skipped */
}
