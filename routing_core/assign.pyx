# Assignment: a request goes to a member's operator (or is offered), a slot is released
# or held for wrap-up, and an operator with room pulls the best waiting work (fill).

cdef inline void assign(Engine* e, hnd rh, hnd mh, double now) noexcept nogil:
    cdef Member* m = M(e, mh)
    cdef hnd oh = m.op
    cdef int32_t g = m.group
    cdef Op* o
    cdef Req* r
    cdef EvRec* ev
    cdef hnd freed = -1
    cdef int64_t was
    if R(e, rh).hold:
        freed = unhold(e, rh)
    dequeue(e, rh, now, True)
    o = O(e, oh)
    was = counted_free(o)
    e.tick += 1
    r = R(e, rh)
    r.charge = charge(e, o, r.ch)
    o.load += r.charge
    e.op_ch[<int64_t>oh * 2 * e.C + e.C + r.ch] += 1
    o.handled += 1
    o.last_assign = e.tick
    o.idle = e.tick
    m.rr = e.tick
    if e.cfg.policy[g] == POL_RANDOM:
        m.rand = <double>pr_splitmix(<unsigned long long*>&e.rng[g])
    reslot(e, oh, was)
    r = R(e, rh)
    r.act_prev = o.act_tail
    r.act_next = -1
    if o.act_tail != -1:
        R(e, o.act_tail).act_next = rh
    else:
        o.act_head = rh
    o.act_tail = rh
    r.op = oh
    r.via = <int16_t>g
    r.assigned_at = now
    e.cnt.g_active[g] += 1
    e.cnt.c_active[r.ch] += 1
    if e.cfg.accept_timeout[g] < 0:
        r.state = ST_ACTIVE
        answered(e, rh, g, now)
        r = R(e, rh)
        ev = ev_new(e, EV_ASSIGNED, rh, now)
        if ev != NULL:
            ev.op = oh
            ev.group = g
            ev.ch = r.ch
            ev.waited = now - r.wait_since
        if freed != -1:   # the operator it held is fed again
            fill(e, freed, now)
        return
    r.state = ST_OFFERED
    r.offers += 1
    push_timer(e, now + e.cfg.accept_timeout[g], rh, r.seq, r.offers, TIMER_OFFER, 0)
    r = R(e, rh)
    ev = ev_new(e, EV_OFFERED, rh, now)
    if ev != NULL:
        ev.op = oh
        ev.group = g
        ev.ch = r.ch
        ev.waited = now + e.cfg.accept_timeout[g]     # expires_at
    if freed != -1:
        fill(e, freed, now)


cdef inline void count_answer(double* row, double waited, double target) noexcept nogil:
    row[OUT_ANSWERED] += 1.0
    row[OUT_WAIT] += waited
    if waited <= target:
        row[OUT_WITHIN] += 1.0


cdef inline void answered(Engine* e, hnd rh, int32_t g, double now) noexcept nogil:
    """Count an answer (assigned, or an offer accepted): once per request in its channel's
    row (waited from arrival), once per stay in a group in the row of the group that
    answered it (waited since it last started waiting)."""
    cdef Req* r = R(e, rh)
    if not r.answered:
        r.answered = 1
        count_answer(&e.cnt.c_out[<int64_t>r.ch * N_OUT], now - r.arrival, e.cfg.tw[r.ch])
    if not r.leg_answered:
        r.leg_answered = 1
        count_answer(&e.cnt.g_out[<int64_t>g * N_OUT], now - r.wait_since, e.cfg.tw[r.ch])


cdef inline void unlink_active(Engine* e, hnd rh, Op* o) noexcept nogil:
    cdef Req* r = R(e, rh)
    if r.act_prev != -1:
        R(e, r.act_prev).act_next = r.act_next
    else:
        o.act_head = r.act_next
    if r.act_next != -1:
        R(e, r.act_next).act_prev = r.act_prev
    else:
        o.act_tail = r.act_prev
    r.act_prev = -1
    r.act_next = -1


cdef inline hnd release(Engine* e, hnd rh) noexcept nogil:
    """Free the slot a request holds; returns its operator."""
    cdef Req* r = R(e, rh)
    cdef hnd oh = r.op
    cdef Op* o = O(e, oh)
    cdef int64_t was = counted_free(o)
    e.tick += 1
    o.load -= r.charge
    e.op_ch[<int64_t>oh * 2 * e.C + e.C + r.ch] -= 1
    o.idle = e.tick
    reslot(e, oh, was)
    unlink_active(e, rh, o)
    e.cnt.g_active[r.via] -= 1
    e.cnt.c_active[r.ch] -= 1
    return oh


