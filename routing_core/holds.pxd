# Holds: slots kept on an operator for a conversation the host places itself (see
# holds.pyx).

cdef hnd eng_hold(Engine* e, int32_t g, int32_t c, hnd excl, double until,
                  double now) noexcept nogil
cdef void eng_release_hold(Engine* e, hnd hh, double now) noexcept nogil
