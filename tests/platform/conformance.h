/* tests/platform/conformance.h - the platform conformance suite: checks
 * that an implementation of the VexPlatform vtable keeps the contracts of
 * vexrt/platform.h that the core relies on (threads, clock, parking, the
 * poller, completion operations, io_try / io_blocking, signals), and runs
 * the runtime itself on it. Plain C: it needs only the platform under test,
 * fixture.h and the C library, so it builds where Criterion does not
 * (the Windows cross build). */
#ifndef VX_TEST_PLATFORM_CONFORMANCE_H
#define VX_TEST_PLATFORM_CONFORMANCE_H

#include "vexrt/platform.h"

/* Runs every check whose "<platform>/<check>" name contains filter (NULL or
 * "": all) against p, printing one line per check: "[PASS] name",
 * "[SKIP] name: reason" (counted as passed) or "[FAIL] name : why". Adds to
 * *passed and *failed; returns 0 if no check failed, 1 otherwise. A check
 * that hangs ends the process through fx_watchdog (status 2). */
int vx_conformance_run(const VexPlatform *p, const char *filter, int *passed, int *failed);

#endif /* VX_TEST_PLATFORM_CONFORMANCE_H */