cdef inline bint place(Engine* e, hnd rh, hnd eh, double now) noexcept nogil:
    """Give the request to the policy's pick of the first group (from entry ``eh`` on)
    that has an operator with room."""
    cdef Entry* en
    cdef hnd mh
    cdef Req* r = R(e, rh)
    cdef hnd prefer = -1
    cdef double until = 0.0
    if r.x != -1:
        prefer = RX(e, r.x).prefer
        until = RX(e, r.x).prefer_until
    if prefer != -1 and now <= until and eh == r.first_entry:
        mh = O(e, prefer).first_member if O(e, prefer).alive else -1
        while mh != -1 and M(e, mh).group != r.home:
            mh = M(e, mh).next
        if (mh != -1 and M(e, mh).pos >= 0 and fits(e, mh, rh, now)
                and not held(e, prefer, rh)):
            assign(e, rh, mh, now)
            return True
        if now < until:
            return False
    while eh != -1:
        en = EN(e, eh)
        mh = oh_best_allowed(e, &e.oheaps[en.group], rh, now)
        if mh != -1:
            assign(e, rh, mh, now)
            return True
        eh = en.next
    return False


cdef void fill(Engine* e, hnd oh, double now) noexcept nogil:
    """Let an operator with room pull the best waiting requests it can serve."""
    cdef Op* o = O(e, oh)
    cdef hnd mh, best_entry, best_m
    cdef Member* m
    cdef RQueue* q
    cdef int64_t base, best_seq, c, pos
    cdef double key, best_key
    cdef Best sb
    cdef HasSkills has
    has.known = False
    if o.in_head != -1:
        take_transfers(e, oh, now)
        o = O(e, oh)
    while o.status == OP_ONLINE:
        if o.res == -1 and e.cnt.unres != 0:
            claim(e, oh, now)
            o = O(e, oh)
        if o.load >= o.limit:
            return
        best_entry = -1
        best_m = -1
        best_key = 0.0
        best_seq = 0
        mh = o.first_member
        while mh != -1:
            m = M(e, mh)
            base = <int64_t>m.group * e.C
            if e.g_subq[m.group]:     # requests requiring skills wait in the group
                sb.entry = -1
                best_in_subs(e, &sb, mh, base, &has, now)
                if sb.entry != -1 and (best_entry == -1 or sb.key < best_key
                                       or (sb.key == best_key and sb.seq < best_seq)):
                    best_entry = sb.entry
                    best_key = sb.key
                    best_seq = sb.seq
                    best_m = mh
            for c in range(e.C):
                q = &e.queues[base + c]
                if q.n == 0:
                    continue
                key = q.nodes[0].k + e.cfg.off[base + c]
                if best_entry != -1 and key > best_key:
                    continue   # its top, and so all it holds, ranks below the best found
                    # (a tie goes on to the walk: k + off may round two keys together)
                if not fits_channel(e, oh, <int32_t>c):
                    continue
                pos = rq_best_allowed(e, q.nodes, q.n, mh, now)
                if pos < 0:
                    continue
                key = q.nodes[pos].k + e.cfg.off[base + c]
                if (best_entry == -1 or key < best_key
                        or (key == best_key and q.nodes[pos].seq < best_seq)):
                    best_entry = q.nodes[pos].entry
                    best_key = key
                    best_seq = q.nodes[pos].seq
                    best_m = mh
            mh = m.next
        if best_entry == -1:
            return
        if (o.res != -1 and EN(e, best_entry).req != o.res
                and ranks_below(e, oh, EN(e, best_entry).req, o.res)):
            return   # held for a request that ranks above all it could take
        assign(e, EN(e, best_entry).req, best_m, now)
        o = O(e, oh)


cdef hnd hold_for_wrap_up(Engine* e, hnd rh, double until) noexcept nogil:
    """Finish with wrap-up: the conversation leaves, its slot stays taken until ``until``."""
    cdef Req* r = R(e, rh)
    cdef hnd oh = r.op
    cdef Op* o
    cdef int64_t was
    if th_reserve(&e.timers, 1, &e.mem) < 0:   # first, so push_timer below cannot fail
        e.oom = 1
        return release(e, rh)
    o = O(e, oh)
    was = counted_free(o)
    e.tick += 1
    o.wrap += r.charge
    e.op_ch[<int64_t>oh * 2 * e.C + e.C + r.ch] -= 1
    o.idle = e.tick
    reslot(e, oh, was)
    unlink_active(e, rh, o)
    e.cnt.g_active[r.via] -= 1
    e.cnt.c_active[r.ch] -= 1
    push_timer(e, until, oh, o.reg, 0, TIMER_WRAP_UP, R(e, rh).charge)
    return oh


cdef void end_wrap_up(Engine* e, hnd oh, int32_t slots, double now) noexcept nogil:
    cdef Op* o = O(e, oh)
    cdef int64_t was = counted_free(o)
    e.tick += 1
    o.wrap -= slots
    o.load -= slots
    o.idle = e.tick
    reslot(e, oh, was)
    fill(e, oh, now)
