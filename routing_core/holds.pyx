# Holds: a pick that keeps its slot. A host that assigns conversations itself and tells
# the router later (Rocket.Chat's External Queue Service) holds the slot of the operator
# it was told, so the next question names someone else. A hold charges the operator's
# load and its count of the channel exactly as an assignment does (so every path that
# reads them needs no change), but it is no assignment: tick, handled and last_assign
# stay. It ends by release_hold, by its timer, or when its operator leaves online or is
# removed; docs/semantics.md, "Holds".

cdef inline void charge_hold(Engine* e, hnd oh, int32_t c, int32_t slots,
                             int32_t d) noexcept nogil:
    """Add (``d`` = 1) or take back (-1) a hold of channel ``c`` worth ``slots``."""
    detach(e, oh)
    O(e, oh).load += d * slots
    e.op_ch[<int64_t>oh * 2 * e.C + e.C + c] += d
    attach(e, oh)


cdef hnd eng_hold(Engine* e, int32_t g, int32_t c, hnd excl, double until,
                  double now) noexcept nogil:
    """Hold one conversation's worth of channel ``c`` on the operator ``eng_pick`` names:
    ``EV_HELD``; or ``EV_HOLD_REFUSED`` and -1 when nobody could take one."""
    cdef hnd oh, hh
    cdef Hold* h
    cdef Op* o
    cdef EvRec* ev
    if (slab_reserve(&e.hlds, 1, &e.mem) < 0 or th_reserve(&e.timers, 1, &e.mem) < 0
            or (e.evs.n + 2 > e.evs.cap and pr_grow(<void**>&e.evs.recs, &e.evs.cap,
                                                    e.evs.n + 2, sizeof(EvRec), &e.mem) < 0)):
        e.oom = 1
        return -1
    eng_begin(e, now)
    oh = eng_pick(e, g, c, excl) if e.cfg.takes[<int64_t>g * e.C + c] else -1
    if oh < 0:
        ev = ev_new(e, EV_HOLD_REFUSED, -1, now)
        if ev != NULL:
            ev.group = g
            ev.ch = c
        return -1
    if slab_reserve(&e.hlds, 1, &e.mem) < 0:   # the fire may have used what was reserved
        e.oom = 1
        return -1
    o = O(e, oh)
    hh = slab_take(&e.hlds)
    h = HL(e, hh)
    e.hseq += 1
    h.until = until
    h.n = e.hseq
    h.op = oh
    h.group = g
    h.ch = <int16_t>c
    h.charge = charge(e, o, c)
    h.alive = 1
    h.next = -1
    h.prev = o.hold_tail
    if o.hold_tail != -1:
        HL(e, o.hold_tail).next = hh
    else:
        o.hold_head = hh
    o.hold_tail = hh
    charge_hold(e, oh, c, h.charge, 1)
    e.cnt.c_held[c] += 1
    e.cnt.g_held[g] += 1
    push_timer(e, until, hh, e.hseq, 0, TIMER_HOLD, 0)
    ev = ev_new(e, EV_HELD, hh, now)
    if ev != NULL:
        ev.op = oh
        ev.group = g
        ev.ch = c
        ev.waited = until
    return hh


cdef void end_hold(Engine* e, hnd hh, int8_t reason, double now) noexcept nogil:
    """End a live hold: its slots are free again (``EV_HOLD_ENDED``). Released or expired
    while its operator is online, the slot goes first to the waiting requests that prefer
    that operator, then as any freed slot (fill)."""
    cdef Hold* h = HL(e, hh)
    cdef hnd oh = h.op
    cdef Op* o = O(e, oh)
    cdef EvRec* ev
    if h.prev != -1:
        HL(e, h.prev).next = h.next
    else:
        o.hold_head = h.next
    if h.next != -1:
        HL(e, h.next).prev = h.prev
    else:
        o.hold_tail = h.prev
    h.prev = -1
    h.next = -1
    h.alive = 0
    charge_hold(e, oh, h.ch, h.charge, -1)
    h = HL(e, hh)
    e.cnt.c_held[h.ch] -= 1
    e.cnt.g_held[h.group] -= 1
    push_dead(e, &e.hist.dead_holds, &e.hist.n_dead_holds, &e.hist.cap_dead_holds, hh)
    ev = ev_new(e, EV_HOLD_ENDED, hh, now)
    if ev != NULL:
        ev.op = oh
        ev.flag = reason
    if O(e, oh).status == OP_ONLINE:
        take_preferring(e, oh, now)
        fill(e, oh, now)


cdef void end_holds(Engine* e, hnd oh, int8_t reason, double now) noexcept nogil:
    """The operator left online or is removed: its holds end, in the order placed."""
    while O(e, oh).hold_head != -1:
        end_hold(e, O(e, oh).hold_head, reason, now)


cdef void eng_release_hold(Engine* e, hnd hh, double now) noexcept nogil:
    eng_begin(e, now)
    if HL(e, hh).alive:
        end_hold(e, hh, HOLD_RELEASED, now)


cdef inline void best_preferring(Engine* e, QNode* nodes, int64_t n, hnd oh, hnd mh,
                                 double off, Best* b, double now) noexcept nogil:
    """The best node of a heap (any order) that prefers ``oh`` in its home group ``mh``'s
    group and may go to it now, as ``place`` would give it."""
    cdef int64_t i
    cdef hnd rh
    cdef Req* r
    cdef ReqX* x
    cdef double key
    for i in range(n):
        rh = EN(e, nodes[i].entry).req
        r = R(e, rh)
        if r.x == -1 or r.home != M(e, mh).group:
            continue
        x = RX(e, r.x)
        if x.prefer != oh or now > x.prefer_until:
            continue
        key = nodes[i].k + off
        if b.entry != -1 and (key > b.key or (key == b.key and nodes[i].seq >= b.seq)):
            continue
        if not fits(e, mh, rh, now) or held(e, oh, rh):
            continue
        b.entry = nodes[i].entry
        b.m = mh
        b.key = key
        b.seq = nodes[i].seq


cdef void take_preferring(Engine* e, hnd oh, double now) noexcept nogil:
    """A freed held slot: the waiting requests that prefer ``oh`` (within their
    prefer_for) take it first, best in queue order first. O(waiting in its groups)."""
    cdef hnd mh
    cdef int64_t base, c, s
    cdef RQueue* q
    cdef Best b
    while O(e, oh).status == OP_ONLINE and O(e, oh).load < O(e, oh).limit:
        b.entry = -1
        mh = O(e, oh).first_member
        while mh != -1:
            base = <int64_t>M(e, mh).group * e.C
            for c in range(e.C):
                q = &e.queues[base + c]
                if not fits_channel(e, oh, <int32_t>c):
                    continue
                best_preferring(e, q.nodes, q.n, oh, mh, e.cfg.off[base + c], &b, now)
                for s in range(q.n_subs):
                    best_preferring(e, q.subs[s].nodes, q.subs[s].n, oh, mh,
                                    e.cfg.off[base + c], &b, now)
            mh = M(e, mh).next
        if b.entry == -1:
            return
        assign(e, EN(e, b.entry).req, b.m, now)
