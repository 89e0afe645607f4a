# Ended requests: the history ring that keeps the last ``history`` of them for views, and
# the handles the current call retired, freed once the bindings have read the events.

cdef inline void push_dead(Engine* e, hnd** arr, int64_t* n, int64_t* cap,
                           hnd h) noexcept nogil:
    if n[0] == cap[0] and pr_grow(<void**>arr, cap, n[0] + 1, sizeof(hnd), &e.mem) < 0:
        e.oom = 1
        return
    arr[0][n[0]] = h
    n[0] += 1


cdef inline void retire(Engine* e, hnd rh) noexcept nogil:
    """An ended request joins the history ring; the oldest one drops out when it is full."""
    cdef hnd out
    if e.hist.limit == 0:
        push_dead(e, &e.hist.dead_reqs, &e.hist.n_dead_reqs, &e.hist.cap_dead_reqs, rh)
        return
    if e.hist.n < e.hist.limit:
        if e.hist.n == e.hist.cap and pr_grow(<void**>&e.hist.ring, &e.hist.cap, e.hist.n + 1,
                                              sizeof(hnd), &e.mem) < 0:
            e.oom = 1
            return
        e.hist.ring[e.hist.n] = rh
        e.hist.n += 1
        return
    out = e.hist.ring[e.hist.head]
    e.hist.ring[e.hist.head] = rh
    e.hist.head += 1
    if e.hist.head == e.hist.limit:
        e.hist.head = 0
    push_dead(e, &e.hist.dead_reqs, &e.hist.n_dead_reqs, &e.hist.cap_dead_reqs, out)


cdef void eng_free_dead(Engine* e) noexcept nogil:
    """Release the handles the last call retired, once the bindings have read them."""
    cdef int64_t i
    cdef hnd h, eh, nxt
    for i in range(e.hist.n_dead_reqs):
        h = e.hist.dead_reqs[i]
        eh = R(e, h).first_entry
        while eh != -1:
            nxt = EN(e, eh).next
            slab_give(&e.ents, eh, &e.mem)
            eh = nxt
        eh = R(e, h).excl
        while eh != -1:
            nxt = (<Excl*>e.excls.items)[eh].next
            slab_give(&e.excls, eh, &e.mem)
            eh = nxt
        R(e, h).excl = -1
        if R(e, h).sk != -1:
            slab_give(&e.skreqs, R(e, h).sk, &e.mem)
            R(e, h).sk = -1
        if R(e, h).x != -1:
            slab_give(&e.xs, R(e, h).x, &e.mem)
            R(e, h).x = -1
        R(e, h).state = ST_FREE
        R(e, h).first_entry = -1
        slab_give(&e.reqs, h, &e.mem)
    for i in range(e.hist.n_dead_ops):
        h = e.hist.dead_ops[i]
        eh = O(e, h).first_member
        while eh != -1:
            nxt = M(e, eh).next
            slab_give(&e.mems, eh, &e.mem)
            eh = nxt
        O(e, h).first_member = -1
        # the operator's slot is not recycled: ended conversations in history still
        # name it by handle
    for i in range(e.hist.n_dead_holds):
        slab_give(&e.hlds, e.hist.dead_holds[i], &e.mem)
    e.hist.n_dead_reqs = 0
    e.hist.n_dead_ops = 0
    e.hist.n_dead_holds = 0
    e.evs.n = 0
    e.evs.n_groups = 0
