# Commands on requests: submit (or reject), finish, cancel.

cdef ReqX* req_x(Engine* e, hnd rh) noexcept nogil:
    """The request's ReqX, made (with its "none" values) on first use; NULL when memory
    ran out (``e.oom`` is set). The pointer lasts until the next ReqX is made."""
    cdef hnd x = R(e, rh).x
    cdef ReqX* rx
    if x != -1:
        return RX(e, x)
    if slab_reserve(&e.xs, 1, &e.mem) < 0:
        e.oom = 1
        return NULL
    x = slab_take(&e.xs)
    rx = RX(e, x)
    rx.prefer_until = 0.0
    rx.prefer = -1
    rx.xfer_to = -1
    rx.xfer_prev = -1
    rx.xfer_next = -1
    rx.xfer_n = 0
    rx.xfer_group = -1
    R(e, rh).x = x
    return rx


cdef hnd new_request(Engine* e, int32_t ch, int32_t g, int32_t prio, double now) noexcept nogil:
    cdef hnd rh, eh
    cdef Req* r
    cdef Entry* en
    if slab_reserve(&e.reqs, 1, &e.mem) < 0 or slab_reserve(&e.ents, 1, &e.mem) < 0:
        e.oom = 1
        return -1
    rh = slab_take(&e.reqs)
    eh = slab_take(&e.ents)
    r = R(e, rh)
    r.seq = 0
    r.arrival = now
    r.assigned_at = 0.0
    r.wait_since = now
    r.leg_answered = 0
    r.prio = prio
    r.op = -1
    r.gen = 1
    r.first_entry = eh
    r.last_entry = eh
    r.act_prev = -1
    r.act_next = -1
    r.n_queued = 0
    r.cat = -1
    r.offers = 0
    r.charge = 0
    r.sk = -1
    r.x = -1
    r.res = -1
    r.hold = 0
    r.excl = -1
    r.answered = 0
    r.ret_next = 0
    r.ret_wait = 0
    r.ch = <int16_t>ch
    r.home = <int16_t>g
    r.via = -1
    r.state = ST_QUEUED
    en = EN(e, eh)
    en.req = rh
    en.group = g
    en.pos = -1
    en.sub = -1
    en.next = -1
    return rh


cdef bint eng_overloaded(Engine* e, int32_t g, int32_t c, double now) noexcept nogil:
    """Nobody in the group could answer a conversation of channel ``c`` at once
    (``eng_pick`` finds nobody) and max_queue is reached in its queue of that channel, or
    the wait predicted for a newcomer is longer than max_expected_wait."""
    cdef int64_t qi = <int64_t>g * e.C + c
    cdef int64_t n
    cdef double w
    if e.cfg.max_queue[g] < 0 and e.cfg.max_ewt[g] < 0.0:
        return False
    n = e.qst[qi].len
    if e.cfg.max_queue[g] >= 0 and n >= e.cfg.max_queue[g]:
        if eng_pick(e, g, c, -1) != -1:
            return False      # someone could answer it now: neither limit applies
        return True
    if e.cfg.max_ewt[g] < 0.0:
        return False
    w = eng_newcomer_wait(e, g, c, now)   # 0 when someone could answer it now
    return w >= 0.0 and w > e.cfg.max_ewt[g]


