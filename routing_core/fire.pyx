# Timers coming due: every call first fires the timers due by its ``now``, each as if
# called at its due time.

cdef void eng_begin(Engine* e, double now) noexcept nogil:
    if e.timers.n and e.timers.nodes[0].due <= now:
        eng_fire(e, now)
    e.now = now


cdef void relax_due(Engine* e, double due) noexcept nogil:
    """Before any timer due at ``due`` fires, move every queued request whose skill
    requirements relax then to the sub-heaps of what it still requires, so that no walk at
    ``due`` skips it for a skill it no longer needs (its recheck timer may come after
    others of the same moment). Visits the timers due at ``due`` and their children only."""
    cdef TNode* t
    cdef Req* r
    cdef int64_t k = 0, pos
    if not trav_reserve(e, e.timers.n):
        return
    e.scr.trav[k] = 0
    k += 1
    while k > 0:
        k -= 1
        pos = e.scr.trav[k]
        t = &e.timers.nodes[pos]
        if t.due > due:
            continue
        if t.group == TIMER_RECHECK and t.req < e.reqs.used:
            r = R(e, t.req)
            if r.seq == t.rseq and r.state == ST_QUEUED and r.sk != -1:
                resort_entries(e, t.req, due)
        if 2 * pos + 1 < e.timers.n:
            e.scr.trav[k] = 2 * pos + 1
            k += 1
        if 2 * pos + 2 < e.timers.n:
            e.scr.trav[k] = 2 * pos + 2
            k += 1


cdef void eng_fire(Engine* e, double now) noexcept nogil:
    """Fire the timers due by ``now``, each as if called at its due time."""
    cdef TNode t
    cdef Req* r
    cdef EvRec* ev
    cdef double moved = 0.0
    cdef bint first = True
    while e.timers.n and e.timers.nodes[0].due <= now:
        if first or e.timers.nodes[0].due != moved:
            first = False
            moved = e.timers.nodes[0].due
            relax_due(e, moved)
        th_pop(&e.timers, &t)
        if t.group == TIMER_WRAP_UP:
            if O(e, t.req).alive and O(e, t.req).reg == t.rseq:
                end_wrap_up(e, t.req, t.rule, t.due)
            continue
        if t.group == TIMER_HOLD:
            if HL(e, t.req).alive and HL(e, t.req).n == t.rseq:
                end_hold(e, t.req, HOLD_EXPIRED, t.due)
            continue
        r = R(e, t.req)
        if r.seq != t.rseq or (r.state != ST_QUEUED and r.state != ST_OFFERED
                               and r.state != ST_ACTIVE):
            continue
        if t.group == TIMER_RECHECK:
            if r.state == ST_QUEUED and r.gen == t.gen:
                if not place(e, t.req, r.first_entry, t.due):
                    reserve_for(e, t.req, t.due)
        elif t.group == TIMER_RETENTION:
            if r.state != ST_ACTIVE and r.ret_wait == t.gen and r.ret_next == t.rule:
                r.ret_next += 1
                ev = ev_new(e, EV_RETENTION, t.req, t.due)
                if ev != NULL:
                    ev.ch = r.ch
                    ev.aux = t.rule
        elif t.group == TIMER_OFFER:
            if r.state == ST_OFFERED and r.offers == t.gen:
                expire_offer(e, t.req, t.due)
        elif t.group == TIMER_TRANSFER:
            if r.x != -1 and RX(e, r.x).xfer_to != -1 and RX(e, r.x).xfer_n == t.gen:
                fail_transfer(e, t.req, t.due, XFER_TIMEOUT)
        elif r.state == ST_QUEUED and r.gen == t.gen:
            apply_rule(e, t.req, t.group, t.rule, t.due)
