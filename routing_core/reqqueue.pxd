# The waiting line of one (group, channel): binary min-heaps of requests keyed by
# (k, seq), indexed through Entry.pos so a request leaves from the middle in O(log n).
# The requests that require no skills now sit in the queue's own heap; those that do, in
# one sub-heap per mask of skills still required (Entry.sub), so that an operator's walk
# skips, at the cost of one test, every sub-heap needing a skill it lacks.

ctypedef struct QNode:
    double k
    int64_t seq
    hnd entry

ctypedef struct SubQ:         # the requests of a queue still requiring the skills ``mask``
    uint64_t mask             #   (an empty one is reused for the next new mask)
    QNode* nodes
    int64_t n
    int64_t cap

ctypedef struct RQueue:
    QNode* nodes              # the requests requiring no skills now
    int64_t n
    int64_t cap
    SubQ* subs                # [n_subs] the others, by mask (Entry.sub)
    int64_t n_subs
    int64_t cap_subs

cdef int rq_reserve(RQueue* q, int64_t extra, int64_t* bytes) noexcept nogil
cdef void rq_push(RQueue* q, Entry* ents, hnd entry, double k, int64_t seq) noexcept nogil
cdef void rq_remove(RQueue* q, Entry* ents, int64_t pos) noexcept nogil
