/* runtime.h - the seed's spelling of libvexrt's API: programs written for
 * the seed include this file and compile unchanged. It is vexrt/runtime.h,
 * plus <stdio.h> and <stdlib.h>, which the seed's example uses after
 * including only this header (define VEXRT_FREESTANDING to leave them out).
 * New code can include <vexrt.h> (everything) or the vexrt/ headers it needs. */
#ifndef VEXRT_RUNTIME_H
#define VEXRT_RUNTIME_H

#ifndef VEXRT_FREESTANDING
#include <stdio.h>
#include <stdlib.h>
#endif

#include "vexrt/runtime.h"

#endif /* VEXRT_RUNTIME_H */
