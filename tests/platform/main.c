/* tests/platform/main.c - vexrt-conformance [--backend NAME] [--filter SUBSTR]:
 * runs the conformance suite on every platform fixture.h lists for this
 * build (or on the one named), prints "N passed, M failed" last and exits
 * non-zero if any check failed. Plain C: no Criterion, no POSIX. */
#include <stdio.h>
#include <string.h>

#include "conformance.h"
#include "fixture.h"

static int usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [--backend NAME] [--filter SUBSTR]\n", argv0);
    return 2;
}

int main(int argc, char **argv)
{
    const char *backend = NULL, *filter = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--backend") && i + 1 < argc)
            backend = argv[++i];
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
            filter = argv[++i];
        else
            return usage(argv[0]);
    }
    const char *names[16];
    int n = 0;
    if (backend)
        names[n++] = backend;
    else
        n = fx_platforms(names, (int)(sizeof names / sizeof names[0]));
    int passed = 0, failed = 0;
    if (n == 0) {
        printf("[FAIL] no platform to check in this build\n");
        failed++;
    }
    for (int i = 0; i < n; i++) {
        const VexPlatform *p = vex_platform_with_backend(names[i]);
        if (!p) {
            /* Asked for by name (or listed) but not built in or not usable here. */
            printf("[FAIL] %s : vex_platform_with_backend(\"%s\") returned NULL\n", names[i], names[i]);
            failed++;
            continue;
        }
        vx_conformance_run(p, filter, &passed, &failed);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
