/* tests/win32/virtual_shim.c - the POSIX thread entries platform/virtual
 * borrows (platform/posix/posix.c, not built for Windows), forwarded to the
 * Windows ones of the library: same contracts, same handle size. */
#include "posix/posix.h"
#include "win32/win32.h"

_Static_assert(VX_POSIX_THREAD_SIZE >= VX_WIN_THREAD_SIZE, "thread handle too small");

int vx_posix_thread_spawn(void *ctx, void *thread, vex_thread_func fn, void *arg)
{
    return vx_win_thread_spawn(ctx, thread, fn, arg);
}

int vx_posix_thread_join(void *ctx, void *thread) { return vx_win_thread_join(ctx, thread); }

uintptr_t vx_posix_thread_self(void *ctx) { return vx_win_thread_self(ctx); }

uint32_t vx_posix_cpu_count(void *ctx) { return vx_win_cpu_count(ctx); }
