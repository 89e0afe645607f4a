# Routing a request that enters the queue: the overflow rules of its groups (at once, or
# as timers for later), retention steps and rechecks; and the when_no_operators sweep.

cdef inline bint is_eligible(Engine* e, Req* r, int32_t g) noexcept nogil:
    cdef hnd eh = r.first_entry
    cdef Entry* en
    while eh != -1:
        en = EN(e, eh)
        if en.group == g:
            return True
        eh = en.next
    return False


cdef int64_t add_groups(Engine* e, hnd rh, int32_t g, int32_t ri, double now,
                        int64_t n) noexcept nogil:
    """Rule ``ri`` (global index) of group ``g`` fires: append the targets the request is
    not yet eligible for to its entries and to ``e.scr.work[n:]``; returns the new ``n``."""
    cdef int32_t i, t, added = 0
    cdef int32_t nt = e.cfg.to_start[ri + 1] - e.cfg.to_start[ri]
    cdef int64_t start
    cdef hnd eh
    cdef Req* r
    cdef Entry* en
    cdef EvRec* ev
    if slab_reserve(&e.ents, nt, &e.mem) < 0 or pr_grow(
            <void**>&e.evs.groups, &e.evs.cap_groups, e.evs.n_groups + nt, sizeof(int32_t), &e.mem) < 0:
        e.oom = 1
        return n
    start = e.evs.n_groups
    r = R(e, rh)
    for i in range(e.cfg.to_start[ri], e.cfg.to_start[ri + 1]):
        t = e.cfg.to_group[i]
        if not e.cfg.takes[<int64_t>t * e.C + r.ch] or is_eligible(e, r, t):
            continue
        eh = slab_take(&e.ents)
        en = EN(e, eh)
        en.req = rh
        en.group = t
        en.pos = -1
        en.sub = -1
        en.next = -1
        EN(e, r.last_entry).next = eh
        r.last_entry = eh
        e.scr.work[n] = t
        n += 1
        e.evs.groups[e.evs.n_groups] = t
        e.evs.n_groups += 1
        added += 1
    if added:
        ev = ev_new(e, EV_OVERFLOWED, rh, now)
        if ev != NULL:
            ev.group = g
            ev.aux = <int32_t>start
            ev.naux = added
            ev.flag = <int8_t>e.cfg.rule_kind[ri]
    return n


cdef int64_t expand(Engine* e, hnd rh, int64_t n, double now) noexcept nogil:
    """Evaluate the rules of the groups in ``e.scr.work[:n]`` and of every group they add.
    Rules waiting for a later time go to ``e.scr.pending``. Returns the new ``n``."""
    cdef int64_t i = 0
    cdef int32_t g, ri, kind
    cdef bint fire
    cdef double due
    while i < n:
        g = e.scr.work[i]
        i += 1
        for ri in range(e.cfg.rule_start[g], e.cfg.rule_start[g + 1]):
            kind = e.cfg.rule_kind[ri]
            if kind == RULE_AFTER:
                due = R(e, rh).arrival + e.cfg.rule_value[ri]
                fire = due <= now
                if not fire:
                    e.scr.pending[e.scr.n_pending].due = due
                    e.scr.pending[e.scr.n_pending].group = g
                    e.scr.pending[e.scr.n_pending].rule = ri - e.cfg.rule_start[g]
                    e.scr.n_pending += 1
            elif kind == RULE_NO_OPS:
                fire = e.cnt.g_online[g] == 0
            else:
                fire = <double>e.cnt.g_waiting[g] >= e.cfg.rule_value[ri]
            if fire:
                n = add_groups(e, rh, g, ri, now, n)
    return n


cdef inline void push_pending(Engine* e, hnd rh) noexcept nogil:
    """Set the overflow timers that expand() left for later."""
    cdef int64_t i
    if e.scr.n_pending == 0:
        return
    if th_reserve(&e.timers, e.scr.n_pending, &e.mem) < 0:
        e.oom = 1
        return
    for i in range(e.scr.n_pending):
        push_timer(e, e.scr.pending[i].due, rh, R(e, rh).seq, R(e, rh).gen, e.scr.pending[i].group,
                   e.scr.pending[i].rule)
    e.scr.n_pending = 0


cdef inline void push_retention(Engine* e, hnd rh, double start) noexcept nogil:
    """The channel's retention steps, counted from ``start`` (numbered by the wait)."""
    cdef Req* r = R(e, rh)
    cdef int32_t i, first = e.cfg.ret_start[r.ch], last = e.cfg.ret_start[r.ch + 1]
    for i in range(first, last):
        r = R(e, rh)
        push_timer(e, start + e.cfg.ret_after[i], rh, r.seq, r.ret_wait, TIMER_RETENTION,
                   i - first)


cdef inline void wait_again(Engine* e, hnd rh, double now) noexcept nogil:
    """An answered conversation that was just routed anew: if it waits again (queued, or
    offered), its retention steps start again from ``now``."""
    cdef Req* r = R(e, rh)
    if r.state != ST_ACTIVE and e.cfg.ret_start[r.ch] != e.cfg.ret_start[r.ch + 1]:
        r.ret_wait += 1
        r.ret_next = 0
        push_retention(e, rh, now)


