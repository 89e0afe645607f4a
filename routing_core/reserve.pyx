# Reservations (blending): a waiting request that fits nobody (a call, cost "all", or a
# cost above 1, of a channel with reserve) reserves the online operator who will drain
# soonest, and that operator takes nothing ranked below it until it fits. One operator per
# request, one request per operator. Mirrors reference.py's _could, _rank, _held,
# _reserve_for, _unhold, _unreserve and _claim step for step. All of it is off the common
# path: a request that fits nobody, an operator leaving, and the O(1) tests of Req.hold,
# Op.res and cnt.unres.

cdef inline bint could_fit(Engine* e, hnd mh, hnd rh, double now) noexcept nogil:
    """Whether membership ``mh``'s operator could take ``rh`` through its group once it has
    drained: ``fits`` apart from its free slots and its count on the channel (a cap of 0:
    never)."""
    cdef hnd oh = M(e, mh).op
    cdef Req* r = R(e, rh)
    cdef int32_t need = charge(e, O(e, oh), r.ch)
    if need < 1:
        need = 1
    if e.op_ch[<int64_t>oh * 2 * e.C + r.ch] == 0 or need > O(e, oh).limit:
        return False
    return fits_rules(e, mh, rh, now)


cdef bint could_any(Engine* e, hnd oh, hnd rh, double now) noexcept nogil:
    """``could_fit`` through any of the operator's groups the request is eligible for."""
    cdef hnd mh = O(e, oh).first_member
    while mh != -1:
        if is_eligible(e, R(e, rh), M(e, mh).group) and could_fit(e, mh, rh, now):
            return True
        mh = M(e, mh).next
    return False


cdef double rank_key(Engine* e, hnd oh, hnd rh) noexcept nogil:
    """The request's least key (across queues) among the operator's groups it is eligible
    for; with its seq, where it stands among the work the operator may take."""
    cdef Req* r = R(e, rh)
    cdef hnd eh = r.first_entry
    cdef int32_t g
    cdef double k, best = 0.0
    cdef bint found = False
    while eh != -1:
        g = EN(e, eh).group
        if is_member(e, oh, g):
            k = req_key(e, r) + e.cfg.off[<int64_t>g * e.C + r.ch]
            if not found or k < best:
                best = k
                found = True
        eh = EN(e, eh).next
    if not found:
        return 1e308 * 10.0     # +inf
    return best


cdef inline bint ranks_below(Engine* e, hnd oh, hnd xh, hnd rh) noexcept nogil:
    """Whether ``xh`` ranks below ``rh`` for the operator (key, then submission order)."""
    cdef double kx = rank_key(e, oh, xh), kr = rank_key(e, oh, rh)
    return kx > kr or (kx == kr and R(e, xh).seq > R(e, rh).seq)


cdef inline bint held(Engine* e, hnd oh, hnd rh) noexcept nogil:
    """Whether the operator's reservation holds it back from ``rh``."""
    cdef hnd res = O(e, oh).res
    return res != -1 and res != rh and ranks_below(e, oh, rh, res)


cdef void pair_counts(Engine* e, hnd rh, hnd oh, int64_t d) noexcept nogil:
    cdef hnd mh = O(e, oh).first_member
    e.cnt.c_reserved[R(e, rh).ch] += d
    while mh != -1:
        e.cnt.g_reserved[M(e, mh).group] += d
        mh = M(e, mh).next


