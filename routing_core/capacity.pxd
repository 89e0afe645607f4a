# An operator's free slots (see capacity.pyx).

cdef double op_key(Engine* e, Op* o, Member* m) noexcept nogil
