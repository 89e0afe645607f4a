# Timers coming due (see fire.pyx).

cdef void eng_begin(Engine* e, double now) noexcept nogil
cdef void eng_fire(Engine* e, double now) noexcept nogil
