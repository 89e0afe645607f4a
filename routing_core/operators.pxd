# Commands on operators (see operators.pyx).

cdef hnd eng_add_op(Engine* e, int32_t* groups, int32_t n, int32_t limit, int8_t status,
                    int32_t* caps, uint8_t* skills, int32_t* levels, int8_t kind,
                    double now) noexcept nogil
cdef void eng_remove_op(Engine* e, hnd op, double now) noexcept nogil
cdef void eng_set_status(Engine* e, hnd op, int8_t status, bint requeue,
                         double now) noexcept nogil
cdef void eng_set_groups(Engine* e, hnd op, int32_t* groups, int32_t n,
                         double now) noexcept nogil
cdef void eng_set_limit(Engine* e, hnd op, int32_t limit, double now) noexcept nogil