cdef void reserve_for(Engine* e, hnd rh, double now) noexcept nogil:
    """``rh`` waits and nobody can fit it: reserve, of the online operators not reserved yet
    who could take it once drained, the one who drains soonest (fewest slots still to free,
    then longest since its last assignment, then registration order)."""
    cdef Req* r = R(e, rh)
    cdef hnd oh, best = -1
    cdef Op* o
    cdef int64_t need, b_need = 0, b_last = 0, b_reg = 0
    if not r.hold or r.res != -1:
        return
    for oh in range(<hnd>e.ops.used):
        o = O(e, oh)
        if not o.alive or o.status != OP_ONLINE or o.res != -1:
            continue
        if not could_any(e, oh, rh, now):
            continue
        need = charge(e, o, r.ch)
        if need < 1:
            need = 1
        need += o.load - o.limit
        if (best == -1 or need < b_need or (need == b_need and (
                o.last_assign < b_last or (o.last_assign == b_last and o.reg < b_reg)))):
            best = oh
            b_need = need
            b_last = o.last_assign
            b_reg = o.reg
    if best != -1:
        r.res = best
        O(e, best).res = rh
        e.cnt.unres -= 1
        pair_counts(e, rh, best, 1)


cdef hnd unhold(Engine* e, hnd rh) noexcept nogil:
    """The request leaves the queue: its reservation ends; returns the operator it held."""
    cdef Req* r = R(e, rh)
    cdef hnd oh
    r.hold = 0
    if r.res == -1:
        e.cnt.unres -= 1
        return -1
    oh = r.res
    pair_counts(e, rh, oh, -1)
    O(e, oh).res = -1
    r.res = -1
    return oh


cdef hnd unreserve(Engine* e, hnd oh) noexcept nogil:
    """The operator can no longer drain for its request (or is moved): the reservation
    ends; returns the request, which then reserves again (``reserve_for``)."""
    cdef hnd rh = O(e, oh).res
    if rh == -1:
        return -1
    pair_counts(e, rh, oh, -1)
    O(e, oh).res = -1
    R(e, rh).res = -1
    e.cnt.unres += 1
    return rh


cdef void reserve_again(Engine* e, hnd oh, double now) noexcept nogil:
    """The operator left online: its request reserves the next operator at once."""
    cdef hnd rh = unreserve(e, oh)
    if rh != -1:
        reserve_for(e, rh, now)


cdef void claim(Engine* e, hnd oh, double now) noexcept nogil:
    """An operator not reserved, who could drain for a request that has no operator
    reserved, makes that request reserve (the best-ranked for it first; the one who drains
    soonest is reserved, which may be another operator)."""
    cdef hnd mh, rh, best
    cdef int64_t base, c, s, j, nn, b_seq
    cdef double key, b_key
    cdef RQueue* q
    cdef QNode* nodes
    while O(e, oh).res == -1:
        best = -1
        b_key = 0.0
        b_seq = 0
        mh = O(e, oh).first_member
        while mh != -1:
            base = <int64_t>M(e, mh).group * e.C
            for c in range(e.C):
                if not e.cfg.reserve[c]:
                    continue
                q = &e.queues[base + c]
                for s in range(-1, q.n_subs):   # the queue's own heap, then its sub-heaps
                    nodes = q.nodes if s < 0 else q.subs[s].nodes
                    nn = q.n if s < 0 else q.subs[s].n
                    for j in range(nn):
                        rh = EN(e, nodes[j].entry).req
                        if R(e, rh).res == -1 and could_fit(e, mh, rh, now):
                            key = rank_key(e, oh, rh)
                            if (best == -1 or key < b_key
                                    or (key == b_key and R(e, rh).seq < b_seq)):
                                best = rh
                                b_key = key
                                b_seq = R(e, rh).seq
            mh = M(e, mh).next
        if best == -1:
            return
        reserve_for(e, best, now)


cdef inline bint new_held(Engine* e, hnd oh, int32_t g, int32_t c) noexcept nogil:
    """Router.pick: whether the operator's reservation holds it back from a new request of
    channel ``c`` in group ``g`` now (priority 0: it ranks above the reserved one only by
    its key, since it comes later)."""
    cdef hnd res = O(e, oh).res
    cdef double k
    if res == -1:
        return False
    k = e.now if e.cfg.deadline else e.cfg.aging * e.now
    return not (k + e.cfg.off[<int64_t>g * e.C + c] < rank_key(e, oh, res))