cdef bint eng_reach_able(Engine* e, int32_t g, int32_t c) noexcept nogil:
    """Whether someone online who could take a conversation of channel ``c`` (a limit
    above 0, no cap of 0 for it) is in ``g`` or in a group its rules would add at once
    at a submit now (the same rules as ``expand``; reads only, in ``e.scr.work``)."""
    cdef int64_t n = 1, i = 0, j
    cdef int32_t h, ri, kind, ti, t
    cdef bint fire, seen
    e.scr.work[0] = g
    while i < n:
        h = e.scr.work[i]
        i += 1
        if e.cnt.g_online[h] > e.cnt.g_cant[<int64_t>h * e.C + c]:
            return True
        for ri in range(e.cfg.rule_start[h], e.cfg.rule_start[h + 1]):
            kind = e.cfg.rule_kind[ri]
            if kind == RULE_AFTER:
                fire = e.cfg.rule_value[ri] <= 0.0
            elif kind == RULE_NO_OPS:
                fire = e.cnt.g_online[h] == 0
            else:
                fire = <double>e.cnt.g_waiting[h] >= e.cfg.rule_value[ri]
            if not fire:
                continue
            for ti in range(e.cfg.to_start[ri], e.cfg.to_start[ri + 1]):
                t = e.cfg.to_group[ti]
                if not e.cfg.takes[<int64_t>t * e.C + c]:
                    continue
                seen = False
                for j in range(n):
                    if e.scr.work[j] == t:
                        seen = True
                        break
                if not seen:
                    e.scr.work[n] = t
                    n += 1
    return False


cdef hnd eng_submit(Engine* e, int32_t ch, int32_t g, int32_t prio, uint64_t sk_mask,
                    uint8_t* sk_level, hnd prefer, double prefer_for, double now) noexcept nogil:
    cdef hnd rh, sh
    cdef SkillReq* sk
    cdef ReqX* rx
    eng_begin(e, now)   # first: timers may take entries
    if eng_overloaded(e, g, ch, now):
        return reject(e, ch, g, prio, REJECT_OVERLOADED, now)
    rh = new_request(e, ch, g, prio, now)
    if rh < 0:
        return -1
    e.cnt.c_out[<int64_t>ch * N_OUT + OUT_SUBMITTED] += 1.0
    e.cnt.g_out[<int64_t>g * N_OUT + OUT_SUBMITTED] += 1.0
    e.seq += 1
    R(e, rh).seq = e.seq
    if sk_mask:
        if slab_reserve(&e.skreqs, 1, &e.mem) < 0:
            e.oom = 1
        else:
            sh = slab_take(&e.skreqs)
            sk = &(<SkillReq*>e.skreqs.items)[sh]
            sk.mask = sk_mask
            memcpy(sk.level, sk_level, 64)
            R(e, rh).sk = sh
    if prefer != -1 and O(e, prefer).alive and O(e, prefer).status == OP_ONLINE \
            and is_member(e, prefer, g):
        rx = req_x(e, rh)
        if rx != NULL:
            rx.prefer = prefer
            rx.prefer_until = now + prefer_for
    route_new(e, rh, now)
    if not R(e, rh).answered:   # retention steps, while it waits for its first answer
        push_retention(e, rh, R(e, rh).arrival)
    return rh


cdef hnd eng_reject(Engine* e, int32_t ch, int32_t g, int32_t prio, int8_t reason,
                    double now) noexcept nogil:
    """A submit that is not admitted (hidden group, banned visitor): fire the timers,
    then keep it in history, routed nowhere."""
    eng_begin(e, now)
    return reject(e, ch, g, prio, reason, now)


cdef hnd reject(Engine* e, int32_t ch, int32_t g, int32_t prio, int8_t reason,
                double now) noexcept nogil:
    cdef hnd rh
    cdef EvRec* ev
    rh = new_request(e, ch, g, prio, now)
    if rh < 0:
        return -1
    R(e, rh).state = ST_REJECTED
    e.cnt.c_out[<int64_t>ch * N_OUT + OUT_SUBMITTED] += 1.0
    e.cnt.g_out[<int64_t>g * N_OUT + OUT_SUBMITTED] += 1.0
    e.cnt.c_out[<int64_t>ch * N_OUT + OUT_REJECTED + reason] += 1.0
    e.cnt.g_out[<int64_t>g * N_OUT + OUT_REJECTED + reason] += 1.0
    ev = ev_new(e, EV_REJECTED, rh, now)
    if ev != NULL:
        ev.flag = reason
    retire(e, rh)
    return rh


