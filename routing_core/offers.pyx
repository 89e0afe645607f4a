# Offers (accept, decline, expiry: the operators a request may not go to again) and
# transfers.

cdef inline bint excludes(Engine* e, hnd rh, hnd oh) noexcept nogil:
    """Whether the request may not be offered to the operator again."""
    cdef hnd x = R(e, rh).excl
    while x != -1:
        if (<Excl*>e.excls.items)[x].op == oh:
            return True
        x = (<Excl*>e.excls.items)[x].next
    return False


cdef inline void exclude(Engine* e, hnd rh, hnd oh) noexcept nogil:
    """Append the operator to the request's list of those it may not go to again."""
    cdef hnd x, last
    cdef Excl* items
    if slab_reserve(&e.excls, 1, &e.mem) < 0:
        e.oom = 1
        return
    x = slab_take(&e.excls)
    items = <Excl*>e.excls.items
    items[x].op = oh
    items[x].next = -1
    last = R(e, rh).excl
    if last == -1:
        R(e, rh).excl = x
        return
    while items[last].next != -1:
        last = items[last].next
    items[last].next = x


cdef void expire_offer(Engine* e, hnd rh, double now) noexcept nogil:
    cdef hnd oh = R(e, rh).op
    cdef int32_t g = R(e, rh).via
    cdef EvRec* ev = ev_new(e, EV_OFFER_EXPIRED, rh, now)
    cdef int64_t n
    if ev != NULL:
        ev.op = oh
    exclude(e, rh, oh)
    requeue(e, rh, now)
    O(e, oh).missed += 1
    if (e.cfg.max_missed[g] >= 0 and O(e, oh).missed >= e.cfg.max_missed[g]
            and O(e, oh).status == OP_ONLINE):
        change_status(e, oh, OP_AWAY, 1, now)
        reserve_again(e, oh, now)
        end_holds(e, oh, HOLD_OFFLINE, now)
        fail_incoming(e, oh, now)
        requeue_all(e, oh, now, True)
        n = copy_groups(e, oh)
        sweep(e, n, now)
    else:
        fill(e, oh, now)   # the freed slot takes what else waits for this operator


cdef void eng_accept(Engine* e, hnd rh, double now) noexcept nogil:
    """Accept the open offer (checked by the bindings); if it expired by ``now`` the timers
    have said so and nothing more happens."""
    cdef int32_t offer = R(e, rh).offers
    cdef Req* r
    cdef EvRec* ev
    eng_begin(e, now)
    r = R(e, rh)
    if r.state != ST_OFFERED or r.offers != offer:
        return
    O(e, r.op).missed = 0
    r.state = ST_ACTIVE
    answered(e, rh, r.via, now)
    r = R(e, rh)
    r.assigned_at = now
    ev = ev_new(e, EV_ACCEPTED, rh, now)
    if ev != NULL:
        ev.op = r.op
        ev.waited = now - r.wait_since


cdef void eng_decline(Engine* e, hnd rh, double now) noexcept nogil:
    cdef int32_t offer = R(e, rh).offers
    cdef hnd oh
    eng_begin(e, now)
    if R(e, rh).state != ST_OFFERED or R(e, rh).offers != offer:
        return
    oh = R(e, rh).op
    O(e, oh).missed = 0
    exclude(e, rh, oh)
    requeue(e, rh, now)
    fill(e, oh, now)   # the freed slot takes what else waits for this operator


cdef void eng_transfer(Engine* e, hnd rh, int32_t g, hnd target, bint escalated,
                       double now) noexcept nogil:
    """The conversation leaves its operator (if any) and is routed anew in group ``g``,
    reserved for ``target`` (if any) for the group's transfer_timeout."""
    eng_begin(e, now)
    if xfer_to(e, rh) != -1:       # a new transfer replaces the pending one
        drop_transfer(e, rh)
    move(e, rh, g, target, escalated, now)


cdef hnd restart_in(Engine* e, hnd rh, int32_t g, double now, hnd* freed) noexcept nogil:
    """A transfer's first half: the request leaves its operator (or its queues) and begins
    a new stay with ``g`` alone as its eligible groups (the first entry is kept: no
    allocation); returns the operator it left, or -1. With ``freed``, a queued request's
    reservation ends here and ``freed`` names the operator it held (else ``assign``
    ends it)."""
    cdef Req* r = R(e, rh)
    cdef hnd held_by = -1, eh, nxt
    cdef Entry* en
    if r.state == ST_ACTIVE:
        r.wait_since = now   # an answered conversation's new wait starts now
    r.leg_answered = 0       # a new stay, counted in the group that takes it
    if r.state == ST_QUEUED:
        if freed != NULL and r.hold:
            freed[0] = unhold(e, rh)
        dequeue(e, rh, now, False)
    else:
        held_by = r.op
        release(e, rh)
    r = R(e, rh)
    r.state = ST_QUEUED
    r.op = -1
    r.via = -1
    r.gen += 1
    eh = EN(e, r.first_entry).next
    while eh != -1:
        nxt = EN(e, eh).next
        slab_give(&e.ents, eh, &e.mem)
        eh = nxt
    r = R(e, rh)
    en = EN(e, r.first_entry)
    en.group = g
    en.pos = -1
    en.sub = -1
    en.next = -1
    r.last_entry = r.first_entry
    r.home = <int16_t>g
    return held_by


