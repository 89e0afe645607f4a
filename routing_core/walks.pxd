# Best-first walks (see walks.pyx).

ctypedef fused Walked:        # the heaps a walk can visit
    QNode
    ONode

cdef hnd eng_pick(Engine* e, int32_t g, int32_t c, hnd excl) noexcept nogil
