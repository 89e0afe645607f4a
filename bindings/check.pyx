# Self-check of the native core: recomputes every derived structure from scratch and
# compares. Debug builds run it after every call; tests call Router.check() after every step.

cdef int _check(Engine* e) except -1:
    cdef int64_t i, j, g, c, n, count, free_, s, nn
    cdef uint64_t mask
    cdef QNode* nodes
    cdef Req* r
    cdef Entry* en
    cdef Op* o
    cdef Member* m
    cdef RQueue* q
    cdef OHeap* h
    cdef hnd x, t
    cdef Hold* hd
    cdef QStat st
    cdef int64_t n_holds = 0
    g_wait = [0] * e.G
    c_wait = [0] * e.C
    c_held = [0] * e.C
    g_held = [0] * e.G
    g_act = [0] * e.G
    c_act = [0] * e.C
    g_subq = [0] * e.G
    c_open = [0] * e.C
    g_arr = [[] for _ in range(e.G)]
    c_arr = [[] for _ in range(e.C)]
    # queues: heap order, positions, membership; each request in the heap of the skills it
    # still requires (the queue's own heap: none)
    for i in range(<int64_t>e.G * e.C):
        q = &e.queues[i]
        g, c = i // e.C, i % e.C
        st = e.qst[i]
        if st.len != rq_len(q):
            raise AssertionError(f"queue {g}/{c}: counted {st.len} entries, holds {rq_len(q)}")
        for v in (st.pm, st.pa, st.n, st.mw, st.a, st.s):
            if not (v >= 0.0 and v < INFINITY):
                raise AssertionError(f"queue {g}/{c}: expected-wait record {st}")
        if not (0 <= q.n_subs <= q.cap_subs and (q.n_subs == 0 or q.subs != NULL)):
            raise AssertionError(f"queue {g}/{c}: {q.n_subs} sub-heaps of {q.cap_subs}")
        for s in range(-1, q.n_subs):
            nodes = q.nodes if s < 0 else q.subs[s].nodes
            nn = q.n if s < 0 else q.subs[s].n
            mask = 0 if s < 0 else q.subs[s].mask
            if s >= 0 and not (0 <= nn <= q.subs[s].cap):
                raise AssertionError(f"queue {g}/{c}: sub-heap {s} of {nn} nodes")
            if s >= 0 and nn and mask == 0:
                raise AssertionError(f"queue {g}/{c}: sub-heap {s} requires nothing")
            for j in range(nn):
                en = EN(e, nodes[j].entry)
                if not (en.pos == j and en.sub == s):
                    raise AssertionError(f"queue {g}/{c}: entry at {j} of heap {s} thinks it "
                                         f"is at {en.pos} of {en.sub}")
                if not (en.group == g):
                    raise AssertionError(f"queue {g}/{c}: entry of group {en.group}")
                r = R(e, en.req)
                if not (r.state == ST_QUEUED):
                    raise AssertionError(f"queue {g}/{c} holds a request in state {r.state}")
                if not (r.ch == c and nodes[j].k == req_key(e, r) and nodes[j].seq == r.seq):
                    raise AssertionError('r.ch == c and nodes[j].k == req_key(e, r) and nodes[j].seq == r.seq')
                if not (skills_needed(e, r, e.now) == mask):
                    raise AssertionError(f"queue {g}/{c}: request {r.seq} needs skills "
                                         f"{skills_needed(e, r, e.now):#x}, in heap {mask:#x}")
                if j:
                    p = &nodes[(j - 1) // 2]
                    if not ((p.k, p.seq) < (nodes[j].k, nodes[j].seq)):
                        raise AssertionError(f"queue {g}/{c}: heap order")
                if (nodes[j].k, nodes[j].seq) > (e.qst[i].kmax, e.qst[i].smax):
                    raise AssertionError(f"queue {g}/{c}: request {r.seq} is past the "
                                         f"largest key it remembers (expected wait)")
        g_subq[g] += q.n_subs
        for s in range(q.n_subs):
            for j in range(s):
                if q.subs[s].n and q.subs[j].n and q.subs[s].mask == q.subs[j].mask:
                    raise AssertionError(f"queue {g}/{c}: two sub-heaps of mask {q.subs[s].mask:#x}")
    if not (g_subq == [e.g_subq[g] for g in range(e.G)]):
        raise AssertionError(f"sub-heaps per group {[e.g_subq[g] for g in range(e.G)]}, "
                             f"counted {g_subq}")
    # requests
    for i in range(e.reqs.used):
        r = R(e, <hnd>i)
        if r.state != ST_QUEUED and r.state != ST_ACTIVE and r.state != ST_OFFERED:
            continue
        if not r.answered:
            c_open[r.ch] += 1
        count = 0
        n = 0
        x = r.first_entry
        if not (EN(e, x).group == r.home):
            raise AssertionError('EN(e, x).group == r.home')
        while x != -1:
            en = EN(e, x)
            if not (en.req == i):
                raise AssertionError('en.req == i')
            if not e.cfg.takes[<int64_t>en.group * e.C + r.ch]:
                raise AssertionError(f"request {i} eligible for group {en.group}, which does "
                                     f"not take its channel {r.ch}")
            n += 1
            if en.pos >= 0:
                count += 1
                g_wait[en.group] += 1
                g_arr[en.group].append(r.arrival)
            if en.next == -1:
                if not (r.last_entry == x):
                    raise AssertionError('r.last_entry == x')
            x = en.next
        if r.state == ST_QUEUED:
            if not (count == n == r.n_queued):
                raise AssertionError(f"request {i}: queued in {count} of {n} groups")
            c_wait[r.ch] += 1
            c_arr[r.ch].append(r.arrival)
            if not (r.op == -1):
                raise AssertionError('r.op == -1')
        else:
            if not (count == 0 and r.n_queued == 0):
                raise AssertionError('count == 0 and r.n_queued == 0')
            o = O(e, r.op)
            if not (o.alive):
                raise AssertionError(f"request {i} held by a removed operator")
            g_act[r.via] += 1
            c_act[r.ch] += 1
    if not (g_wait == [e.cnt.g_waiting[g] for g in range(e.G)]):
        raise AssertionError("group waiting counters")
    if not (c_wait == [e.cnt.c_waiting[c] for c in range(e.C)]):
        raise AssertionError("channel waiting counters")
    for kept, arrivals in ([(e.cnt.c_arr_sum[c], c_arr[c]) for c in range(e.C)]
                           + [(e.cnt.g_arr_sum[g], g_arr[g]) for g in range(e.G)]):
        if not _close_sum(kept, arrivals):
            raise AssertionError(f"sum of waiting arrivals {kept} for {arrivals}")
    if not (g_act == [e.cnt.g_active[g] for g in range(e.G)]):
        raise AssertionError("group active counters")
    if not (c_act == [e.cnt.c_active[c] for c in range(e.C)]):
        raise AssertionError("channel active counters")
    # every submitted conversation has exactly one outcome, or none yet (open)
    for c in range(e.C):
        row = [e.cnt.c_out[c * N_OUT + k] for k in range(N_OUT)]
        decided = (row[OUT_ANSWERED] + row[OUT_ABANDONED] + row[OUT_EARLY] + row[OUT_SWITCHED]
                   + sum(row[OUT_REJECTED:]))
        if decided + c_open[c] != row[OUT_SUBMITTED]:
            raise AssertionError(
                f"channel {c}: answered + abandoned + early + switched + rejected ({decided}) "
                f"+ open ({c_open[c]}) != submitted ({row[OUT_SUBMITTED]})")
    # operators: slot counts against assignments, heap membership against eligibility
    g_on = [0] * e.G
    g_free = [0] * e.G
    g_cant = [0] * (e.G * e.C)
    in_heaps = 0
    online = 0
    total_free = 0
    alive = 0
    for i in range(e.ops.used):
        o = O(e, <hnd>i)
        if not o.alive:
            continue
        alive += 1
        n = 0
        slots = 0
        per_ch = [0] * e.C
        x = o.act_head
        while x != -1:
            r = R(e, x)
            slots += r.charge
            per_ch[r.ch] += 1
            if not ((r.state == ST_ACTIVE or r.state == ST_OFFERED) and r.op == i):
                raise AssertionError(f"operator {i}: foreign active request")
            n += 1
            x = r.act_next
        x = o.hold_head
        t = -1
        while x != -1:           # its holds: charged like conversations
            hd = HL(e, x)
            if not (hd.alive and hd.op == i and hd.prev == t):
                raise AssertionError(f"operator {i}: hold list broken at {x}")
            if o.status != OP_ONLINE:
                raise AssertionError(f"operator {i}: a hold while not online")
            slots += hd.charge
            per_ch[hd.ch] += 1
            n_holds += 1
            c_held[hd.ch] += 1
            g_held[hd.group] += 1
            t = x
            x = hd.next
        if o.hold_tail != t:
            raise AssertionError(f"operator {i}: hold list tail")
        if per_ch != [e.op_ch[i * 2 * e.C + e.C + c] for c in range(e.C)]:
            raise AssertionError(f"operator {i}: channel counts")
        if bool(o.zcap) != any([e.op_ch[i * 2 * e.C + c] == 0 for c in range(e.C)]):
            raise AssertionError(f"operator {i}: zcap {o.zcap} against its channel caps")
        if not (slots + o.wrap == o.load):
            raise AssertionError(f"operator {i}: load {o.load} but holds {n}")
        free_ = max(0, o.limit - o.load) if o.status == OP_ONLINE else 0
        if o.status == OP_ONLINE:
            online += 1
            total_free += free_
        x = o.first_member
        while x != -1:
            m = M(e, x)
            if not (m.op == i):
                raise AssertionError('m.op == i')
            eligible = o.status == OP_ONLINE and o.load < o.limit
            if not ((m.pos >= 0) == eligible):
                raise AssertionError(f"operator {i} group {m.group}: heap membership")
            if m.pos >= 0:
                in_heaps += 1
                h = &e.oheaps[m.group]
                if not (h.nodes[m.pos].member == x):
                    raise AssertionError('h.nodes[m.pos].member == x')
                if not (h.nodes[m.pos].p == op_key(e, o, m)):
                    raise AssertionError(f"operator {i}: stale key")
                if not (h.nodes[m.pos].s1 == o.last_assign and h.nodes[m.pos].s2 == o.reg):
                    raise AssertionError('h.nodes[m.pos].s1 == o.last_assign and h.nodes[m.pos].s2 == o.reg')
            if o.status == OP_ONLINE:
                g_on[m.group] += 1
                g_free[m.group] += free_
                for c in range(e.C):
                    if o.limit == 0 or e.op_ch[i * 2 * e.C + c] == 0:
                        g_cant[m.group * e.C + c] += 1
            x = m.next
    if not (alive == e.cnt.n_ops):
        raise AssertionError('alive == e.cnt.n_ops')
    if not (online == e.cnt.online and total_free == e.cnt.free_slots):
        raise AssertionError("online / free slot totals")
    if not (g_on == [e.cnt.g_online[g] for g in range(e.G)]):
        raise AssertionError("group online counters")
    if not (g_free == [e.cnt.g_free[g] for g in range(e.G)]):
        raise AssertionError("group free slot counters")
    if not (g_cant == [e.cnt.g_cant[i] for i in range(e.G * e.C)]):
        raise AssertionError("group counters of online members who cannot take a channel")
    if not (in_heaps == sum([e.oheaps[g].n for g in range(e.G)])):
        raise AssertionError("operator heap sizes")
    for g in range(e.G):
        h = &e.oheaps[g]
        for j in range(1, h.n):
            p2 = &h.nodes[(j - 1) // 2]
            if not ((p2.p, p2.s1, p2.s2) < (h.nodes[j].p, h.nodes[j].s1, h.nodes[j].s2)):
                raise AssertionError(f"operator heap {g}: order")
    ended = 0
    for i in range(e.reqs.used):
        if R(e, <hnd>i).state >= ST_FINISHED:
            ended += 1
    if not (ended == e.hist.n):
        raise AssertionError(f"{ended} ended requests kept but the history ring holds {e.hist.n}")
    for j in range(e.hist.n):
        if not (R(e, e.hist.ring[j]).state >= ST_FINISHED):
            raise AssertionError("history ring holds a live request")
    # pending transfers: each active, held by someone else than its target, in the
    # target's list of incoming transfers, and the target (online) unable to take it
    xs_held = set()
    for i in range(e.reqs.used):
        r = R(e, <hnd>i)
        if r.state != ST_FREE and r.x != -1:
            if not (0 <= r.x < e.xs.used) or r.x in xs_held:
                raise AssertionError(f"request {i}: ReqX handle {r.x} out of range or shared")
            xs_held.add(r.x)
        if r.state == ST_FREE or r.state > ST_ACTIVE or xfer_to(e, <hnd>i) == -1:
            continue
        t = xfer_to(e, <hnd>i)
        o = O(e, t)
        if not (r.state == ST_ACTIVE and o.alive and o.status == OP_ONLINE and r.op != t):
            raise AssertionError(f"request {i}: pending transfer to operator {t} "
                                 f"in state {r.state}, held by {r.op}")
        if takes(e, t, <hnd>i):
            raise AssertionError(f"operator {t} could take request {i}, transferred to it")
    if len(xs_held) != e.xs.used - e.xs.n_free:
        raise AssertionError(f"{len(xs_held)} ReqX held by requests, "
                             f"{e.xs.used - e.xs.n_free} handed out")
    for i in range(e.ops.used):
        o = O(e, <hnd>i)
        if not o.alive:
            continue
        x = o.in_head
        n = 0
        while x != -1:
            r = R(e, x)
            if not (xfer_to(e, x) == i and r.state == ST_ACTIVE):
                raise AssertionError(f"operator {i}: incoming transfer {x} not theirs")
            if RX(e, r.x).xfer_next == -1 and o.in_tail != x:
                raise AssertionError(f"operator {i}: incoming transfers' tail")
            n += 1
            if n > e.reqs.used:
                raise AssertionError(f"operator {i}: incoming transfers loop")
            x = RX(e, r.x).xfer_next
        for c in range(e.C):
            if (e.op_ch[i * 2 * e.C + c] >= 0
                    and e.op_ch[i * 2 * e.C + e.C + c] > e.op_ch[i * 2 * e.C + c]):
                raise AssertionError(f"operator {i}: over its cap for channel {c}")
    for j in range(1, e.timers.n):
        t0 = &e.timers.nodes[(j - 1) // 2]
        if not ((t0.due, t0.tseq) < (e.timers.nodes[j].due, e.timers.nodes[j].tseq)):
            raise AssertionError("timer heap")
    _check_reservations(e)
    if n_holds != sum([1 for i in range(e.hlds.used) if HL(e, <hnd>i).alive]):
        raise AssertionError("a live hold on no operator's list")
    if c_held != [e.cnt.c_held[i] for i in range(e.C)] or \
            g_held != [e.cnt.g_held[i] for i in range(e.G)]:
        raise AssertionError(f"holds per channel {c_held} / group {g_held} miscounted")
    return 0


cdef int _check_reservations(Engine* e) except -1:
    """As reference.Router._check_reservations: the pairs, nobody left for a request with
    no operator reserved, the counters, and work conservation past the holds."""
    cdef int64_t i, j
    cdef Req* r
    cdef Op* o
    cdef hnd x, eh
    unres = 0
    c_res = [0] * e.C
    g_res = [0] * e.G
    for i in range(e.reqs.used):
        r = R(e, <hnd>i)
        live = r.state == ST_QUEUED or r.state == ST_ACTIVE or r.state == ST_OFFERED
        if bool(r.hold) != (r.state == ST_QUEUED and bool(e.cfg.reserve[r.ch])):
            raise AssertionError(f"request {i}: hold {r.hold} in state {r.state}")
        if not r.hold:
            if live and r.res != -1:
                raise AssertionError(f"request {i} reserves operator {r.res} without waiting")
            continue
        if r.res == -1:
            unres += 1
            for j in range(e.ops.used):
                o = O(e, <hnd>j)
                if (o.alive and o.status == OP_ONLINE and o.res == -1
                        and could_any(e, <hnd>j, <hnd>i, e.now)):
                    raise AssertionError(f"request {i} reserves nobody but operator {j} could")
        elif O(e, r.res).res != i:
            raise AssertionError(f"request {i} reserves operator {r.res}, not reserved for it")
        else:
            c_res[r.ch] += 1
    if unres != e.cnt.unres:
        raise AssertionError(f"{unres} requests with no operator reserved, counted {e.cnt.unres}")
    for j in range(e.ops.used):
        o = O(e, <hnd>j)
        if not o.alive or o.res == -1:
            continue
        r = R(e, o.res)
        if not (r.hold and r.res == j and o.status == OP_ONLINE
                and could_any(e, <hnd>j, o.res, e.now)):
            raise AssertionError(f"operator {j} reserved for request {o.res} in vain")
        x = o.first_member
        while x != -1:
            g_res[M(e, x).group] += 1
            x = M(e, x).next
    if c_res != [e.cnt.c_reserved[i] for i in range(e.C)]:
        raise AssertionError(f"reserved per channel {c_res}")
    if g_res != [e.cnt.g_reserved[i] for i in range(e.G)]:
        raise AssertionError(f"reserved per group {g_res}")
    for i in range(e.reqs.used):
        r = R(e, <hnd>i)
        if r.state != ST_QUEUED:
            continue
        for j in range(e.ops.used):
            o = O(e, <hnd>j)
            if not o.alive or o.status != OP_ONLINE:
                continue
            x = o.first_member
            while x != -1:
                if (is_eligible(e, r, M(e, x).group) and fits(e, x, <hnd>i, e.now)
                        and not held(e, <hnd>j, <hnd>i)):
                    raise AssertionError(f"request {i} waits while operator {j} could take it")
                x = M(e, x).next
    return 0
