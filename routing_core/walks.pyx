# Best-first walks: visit a heap's nodes in key order (a small heap of candidate
# positions in e.scr.trav: the children of every node visited) and stop at the first that
# fits. This costs O(k log k) for k nodes visited, where a scan would cost O(n).

cdef inline bint trav_reserve(Engine* e, int64_t n) noexcept nogil:
    if pr_grow(<void**>&e.scr.trav, &e.scr.cap_trav, n + 2, sizeof(int64_t), &e.mem) < 0:
        e.oom = 1
        return False
    return True


cdef struct Want:      # what a best-first walk looks for
    hnd mh             # request queues: a request this member's operator may take
    hnd rh             # operator heaps: a member that may take this request (``fits``);
    double now         #   -1: ``pickable``
    int32_t c          # pickable: a new conversation of this channel...
    hnd excl           # ...by anyone but this operator


cdef inline bint wanted(Engine* e, Walked* x, Want* w) noexcept nogil:
    if Walked is QNode:
        return fits(e, w.mh, EN(e, x.entry).req, w.now)
    else:
        if w.rh >= 0:
            return fits(e, x.member, w.rh, w.now) and not held(e, M(e, x.member).op, w.rh)
        return pickable(e, x.member, w.c, w.excl)


cdef inline void cand_push(Engine* e, int64_t* k, Walked* nodes, int64_t pos) noexcept nogil:
    """Add position ``pos`` of ``nodes`` to the candidates (keyed by the node there)."""
    cdef RCand rc
    cdef OCand oc
    if Walked is QNode:
        rc.pos = pos
        hp_push(<RCand*>e.scr.trav, k, &rc, nodes)
    else:
        oc.pos = pos
        hp_push(<OCand*>e.scr.trav, k, &oc, nodes)


cdef inline int64_t cand_pop(Engine* e, int64_t* k, Walked* nodes) noexcept nogil:
    """Take the candidate with the least node."""
    cdef int64_t top = e.scr.trav[0]
    if Walked is QNode:
        hp_pop(<RCand*>e.scr.trav, k, nodes)
    else:
        hp_pop(<OCand*>e.scr.trav, k, nodes)
    return top


cdef inline int64_t best_first(Engine* e, Walked* nodes, int64_t n, Want* w) noexcept nogil:
    """The position of the node with the least key of the heap ``nodes[:n]`` that is
    ``wanted``, or -1: the top when it is, otherwise a best-first walk."""
    cdef int64_t k = 0, pos
    if n == 0:
        return -1
    if wanted(e, &nodes[0], w):
        return 0
    if not trav_reserve(e, n):
        return -1
    if n > 1:
        cand_push(e, &k, nodes, 1)
    if n > 2:
        cand_push(e, &k, nodes, 2)
    while k > 0:
        pos = cand_pop(e, &k, nodes)
        if wanted(e, &nodes[pos], w):
            return pos
        if 2 * pos + 1 < n:
            cand_push(e, &k, nodes, 2 * pos + 1)
        if 2 * pos + 2 < n:
            cand_push(e, &k, nodes, 2 * pos + 2)
    return -1


cdef hnd oh_walk(Engine* e, OHeap* h, Want* w) noexcept nogil:
    """The member with the least key in ``h`` that is ``wanted``, or -1."""
    cdef int64_t pos = best_first(e, h.nodes, h.n, w)
    return -1 if pos < 0 else h.nodes[pos].member


cdef hnd oh_best_allowed(Engine* e, OHeap* h, hnd rh, double now) noexcept nogil:
    """The member with the least key in ``h`` that may take the request, or -1."""
    cdef Want w
    w.mh, w.rh, w.now, w.c, w.excl = -1, rh, now, -1, -1
    return oh_walk(e, h, &w)


cdef hnd eng_pick(Engine* e, int32_t g, int32_t c, hnd excl) noexcept nogil:
    """The operator group ``g``'s policy would give a new conversation of channel ``c``
    now (requiring no skills, preferring no one), skipping operator ``excl``; -1 when
    nobody could take it. Reads only (the walk uses the scratch ``e.scr.trav``)."""
    cdef Want w
    cdef hnd mh
    if not e.cfg.takes[<int64_t>g * e.C + c]:
        return -1
    w.mh, w.rh, w.now, w.c, w.excl = -1, -1, 0.0, c, excl
    mh = oh_walk(e, &e.oheaps[g], &w)
    return -1 if mh < 0 else M(e, mh).op


cdef int64_t rq_best_allowed(Engine* e, QNode* nodes, int64_t n, hnd mh,
                             double now) noexcept nogil:
    """The position in the request heap ``nodes[:n]`` of the best request membership
    ``mh``'s operator may take, or -1."""
    cdef Want w             # a request-queue walk reads only these two
    w.mh = mh
    w.now = now
    return best_first(e, nodes, n, &w)



cdef void best_in_subs(Engine* e, Best* b, hnd mh, int64_t base, HasSkills* has,
                       double now) noexcept nogil:
    """The best request ``b`` of the sub-heaps of member ``mh``'s queues (from ``base``)
    whose skills its operator has: the others are skipped whole, however many they hold.
    Inside one, the walk still skips the requests it may not take for a skill level, a
    tier, a decline or a preference."""
    cdef hnd oh = M(e, mh).op
    cdef int64_t c, s, pos
    cdef RQueue* q
    cdef SubQ* sq
    cdef QNode* x
    cdef double key
    cdef Want w
    w.mh = mh
    w.now = now
    for c in range(e.C):
        q = &e.queues[base + c]
        if q.n_subs == 0 or not fits_channel(e, oh, <int32_t>c):
            continue
        if not has.known:
            has.mask = op_skill_mask(e, oh)
            has.known = True
        for s in range(q.n_subs):
            sq = &q.subs[s]
            if sq.n == 0 or (sq.mask & ~has.mask) != 0:
                continue
            pos = best_first(e, sq.nodes, sq.n, &w)
            if pos < 0:
                continue
            x = &sq.nodes[pos]
            key = x.k + e.cfg.off[base + c]
            if b.entry == -1 or key < b.key or (key == b.key and x.seq < b.seq):
                b.entry = x.entry
                b.key = key
                b.seq = x.seq
                b.m = mh
