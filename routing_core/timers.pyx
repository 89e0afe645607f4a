# Timer heap (heap.pyx on TNode): push and pop-min only.

cdef int th_reserve(THeap* h, int64_t extra, int64_t* bytes) noexcept nogil:
    if pr_grow(<void**>&h.nodes, &h.cap, h.n + extra, sizeof(TNode), bytes) < 0:
        return ERR_NOMEM
    return 0


cdef void th_push(THeap* h, TNode* node) noexcept nogil:
    PR_ASSERT(h.n < h.cap)
    hp_push(h.nodes, &h.n, node, NULL)


cdef void th_pop(THeap* h, TNode* out) noexcept nogil:
    PR_ASSERT(h.n > 0)
    out[0] = h.nodes[0]
    hp_pop(h.nodes, &h.n, NULL)
