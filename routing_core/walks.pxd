# Best-first walks (see walks.pyx).

cdef hnd eng_pick(Engine* e, int32_t g, int32_t c, hnd excl) noexcept nogil
