# Indexed request heaps. Keys are unique ((k, seq) with seq unique), so the order of
# service does not depend on the heap's internal layout: both engines agree on it.

cdef inline bint qn_less(QNode* a, QNode* b) noexcept nogil:
    return a.k < b.k or (a.k == b.k and a.seq < b.seq)


cdef int rq_reserve(RQueue* q, int64_t extra, int64_t* bytes) noexcept nogil:
    if pr_grow(<void**>&q.nodes, &q.cap, q.n + extra, sizeof(QNode), bytes) < 0:
        return ERR_NOMEM
    return 0


cdef inline void rq_sift_up(RQueue* q, Entry* ents, int64_t i) noexcept nogil:
    cdef QNode x = q.nodes[i]
    cdef int64_t parent
    while i > 0:
        parent = (i - 1) >> 1
        if not qn_less(&x, &q.nodes[parent]):
            break
        q.nodes[i] = q.nodes[parent]
        ents[q.nodes[i].entry].pos = <int32_t>i
        i = parent
    q.nodes[i] = x
    ents[x.entry].pos = <int32_t>i


cdef inline void rq_sift_down(RQueue* q, Entry* ents, int64_t i) noexcept nogil:
    cdef QNode x = q.nodes[i]
    cdef int64_t child
    cdef int64_t n = q.n
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and qn_less(&q.nodes[child + 1], &q.nodes[child]):
            child += 1
        if not qn_less(&q.nodes[child], &x):
            break
        q.nodes[i] = q.nodes[child]
        ents[q.nodes[i].entry].pos = <int32_t>i
        i = child
    q.nodes[i] = x
    ents[x.entry].pos = <int32_t>i


cdef void rq_push(RQueue* q, Entry* ents, hnd entry, double k, int64_t seq) noexcept nogil:
    PR_ASSERT(q.n < q.cap)
    q.nodes[q.n].k = k
    q.nodes[q.n].seq = seq
    q.nodes[q.n].entry = entry
    q.n += 1
    rq_sift_up(q, ents, q.n - 1)


cdef void rq_remove(RQueue* q, Entry* ents, int64_t pos) noexcept nogil:
    PR_ASSERT(0 <= pos and pos < q.n)
    ents[q.nodes[pos].entry].pos = -1
    q.n -= 1
    if pos == q.n:
        return
    q.nodes[pos] = q.nodes[q.n]
    if pos > 0 and qn_less(&q.nodes[pos], &q.nodes[(pos - 1) >> 1]):
        rq_sift_up(q, ents, pos)
    else:
        rq_sift_down(q, ents, pos)
