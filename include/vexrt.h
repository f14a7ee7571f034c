/* vexrt.h - all of libvexrt's public API in one include (the seed API and
 * every extension). Any header under vexrt/ can also be included alone. */
#ifndef VEXRT_H
#define VEXRT_H

#include "vexrt/api.h"
#include "vexrt/runtime.h"
#include "vexrt/error.h"
#include "vexrt/alloc.h"
#include "vexrt/platform.h"
#include "vexrt/config.h"
#include "vexrt/task.h"
#include "vexrt/cancel.h"
#include "vexrt/notify.h"
#include "vexrt/channel.h"
#include "vexrt/io.h"
#include "vexrt/embed.h"

#endif /* VEXRT_H */
