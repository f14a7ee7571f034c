/* platform/win32/backends.c - the Windows build's backends for defaults.c:
 * Windows threads, WaitOnAddress parking and the QueryPerformanceCounter
 * clock, with the IOCP poller ("iocp", the only backend). */
#include <string.h>

#include "../os.h"
#include "vexrt/error.h"
#include "win32.h"

enum { BK_IOCP = 0, BK_COUNT = 1 };

static VexPlatform platforms[BK_COUNT];
static VxWinCtx win_ctx;
static INIT_ONCE platforms_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK platforms_init(PINIT_ONCE once, void *param, void **out)
{
    (void)once;
    (void)param;
    (void)out;
    vx_win_ctx_init(&win_ctx);
    VexPlatform *p = &platforms[BK_IOCP];
    memset(p, 0, sizeof *p);
    p->abi_version = VEX_PLATFORM_ABI;
    p->name = "iocp";
    p->ctx = &win_ctx;
    p->thread_size = VX_WIN_THREAD_SIZE;
    p->thread_spawn = vx_win_thread_spawn;
    p->thread_join = vx_win_thread_join;
    p->thread_self = vx_win_thread_self;
    p->cpu_count = vx_win_cpu_count;
    p->now_ns = vx_win_now_ns;
    p->park = vx_win_park;
    p->unpark = vx_win_unpark;
    p->trace = vx_win_trace;
    vx_win_iocp_fill(p);
    return TRUE;
}

int vx_os_backend_index(const char *name)
{
    if (!strcmp(name, "iocp")) return BK_IOCP;
    return -1;
}

const VexPlatform *vx_os_backend(int i)
{
    if (i < 0 || i >= BK_COUNT) return NULL;
    InitOnceExecuteOnce(&platforms_once, platforms_init, NULL, NULL);
    return &platforms[i];
}

int vx_os_backend_default(void) { return BK_IOCP; }

int vx_os_backend_fallback(int i, int rc)
{
    (void)i;
    (void)rc;
    return -1; /* nothing to fall back to */
}
