# Timer heap: push and pop-min only.

cdef inline bint tn_less(TNode* a, TNode* b) noexcept nogil:
    return a.due < b.due or (a.due == b.due and a.tseq < b.tseq)


cdef int th_reserve(THeap* h, int64_t extra, int64_t* bytes) noexcept nogil:
    if pr_grow(<void**>&h.nodes, &h.cap, h.n + extra, sizeof(TNode), bytes) < 0:
        return ERR_NOMEM
    return 0


cdef void th_push(THeap* h, TNode* node) noexcept nogil:
    cdef int64_t i = h.n
    cdef int64_t parent
    PR_ASSERT(h.n < h.cap)
    h.n += 1
    while i > 0:
        parent = (i - 1) >> 1
        if not tn_less(node, &h.nodes[parent]):
            break
        h.nodes[i] = h.nodes[parent]
        i = parent
    h.nodes[i] = node[0]


cdef void th_pop(THeap* h, TNode* out) noexcept nogil:
    cdef TNode x
    cdef int64_t i = 0
    cdef int64_t child
    PR_ASSERT(h.n > 0)
    out[0] = h.nodes[0]
    h.n -= 1
    if h.n == 0:
        return
    x = h.nodes[h.n]
    while True:
        child = 2 * i + 1
        if child >= h.n:
            break
        if child + 1 < h.n and tn_less(&h.nodes[child + 1], &h.nodes[child]):
            child += 1
        if not tn_less(&h.nodes[child], &x):
            break
        h.nodes[i] = h.nodes[child]
        i = child
    h.nodes[i] = x
