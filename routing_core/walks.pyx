# Best-first walks: visit a heap's nodes in key order (a small heap of candidate
# positions in e.trav: the children of every node visited) and stop at the first that
# fits. This costs O(k log k) for k nodes visited, where a scan would cost O(n).

cdef inline bint trav_reserve(Engine* e, int64_t n) noexcept nogil:
    if pr_grow(<void**>&e.trav, &e.cap_trav, n + 2, sizeof(int64_t), &e.mem) < 0:
        e.oom = 1
        return False
    return True


cdef inline void oh_cand_push(int64_t* c, int64_t* n, OHeap* h, int64_t pos) noexcept nogil:
    cdef int64_t i = n[0], parent
    n[0] += 1
    while i > 0:
        parent = (i - 1) >> 1
        if not on_less(&h.nodes[pos], &h.nodes[c[parent]]):
            break
        c[i] = c[parent]
        i = parent
    c[i] = pos


cdef inline int64_t oh_cand_pop(int64_t* c, int64_t* n, OHeap* h) noexcept nogil:
    cdef int64_t top = c[0], last, i = 0, child
    n[0] -= 1
    last = c[n[0]]
    while True:
        child = 2 * i + 1
        if child >= n[0]:
            break
        if child + 1 < n[0] and on_less(&h.nodes[c[child + 1]], &h.nodes[c[child]]):
            child += 1
        if not on_less(&h.nodes[c[child]], &h.nodes[last]):
            break
        c[i] = c[child]
        i = child
    c[i] = last
    return top


cdef struct Want:      # what a best-first walk of an operator heap looks for
    hnd rh             # a member that may take this request (``fits``); -1: ``pickable``
    double now
    int32_t c          # pickable: a new conversation of this channel...
    hnd excl           # ...by anyone but this operator


cdef inline bint wanted(Engine* e, hnd mh, Want* w) noexcept nogil:
    if w.rh >= 0:
        return fits(e, mh, w.rh, w.now)
    return pickable(e, mh, w.c, w.excl)


cdef hnd oh_walk(Engine* e, OHeap* h, Want* w) noexcept nogil:
    """The member with the least key in ``h`` that is ``wanted``, or -1: the top when it
    is, otherwise a best-first walk."""
    cdef int64_t n = 0, pos
    if h.n == 0:
        return -1
    if wanted(e, h.nodes[0].member, w):
        return h.nodes[0].member
    if not trav_reserve(e, h.n):
        return -1
    if h.n > 1:
        oh_cand_push(e.trav, &n, h, 1)
    if h.n > 2:
        oh_cand_push(e.trav, &n, h, 2)
    while n > 0:
        pos = oh_cand_pop(e.trav, &n, h)
        if wanted(e, h.nodes[pos].member, w):
            return h.nodes[pos].member
        if 2 * pos + 1 < h.n:
            oh_cand_push(e.trav, &n, h, 2 * pos + 1)
        if 2 * pos + 2 < h.n:
            oh_cand_push(e.trav, &n, h, 2 * pos + 2)
    return -1


cdef hnd oh_best_allowed(Engine* e, OHeap* h, hnd rh, double now) noexcept nogil:
    """The member with the least key in ``h`` that may take the request, or -1."""
    cdef Want w
    w.rh, w.now, w.c, w.excl = rh, now, -1, -1
    return oh_walk(e, h, &w)


cdef hnd eng_pick(Engine* e, int32_t g, int32_t c, hnd excl) noexcept nogil:
    """The operator group ``g``'s policy would give a new conversation of channel ``c``
    now (requiring no skills, preferring no one), skipping operator ``excl``; -1 when
    nobody could take it. Reads only (the walk uses the scratch ``e.trav``)."""
    cdef Want w
    cdef hnd mh
    w.rh, w.now, w.c, w.excl = -1, 0.0, c, excl
    mh = oh_walk(e, &e.oheaps[g], &w)
    return -1 if mh < 0 else M(e, mh).op


cdef inline void rq_cand_push(int64_t* c, int64_t* n, RQueue* q, int64_t pos) noexcept nogil:
    cdef int64_t i = n[0], parent
    n[0] += 1
    while i > 0:
        parent = (i - 1) >> 1
        if not qn_less(&q.nodes[pos], &q.nodes[c[parent]]):
            break
        c[i] = c[parent]
        i = parent
    c[i] = pos


cdef inline int64_t rq_cand_pop(int64_t* c, int64_t* n, RQueue* q) noexcept nogil:
    cdef int64_t top = c[0], last, i = 0, child
    n[0] -= 1
    last = c[n[0]]
    while True:
        child = 2 * i + 1
        if child >= n[0]:
            break
        if child + 1 < n[0] and qn_less(&q.nodes[c[child + 1]], &q.nodes[c[child]]):
            child += 1
        if not qn_less(&q.nodes[c[child]], &q.nodes[last]):
            break
        c[i] = c[child]
        i = child
    c[i] = last
    return top


cdef int64_t rq_best_allowed(Engine* e, RQueue* q, hnd mh, double now) noexcept nogil:
    """The position in ``q`` of the best request membership ``mh``'s operator may take, or
    -1: the top when it fits, otherwise a best-first walk."""
    cdef int64_t n = 0, pos
    if q.n == 0:
        return -1
    if fits(e, mh, EN(e, q.nodes[0].entry).req, now):
        return 0
    if not trav_reserve(e, q.n):
        return -1
    if q.n > 1:
        rq_cand_push(e.trav, &n, q, 1)
    if q.n > 2:
        rq_cand_push(e.trav, &n, q, 2)
    while n > 0:
        pos = rq_cand_pop(e.trav, &n, q)
        if fits(e, mh, EN(e, q.nodes[pos].entry).req, now):
            return pos
        if 2 * pos + 1 < q.n:
            rq_cand_push(e.trav, &n, q, 2 * pos + 1)
        if 2 * pos + 2 < q.n:
            rq_cand_push(e.trav, &n, q, 2 * pos + 2)
    return -1
