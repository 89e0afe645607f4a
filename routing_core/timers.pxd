# Deadlines (overflow after a wait): a binary min-heap keyed by (due, tseq). Timers are
# never removed from the middle; one that fires for a request that has since left the
# queue (seq or gen differ, or not queued) is skipped.

# Kinds, by ``group``: >= 0 an overflow rule of that group (``rule``), TIMER_RETENTION a
# retention step (``rule``), TIMER_OFFER an offer's expiry, TIMER_WRAP_UP the end of a wrap-up (``req`` is then the
# operator and ``rseq`` its registration number).
cdef enum:
    TIMER_RETENTION = -1
    TIMER_WRAP_UP = -2
    TIMER_OFFER = -3      # ``gen`` is then the offer's number
    TIMER_RECHECK = -4    # more operators become eligible (skills relax, a tier is due)
    TIMER_TRANSFER = -5   # a pending transfer times out; ``gen`` is its number
    TIMER_HOLD = -6       # a hold expires: ``req`` is the Hold, ``rseq`` its number

ctypedef struct TNode:
    double due
    int64_t tseq
    int64_t rseq
    hnd req
    int32_t gen
    int32_t group
    int32_t rule

ctypedef struct THeap:
    TNode* nodes
    int64_t n
    int64_t cap

cdef int th_reserve(THeap* h, int64_t extra, int64_t* bytes) noexcept nogil
cdef void th_push(THeap* h, TNode* node) noexcept nogil
cdef void th_pop(THeap* h, TNode* out) noexcept nogil
