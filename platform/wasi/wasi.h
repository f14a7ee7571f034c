/* platform/wasi/wasi.h - the WASI platform (wasi.c), for backends.c. */
#ifndef VX_PLATFORM_WASI_H
#define VX_PLATFORM_WASI_H

#include "vexrt/platform.h"

/* Fills in every entry of p for WASI preview 1. */
void vx_wasi_fill(VexPlatform *p);

#endif /* VX_PLATFORM_WASI_H */
