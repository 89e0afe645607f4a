# Commands on operators: add, remove, status, groups, limit; and the requeues they cause.

cdef void requeue(Engine* e, hnd rh, double now) noexcept nogil:
    """Send an offered or active conversation back to the queue at its place."""
    cdef Req* r
    cdef bint was_active = R(e, rh).state == ST_ACTIVE
    if xfer_to(e, rh) != -1:
        drop_transfer(e, rh)
    r = R(e, rh)
    if r.state == ST_ACTIVE:
        r.wait_since = now   # an answered conversation starts waiting again
    release(e, rh)
    r = R(e, rh)
    r.state = ST_QUEUED
    r.op = -1
    r.via = -1
    r.gen += 1
    route_new(e, rh, now)
    if was_active:
        wait_again(e, rh, now)


cdef void requeue_all(Engine* e, hnd oh, double now, bint offers_only) noexcept nogil:
    """Requeue the operator's conversations (only those offered, with ``offers_only``), in
    submission order."""
    cdef int64_t count = 0, j
    cdef hnd rh = O(e, oh).act_head
    if not tmp_reserve(e, O(e, oh).load):
        return
    while rh != -1:
        if not offers_only or R(e, rh).state == ST_OFFERED:
            e.scr.tmp[2 * count] = R(e, rh).seq
            e.scr.tmp[2 * count + 1] = rh
            count += 1
        rh = R(e, rh).act_next
    if count > 1:
        qsort(e.scr.tmp, <size_t>count, 2 * sizeof(int64_t), cmp_pairs)
    for j in range(count):
        requeue(e, <hnd>e.scr.tmp[2 * j + 1], now)


cdef void change_status(Engine* e, hnd oh, int8_t status, int8_t reason,
                        double now) noexcept nogil:
    cdef EvRec* ev
    detach(e, oh)
    O(e, oh).status = status
    if status == OP_ONLINE:
        e.tick += 1
        O(e, oh).idle = e.tick
    attach(e, oh)
    ev = ev_new(e, EV_STATUS, -1, now)
    if ev != NULL:
        ev.op = oh
        ev.aux = status
        ev.flag = reason


cdef hnd eng_add_op(Engine* e, int32_t* groups, int32_t n, int32_t limit, int8_t status,
                    int32_t* caps, uint8_t* skills, int32_t* levels, int8_t kind,
                    double now) noexcept nogil:
    cdef hnd oh, mh, prev = -1
    cdef Op* o
    cdef int32_t i
    if (slab_reserve(&e.ops, 1, &e.mem) < 0 or slab_reserve(&e.mems, n, &e.mem) < 0
            or pr_grow(<void**>&e.op_ch, &e.cap_op_ch, (e.ops.used + 1) * 2 * e.C,
                       sizeof(int32_t), &e.mem) < 0
            or pr_grow(<void**>&e.op_sk, &e.cap_op_sk, (e.ops.used + 1) * 64,
                       sizeof(uint8_t), &e.mem) < 0):
        e.oom = 1
        return -1
    eng_begin(e, now)
    e.reg += 1
    oh = slab_take(&e.ops)
    o = O(e, oh)
    memset(o, 0, sizeof(Op))
    o.reg = e.reg
    o.limit = limit
    o.first_member = -1
    o.act_head = -1
    o.act_tail = -1
    o.in_head = -1
    o.in_tail = -1
    o.hold_head = -1
    o.hold_tail = -1
    o.res = -1
    o.alive = 1
    o.kind = kind
    for i in range(e.C):
        e.op_ch[<int64_t>oh * 2 * e.C + i] = caps[i]
        e.op_ch[<int64_t>oh * 2 * e.C + e.C + i] = 0
        if caps[i] == 0:
            o.zcap = 1
    memcpy(&e.op_sk[<int64_t>oh * 64], skills, 64)
    for i in range(n):
        mh = new_member(e, oh, groups[i])
        M(e, mh).level = levels[i]
        if prev == -1:
            O(e, oh).first_member = mh
        else:
            M(e, prev).next = mh
        prev = mh
    o = O(e, oh)
    o.status = status
    if status == OP_ONLINE:
        e.tick += 1
        o.idle = e.tick
    e.cnt.n_ops += 1
    attach(e, oh)
    fill(e, oh, now)
    return oh


