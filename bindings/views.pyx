# Views: read-only snapshots of operators, conversations, queues and the monitoring
# counters, built from the core's state on demand.

cdef object operator_view(Router self, object operator):
    cdef int32_t* row
    cdef int64_t c
    cdef hnd h = arg_op(self, operator)
    cdef Op* o = O(&self.e, h)
    cdef hnd x
    groups = []
    x = o.first_member
    while x != -1:
        groups.append(self.gnames[M(&self.e, x).group])
        x = M(&self.e, x).next
    active = []
    x = o.act_head
    while x != -1:
        active.append(self.req_ids[x])
        x = R(&self.e, x).act_next
    row = &self.e.op_ch[<int64_t>h * 2 * self.e.C]
    caps = {self.cnames[c]: row[c] for c in range(self.e.C) if row[c] >= 0}
    return OperatorView(self.op_ids[h], STATUSES[o.status], o.limit, o.load,
                        tuple(groups), tuple(active), o.wrap, caps,
                        {self.tags.names[b]: lv for b, lv in op_skills(self, h)},
                        op_levels(self, h), _KINDS[o.kind],
                        self.req_ids[o.res] if o.res >= 0 else None, op_holds(self, h))


cdef tuple op_holds(Router self, hnd h):
    """The ids of the operator's live holds, in the order placed."""
    cdef hnd x = O(&self.e, h).hold_head
    out = []
    while x != -1:
        out.append(self.hold_ids[x])
        x = HL(&self.e, x).next
    return tuple(out)


cdef list queue_ids(Router self, object group, object channel):
    cdef int64_t c, i, s, base
    cdef RQueue* q
    cdef QNode* nodes
    gi = self.gindex.get(group) if isinstance(group, str) else None
    if gi is None:
        raise _errors.unknown("group", group, self.gindex)
    if channel is not None:
        ci = self.cindex.get(channel) if isinstance(channel, str) else None
        if ci is None:
            raise _errors.unknown("channel", channel, self.cindex)
    base = <int64_t>gi * self.e.C
    items = []
    for c in range(self.e.C):
        if channel is not None and c != ci:
            continue
        q = &self.e.queues[base + c]
        for s in range(-1, q.n_subs):     # the queue's own heap, then its sub-heaps
            nodes = q.nodes if s < 0 else q.subs[s].nodes
            for i in range(q.n if s < 0 else q.subs[s].n):
                items.append((nodes[i].k + (0.0 if channel is not None else self.e.cfg.off[base + c]),
                              nodes[i].seq, EN(&self.e, nodes[i].entry).req))
    items.sort()
    return [self.req_ids[x[2]] for x in items]


cdef object stats_view(Router self, object now):
    """The counters of the core, assembled by the function both engines share."""
    cdef Engine* e = &self.e
    cdef int64_t g, c
    t = arg_time(self, now)
    e.now = t                  # read at now: the router is at now, as advance(now) leaves it
    c_rows, g_rows = outcome_rows(self, )
    live = live_figures(self, t)
    return _build_stats(
        t, self._cc, e.cnt.online, e.cnt.free_slots, e.cnt.n_ops,
        [e.cnt.c_waiting[c] for c in range(e.C)], [e.cnt.c_active[c] for c in range(e.C)],
        c_rows,
        [longest_wait(self, &e.cnt.c_age[c], e.cnt.c_waiting[c], t) for c in range(e.C)],
        [e.cnt.g_waiting[g] for g in range(e.G)], [e.cnt.g_active[g] for g in range(e.G)],
        [e.cnt.g_online[g] for g in range(e.G)], [e.cnt.g_free[g] for g in range(e.G)],
        g_rows,
        [longest_wait(self, &e.cnt.g_age[g], e.cnt.g_waiting[g], t) for g in range(e.G)],
        self.cats, live, c_reserved=[e.cnt.c_reserved[c] for c in range(e.C)],
        g_reserved=[e.cnt.g_reserved[g] for g in range(e.G)],
        c_held=[e.cnt.c_held[c] for c in range(e.C)],
        g_held=[e.cnt.g_held[g] for g in range(e.G)])