cdef void eng_finish(Engine* e, hnd rh, double now) noexcept nogil:
    cdef hnd oh
    cdef EvRec* ev
    cdef Req* r
    cdef double wrap
    eng_begin(e, now)
    if xfer_to(e, rh) != -1:
        drop_transfer(e, rh)
    r = R(e, rh)
    wrap = e.cfg.wrap_g[r.via] if e.cfg.wrap_g[r.via] >= 0 else e.cfg.wrap_ch[r.ch]
    if wrap > 0:
        oh = hold_for_wrap_up(e, rh, now + wrap)
    else:
        oh = release(e, rh)
    R(e, rh).state = ST_FINISHED
    retire(e, rh)
    ev = ev_new(e, EV_FINISHED, rh, now)
    if ev != NULL:
        ev.op = oh
    fill(e, oh, now)


cdef inline int cancel_slot(int8_t reason, bint early) noexcept nogil:
    """The outcome counter a cancel adds to where the conversation was not answered
    (pyroute._common.cancel_slot)."""
    if reason == CANCEL_SWITCHED:
        return OUT_SWITCHED
    if reason == CANCEL_BANNED:
        return OUT_REJECTED + REJECT_BANNED
    return OUT_EARLY if early else OUT_ABANDONED


cdef void eng_cancel(Engine* e, hnd rh, int8_t reason, double now) noexcept nogil:
    cdef hnd oh, freed = -1
    eng_begin(e, now)
    oh = cancel(e, rh, now, reason, &freed)
    if oh != -1:
        fill(e, oh, now)
    if freed != -1:   # the operator it held is fed again
        fill(e, freed, now)


cdef void eng_ban_cancel(Engine* e, hnd* rs, int64_t n, double now) noexcept nogil:
    """A ban ends the banned visitor's waiting requests ``rs`` (queued or offered, in
    submission order; the timers have fired): every one is cancelled before the slots
    they free (and the operators reserved for them) take more work."""
    cdef int64_t i
    cdef hnd oh, freed
    for i in range(n):
        freed = -1
        oh = cancel(e, rs[i], now, CANCEL_BANNED, &freed)
        rs[i] = oh if oh != -1 else freed   # an offered one has no reservation
    for i in range(n):
        if rs[i] != -1:
            fill(e, rs[i], now)


cdef hnd cancel(Engine* e, hnd rh, double now, int8_t reason, hnd* freed) noexcept nogil:
    """End the request as cancelled; returns the operator whose slot it freed, or -1, and
    sets ``freed`` to the operator reserved for it, if any. The counter it adds to is
    ``cancel_slot``'s: a customer's cancel is abandoned or early unless answered; a
    switch is switched, a ban's is rejected (banned), never early."""
    cdef bint early
    cdef int slot
    cdef hnd oh = -1
    cdef Req* r
    cdef double waited
    cdef EvRec* ev
    if xfer_to(e, rh) != -1:
        drop_transfer(e, rh)
    r = R(e, rh)
    if r.state == ST_QUEUED:
        if r.hold:
            freed[0] = unhold(e, rh)
        dequeue(e, rh, now, False)
        waited = now - r.wait_since
    else:
        waited = (r.assigned_at if r.state == ST_ACTIVE else now) - r.wait_since
        oh = release(e, rh)
    r = R(e, rh)
    r.op = oh
    r.state = ST_CANCELLED
    early = reason == CANCEL_CUSTOMER and (now - r.arrival) < e.cfg.early[r.ch]
    slot = cancel_slot(reason, early)
    if not r.answered:
        e.cnt.c_out[<int64_t>r.ch * N_OUT + slot] += 1.0
    if not r.leg_answered:
        e.cnt.g_out[<int64_t>r.home * N_OUT + slot] += 1.0
    retire(e, rh)
    ev = ev_new(e, EV_CANCELLED, rh, now)
    if ev != NULL:
        ev.waited = waited
        ev.flag = early
        ev.aux = reason
    return oh
