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
    cdef Req* r
    cdef hnd held_by = -1, eh, nxt
    cdef EvRec* ev
    eng_begin(e, now)
    if slab_reserve(&e.ents, 1, &e.mem) < 0:
        e.oom = 1
        return
    r = R(e, rh)
    if r.state == ST_ACTIVE:
        r.wait_since = now   # an answered conversation starts waiting again
    r.leg_answered = 0       # a new stay, counted in the group that takes it
    if r.state == ST_QUEUED:
        dequeue(e, rh)
    else:
        held_by = r.op
        release(e, rh)
    r = R(e, rh)
    r.state = ST_QUEUED
    r.op = -1
    r.via = -1
    r.gen += 1
    eh = r.first_entry
    while eh != -1:
        nxt = EN(e, eh).next
        slab_give(&e.ents, eh, &e.mem)
        eh = nxt
    eh = slab_take(&e.ents)
    EN(e, eh).req = rh
    EN(e, eh).group = g
    EN(e, eh).pos = -1
    EN(e, eh).sub = -1
    EN(e, eh).next = -1
    r = R(e, rh)
    r.first_entry = eh
    r.last_entry = eh
    r.home = <int16_t>g
    r.prefer = target
    r.prefer_until = now + e.cfg.transfer_timeout[g] if target != -1 else 0.0
    ev = ev_new(e, EV_TRANSFERRED, rh, now)
    if ev != NULL:
        ev.op = held_by
        ev.group = g
        ev.aux = target
        ev.flag = escalated
    route_new(e, rh, now)
