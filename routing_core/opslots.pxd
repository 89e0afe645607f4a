# A group's operators with room: a binary min-heap of memberships keyed by the group
# policy's (p, last_assign, reg), indexed through Member.pos. Its top is the operator the
# policy picks; every policy is a choice of p (see capacity.pyx: op_key).

ctypedef struct ONode:
    double p
    int64_t s1
    int64_t s2
    hnd member

ctypedef struct OHeap:
    ONode* nodes
    int64_t n
    int64_t cap

cdef int oh_reserve(OHeap* h, int64_t extra, int64_t* bytes) noexcept nogil
cdef void oh_push(OHeap* h, Member* mems, hnd member, double p, int64_t s1,
                  int64_t s2) noexcept nogil
cdef void oh_remove(OHeap* h, Member* mems, int64_t pos) noexcept nogil
cdef void oh_rekey(OHeap* h, Member* mems, int64_t pos, double p, int64_t s1,
                   int64_t s2) noexcept nogil
