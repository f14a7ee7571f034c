/* core/create.h - the core's constructor, called by the entry points in
 * platform/defaults.c once they have filled in the default platform and
 * allocator (the core never names a platform itself). */
#ifndef VX_CREATE_H
#define VX_CREATE_H

#include "vx.h"
#include "vexrt/config.h"

/* runtime_new with cfg->platform and cfg->allocator already non-NULL. */
int vx_runtime_new(const RuntimeConfig *cfg, Runtime **out);

#endif /* VX_CREATE_H */
