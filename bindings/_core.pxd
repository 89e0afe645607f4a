# Declarations of the native core, one .pxd a concept (see routing_core/).
include "common.pxd"
include "slab.pxd"
include "reqqueue.pxd"
include "opslots.pxd"
include "timers.pxd"
include "engine.pxd"
