/* tests/support/watchdog.h - running a runtime under a watchdog, so that a
 * lost task or a hang is reported as such instead of as a test timeout. The
 * limit is generous and never a timing check: it only catches a run that
 * would otherwise never end. */
#ifndef VX_TEST_WATCHDOG_H
#define VX_TEST_WATCHDOG_H

#include <stdbool.h>

#include "runtime.h"

/* Runs runtime_run(rt) on the calling thread; if it has not returned after
 * `seconds`, shuts the runtime down (so run returns) and reports true
 * ("hung"). runtime_run's result goes to *rc. */
bool test_run_watched(Runtime *rt, int seconds, int *rc);

#endif /* VX_TEST_WATCHDOG_H */
