# An operator's free slots: its key in each group's operator heap (the group policy), what
# a conversation of a channel charges, and detach/attach, which take the operator out of
# its groups' heaps and counters before any change to its load or status and put it back
# after.

cdef double op_key(Engine* e, Op* o, Member* m) noexcept nogil:
    cdef int32_t p = e.cfg.policy[m.group]
    if p == POL_EVEN:
        return <double>(o.load - o.limit)
    if p == POL_LONGEST_IDLE:
        return <double>o.idle
    if p == POL_ROUND_ROBIN:
        return <double>m.rr
    if p == POL_LEAST_RATIO:
        return <double>o.load / <double>o.limit
    if p == POL_FEWEST_HANDLED:
        return <double>o.handled
    if p == POL_ORDERED:
        return <double>m.join
    return m.rand


cdef inline int32_t charge(Engine* e, Op* o, int32_t c) noexcept nogil:
    """Slots a conversation of channel ``c`` takes from the operator."""
    return o.limit if e.cfg.cost[c] < 0 else e.cfg.cost[c]


cdef inline bint fits_channel(Engine* e, hnd oh, int32_t c) noexcept nogil:
    cdef Op* o = O(e, oh)
    cdef int32_t need = charge(e, o, c)
    cdef int32_t* row = &e.op_ch[<int64_t>oh * 2 * e.C]
    if need < 1:
        need = 1
    return o.limit - o.load >= need and (row[c] < 0 or row[e.C + c] < row[c])


cdef inline void count_cant(Engine* e, hnd oh, Op* o, int32_t g, int64_t d) noexcept nogil:
    """Add ``d`` to group ``g``'s count of online members who cannot take each channel
    the operator cannot (a limit of 0: none; a cap of 0: that one)."""
    cdef int32_t* row = &e.op_ch[<int64_t>oh * 2 * e.C]
    cdef int64_t* cant = &e.cnt.g_cant[<int64_t>g * e.C]
    cdef int32_t c
    for c in range(e.C):
        if o.limit == 0 or row[c] == 0:
            cant[c] += d


cdef inline void detach(Engine* e, hnd oh) noexcept nogil:
    """Take the operator out of its groups' heaps and counters."""
    cdef Op* o = O(e, oh)
    cdef bint on = o.status == OP_ONLINE
    cdef int64_t free_ = (o.limit - o.load if o.limit > o.load else 0) if on else 0
    cdef hnd mh = o.first_member
    cdef Member* m
    while mh != -1:
        m = M(e, mh)
        if m.pos >= 0:
            oh_remove(&e.oheaps[m.group], <Member*>e.mems.items, m.pos)
        if on:
            e.cnt.g_online[m.group] -= 1
            e.cnt.g_free[m.group] -= free_
            if o.limit == 0 or o.zcap:
                count_cant(e, oh, o, m.group, -1)
        mh = m.next
    if on:
        e.cnt.online -= 1
        e.cnt.free_slots -= free_


cdef inline void attach(Engine* e, hnd oh) noexcept nogil:
    cdef Op* o = O(e, oh)
    cdef bint on = o.status == OP_ONLINE
    cdef int64_t free_ = (o.limit - o.load if o.limit > o.load else 0) if on else 0
    cdef hnd mh = o.first_member
    cdef Member* m
    cdef OHeap* h
    if not on:
        return
    while mh != -1:
        m = M(e, mh)
        e.cnt.g_online[m.group] += 1
        e.cnt.g_free[m.group] += free_
        if o.limit == 0 or o.zcap:
            count_cant(e, oh, o, m.group, 1)
        if o.load < o.limit:
            h = &e.oheaps[m.group]
            if h.n == h.cap and oh_reserve(h, 1, &e.mem) < 0:
                e.oom = 1
            else:
                oh_push(h, <Member*>e.mems.items, mh, op_key(e, o, m), o.last_assign, o.reg)
        mh = m.next
    e.cnt.online += 1
    e.cnt.free_slots += free_


cdef inline int64_t counted_free(Op* o) noexcept nogil:
    """The free slots the operator adds to its groups' counters (none when not online)."""
    if o.status != OP_ONLINE or o.limit <= o.load:
        return 0
    return o.limit - o.load


cdef inline void reslot(Engine* e, hnd oh, int64_t was) noexcept nogil:
    """``attach`` after a change of the operator's load or keys alone (its status, limit,
    caps and memberships as they were), ``was`` its ``counted_free`` before: the counters
    move by the difference and each membership moves within its group's heap in place
    (one sift) instead of a removal and a push. The heaps hold the same nodes as
    ``detach`` then ``attach`` would leave, and keys are unique, so every walk visits them
    in the same order."""
    cdef Op* o = O(e, oh)
    cdef int64_t d
    cdef hnd mh
    cdef Member* m
    cdef OHeap* h
    if o.status != OP_ONLINE:
        return
    d = counted_free(o) - was
    mh = o.first_member
    while mh != -1:
        m = M(e, mh)
        e.cnt.g_free[m.group] += d
        h = &e.oheaps[m.group]
        if o.load < o.limit:
            if m.pos >= 0:
                oh_rekey(h, <Member*>e.mems.items, m.pos, op_key(e, o, m), o.last_assign,
                         o.reg)
            elif h.n == h.cap and oh_reserve(h, 1, &e.mem) < 0:
                e.oom = 1
            else:
                oh_push(h, <Member*>e.mems.items, mh, op_key(e, o, m), o.last_assign, o.reg)
        elif m.pos >= 0:
            oh_remove(h, <Member*>e.mems.items, m.pos)
        mh = m.next
    e.cnt.free_slots += d


cdef inline hnd new_member(Engine* e, hnd oh, int32_t g) noexcept nogil:
    """Append a membership (slab space reserved by the caller)."""
    cdef hnd mh = slab_take(&e.mems)
    cdef Member* m = M(e, mh)
    e.join += 1
    m.join = e.join
    m.rr = 0
    m.rand = 0.0
    if e.cfg.policy[g] == POL_RANDOM:
        m.rand = <double>pr_splitmix(<unsigned long long*>&e.rng[g])
    m.op = oh
    m.group = g
    m.level = 1
    m.pos = -1
    m.next = -1
    return mh


cdef inline bint is_member(Engine* e, hnd oh, int32_t g) noexcept nogil:
    cdef hnd mh = O(e, oh).first_member
    while mh != -1:
        if M(e, mh).group == g:
            return True
        mh = M(e, mh).next
    return False


cdef inline int64_t copy_groups(Engine* e, hnd oh) noexcept nogil:
    cdef int64_t n = 0
    cdef hnd mh = O(e, oh).first_member
    while mh != -1:
        e.scr.work2[n] = M(e, mh).group
        n += 1
        mh = M(e, mh).next
    return n