cdef void eng_remove_op(Engine* e, hnd oh, double now) noexcept nogil:
    cdef bint was_online
    cdef int64_t n
    eng_begin(e, now)
    was_online = O(e, oh).status == OP_ONLINE
    detach(e, oh)
    O(e, oh).status = OP_OFFLINE
    attach(e, oh)
    reserve_again(e, oh, now)
    end_holds(e, oh, HOLD_REMOVED, now)
    fail_incoming(e, oh, now)
    requeue_all(e, oh, now, False)   # offers, and anything a timer assigned just now
    detach(e, oh)
    O(e, oh).alive = 0
    e.cnt.n_ops -= 1
    push_dead(e, &e.hist.dead_ops, &e.hist.n_dead_ops, &e.hist.cap_dead_ops, oh)
    if was_online:
        n = copy_groups(e, oh)
        sweep(e, n, now)


cdef void eng_set_status(Engine* e, hnd oh, int8_t status, bint requeue,
                         double now) noexcept nogil:
    cdef int8_t old
    cdef int64_t n
    eng_begin(e, now)
    old = O(e, oh).status
    if old != status:
        change_status(e, oh, status, 0, now)
        reserve_again(e, oh, now)
    if old == OP_ONLINE and status != OP_ONLINE:
        end_holds(e, oh, HOLD_OFFLINE, now)
        fail_incoming(e, oh, now)
    if status != OP_ONLINE and (requeue or old == OP_ONLINE):
        requeue_all(e, oh, now, not requeue)
    if old == OP_ONLINE and status != OP_ONLINE:
        n = copy_groups(e, oh)
        sweep(e, n, now)
    fill(e, oh, now)


cdef void eng_set_groups(Engine* e, hnd oh, int32_t* groups, int32_t n,
                         double now) noexcept nogil:
    cdef hnd mh, nxt, prev = -1, first = -1
    cdef int32_t i
    cdef int64_t n_removed = 0
    cdef bint keep
    cdef hnd held_rh
    if slab_reserve(&e.mems, n, &e.mem) < 0:
        e.oom = 1
        return
    eng_begin(e, now)
    held_rh = unreserve(e, oh)   # moved: its request reserves again after the move
    detach(e, oh)
    # kept memberships, in their old order; dropped ones are remembered for the sweep
    mh = O(e, oh).first_member
    while mh != -1:
        nxt = M(e, mh).next
        keep = False
        for i in range(n):
            if groups[i] == M(e, mh).group:
                keep = True
                break
        if keep:
            M(e, mh).next = -1
            if prev == -1:
                first = mh
            else:
                M(e, prev).next = mh
            prev = mh
        else:
            e.scr.work2[n_removed] = M(e, mh).group
            n_removed += 1
            slab_give(&e.mems, mh, &e.mem)
        mh = nxt
    # new memberships, in the order given
    for i in range(n):
        keep = False
        mh = first
        while mh != -1:
            if M(e, mh).group == groups[i]:
                keep = True
                break
            mh = M(e, mh).next
        if keep:
            continue
        mh = new_member(e, oh, groups[i])
        if prev == -1:
            first = mh
        else:
            M(e, prev).next = mh
        prev = mh
    O(e, oh).first_member = first
    attach(e, oh)
    if held_rh != -1:
        reserve_for(e, held_rh, now)
    if O(e, oh).status == OP_ONLINE:
        sweep(e, n_removed, now)
    fill(e, oh, now)


cdef void eng_set_limit(Engine* e, hnd oh, int32_t limit, double now) noexcept nogil:
    cdef hnd held_rh
    eng_begin(e, now)
    held_rh = unreserve(e, oh)   # its request reserves again, under the new limit
    detach(e, oh)
    O(e, oh).limit = limit
    attach(e, oh)
    if held_rh != -1:
        reserve_for(e, held_rh, now)
    fill(e, oh, now)
