# Best-first walks (see walks.pyx).

ctypedef fused Walked:        # the heaps a walk can visit
    QNode
    ONode

cdef hnd eng_pick(Engine* e, int32_t g, int32_t c, hnd excl) noexcept nogil

ctypedef struct Best:      # the best request a fill has found so far
    hnd entry
    hnd m
    double key
    int64_t seq


ctypedef struct HasSkills: # an operator's skills as a mask, computed once a fill needs it
    uint64_t mask
    bint known

# declared, so that it stays out of line: fill's walk of the queues' own heaps is inlined
# in fill, as it was before sub-heaps
cdef void best_in_subs(Engine* e, Best* b, hnd mh, int64_t base, HasSkills* has,
                       double now) noexcept nogil
