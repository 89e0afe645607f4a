# Commands on requests (see requests.pyx).

cdef enum:
    REJECT_HIDDEN = 0
    REJECT_BANNED = 1
    REJECT_OVERLOADED = 2
    REJECT_CHANNEL = 3

cdef hnd eng_submit(Engine* e, int32_t ch, int32_t g, int32_t prio, uint64_t sk_mask,
                    uint8_t* sk_level, hnd prefer, double prefer_for, double now) noexcept nogil
cdef hnd eng_reject(Engine* e, int32_t ch, int32_t g, int32_t prio, int8_t reason,
                    double now) noexcept nogil
cdef bint eng_overloaded(Engine* e, int32_t g, int32_t c, double now) noexcept nogil
cdef bint eng_reach_able(Engine* e, int32_t g, int32_t c) noexcept nogil
cdef void eng_finish(Engine* e, hnd r, double now) noexcept nogil
cdef void eng_cancel(Engine* e, hnd r, int8_t reason, double now) noexcept nogil
cdef void eng_ban_cancel(Engine* e, hnd* rs, int64_t n, double now) noexcept nogil
