# Operator slot heaps. Keys end in the registration number, unique per operator, so the
# top is well defined whatever the order of pushes and removals.

cdef inline bint on_less(ONode* a, ONode* b) noexcept nogil:
    if a.p != b.p:
        return a.p < b.p
    if a.s1 != b.s1:
        return a.s1 < b.s1
    return a.s2 < b.s2


cdef int oh_reserve(OHeap* h, int64_t extra, int64_t* bytes) noexcept nogil:
    if pr_grow(<void**>&h.nodes, &h.cap, h.n + extra, sizeof(ONode), bytes) < 0:
        return ERR_NOMEM
    return 0


cdef inline void oh_sift_up(OHeap* h, Member* mems, int64_t i) noexcept nogil:
    cdef ONode x = h.nodes[i]
    cdef int64_t parent
    while i > 0:
        parent = (i - 1) >> 1
        if not on_less(&x, &h.nodes[parent]):
            break
        h.nodes[i] = h.nodes[parent]
        mems[h.nodes[i].member].pos = <int32_t>i
        i = parent
    h.nodes[i] = x
    mems[x.member].pos = <int32_t>i


cdef inline void oh_sift_down(OHeap* h, Member* mems, int64_t i) noexcept nogil:
    cdef ONode x = h.nodes[i]
    cdef int64_t child
    cdef int64_t n = h.n
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and on_less(&h.nodes[child + 1], &h.nodes[child]):
            child += 1
        if not on_less(&h.nodes[child], &x):
            break
        h.nodes[i] = h.nodes[child]
        mems[h.nodes[i].member].pos = <int32_t>i
        i = child
    h.nodes[i] = x
    mems[x.member].pos = <int32_t>i


cdef void oh_push(OHeap* h, Member* mems, hnd member, double p, int64_t s1,
                  int64_t s2) noexcept nogil:
    PR_ASSERT(h.n < h.cap)
    h.nodes[h.n].p = p
    h.nodes[h.n].s1 = s1
    h.nodes[h.n].s2 = s2
    h.nodes[h.n].member = member
    h.n += 1
    oh_sift_up(h, mems, h.n - 1)


cdef void oh_remove(OHeap* h, Member* mems, int64_t pos) noexcept nogil:
    PR_ASSERT(0 <= pos and pos < h.n)
    mems[h.nodes[pos].member].pos = -1
    h.n -= 1
    if pos == h.n:
        return
    h.nodes[pos] = h.nodes[h.n]
    if pos > 0 and on_less(&h.nodes[pos], &h.nodes[(pos - 1) >> 1]):
        oh_sift_up(h, mems, pos)
    else:
        oh_sift_down(h, mems, pos)
