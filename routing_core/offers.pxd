# Offers and transfers (see offers.pyx).

cdef void eng_accept(Engine* e, hnd rh, double now) noexcept nogil
cdef void eng_transfer(Engine* e, hnd rh, int32_t g, hnd target, bint escalated,
                       double now) noexcept nogil
cdef void eng_decline(Engine* e, hnd rh, double now) noexcept nogil
cdef void eng_withdraw_transfer(Engine* e, hnd rh, hnd oh, double now) noexcept nogil