cdef void push_rechecks(Engine* e, hnd rh, hnd eh, bint relax, double now) noexcept nogil:
    """Timers for the moments more operators become eligible for the waiting request: its
    skill requirements relax (home group's rules), or the next tier of one of its groups
    (from entry ``eh`` on) comes due."""
    cdef Req* r = R(e, rh)
    cdef int32_t i, level, g
    cdef double due
    if relax and r.x != -1 and RX(e, r.x).prefer != -1 and RX(e, r.x).prefer_until > now:
        push_timer(e, RX(e, r.x).prefer_until, rh, r.seq, r.gen, TIMER_RECHECK, 0)
        r = R(e, rh)
    if relax and r.sk != -1:
        for i in range(e.cfg.relax_start[r.home], e.cfg.relax_start[r.home + 1]):
            due = r.arrival + e.cfg.relax_after[i]
            if due > now:
                push_timer(e, due, rh, r.seq, r.gen, TIMER_RECHECK, 0)
                r = R(e, rh)
    while eh != -1:
        g = EN(e, eh).group
        if e.cfg.level_step[g] >= 0:
            for level in range(2, 6):
                due = r.arrival + <double>(level - 1) * e.cfg.level_step[g]
                if due > now:
                    push_timer(e, due, rh, r.seq, r.gen, TIMER_RECHECK, 0)
                    r = R(e, rh)
        eh = EN(e, eh).next


cdef void route_new(Engine* e, hnd rh, double now) noexcept nogil:
    """Route a request entering the queue (submitted or requeued)."""
    cdef Req* r = R(e, rh)
    cdef int64_t n = 0, pos
    cdef hnd eh = r.first_entry
    cdef EvRec* ev
    e.scr.n_pending = 0
    while eh != -1:
        e.scr.work[n] = EN(e, eh).group
        n += 1
        eh = EN(e, eh).next
    expand(e, rh, n, now)
    if place(e, rh, R(e, rh).first_entry, now):
        e.scr.n_pending = 0
        return
    eh = R(e, rh).first_entry
    while eh != -1:
        enqueue_entry(e, eh, now)
        eh = EN(e, eh).next
    push_pending(e, rh)
    push_rechecks(e, rh, R(e, rh).first_entry, True, now)
    r = R(e, rh)
    if e.cfg.reserve[r.ch]:   # fits nobody: it may reserve an operator
        r.hold = 1
        e.cnt.unres += 1
        reserve_for(e, rh, now)
        r = R(e, rh)
    ev = ev_new(e, EV_QUEUED, rh, now)
    if ev != NULL:
        ev.group = r.home
        ev.ch = r.ch
        ev.waited = ewt_waiting(e, rh, now, &pos)
        ev.aux = <int32_t>pos   # < 2^31: a queue is capped by Req handles


cdef void apply_rule(Engine* e, hnd rh, int32_t g, int32_t local_ri, double now) noexcept nogil:
    """Apply one rule to a queued request; route it among the groups it gains."""
    cdef hnd last = R(e, rh).last_entry
    cdef hnd first_new, eh
    cdef int64_t n
    e.scr.n_pending = 0
    n = add_groups(e, rh, g, e.cfg.rule_start[g] + local_ri, now, 0)
    if n == 0:
        return
    expand(e, rh, n, now)
    first_new = EN(e, last).next
    if place(e, rh, first_new, now):
        e.scr.n_pending = 0
        return
    eh = first_new
    while eh != -1:
        enqueue_entry(e, eh, now)
        eh = EN(e, eh).next
    push_pending(e, rh)
    push_rechecks(e, rh, first_new, False, now)
    reserve_for(e, rh, now)


cdef int cmp_pairs(const void* a, const void* b) noexcept nogil:
    cdef int64_t x = (<int64_t*>a)[0]
    cdef int64_t y = (<int64_t*>b)[0]
    return (x > y) - (x < y)


cdef inline bint tmp_reserve(Engine* e, int64_t pairs) noexcept nogil:
    if pr_grow(<void**>&e.scr.tmp, &e.scr.cap_tmp, 2 * pairs, sizeof(int64_t), &e.mem) < 0:
        e.oom = 1
        return False
    return True


cdef void sweep(Engine* e, int64_t n, double now) noexcept nogil:
    """``when_no_operators`` rules of the groups in ``e.scr.work2[:n]`` that have just lost
    their last online operator, applied to their waiting requests in submission order."""
    cdef int64_t i, j, c, k, s, count
    cdef int32_t g, ri
    cdef RQueue* q
    cdef QNode* nodes
    cdef int64_t nn
    cdef hnd rh
    for i in range(n):
        g = e.scr.work2[i]
        if e.cnt.g_online[g] != 0 or not e.cfg.has_no_ops[g]:
            continue
        if not tmp_reserve(e, e.cnt.g_waiting[g]):
            return
        count = 0
        for c in range(e.C):
            q = &e.queues[<int64_t>g * e.C + c]
            for s in range(-1, q.n_subs):     # the queue's own heap, then its sub-heaps
                nodes = q.nodes if s < 0 else q.subs[s].nodes
                nn = q.n if s < 0 else q.subs[s].n
                for k in range(nn):
                    rh = EN(e, nodes[k].entry).req
                    e.scr.tmp[2 * count] = R(e, rh).seq
                    e.scr.tmp[2 * count + 1] = rh
                    count += 1
        if count > 1:
            qsort(e.scr.tmp, <size_t>count, 2 * sizeof(int64_t), cmp_pairs)
        for j in range(count):
            rh = <hnd>e.scr.tmp[2 * j + 1]
            for ri in range(e.cfg.rule_start[g], e.cfg.rule_start[g + 1]):
                if e.cfg.rule_kind[ri] == RULE_NO_OPS and R(e, rh).state == ST_QUEUED:
                    apply_rule(e, rh, g, ri - e.cfg.rule_start[g], now)
