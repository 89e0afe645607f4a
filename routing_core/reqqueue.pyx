# Indexed request heaps (heap.pyx on QNode): Entry.pos follows every move, so a request
# leaves from the middle in O(log n).

cdef int rq_reserve(RQueue* q, int64_t extra, int64_t* bytes) noexcept nogil:
    if pr_grow(<void**>&q.nodes, &q.cap, q.n + extra, sizeof(QNode), bytes) < 0:
        return ERR_NOMEM
    return 0


cdef void rq_push(RQueue* q, Entry* ents, hnd entry, double k, int64_t seq) noexcept nogil:
    cdef QNode x
    PR_ASSERT(q.n < q.cap)
    x.k = k
    x.seq = seq
    x.entry = entry
    hp_push(q.nodes, &q.n, &x, ents)


cdef void rq_remove(RQueue* q, Entry* ents, int64_t pos) noexcept nogil:
    PR_ASSERT(0 <= pos and pos < q.n)
    ents[q.nodes[pos].entry].pos = -1
    hp_remove(q.nodes, &q.n, pos, ents)