cdef object live_figures(Router self, double t):
    """Over target (walks of the age heaps: O(those over target)), the sums of arrival
    times (kept), and what the online operators can take: O(operators x (C + G))."""
    cdef Engine* e = &self.e
    cdef int64_t c, g, k, n, free_
    cdef double least
    cdef hnd oh, mh
    cdef Op* o
    cdef int32_t* row
    cdef bint bot
    lv = _Live(e.C, e.G)
    c_over = lv.c_over
    g_over = lv.g_over
    for c in range(e.C):
        n = age_over(e, &e.cnt.c_age[c], t, e.cfg.tw[c]) if e.cnt.c_waiting[c] else 0
        if n < 0:
            self._raise_core()
        c_over[c] = n
    least = INFINITY
    for c in range(e.C):
        if e.cfg.tw[c] < least:
            least = e.cfg.tw[c]
    for g in range(e.G):
        n = age_over(e, &e.cnt.g_age[g], t, least) if e.cnt.g_waiting[g] else 0
        if n < 0:
            self._raise_core()
        g_over[g] = n
    lv.c_arrivals = [e.cnt.c_arr_sum[c] for c in range(e.C)]
    lv.g_arrivals = [e.cnt.g_arr_sum[g] for g in range(e.G)]
    c_take = lv.c_can_take
    c_bot = lv.c_bot_can_take
    g_bots = lv.g_bots_online
    g_bot_free = lv.g_bot_free
    for oh in range(e.ops.used):
        o = O(e, oh)
        if not o.alive or o.status != OP_ONLINE:
            continue
        bot = o.kind == 1
        free_ = o.limit - o.load if o.limit > o.load else 0
        row = &e.op_ch[<int64_t>oh * 2 * e.C]
        for c in range(e.C):
            if taking_member(e, oh, -1, <int32_t>c) == -1:
                continue   # none of its groups takes the channel
            k = free_ // max(charge(e, o, <int32_t>c), 1)
            if row[c] >= 0 and k > row[c] - row[e.C + c]:
                k = row[c] - row[e.C + c]
            if k > 0:
                c_take[c] += k
                if bot:
                    c_bot[c] += k
        if bot:
            lv.bots_online += 1
            lv.bot_free += free_
            mh = o.first_member
            while mh != -1:
                g_bots[M(e, mh).group] += 1
                g_bot_free[M(e, mh).group] += free_
                mh = M(e, mh).next
    return lv


cdef tuple eligible_names(Router self, Req* r):
    cdef hnd eh = r.first_entry
    cdef Entry* en = EN(&self.e, eh)
    if en.next == -1:
        return (self.gnames[en.group],)
    out = []
    while eh != -1:
        en = EN(&self.e, eh)
        out.append(self.gnames[en.group])
        eh = en.next
    return tuple(out)


cdef list op_skills(Router self, hnd h):
    cdef uint8_t* has = &self.e.op_sk[<int64_t>h * 64]
    cdef int b
    return [(b, has[b]) for b in range(64) if has[b]]


cdef dict op_levels(Router self, hnd h):
    cdef hnd x = O(&self.e, h).first_member
    out = {}
    while x != -1:
        if M(&self.e, x).level != 1:
            out[self.gnames[M(&self.e, x).group]] = M(&self.e, x).level
        x = M(&self.e, x).next
    return out


cdef list req_skills(Router self, Req* r):
    cdef SkillReq* sk
    cdef int b
    if r.sk == -1:
        return []
    sk = &(<SkillReq*>self.e.skreqs.items)[r.sk]
    return [(b, sk.level[b]) for b in range(64) if (sk.mask >> b) & 1]


cdef object request_view(Router self, hnd h):
    cdef Req* r = R(&self.e, h)
    cdef int64_t pos = 0
    cdef double w = ewt_waiting(&self.e, h, self.e.now, &pos) if r.state == ST_QUEUED else -1.0
    return RequestView(self.req_ids[h], STATE_NAMES[r.state], self.cnames[r.ch],
                       self.gnames[r.home], r.prio,
                       self.op_ids[r.op] if r.op >= 0 else None, r.arrival,
                       eligible_names(self, r), self.cat_names[r.cat] if r.cat >= 0 else None,
                       declined_names(self, r),
                       {self.tags.names[b]: lv for b, lv in req_skills(self, r)},
                       self.op_ids[xfer_to(&self.e, h)] if xfer_to(&self.e, h) >= 0 else None,
                       self.op_ids[r.res] if r.res >= 0 and r.hold else None,
                       self.switches.from_.get(self.req_ids[h]),
                       self.switches.to.get(self.req_ids[h]),
                       self.req_vis[h] if h < len(self.req_vis) else None,
                       pos if pos > 0 else None, w if w >= 0.0 else None)


cdef tuple declined_names(Router self, Req* r):
    cdef hnd x = r.excl
    if x == -1:
        return ()
    out = []
    while x != -1:
        out.append(self.op_ids[(<Excl*>self.e.excls.items)[x].op])
        x = (<Excl*>self.e.excls.items)[x].next
    return tuple(out)


cdef object longest_wait(Router self, AgeHeap* h, int64_t live, double t):
    cdef hnd x = age_oldest(&self.e, h, live)
    return None if x < 0 else t - R(&self.e, x).arrival


cdef tuple outcome_rows(Router self):
    cdef Engine* e = &self.e
    cdef int64_t c, g, k
    return ([[e.cnt.c_out[c * N_OUT + k] for k in range(N_OUT)] for c in range(e.C)],
            [[e.cnt.g_out[g * N_OUT + k] for k in range(N_OUT)] for g in range(e.G)])
