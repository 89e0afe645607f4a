# Operator slot heaps (heap.pyx on ONode): Member.pos follows every move. Keys end in the
# registration number, unique per operator, so the top is well defined whatever the order
# of pushes and removals.

cdef int oh_reserve(OHeap* h, int64_t extra, int64_t* bytes) noexcept nogil:
    if pr_grow(<void**>&h.nodes, &h.cap, h.n + extra, sizeof(ONode), bytes) < 0:
        return ERR_NOMEM
    return 0


cdef void oh_push(OHeap* h, Member* mems, hnd member, double p, int64_t s1,
                  int64_t s2) noexcept nogil:
    cdef ONode x
    PR_ASSERT(h.n < h.cap)
    x.p = p
    x.s1 = s1
    x.s2 = s2
    x.member = member
    hp_push(h.nodes, &h.n, &x, mems)


cdef void oh_remove(OHeap* h, Member* mems, int64_t pos) noexcept nogil:
    PR_ASSERT(0 <= pos and pos < h.n)
    mems[h.nodes[pos].member].pos = -1
    hp_remove(h.nodes, &h.n, pos, mems)


cdef void oh_rekey(OHeap* h, Member* mems, int64_t pos, double p, int64_t s1,
                   int64_t s2) noexcept nogil:
    """Give the node at ``pos`` a new key and move it up or down to its place: what a
    removal and a push would do, in one sift."""
    cdef ONode x
    PR_ASSERT(0 <= pos and pos < h.n)
    x.p = p
    x.s1 = s1
    x.s2 = s2
    x.member = h.nodes[pos].member
    if pos > 0 and on_less(&x, &h.nodes[(pos - 1) >> 1]):
        hp_up(h.nodes, pos, &x, mems)
    else:
        hp_down(h.nodes, h.n, pos, &x, mems)
