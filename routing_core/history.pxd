# Ended requests (see history.pyx).

cdef void eng_free_dead(Engine* e) noexcept nogil
