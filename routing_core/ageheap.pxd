# The longest-waiting index (see ageheap.pyx).

ctypedef struct AgeNode:      # a request that entered a queue, by submission order
    int64_t seq
    hnd req
    int32_t gen

ctypedef struct AgeHeap:      # lazy: entries of requests that left are dropped when seen
    AgeNode* nodes
    int64_t n
    int64_t cap

cdef hnd age_oldest(Engine* e, AgeHeap* h, int64_t live) noexcept nogil
cdef int64_t age_over(Engine* e, AgeHeap* h, double t, double least) noexcept nogil
