/* platform/wasi/backends.c - the WebAssembly/WASI build's one backend,
 * "wasi", for defaults.c (platform/os.h). No threads, so no lock or
 * once-flag is needed to fill it in. */
#include <string.h>

#include "../os.h"
#include "wasi.h"

static VexPlatform platform;
static int filled;

int vx_os_backend_index(const char *name) { return strcmp(name, "wasi") == 0 ? 0 : -1; }

const VexPlatform *vx_os_backend(int i)
{
    if (i != 0) return NULL;
    if (!filled) {
        vx_wasi_fill(&platform);
        filled = 1;
    }
    return &platform;
}

int vx_os_backend_default(void) { return 0; }

int vx_os_backend_fallback(int i, int rc)
{
    (void)i;
    (void)rc;
    return -1;
}