cdef void move(Engine* e, hnd rh, int32_t g, hnd target, bint escalated,
               double now) noexcept nogil:
    cdef hnd held_by, freed = -1
    cdef EvRec* ev
    cdef ReqX* rx
    cdef bint was_active = R(e, rh).state == ST_ACTIVE
    held_by = restart_in(e, rh, g, now, &freed)
    if target != -1 or R(e, rh).x != -1:
        rx = req_x(e, rh)
        if rx != NULL:   # NULL: out of memory (e.oom), routed with no preference
            rx.prefer = target
            rx.prefer_until = now + e.cfg.transfer_timeout[g] if target != -1 else 0.0
    ev = ev_new(e, EV_TRANSFERRED, rh, now)
    if ev != NULL:
        ev.op = held_by
        ev.group = g
        ev.aux = target
        ev.flag = escalated
    route_new(e, rh, now)
    if was_active:
        wait_again(e, rh, now)
    if held_by != -1:
        fill(e, held_by, now)     # the sender's freed slot
    if freed != -1:               # the operator it held is fed again
        fill(e, freed, now)


# Transfers to an operator: one who can take the conversation gets it at once; otherwise an
# active conversation stays with its sender (a pending transfer, in the target's list of
# incoming transfers) until the target can take it, the group's transfer_timeout passes,
# or the target leaves online.

cdef enum:
    XFER_TIMEOUT = 0      # TransferFailed reasons (convert.pyx: XFER_REASONS)
    XFER_UNAVAILABLE = 1
    XFER_BUSY = 2
    XFER_WITHDRAWN = 3


cdef hnd taking_member(Engine* e, hnd oh, int32_t g, int32_t ch) noexcept nogil:
    """The operator's membership of ``g``, else of its first group that takes channel
    ``ch`` (Group.channels), else -1."""
    cdef hnd mh = O(e, oh).first_member
    while mh != -1 and M(e, mh).group != g:
        mh = M(e, mh).next
    if mh != -1:
        return mh
    mh = O(e, oh).first_member
    while mh != -1 and not e.cfg.takes[<int64_t>M(e, mh).group * e.C + ch]:
        mh = M(e, mh).next
    return mh


cdef bint takes(Engine* e, hnd oh, hnd rh) noexcept nogil:
    """Whether the operator can take the request by a transfer now: online, in a group
    that takes its channel, room for it (cost and cap), and it never declined it."""
    cdef Op* o = O(e, oh)
    return (o.status == OP_ONLINE and taking_member(e, oh, -1, R(e, rh).ch) != -1
            and fits_channel(e, oh, R(e, rh).ch)
            and (R(e, rh).excl == -1 or not excludes(e, rh, oh)))


cdef void drop_transfer(Engine* e, hnd rh) noexcept nogil:
    """End a pending transfer: out of its target's list of incoming transfers."""
    cdef ReqX* x = RX(e, R(e, rh).x)
    cdef Op* o = O(e, x.xfer_to)
    if x.xfer_prev != -1:
        RX(e, R(e, x.xfer_prev).x).xfer_next = x.xfer_next
    else:
        o.in_head = x.xfer_next
    if x.xfer_next != -1:
        RX(e, R(e, x.xfer_next).x).xfer_prev = x.xfer_prev
    else:
        o.in_tail = x.xfer_prev
    x.xfer_prev = -1
    x.xfer_next = -1
    x.xfer_to = -1
    x.xfer_group = -1


cdef void fail_transfer(Engine* e, hnd rh, double now, int8_t reason) noexcept nogil:
    cdef hnd target = xfer_to(e, rh)
    cdef EvRec* ev
    drop_transfer(e, rh)
    ev = ev_new(e, EV_TRANSFER_FAILED, rh, now)
    if ev != NULL:
        ev.op = R(e, rh).op
        ev.aux = target
        ev.flag = reason


cdef void fail_incoming(Engine* e, hnd oh, double now) noexcept nogil:
    """The target left online (or is removed): its pending transfers fail, in order."""
    while O(e, oh).in_head != -1:
        fail_transfer(e, O(e, oh).in_head, now, XFER_UNAVAILABLE)


