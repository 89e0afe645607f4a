# The full state in the reference engine's canonical form (``Router._state``): what the
# differential tests compare after every step.

cdef list hold_list(Router self):
    """The live holds in the order placed: (id, operator, group, channel, charge, until,
    number)."""
    cdef Engine* e = &self.e
    cdef Hold* h
    cdef int64_t i
    items = []
    for i in range(e.hlds.used):
        h = HL(e, <hnd>i)
        if h.alive:
            items.append((h.n, (self.hold_ids[i], self.op_ids[h.op], self.gnames[h.group],
                                self.cnames[h.ch], h.charge, h.until, h.n)))
    items.sort(key=lambda p: p[0])
    return [p[1] for p in items]


cdef dict state_dump(Router self):
    cdef Engine* e = &self.e
    cdef int64_t i, c, g
    cdef Op* o
    cdef Req* r
    cdef Member* m
    cdef hnd x
    cdef ReqX* rx
    cdef ReqX no_x      # what a request without a ReqX reads as
    no_x.prefer_until = 0.0
    no_x.prefer = -1
    no_x.xfer_to = -1
    no_x.xfer_n = 0
    no_x.xfer_group = -1
    gn, cn = self.gnames, self.cnames
    ops = []
    for i in range(e.ops.used):
        o = O(e, <hnd>i)
        if not o.alive:
            continue
        members = []
        x = o.first_member
        while x != -1:
            m = M(e, x)
            members.append((gn[m.group], m.join, m.rr, m.rand, m.level))
            x = m.next
        active = []
        x = o.act_head
        while x != -1:
            active.append(self.req_ids[x])
            x = R(e, x).act_next
        incoming = []
        x = o.in_head
        while x != -1:
            incoming.append(self.req_ids[x])
            x = RX(e, R(e, x).x).xfer_next
        ops.append((o.reg, (self.op_ids[i], STATUSES[o.status], o.limit, o.load, o.wrap,
                            o.missed,
                            tuple([e.op_ch[i * 2 * e.C + c] for c in range(e.C)]),
                            tuple([e.op_ch[i * 2 * e.C + e.C + c] for c in range(e.C)]),
                            op_skills(self, <hnd>i), o.kind,
                            o.reg, o.last_assign, o.idle, o.handled, tuple(active),
                             tuple(members), tuple(incoming),
                             self.req_ids[o.res] if o.res >= 0 else None,
                             op_holds(self, <hnd>i))))
    ops.sort(key=lambda p: p[0])
    reqs = []
    for i in range(e.reqs.used):
        r = R(e, <hnd>i)
        if r.state == ST_FREE or r.state > ST_ACTIVE:
            continue
        queued_in = []
        x = r.first_entry
        while x != -1:
            if EN(e, x).pos >= 0:
                queued_in.append(gn[EN(e, x).group])
            x = EN(e, x).next
        rx = RX(e, r.x) if r.x != -1 else &no_x
        reqs.append((r.seq, (self.req_ids[i], STATE_NAMES[r.state],
                             cn[r.ch], gn[r.home], r.prio, r.arrival, req_key(e, r), r.seq, r.gen,
                             self.op_ids[r.op] if r.op >= 0 else None,
                             gn[r.via] if r.via >= 0 else None,
                             r.assigned_at if r.state != ST_QUEUED else None,
                             eligible_names(self, r), tuple(queued_in),
                             self.cat_names[r.cat] if r.cat >= 0 else None,
                             bool(r.answered), r.ret_next, r.offers, declined_names(self, r),
                             r.charge, req_skills(self, r),
                             self.op_ids[rx.prefer] if rx.prefer >= 0 else None,
                             rx.prefer_until if rx.prefer >= 0 else None,
                             self.op_ids[rx.xfer_to] if rx.xfer_to >= 0 else None,
                             gn[rx.xfer_group] if rx.xfer_to >= 0 else None,
                             rx.xfer_n, r.ret_wait,
                             bool(r.hold), self.op_ids[r.res] if r.res >= 0 else None,
                             r.wait_since, bool(r.leg_answered),
                             self.req_vis[i] if i < len(self.req_vis) else None)))
    reqs.sort(key=lambda p: p[0])
    queues = {}
    for g in range(e.G):
        for c in range(e.C):
            if rq_len(&e.queues[g * e.C + c]):
                queues[f"{gn[g]}/{cn[c]}"] = self.queue(gn[g], cn[c])
    opsets = {}
    for g in range(e.G):
        if e.oheaps[g].n:
            items = sorted((e.oheaps[g].nodes[i].p, e.oheaps[g].nodes[i].s1,
                            e.oheaps[g].nodes[i].s2,
                            self.op_ids[M(e, e.oheaps[g].nodes[i].member).op])
                           for i in range(e.oheaps[g].n))
            opsets[gn[g]] = [it[3] for it in items]
    timers = sorted((e.timers.nodes[i].due, e.timers.nodes[i].tseq, i)
                    for i in range(e.timers.n))
    tlist = []
    for (_, _, i) in timers:
        tn = e.timers.nodes[i]
        if tn.group == TIMER_WRAP_UP:
            live = O(e, tn.req).alive and O(e, tn.req).reg == tn.rseq
            rid = self.op_ids[tn.req] if live else None
            kind = "wrap_up"
        elif tn.group == TIMER_HOLD:
            live = HL(e, tn.req).alive and HL(e, tn.req).n == tn.rseq
            rid = self.hold_ids[tn.req] if live else None
            kind = "hold"
        else:
            r = R(e, tn.req)
            live = r.state <= ST_ACTIVE and r.state != ST_FREE and r.seq == tn.rseq
            rid = self.req_ids[tn.req] if live else None
            kind = ("overflow" if tn.group >= 0 else "transfer" if tn.group == TIMER_TRANSFER
                    else "retention")
        tlist.append((tn.due, kind, rid, tn.rseq, tn.gen,
                      gn[tn.group] if tn.group >= 0 else None, tn.rule))
    history = [request_view(self, e.hist.ring[(e.hist.head + i) % e.hist.limit])
               for i in range(e.hist.n)]
    return {
        "now": e.now, "seq": e.seq, "reg": e.reg, "join": e.join, "tick": e.tick,
        "rng": [e.rng[g] for g in range(e.G)],
        "operators": [p[1] for p in ops], "requests": [p[1] for p in reqs],
        "queues": queues, "opsets": opsets, "timers": tlist, "history": history,
        "switches": self.switches.state(),
        "bans": self.bans_.state(), "categories": dict(self.cats.counts),
        "outcomes": outcome_rows(self, ),
        "skills": list(self.tags.names),
        "sticky": [(v, op, at) for v, (op, at) in self.last_op.items()],
        "pending": list(self.pending),
        "holds": hold_list(self),
        "hseq": e.hseq,
        "ewt": [(e.qst[i].last, e.qst[i].pm, e.qst[i].pa, e.qst[i].n, e.qst[i].mw,
                 e.qst[i].a, e.qst[i].s) for i in range(<int64_t>e.G * e.C)],
        "live": ([e.cnt.c_arr_sum[c] for c in range(e.C)],
                 [e.cnt.g_arr_sum[g] for g in range(e.G)],
                 {ck: dict(cv) for ck, cv in self.cats.by_channel.items() if cv},
                 {gk: dict(gv) for gk, gv in self.cats.by_group.items() if gv}),
        "counters": ([e.cnt.g_waiting[g] for g in range(e.G)],
                     [e.cnt.g_online[g] for g in range(e.G)],
                     [e.cnt.g_free[g] for g in range(e.G)],
                     [e.cnt.g_active[g] for g in range(e.G)],
                     [e.cnt.c_waiting[c] for c in range(e.C)],
                     [e.cnt.c_active[c] for c in range(e.C)], e.cnt.online, e.cnt.free_slots,
                     e.cnt.unres),
    }
