# The waiting line of one (group, channel): a binary min-heap of requests keyed by
# (k, seq), indexed through Entry.pos so a request leaves from the middle in O(log n).

ctypedef struct QNode:
    double k
    int64_t seq
    hnd entry

ctypedef struct RQueue:
    QNode* nodes
    int64_t n
    int64_t cap

cdef int rq_reserve(RQueue* q, int64_t extra, int64_t* bytes) noexcept nogil
cdef void rq_push(RQueue* q, Entry* ents, hnd entry, double k, int64_t seq) noexcept nogil
cdef void rq_remove(RQueue* q, Entry* ents, int64_t pos) noexcept nogil