cdef void take_transfers(Engine* e, hnd oh, double now) noexcept nogil:
    """An operator with room takes the conversations transferred to it, in the order the
    transfers were asked, before any waiting work."""
    cdef hnd rh
    cdef int32_t g
    while O(e, oh).in_head != -1 and O(e, oh).status == OP_ONLINE and O(e, oh).load < O(e, oh).limit:
        rh = O(e, oh).in_head
        while rh != -1 and not takes(e, oh, rh):
            rh = RX(e, R(e, rh).x).xfer_next
        if rh == -1:
            return
        g = RX(e, R(e, rh).x).xfer_group
        drop_transfer(e, rh)
        hand_over(e, rh, oh, g, now)


cdef void hand_over(Engine* e, hnd rh, hnd oh, int32_t g, double now) noexcept nogil:
    """Move the request to the operator (who can take it) through group ``g`` (its first
    group that takes the channel if it is no longer in ``g``): ``Transferred``, then
    ``Assigned`` or ``Offered``. The customer never waited with nobody: the new stay's
    wait starts now."""
    cdef hnd held_by, mh
    cdef EvRec* ev
    cdef bint was_active = R(e, rh).state == ST_ACTIVE
    mh = taking_member(e, oh, g, R(e, rh).ch)
    g = M(e, mh).group
    held_by = restart_in(e, rh, g, now, NULL)
    if R(e, rh).x != -1:
        RX(e, R(e, rh).x).prefer = -1
        RX(e, R(e, rh).x).prefer_until = 0.0
    ev = ev_new(e, EV_TRANSFERRED, rh, now)
    if ev != NULL:
        ev.op = held_by
        ev.group = g
        ev.aux = oh
        ev.flag = 0
    assign(e, rh, mh, now)
    if was_active:
        wait_again(e, rh, now)
    if held_by != -1:
        fill(e, held_by, now)     # the sender's freed slot


cdef void eng_withdraw_transfer(Engine* e, hnd rh, hnd oh, double now) noexcept nogil:
    """A transfer to the operator who holds the conversation: the pending transfer to
    another one is withdrawn (if the call's timers left it pending)."""
    cdef Req* r
    eng_begin(e, now)
    r = R(e, rh)
    if r.op == oh and r.state != ST_QUEUED and xfer_to(e, rh) != -1 and xfer_to(e, rh) != oh:
        fail_transfer(e, rh, now, XFER_WITHDRAWN)


cdef void eng_transfer_to(Engine* e, hnd rh, int32_t g, hnd oh, bint refuse,
                          double now) noexcept nogil:
    """Transfer to an operator (checked by the bindings against the state before the
    call's timers, which may have changed it since)."""
    cdef Req* r
    cdef ReqX* x
    cdef EvRec* ev
    eng_begin(e, now)
    if xfer_to(e, rh) != -1:       # a new transfer replaces the pending one
        drop_transfer(e, rh)
    r = R(e, rh)
    if O(e, oh).status != OP_ONLINE or O(e, oh).first_member == -1:
        ev = ev_new(e, EV_TRANSFER_FAILED, rh, now)
        if ev != NULL:
            ev.op = R(e, rh).op
            ev.aux = oh
            ev.flag = XFER_UNAVAILABLE
        return
    if r.op == oh and r.state != ST_QUEUED:
        return                     # a timer gave it to them already
    if not is_member(e, oh, g):
        g = M(e, taking_member(e, oh, g, r.ch)).group
    if takes(e, oh, rh):
        hand_over(e, rh, oh, g, now)
    elif refuse:
        ev = ev_new(e, EV_TRANSFER_FAILED, rh, now)
        if ev != NULL:
            ev.op = R(e, rh).op
            ev.aux = oh
            ev.flag = XFER_BUSY
    elif r.state == ST_ACTIVE:     # it stays with its operator until the target can
        if th_reserve(&e.timers, 1, &e.mem) < 0:
            e.oom = 1
            return
        x = req_x(e, rh)
        if x == NULL:
            return
        x.xfer_to = oh
        x.xfer_group = <int16_t>g
        x.xfer_n += 1
        x.xfer_next = -1
        x.xfer_prev = O(e, oh).in_tail
        if O(e, oh).in_tail != -1:
            RX(e, R(e, O(e, oh).in_tail).x).xfer_next = rh
        else:
            O(e, oh).in_head = rh
        O(e, oh).in_tail = rh
        push_timer(e, now + e.cfg.transfer_timeout[g], rh, R(e, rh).seq, x.xfer_n,
                   TIMER_TRANSFER, 0)
    else:                          # a waiting customer waits for the target alone
        move(e, rh, g, oh, False, now)
