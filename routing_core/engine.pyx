# The routing state machine. It mirrors pyroute/reference.py step for step: the same
# operations in the same order, so both engines emit the same events and reach the same
# state. docs/semantics.md states the rules in prose.

# ---------------------------------------------------------------------- lifecycle

cdef int eng_init(Engine* e, int32_t C, int32_t G, int32_t n_rules,
                  int32_t n_targets, int32_t n_steps, int32_t n_relax) noexcept nogil:
    cdef int64_t nq = <int64_t>G * C
    memset(e, 0, sizeof(Engine))
    e.C = C
    e.G = G
    e.now = -1e308
    slab_init(&e.reqs, sizeof(Req))
    slab_init(&e.ents, sizeof(Entry))
    slab_init(&e.ops, sizeof(Op))
    slab_init(&e.mems, sizeof(Member))
    slab_init(&e.excls, sizeof(Excl))
    slab_init(&e.skreqs, sizeof(SkillReq))
    e.off = <double*>malloc(sizeof(double) * nq)
    e.early = <double*>malloc(sizeof(double) * C)
    e.tw = <double*>malloc(sizeof(double) * C)
    e.c_out = <double*>calloc_(<int64_t>C * N_OUT, sizeof(double))
    e.g_out = <double*>calloc_(<int64_t>G * N_OUT, sizeof(double))
    e.policy = <int32_t*>malloc(sizeof(int32_t) * G)
    e.rng = <uint64_t*>malloc(sizeof(uint64_t) * G)
    e.rule_start = <int32_t*>malloc(sizeof(int32_t) * (G + 1))
    e.rule_kind = <int32_t*>malloc(sizeof(int32_t) * (n_rules + 1))
    e.rule_value = <double*>malloc(sizeof(double) * (n_rules + 1))
    e.to_start = <int32_t*>malloc(sizeof(int32_t) * (n_rules + 1))
    e.to_group = <int32_t*>malloc(sizeof(int32_t) * (n_targets + 1))
    e.has_no_ops = <bint*>malloc(sizeof(bint) * G)
    e.max_queue = <int64_t*>malloc(sizeof(int64_t) * G)
    e.ret_start = <int32_t*>malloc(sizeof(int32_t) * (C + 1))
    e.ret_after = <double*>malloc(sizeof(double) * (n_steps + 1))
    e.wrap_ch = <double*>malloc(sizeof(double) * C)
    e.wrap_g = <double*>malloc(sizeof(double) * G)
    e.accept_timeout = <double*>malloc(sizeof(double) * G)
    e.max_missed = <int32_t*>malloc(sizeof(int32_t) * G)
    e.cost = <int32_t*>malloc(sizeof(int32_t) * C)
    e.relax_start = <int32_t*>malloc(sizeof(int32_t) * (G + 1))
    e.relax_after = <double*>malloc(sizeof(double) * (n_relax + 1))
    e.relax_mask = <uint64_t*>malloc(sizeof(uint64_t) * (n_relax + 1))
    e.level_step = <double*>malloc(sizeof(double) * G)
    e.transfer_timeout = <double*>malloc(sizeof(double) * G)
    e.queues = <RQueue*>calloc_(nq, sizeof(RQueue))
    e.oheaps = <OHeap*>calloc_(G, sizeof(OHeap))
    e.g_waiting = <int64_t*>calloc_(G, sizeof(int64_t))
    e.g_online = <int64_t*>calloc_(G, sizeof(int64_t))
    e.g_free = <int64_t*>calloc_(G, sizeof(int64_t))
    e.g_active = <int64_t*>calloc_(G, sizeof(int64_t))
    e.c_waiting = <int64_t*>calloc_(C, sizeof(int64_t))
    e.g_age = <AgeHeap*>calloc_(G, sizeof(AgeHeap))
    e.c_age = <AgeHeap*>calloc_(C, sizeof(AgeHeap))
    e.c_active = <int64_t*>calloc_(C, sizeof(int64_t))
    e.work = <int32_t*>malloc(sizeof(int32_t) * (G + 1))
    e.work2 = <int32_t*>malloc(sizeof(int32_t) * (G + 1))
    e.pending = <PendingTimer*>malloc(sizeof(PendingTimer) * (n_rules + 1))
    e.mem = (sizeof(double) * (nq + C) + sizeof(int32_t) * (4 * G + 3 * n_rules + n_targets)
             + sizeof(int64_t) * G + sizeof(int32_t) * (C + 1) + sizeof(double) * n_steps
             + sizeof(double) * (C + 2 * G) + sizeof(int32_t) * G
             + sizeof(double) * (C + (C + G) * N_OUT)
             + sizeof(RQueue) * nq + sizeof(OHeap) * G + sizeof(int64_t) * (5 * G + 2 * C)
             + sizeof(PendingTimer) * n_rules + sizeof(Engine))
    if (e.off == NULL or e.early == NULL or e.tw == NULL or e.c_out == NULL or e.g_out == NULL or e.policy == NULL or e.rng == NULL
            or e.rule_start == NULL or e.rule_kind == NULL or e.rule_value == NULL
            or e.to_start == NULL or e.to_group == NULL or e.has_no_ops == NULL
            or e.max_queue == NULL or e.ret_start == NULL or e.ret_after == NULL
            or e.wrap_ch == NULL or e.wrap_g == NULL or e.accept_timeout == NULL
            or e.max_missed == NULL or e.cost == NULL or e.relax_start == NULL
            or e.relax_after == NULL or e.relax_mask == NULL or e.level_step == NULL
            or e.transfer_timeout == NULL
            or e.queues == NULL or e.oheaps == NULL or e.g_waiting == NULL
            or e.g_online == NULL or e.g_free == NULL or e.g_active == NULL
            or e.c_waiting == NULL or e.c_active == NULL or e.g_age == NULL or e.c_age == NULL or e.work == NULL
            or e.work2 == NULL or e.pending == NULL):
        return ERR_NOMEM
    return 0


cdef inline void* calloc_(int64_t n, size_t size) noexcept nogil:
    cdef void* p = malloc(<size_t>(n if n > 0 else 1) * size)
    if p != NULL:
        memset(p, 0, <size_t>(n if n > 0 else 1) * size)
    return p


cdef void eng_dealloc(Engine* e) noexcept nogil:
    cdef int64_t i
    if e.queues != NULL:
        for i in range(<int64_t>e.G * e.C):
            free(e.queues[i].nodes)
    if e.oheaps != NULL:
        for i in range(e.G):
            free(e.oheaps[i].nodes)
    free(e.timers.nodes)
    if e.g_age != NULL:
        for i in range(e.G):
            free(e.g_age[i].nodes)
    if e.c_age != NULL:
        for i in range(e.C):
            free(e.c_age[i].nodes)
    free(e.g_age); free(e.c_age)
    slab_dealloc(&e.reqs)
    slab_dealloc(&e.ents)
    slab_dealloc(&e.ops)
    slab_dealloc(&e.mems)
    slab_dealloc(&e.excls)
    slab_dealloc(&e.skreqs)
    free(e.off); free(e.early); free(e.tw); free(e.c_out); free(e.g_out)
    free(e.policy); free(e.rng); free(e.rule_start)
    free(e.rule_kind); free(e.rule_value); free(e.to_start); free(e.to_group)
    free(e.has_no_ops); free(e.max_queue); free(e.ret_start); free(e.ret_after);
    free(e.wrap_ch); free(e.wrap_g); free(e.accept_timeout); free(e.max_missed)
    free(e.cost); free(e.op_ch); free(e.op_sk); free(e.relax_start); free(e.relax_after)
    free(e.relax_mask); free(e.level_step); free(e.transfer_timeout)
    free(e.queues); free(e.oheaps); free(e.g_waiting); free(e.g_online)
    free(e.g_free); free(e.g_active); free(e.c_waiting); free(e.c_active); free(e.work)
    free(e.work2); free(e.pending); free(e.ev); free(e.evg); free(e.dead_reqs)
    free(e.dead_ops); free(e.tmp); free(e.hist); free(e.trav)
    memset(e, 0, sizeof(Engine))


# ---------------------------------------------------------------------- events

cdef inline EvRec* ev_new(Engine* e, int8_t type, hnd req, double at) noexcept nogil:
    cdef EvRec* ev
    if e.n_ev == e.cap_ev and pr_grow(<void**>&e.ev, &e.cap_ev, e.n_ev + 1, sizeof(EvRec),
                                      &e.mem) < 0:
        e.oom = 1
        return NULL
    ev = &e.ev[e.n_ev]
    e.n_ev += 1
    ev.type = type
    ev.req = req
    ev.at = at
    ev.op = -1
    ev.group = -1
    ev.ch = -1
    ev.waited = 0.0
    ev.aux = 0
    ev.naux = 0
    ev.flag = 0
    return ev


cdef inline void push_dead(Engine* e, hnd** arr, int64_t* n, int64_t* cap,
                           hnd h) noexcept nogil:
    if n[0] == cap[0] and pr_grow(<void**>arr, cap, n[0] + 1, sizeof(hnd), &e.mem) < 0:
        e.oom = 1
        return
    arr[0][n[0]] = h
    n[0] += 1


cdef inline void retire(Engine* e, hnd rh) noexcept nogil:
    """An ended request joins the history ring; the oldest one drops out when it is full."""
    cdef hnd out
    if e.hist_limit == 0:
        push_dead(e, &e.dead_reqs, &e.n_dead_reqs, &e.cap_dead_reqs, rh)
        return
    if e.hist_n < e.hist_limit:
        if e.hist_n == e.hist_cap and pr_grow(<void**>&e.hist, &e.hist_cap, e.hist_n + 1,
                                              sizeof(hnd), &e.mem) < 0:
            e.oom = 1
            return
        e.hist[e.hist_n] = rh
        e.hist_n += 1
        return
    out = e.hist[e.hist_head]
    e.hist[e.hist_head] = rh
    e.hist_head += 1
    if e.hist_head == e.hist_limit:
        e.hist_head = 0
    push_dead(e, &e.dead_reqs, &e.n_dead_reqs, &e.cap_dead_reqs, out)


# ---------------------------------------------------------------------- operators

cdef double op_key(Engine* e, Op* o, Member* m) noexcept nogil:
    cdef int32_t p = e.policy[m.group]
    if p == POL_EVEN:
        return <double>(o.load - o.limit)
    if p == POL_LONGEST_IDLE:
        return <double>o.idle
    if p == POL_ROUND_ROBIN:
        return <double>m.rr
    if p == POL_LEAST_RATIO:
        return <double>o.load / <double>o.limit
    if p == POL_FEWEST_HANDLED:
        return <double>o.handled
    if p == POL_ORDERED:
        return <double>m.join
    return m.rand


cdef inline int32_t charge(Engine* e, Op* o, int32_t c) noexcept nogil:
    """Slots a conversation of channel ``c`` takes from the operator."""
    return o.limit if e.cost[c] < 0 else e.cost[c]


cdef inline bint fits_channel(Engine* e, hnd oh, int32_t c) noexcept nogil:
    cdef Op* o = O(e, oh)
    cdef int32_t need = charge(e, o, c)
    cdef int32_t* row = &e.op_ch[<int64_t>oh * 2 * e.C]
    if need < 1:
        need = 1
    return o.limit - o.load >= need and (row[c] < 0 or row[e.C + c] < row[c])


cdef inline void detach(Engine* e, hnd oh) noexcept nogil:
    """Take the operator out of its groups' heaps and counters."""
    cdef Op* o = O(e, oh)
    cdef bint on = o.status == OP_ONLINE
    cdef int64_t free_ = (o.limit - o.load if o.limit > o.load else 0) if on and not o.wrap else 0
    cdef hnd mh = o.first_member
    cdef Member* m
    while mh != -1:
        m = M(e, mh)
        if m.pos >= 0:
            oh_remove(&e.oheaps[m.group], <Member*>e.mems.items, m.pos)
        if on:
            e.g_online[m.group] -= 1
            e.g_free[m.group] -= free_
        mh = m.next
    if on:
        e.online -= 1
        e.free_slots -= free_


cdef inline void attach(Engine* e, hnd oh) noexcept nogil:
    cdef Op* o = O(e, oh)
    cdef bint on = o.status == OP_ONLINE
    cdef int64_t free_ = (o.limit - o.load if o.limit > o.load else 0) if on and not o.wrap else 0
    cdef hnd mh = o.first_member
    cdef Member* m
    cdef OHeap* h
    if not on:
        return
    while mh != -1:
        m = M(e, mh)
        e.g_online[m.group] += 1
        e.g_free[m.group] += free_
        if o.load < o.limit and not o.wrap:
            h = &e.oheaps[m.group]
            if h.n == h.cap and oh_reserve(h, 1, &e.mem) < 0:
                e.oom = 1
            else:
                oh_push(h, <Member*>e.mems.items, mh, op_key(e, o, m), o.last_assign, o.reg)
        mh = m.next
    e.online += 1
    e.free_slots += free_


cdef inline hnd new_member(Engine* e, hnd oh, int32_t g) noexcept nogil:
    """Append a membership (slab space reserved by the caller)."""
    cdef hnd mh = slab_take(&e.mems)
    cdef Member* m = M(e, mh)
    e.join += 1
    m.join = e.join
    m.rr = 0
    m.rand = 0.0
    if e.policy[g] == POL_RANDOM:
        m.rand = <double>pr_splitmix(<unsigned long long*>&e.rng[g])
    m.op = oh
    m.group = g
    m.level = 1
    m.pos = -1
    m.next = -1
    return mh


# ---------------------------------------------------------------------- queues

cdef inline void enqueue_entry(Engine* e, hnd eh) noexcept nogil:
    cdef Entry* en = EN(e, eh)
    cdef Req* r = R(e, en.req)
    cdef int32_t g = en.group
    cdef RQueue* q = &e.queues[<int64_t>g * e.C + r.ch]
    if q.n == q.cap and rq_reserve(q, 1, &e.mem) < 0:
        e.oom = 1
        return
    rq_push(q, <Entry*>e.ents.items, eh, r.k, r.seq)
    if r.n_queued == 0:
        e.c_waiting[r.ch] += 1
        age_push(e, &e.c_age[r.ch], en.req, e.c_waiting[r.ch])
    r.n_queued += 1
    e.g_waiting[g] += 1
    age_push(e, &e.g_age[g], en.req, e.g_waiting[g])


cdef inline bint age_less(AgeNode* a, AgeNode* b) noexcept nogil:
    return a.seq < b.seq


cdef inline bint age_live(Engine* e, AgeNode* x) noexcept nogil:
    cdef Req* r = R(e, x.req)
    return r.state == ST_QUEUED and r.seq == x.seq and r.gen == x.gen


cdef void age_sift_down(AgeHeap* h, int64_t i) noexcept nogil:
    cdef AgeNode x = h.nodes[i]
    cdef int64_t child
    while True:
        child = 2 * i + 1
        if child >= h.n:
            break
        if child + 1 < h.n and age_less(&h.nodes[child + 1], &h.nodes[child]):
            child += 1
        if not age_less(&h.nodes[child], &x):
            break
        h.nodes[i] = h.nodes[child]
        i = child
    h.nodes[i] = x


cdef void age_push(Engine* e, AgeHeap* h, hnd rh, int64_t live) noexcept nogil:
    """Index a request that entered a queue. Entries of requests that left stay until they
    reach the top; when they outnumber the live ones the heap is rebuilt (amortised O(1))."""
    cdef int64_t i, parent, kept
    cdef AgeNode x
    if h.n > 2 * live + 64:
        kept = 0
        for i in range(h.n):
            if age_live(e, &h.nodes[i]):
                h.nodes[kept] = h.nodes[i]
                kept += 1
        h.n = kept
        i = kept // 2
        while i > 0:
            i -= 1
            age_sift_down(h, i)
    if h.n == h.cap and pr_grow(<void**>&h.nodes, &h.cap, h.n + 1, sizeof(AgeNode),
                                &e.mem) < 0:
        e.oom = 1
        return
    x.seq = R(e, rh).seq
    x.req = rh
    x.gen = R(e, rh).gen
    i = h.n
    h.n += 1
    while i > 0:
        parent = (i - 1) >> 1
        if not age_less(&x, &h.nodes[parent]):
            break
        h.nodes[i] = h.nodes[parent]
        i = parent
    h.nodes[i] = x


cdef hnd age_oldest(Engine* e, AgeHeap* h, int64_t live) noexcept nogil:
    """The longest-waiting request still queued (dropping entries of those that left), or
    -1 when none waits."""
    if live == 0:
        h.n = 0
        return -1
    while h.n and not age_live(e, &h.nodes[0]):
        h.n -= 1
        if h.n:
            h.nodes[0] = h.nodes[h.n]
            age_sift_down(h, 0)
    return h.nodes[0].req if h.n else -1


cdef inline void dequeue(Engine* e, hnd rh) noexcept nogil:
    cdef Req* r = R(e, rh)
    cdef hnd eh = r.first_entry
    cdef Entry* en
    if r.n_queued == 0:
        return
    while eh != -1:
        en = EN(e, eh)
        if en.pos >= 0:
            rq_remove(&e.queues[<int64_t>en.group * e.C + r.ch], <Entry*>e.ents.items, en.pos)
            e.g_waiting[en.group] -= 1
        eh = en.next
    e.c_waiting[r.ch] -= 1
    r.n_queued = 0


# ---------------------------------------------------------------------- assignment

cdef inline void assign(Engine* e, hnd rh, hnd mh, double now) noexcept nogil:
    cdef Member* m = M(e, mh)
    cdef hnd oh = m.op
    cdef int32_t g = m.group
    cdef Op* o
    cdef Req* r
    cdef EvRec* ev
    dequeue(e, rh)
    detach(e, oh)
    o = O(e, oh)
    e.tick += 1
    r = R(e, rh)
    r.charge = charge(e, o, r.ch)
    o.load += r.charge
    e.op_ch[<int64_t>oh * 2 * e.C + e.C + r.ch] += 1
    o.handled += 1
    o.last_assign = e.tick
    o.idle = e.tick
    m.rr = e.tick
    if e.policy[g] == POL_RANDOM:
        m.rand = <double>pr_splitmix(<unsigned long long*>&e.rng[g])
    attach(e, oh)
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
    e.g_active[g] += 1
    e.c_active[r.ch] += 1
    if e.accept_timeout[g] < 0:
        r.state = ST_ACTIVE
        answered(e, rh, g, now)
        r = R(e, rh)
        ev = ev_new(e, EV_ASSIGNED, rh, now)
        if ev != NULL:
            ev.op = oh
            ev.group = g
            ev.ch = r.ch
            ev.waited = now - r.arrival
        return
    r.state = ST_OFFERED
    r.offers += 1
    push_timer(e, now + e.accept_timeout[g], rh, r.seq, r.offers, TIMER_OFFER, 0)
    r = R(e, rh)
    ev = ev_new(e, EV_OFFERED, rh, now)
    if ev != NULL:
        ev.op = oh
        ev.group = g
        ev.ch = r.ch
        ev.waited = now + e.accept_timeout[g]     # expires_at


cdef inline void answered(Engine* e, hnd rh, int32_t g, double now) noexcept nogil:
    """Count the first answer of a request (assigned, or an offer accepted)."""
    cdef Req* r = R(e, rh)
    cdef double waited = now - r.arrival
    cdef double* row
    cdef int k
    if r.answered:
        return
    r.answered = 1
    for k in range(2):
        row = &e.c_out[<int64_t>r.ch * N_OUT] if k == 0 else &e.g_out[<int64_t>g * N_OUT]
        row[OUT_ANSWERED] += 1.0
        row[OUT_WAIT] += waited
        if waited <= e.tw[r.ch]:
            row[OUT_WITHIN] += 1.0


cdef inline void push_timer(Engine* e, double due, hnd h, int64_t rseq, int32_t gen,
                            int32_t group, int32_t rule) noexcept nogil:
    cdef TNode t
    if th_reserve(&e.timers, 1, &e.mem) < 0:
        e.oom = 1
        return
    e.tseq += 1
    t.due = due
    t.tseq = e.tseq
    t.rseq = rseq
    t.req = h
    t.gen = gen
    t.group = group
    t.rule = rule
    th_push(&e.timers, &t)


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


cdef bint fits(Engine* e, hnd mh, hnd rh, double now) noexcept nogil:
    """Whether the operator of membership ``mh`` may take request ``rh`` through its group
    at ``now``: its channel fits, it has not declined it, its tier is due, and it has the
    skills still required after relaxation."""
    cdef Member* m = M(e, mh)
    cdef hnd oh = m.op
    cdef int32_t g = m.group
    cdef Req* r = R(e, rh)
    cdef SkillReq* sk
    cdef uint64_t need, dropped = 0
    cdef int32_t i, bit
    cdef uint8_t* has
    if not fits_channel(e, oh, r.ch):
        return False
    if r.excl != -1 and excludes(e, rh, oh):
        return False
    if r.prefer != -1 and now < r.prefer_until and oh != r.prefer:
        return False
    if e.level_step[g] >= 0 and r.arrival + <double>(m.level - 1) * e.level_step[g] > now:
        return False
    if r.sk == -1:
        return True
    sk = &(<SkillReq*>e.skreqs.items)[r.sk]
    for i in range(e.relax_start[r.home], e.relax_start[r.home + 1]):
        if r.arrival + e.relax_after[i] <= now:
            dropped |= e.relax_mask[i]
    need = sk.mask & ~dropped
    has = &e.op_sk[<int64_t>oh * 64]
    bit = 0
    while need:
        if need & 1:
            if has[bit] < sk.level[bit]:
                return False
        need >>= 1
        bit += 1
    return True


# Best-first walks: visit a heap's nodes in key order (a small heap of candidate
# positions in e.trav: the children of every node visited) and stop at the first that
# fits. This costs O(k log k) for k nodes visited, where a scan would cost O(n).

cdef inline bint trav_reserve(Engine* e, int64_t n) noexcept nogil:
    if pr_grow(<void**>&e.trav, &e.cap_trav, n + 2, sizeof(int64_t), &e.mem) < 0:
        e.oom = 1
        return False
    return True


cdef inline void oh_cand_push(int64_t* c, int64_t* n, OHeap* h, int64_t pos) noexcept nogil:
    cdef int64_t i = n[0], parent
    n[0] += 1
    while i > 0:
        parent = (i - 1) >> 1
        if not on_less(&h.nodes[pos], &h.nodes[c[parent]]):
            break
        c[i] = c[parent]
        i = parent
    c[i] = pos


cdef inline int64_t oh_cand_pop(int64_t* c, int64_t* n, OHeap* h) noexcept nogil:
    cdef int64_t top = c[0], last, i = 0, child
    n[0] -= 1
    last = c[n[0]]
    while True:
        child = 2 * i + 1
        if child >= n[0]:
            break
        if child + 1 < n[0] and on_less(&h.nodes[c[child + 1]], &h.nodes[c[child]]):
            child += 1
        if not on_less(&h.nodes[c[child]], &h.nodes[last]):
            break
        c[i] = c[child]
        i = child
    c[i] = last
    return top


cdef struct Want:      # what a best-first walk of an operator heap looks for
    hnd rh             # a member that may take this request (``fits``); -1: ``pickable``
    double now
    int32_t c          # pickable: a new conversation of this channel...
    hnd excl           # ...by anyone but this operator


cdef inline bint pickable(Engine* e, hnd mh, int32_t c, hnd excl) noexcept nogil:
    cdef Member* m = M(e, mh)
    return (m.op != excl and fits_channel(e, m.op, c)
            and (e.level_step[m.group] < 0 or m.level <= 1))


cdef inline bint wanted(Engine* e, hnd mh, Want* w) noexcept nogil:
    if w.rh >= 0:
        return fits(e, mh, w.rh, w.now)
    return pickable(e, mh, w.c, w.excl)


cdef hnd oh_walk(Engine* e, OHeap* h, Want* w) noexcept nogil:
    """The member with the least key in ``h`` that is ``wanted``, or -1: the top when it
    is, otherwise a best-first walk."""
    cdef int64_t n = 0, pos
    if h.n == 0:
        return -1
    if wanted(e, h.nodes[0].member, w):
        return h.nodes[0].member
    if not trav_reserve(e, h.n):
        return -1
    if h.n > 1:
        oh_cand_push(e.trav, &n, h, 1)
    if h.n > 2:
        oh_cand_push(e.trav, &n, h, 2)
    while n > 0:
        pos = oh_cand_pop(e.trav, &n, h)
        if wanted(e, h.nodes[pos].member, w):
            return h.nodes[pos].member
        if 2 * pos + 1 < h.n:
            oh_cand_push(e.trav, &n, h, 2 * pos + 1)
        if 2 * pos + 2 < h.n:
            oh_cand_push(e.trav, &n, h, 2 * pos + 2)
    return -1


cdef hnd oh_best_allowed(Engine* e, OHeap* h, hnd rh, double now) noexcept nogil:
    """The member with the least key in ``h`` that may take the request, or -1."""
    cdef Want w
    w.rh, w.now, w.c, w.excl = rh, now, -1, -1
    return oh_walk(e, h, &w)


cdef hnd eng_pick(Engine* e, int32_t g, int32_t c, hnd excl) noexcept nogil:
    """The operator group ``g``'s policy would give a new conversation of channel ``c``
    now (requiring no skills, preferring no one), skipping operator ``excl``; -1 when
    nobody could take it. Reads only (the walk uses the scratch ``e.trav``)."""
    cdef Want w
    cdef hnd mh
    w.rh, w.now, w.c, w.excl = -1, 0.0, c, excl
    mh = oh_walk(e, &e.oheaps[g], &w)
    return -1 if mh < 0 else M(e, mh).op


cdef inline void rq_cand_push(int64_t* c, int64_t* n, RQueue* q, int64_t pos) noexcept nogil:
    cdef int64_t i = n[0], parent
    n[0] += 1
    while i > 0:
        parent = (i - 1) >> 1
        if not qn_less(&q.nodes[pos], &q.nodes[c[parent]]):
            break
        c[i] = c[parent]
        i = parent
    c[i] = pos


cdef inline int64_t rq_cand_pop(int64_t* c, int64_t* n, RQueue* q) noexcept nogil:
    cdef int64_t top = c[0], last, i = 0, child
    n[0] -= 1
    last = c[n[0]]
    while True:
        child = 2 * i + 1
        if child >= n[0]:
            break
        if child + 1 < n[0] and qn_less(&q.nodes[c[child + 1]], &q.nodes[c[child]]):
            child += 1
        if not qn_less(&q.nodes[c[child]], &q.nodes[last]):
            break
        c[i] = c[child]
        i = child
    c[i] = last
    return top


cdef int64_t rq_best_allowed(Engine* e, RQueue* q, hnd mh, double now) noexcept nogil:
    """The position in ``q`` of the best request membership ``mh``'s operator may take, or
    -1: the top when it fits, otherwise a best-first walk."""
    cdef int64_t n = 0, pos
    if q.n == 0:
        return -1
    if fits(e, mh, EN(e, q.nodes[0].entry).req, now):
        return 0
    if not trav_reserve(e, q.n):
        return -1
    if q.n > 1:
        rq_cand_push(e.trav, &n, q, 1)
    if q.n > 2:
        rq_cand_push(e.trav, &n, q, 2)
    while n > 0:
        pos = rq_cand_pop(e.trav, &n, q)
        if fits(e, mh, EN(e, q.nodes[pos].entry).req, now):
            return pos
        if 2 * pos + 1 < q.n:
            rq_cand_push(e.trav, &n, q, 2 * pos + 1)
        if 2 * pos + 2 < q.n:
            rq_cand_push(e.trav, &n, q, 2 * pos + 2)
    return -1


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
    cdef Op* o
    detach(e, oh)
    o = O(e, oh)
    e.tick += 1
    o.load -= r.charge
    e.op_ch[<int64_t>oh * 2 * e.C + e.C + r.ch] -= 1
    o.idle = e.tick
    attach(e, oh)
    unlink_active(e, rh, o)
    e.g_active[r.via] -= 1
    e.c_active[r.ch] -= 1
    return oh


cdef inline bint place(Engine* e, hnd rh, hnd eh, double now) noexcept nogil:
    """Give the request to the policy's pick of the first group (from entry ``eh`` on)
    that has an operator with room."""
    cdef Entry* en
    cdef hnd mh
    cdef Req* r = R(e, rh)
    if r.prefer != -1 and now <= r.prefer_until and eh == r.first_entry:
        mh = O(e, r.prefer).first_member if O(e, r.prefer).alive else -1
        while mh != -1 and M(e, mh).group != r.home:
            mh = M(e, mh).next
        if mh != -1 and M(e, mh).pos >= 0 and fits(e, mh, rh, now):
            assign(e, rh, mh, now)
            return True
        if now < r.prefer_until:
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
    while o.status == OP_ONLINE and o.load < o.limit and not o.wrap:
        best_entry = -1
        best_m = -1
        best_key = 0.0
        best_seq = 0
        mh = o.first_member
        while mh != -1:
            m = M(e, mh)
            base = <int64_t>m.group * e.C
            for c in range(e.C):
                q = &e.queues[base + c]
                if q.n == 0 or not fits_channel(e, oh, <int32_t>c):
                    continue
                pos = rq_best_allowed(e, q, mh, now)
                if pos < 0:
                    continue
                key = q.nodes[pos].k + e.off[base + c]
                if (best_entry == -1 or key < best_key
                        or (key == best_key and q.nodes[pos].seq < best_seq)):
                    best_entry = q.nodes[pos].entry
                    best_key = key
                    best_seq = q.nodes[pos].seq
                    best_m = mh
            mh = m.next
        if best_entry == -1:
            return
        assign(e, EN(e, best_entry).req, best_m, now)
        o = O(e, oh)


# ---------------------------------------------------------------------- overflow

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
    not yet eligible for to its entries and to ``e.work[n:]``; returns the new ``n``."""
    cdef int32_t i, t, added = 0
    cdef int32_t nt = e.to_start[ri + 1] - e.to_start[ri]
    cdef int64_t start
    cdef hnd eh
    cdef Req* r
    cdef Entry* en
    cdef EvRec* ev
    if slab_reserve(&e.ents, nt, &e.mem) < 0 or pr_grow(
            <void**>&e.evg, &e.cap_evg, e.n_evg + nt, sizeof(int32_t), &e.mem) < 0:
        e.oom = 1
        return n
    start = e.n_evg
    r = R(e, rh)
    for i in range(e.to_start[ri], e.to_start[ri + 1]):
        t = e.to_group[i]
        if is_eligible(e, r, t):
            continue
        eh = slab_take(&e.ents)
        en = EN(e, eh)
        en.req = rh
        en.group = t
        en.pos = -1
        en.next = -1
        EN(e, r.last_entry).next = eh
        r.last_entry = eh
        e.work[n] = t
        n += 1
        e.evg[e.n_evg] = t
        e.n_evg += 1
        added += 1
    if added:
        ev = ev_new(e, EV_OVERFLOWED, rh, now)
        if ev != NULL:
            ev.group = g
            ev.aux = <int32_t>start
            ev.naux = added
            ev.flag = <int8_t>e.rule_kind[ri]
    return n


cdef int64_t expand(Engine* e, hnd rh, int64_t n, double now) noexcept nogil:
    """Evaluate the rules of the groups in ``e.work[:n]`` and of every group they add.
    Rules waiting for a later time go to ``e.pending``. Returns the new ``n``."""
    cdef int64_t i = 0
    cdef int32_t g, ri, kind
    cdef bint fire
    cdef double due
    while i < n:
        g = e.work[i]
        i += 1
        for ri in range(e.rule_start[g], e.rule_start[g + 1]):
            kind = e.rule_kind[ri]
            if kind == RULE_AFTER:
                due = R(e, rh).arrival + e.rule_value[ri]
                fire = due <= now
                if not fire:
                    e.pending[e.n_pending].due = due
                    e.pending[e.n_pending].group = g
                    e.pending[e.n_pending].rule = ri - e.rule_start[g]
                    e.n_pending += 1
            elif kind == RULE_NO_OPS:
                fire = e.g_online[g] == 0
            else:
                fire = <double>e.g_waiting[g] >= e.rule_value[ri]
            if fire:
                n = add_groups(e, rh, g, ri, now, n)
    return n


cdef inline void push_pending(Engine* e, hnd rh) noexcept nogil:
    """Set the overflow timers that expand() left for later."""
    cdef int64_t i
    if e.n_pending == 0:
        return
    if th_reserve(&e.timers, e.n_pending, &e.mem) < 0:
        e.oom = 1
        return
    for i in range(e.n_pending):
        push_timer(e, e.pending[i].due, rh, R(e, rh).seq, R(e, rh).gen, e.pending[i].group,
                   e.pending[i].rule)
    e.n_pending = 0


cdef inline void push_retention(Engine* e, hnd rh) noexcept nogil:
    cdef Req* r = R(e, rh)
    cdef int32_t i, first = e.ret_start[r.ch], last = e.ret_start[r.ch + 1]
    for i in range(first, last):
        r = R(e, rh)
        push_timer(e, r.arrival + e.ret_after[i], rh, r.seq, r.gen, TIMER_RETENTION, i - first)


cdef void push_rechecks(Engine* e, hnd rh, hnd eh, bint relax, double now) noexcept nogil:
    """Timers for the moments more operators become eligible for the waiting request: its
    skill requirements relax (home group's rules), or the next tier of one of its groups
    (from entry ``eh`` on) comes due."""
    cdef Req* r = R(e, rh)
    cdef int32_t i, level, g
    cdef double due
    if relax and r.prefer != -1 and r.prefer_until > now:
        push_timer(e, r.prefer_until, rh, r.seq, r.gen, TIMER_RECHECK, 0)
        r = R(e, rh)
    if relax and r.sk != -1:
        for i in range(e.relax_start[r.home], e.relax_start[r.home + 1]):
            due = r.arrival + e.relax_after[i]
            if due > now:
                push_timer(e, due, rh, r.seq, r.gen, TIMER_RECHECK, 0)
                r = R(e, rh)
    while eh != -1:
        g = EN(e, eh).group
        if e.level_step[g] >= 0:
            for level in range(2, 6):
                due = r.arrival + <double>(level - 1) * e.level_step[g]
                if due > now:
                    push_timer(e, due, rh, r.seq, r.gen, TIMER_RECHECK, 0)
                    r = R(e, rh)
        eh = EN(e, eh).next


cdef void route_new(Engine* e, hnd rh, double now) noexcept nogil:
    """Route a request entering the queue (submitted or requeued)."""
    cdef Req* r = R(e, rh)
    cdef int64_t n = 0
    cdef hnd eh = r.first_entry
    cdef EvRec* ev
    e.n_pending = 0
    while eh != -1:
        e.work[n] = EN(e, eh).group
        n += 1
        eh = EN(e, eh).next
    expand(e, rh, n, now)
    if place(e, rh, R(e, rh).first_entry, now):
        e.n_pending = 0
        return
    eh = R(e, rh).first_entry
    while eh != -1:
        enqueue_entry(e, eh)
        eh = EN(e, eh).next
    push_pending(e, rh)
    push_rechecks(e, rh, R(e, rh).first_entry, True, now)
    r = R(e, rh)
    ev = ev_new(e, EV_QUEUED, rh, now)
    if ev != NULL:
        ev.group = r.home
        ev.ch = r.ch


cdef void apply_rule(Engine* e, hnd rh, int32_t g, int32_t local_ri, double now) noexcept nogil:
    """Apply one rule to a queued request; route it among the groups it gains."""
    cdef hnd last = R(e, rh).last_entry
    cdef hnd first_new, eh
    cdef int64_t n
    e.n_pending = 0
    n = add_groups(e, rh, g, e.rule_start[g] + local_ri, now, 0)
    if n == 0:
        return
    expand(e, rh, n, now)
    first_new = EN(e, last).next
    if place(e, rh, first_new, now):
        e.n_pending = 0
        return
    eh = first_new
    while eh != -1:
        enqueue_entry(e, eh)
        eh = EN(e, eh).next
    push_pending(e, rh)
    push_rechecks(e, rh, first_new, False, now)


cdef int cmp_pairs(const void* a, const void* b) noexcept nogil:
    cdef int64_t x = (<int64_t*>a)[0]
    cdef int64_t y = (<int64_t*>b)[0]
    return (x > y) - (x < y)


cdef inline bint tmp_reserve(Engine* e, int64_t pairs) noexcept nogil:
    if pr_grow(<void**>&e.tmp, &e.cap_tmp, 2 * pairs, sizeof(int64_t), &e.mem) < 0:
        e.oom = 1
        return False
    return True


cdef void sweep(Engine* e, int64_t n, double now) noexcept nogil:
    """``when_no_operators`` rules of the groups in ``e.work2[:n]`` that have just lost
    their last online operator, applied to their waiting requests in submission order."""
    cdef int64_t i, j, c, k, count
    cdef int32_t g, ri
    cdef RQueue* q
    cdef hnd rh
    for i in range(n):
        g = e.work2[i]
        if e.g_online[g] != 0 or not e.has_no_ops[g]:
            continue
        if not tmp_reserve(e, e.g_waiting[g]):
            return
        count = 0
        for c in range(e.C):
            q = &e.queues[<int64_t>g * e.C + c]
            for k in range(q.n):
                rh = EN(e, q.nodes[k].entry).req
                e.tmp[2 * count] = R(e, rh).seq
                e.tmp[2 * count + 1] = rh
                count += 1
        if count > 1:
            qsort(e.tmp, <size_t>count, 2 * sizeof(int64_t), cmp_pairs)
        for j in range(count):
            rh = <hnd>e.tmp[2 * j + 1]
            for ri in range(e.rule_start[g], e.rule_start[g + 1]):
                if e.rule_kind[ri] == RULE_NO_OPS and R(e, rh).state == ST_QUEUED:
                    apply_rule(e, rh, g, ri - e.rule_start[g], now)


cdef void requeue(Engine* e, hnd rh, double now) noexcept nogil:
    """Send an offered or active conversation back to the queue at its place."""
    cdef Req* r
    release(e, rh)
    r = R(e, rh)
    r.state = ST_QUEUED
    r.op = -1
    r.via = -1
    r.gen += 1
    route_new(e, rh, now)


cdef void requeue_all(Engine* e, hnd oh, double now, bint offers_only) noexcept nogil:
    """Requeue the operator's conversations (only those offered, with ``offers_only``), in
    submission order."""
    cdef int64_t count = 0, j
    cdef hnd rh = O(e, oh).act_head
    if not tmp_reserve(e, O(e, oh).load):
        return
    while rh != -1:
        if not offers_only or R(e, rh).state == ST_OFFERED:
            e.tmp[2 * count] = R(e, rh).seq
            e.tmp[2 * count + 1] = rh
            count += 1
        rh = R(e, rh).act_next
    if count > 1:
        qsort(e.tmp, <size_t>count, 2 * sizeof(int64_t), cmp_pairs)
    for j in range(count):
        requeue(e, <hnd>e.tmp[2 * j + 1], now)


cdef void change_status(Engine* e, hnd oh, int8_t status, int8_t reason,
                        double now) noexcept nogil:
    cdef EvRec* ev
    detach(e, oh)
    O(e, oh).status = status
    if status == OP_ONLINE:
        e.tick += 1
        O(e, oh).idle = e.tick
    attach(e, oh)
    ev = ev_new(e, EV_STATUS, -1, now)
    if ev != NULL:
        ev.op = oh
        ev.aux = status
        ev.flag = reason


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
    if (e.max_missed[g] >= 0 and O(e, oh).missed >= e.max_missed[g]
            and O(e, oh).status == OP_ONLINE):
        change_status(e, oh, OP_AWAY, 1, now)
        requeue_all(e, oh, now, True)
        n = copy_groups(e, oh)
        sweep(e, n, now)
    else:
        fill(e, oh, now)   # the freed slot takes what else waits for this operator


cdef inline int64_t copy_groups(Engine* e, hnd oh) noexcept nogil:
    cdef int64_t n = 0
    cdef hnd mh = O(e, oh).first_member
    while mh != -1:
        e.work2[n] = M(e, mh).group
        n += 1
        mh = M(e, mh).next
    return n


# ---------------------------------------------------------------------- commands

cdef void end_wrap_up(Engine* e, hnd oh, int32_t slots, double now) noexcept nogil:
    cdef Op* o
    detach(e, oh)
    o = O(e, oh)
    e.tick += 1
    o.wrap -= slots
    o.load -= slots
    o.idle = e.tick
    attach(e, oh)
    fill(e, oh, now)


cdef void eng_fire(Engine* e, double now) noexcept nogil:
    """Fire the timers due by ``now``, each as if called at its due time."""
    cdef TNode t
    cdef Req* r
    cdef EvRec* ev
    while e.timers.n and e.timers.nodes[0].due <= now:
        th_pop(&e.timers, &t)
        if t.group == TIMER_WRAP_UP:
            if O(e, t.req).alive and O(e, t.req).reg == t.rseq:
                end_wrap_up(e, t.req, t.rule, t.due)
            continue
        r = R(e, t.req)
        if r.seq != t.rseq or (r.state != ST_QUEUED and r.state != ST_OFFERED
                               and r.state != ST_ACTIVE):
            continue
        if t.group == TIMER_RECHECK:
            if r.state == ST_QUEUED and r.gen == t.gen:
                place(e, t.req, r.first_entry, t.due)
        elif t.group == TIMER_RETENTION:
            if not r.answered and r.ret_next == t.rule:
                r.ret_next += 1
                ev = ev_new(e, EV_RETENTION, t.req, t.due)
                if ev != NULL:
                    ev.ch = r.ch
                    ev.aux = t.rule
        elif t.group == TIMER_OFFER:
            if r.state == ST_OFFERED and r.offers == t.gen:
                expire_offer(e, t.req, t.due)
        elif r.state == ST_QUEUED and r.gen == t.gen:
            apply_rule(e, t.req, t.group, t.rule, t.due)


cdef void eng_begin(Engine* e, double now) noexcept nogil:
    if e.timers.n and e.timers.nodes[0].due <= now:
        eng_fire(e, now)
    e.now = now


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
    r.k = now if e.deadline else e.aging * now - <double>prio
    r.assigned_at = 0.0
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
    r.prefer = -1
    r.prefer_until = 0.0
    r.excl = -1
    r.answered = 0
    r.ret_next = 0
    r.ch = <int16_t>ch
    r.home = <int16_t>g
    r.via = -1
    r.state = ST_QUEUED
    en = EN(e, eh)
    en.req = rh
    en.group = g
    en.pos = -1
    en.next = -1
    return rh


cdef bint eng_overloaded(Engine* e, int32_t g) noexcept nogil:
    """max_queue reached and nobody in the group has room to answer at once."""
    return e.max_queue[g] >= 0 and e.g_waiting[g] >= e.max_queue[g] and e.g_free[g] == 0


cdef inline bint is_member(Engine* e, hnd oh, int32_t g) noexcept nogil:
    cdef hnd mh = O(e, oh).first_member
    while mh != -1:
        if M(e, mh).group == g:
            return True
        mh = M(e, mh).next
    return False


cdef hnd eng_submit(Engine* e, int32_t ch, int32_t g, int32_t prio, uint64_t sk_mask,
                    uint8_t* sk_level, hnd prefer, double prefer_for, double now) noexcept nogil:
    cdef hnd rh, sh
    cdef SkillReq* sk
    eng_begin(e, now)   # first: timers may take entries
    if eng_overloaded(e, g):
        return reject(e, ch, g, prio, REJECT_OVERLOADED, now)
    rh = new_request(e, ch, g, prio, now)
    if rh < 0:
        return -1
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
        R(e, rh).prefer = prefer
        R(e, rh).prefer_until = now + prefer_for
    route_new(e, rh, now)
    if not R(e, rh).answered:   # retention steps, while it waits for its first answer
        push_retention(e, rh)
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
    e.c_out[<int64_t>ch * N_OUT + OUT_REJECTED + reason] += 1.0
    e.g_out[<int64_t>g * N_OUT + OUT_REJECTED + reason] += 1.0
    ev = ev_new(e, EV_REJECTED, rh, now)
    if ev != NULL:
        ev.flag = reason
    retire(e, rh)
    return rh


cdef hnd hold_for_wrap_up(Engine* e, hnd rh, double until) noexcept nogil:
    """Finish with wrap-up: the conversation leaves, its slot stays taken until ``until``."""
    cdef Req* r = R(e, rh)
    cdef hnd oh = r.op
    cdef Op* o
    if th_reserve(&e.timers, 1, &e.mem) < 0:   # first, so push_timer below cannot fail
        e.oom = 1
        return release(e, rh)
    detach(e, oh)
    o = O(e, oh)
    e.tick += 1
    o.wrap += r.charge
    e.op_ch[<int64_t>oh * 2 * e.C + e.C + r.ch] -= 1
    o.idle = e.tick
    attach(e, oh)
    unlink_active(e, rh, o)
    e.g_active[r.via] -= 1
    e.c_active[r.ch] -= 1
    push_timer(e, until, oh, o.reg, 0, TIMER_WRAP_UP, R(e, rh).charge)
    return oh


cdef void eng_finish(Engine* e, hnd rh, double now) noexcept nogil:
    cdef hnd oh
    cdef EvRec* ev
    cdef Req* r
    cdef double wrap
    eng_begin(e, now)
    r = R(e, rh)
    wrap = e.wrap_g[r.via] if e.wrap_g[r.via] >= 0 else e.wrap_ch[r.ch]
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


cdef void eng_cancel(Engine* e, hnd rh, double now) noexcept nogil:
    cdef bint early
    cdef double* row
    cdef int k
    cdef hnd oh = -1
    cdef Req* r
    cdef double waited
    cdef EvRec* ev
    eng_begin(e, now)
    r = R(e, rh)
    if r.state == ST_QUEUED:
        dequeue(e, rh)
        waited = now - r.arrival
    else:
        waited = (r.assigned_at if r.state == ST_ACTIVE else now) - r.arrival
        oh = release(e, rh)
    r = R(e, rh)
    r.op = oh
    r.state = ST_CANCELLED
    early = (now - r.arrival) < e.early[r.ch]
    for k in range(2):
        row = &e.c_out[<int64_t>r.ch * N_OUT] if k == 0 else &e.g_out[<int64_t>r.home * N_OUT]
        if not r.answered:
            row[OUT_ABANDONED] += 1.0
        if early:
            row[OUT_EARLY] += 1.0
    retire(e, rh)
    ev = ev_new(e, EV_CANCELLED, rh, now)
    if ev != NULL:
        ev.waited = waited
        ev.flag = early
    if oh != -1:
        fill(e, oh, now)


cdef hnd eng_add_op(Engine* e, int32_t* groups, int32_t n, int32_t limit, int8_t status,
                    int32_t* caps, uint8_t* skills, int32_t* levels, int8_t kind,
                    double now) noexcept nogil:
    cdef hnd oh, mh, prev = -1
    cdef Op* o
    cdef int32_t i
    if (slab_reserve(&e.ops, 1, &e.mem) < 0 or slab_reserve(&e.mems, n, &e.mem) < 0
            or pr_grow(<void**>&e.op_ch, &e.cap_op_ch, (e.ops.used + 1) * 2 * e.C,
                       sizeof(int32_t), &e.mem) < 0
            or pr_grow(<void**>&e.op_sk, &e.cap_op_sk, (e.ops.used + 1) * 64,
                       sizeof(uint8_t), &e.mem) < 0):
        e.oom = 1
        return -1
    eng_begin(e, now)
    e.reg += 1
    oh = slab_take(&e.ops)
    o = O(e, oh)
    memset(o, 0, sizeof(Op))
    o.reg = e.reg
    o.limit = limit
    o.first_member = -1
    o.act_head = -1
    o.act_tail = -1
    o.alive = 1
    o.kind = kind
    for i in range(e.C):
        e.op_ch[<int64_t>oh * 2 * e.C + i] = caps[i]
        e.op_ch[<int64_t>oh * 2 * e.C + e.C + i] = 0
    memcpy(&e.op_sk[<int64_t>oh * 64], skills, 64)
    for i in range(n):
        mh = new_member(e, oh, groups[i])
        M(e, mh).level = levels[i]
        if prev == -1:
            O(e, oh).first_member = mh
        else:
            M(e, prev).next = mh
        prev = mh
    o = O(e, oh)
    o.status = status
    if status == OP_ONLINE:
        e.tick += 1
        o.idle = e.tick
    e.n_ops += 1
    attach(e, oh)
    fill(e, oh, now)
    return oh


cdef void eng_remove_op(Engine* e, hnd oh, double now) noexcept nogil:
    cdef bint was_online
    cdef int64_t n
    eng_begin(e, now)
    was_online = O(e, oh).status == OP_ONLINE
    detach(e, oh)
    O(e, oh).status = OP_OFFLINE
    attach(e, oh)
    requeue_all(e, oh, now, False)   # offers, and anything a timer assigned just now
    detach(e, oh)
    O(e, oh).alive = 0
    e.n_ops -= 1
    push_dead(e, &e.dead_ops, &e.n_dead_ops, &e.cap_dead_ops, oh)
    if was_online:
        n = copy_groups(e, oh)
        sweep(e, n, now)


cdef void eng_set_status(Engine* e, hnd oh, int8_t status, bint requeue,
                         double now) noexcept nogil:
    cdef int8_t old
    cdef int64_t n
    eng_begin(e, now)
    old = O(e, oh).status
    if old != status:
        change_status(e, oh, status, 0, now)
    if status != OP_ONLINE and (requeue or old == OP_ONLINE):
        requeue_all(e, oh, now, not requeue)
    if old == OP_ONLINE and status != OP_ONLINE:
        n = copy_groups(e, oh)
        sweep(e, n, now)
    fill(e, oh, now)


cdef void eng_set_groups(Engine* e, hnd oh, int32_t* groups, int32_t n,
                         double now) noexcept nogil:
    cdef hnd mh, nxt, prev = -1, first = -1
    cdef int32_t i
    cdef int64_t n_removed = 0
    cdef bint keep
    if slab_reserve(&e.mems, n, &e.mem) < 0:
        e.oom = 1
        return
    eng_begin(e, now)
    detach(e, oh)
    # kept memberships, in their old order; dropped ones are remembered for the sweep
    mh = O(e, oh).first_member
    while mh != -1:
        nxt = M(e, mh).next
        keep = False
        for i in range(n):
            if groups[i] == M(e, mh).group:
                keep = True
                break
        if keep:
            M(e, mh).next = -1
            if prev == -1:
                first = mh
            else:
                M(e, prev).next = mh
            prev = mh
        else:
            e.work2[n_removed] = M(e, mh).group
            n_removed += 1
            slab_give(&e.mems, mh, &e.mem)
        mh = nxt
    # new memberships, in the order given
    for i in range(n):
        keep = False
        mh = first
        while mh != -1:
            if M(e, mh).group == groups[i]:
                keep = True
                break
            mh = M(e, mh).next
        if keep:
            continue
        mh = new_member(e, oh, groups[i])
        if prev == -1:
            first = mh
        else:
            M(e, prev).next = mh
        prev = mh
    O(e, oh).first_member = first
    attach(e, oh)
    if O(e, oh).status == OP_ONLINE:
        sweep(e, n_removed, now)
    fill(e, oh, now)


cdef void eng_set_limit(Engine* e, hnd oh, int32_t limit, double now) noexcept nogil:
    eng_begin(e, now)
    detach(e, oh)
    O(e, oh).limit = limit
    attach(e, oh)
    fill(e, oh, now)


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
        ev.waited = now - r.arrival


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
    EN(e, eh).next = -1
    r = R(e, rh)
    r.first_entry = eh
    r.last_entry = eh
    r.home = <int16_t>g
    r.prefer = target
    r.prefer_until = now + e.transfer_timeout[g] if target != -1 else 0.0
    ev = ev_new(e, EV_TRANSFERRED, rh, now)
    if ev != NULL:
        ev.op = held_by
        ev.group = g
        ev.aux = target
        ev.flag = escalated
    route_new(e, rh, now)


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


cdef void eng_free_dead(Engine* e) noexcept nogil:
    """Release the handles the last call retired, once the bindings have read them."""
    cdef int64_t i
    cdef hnd h, eh, nxt
    for i in range(e.n_dead_reqs):
        h = e.dead_reqs[i]
        eh = R(e, h).first_entry
        while eh != -1:
            nxt = EN(e, eh).next
            slab_give(&e.ents, eh, &e.mem)
            eh = nxt
        eh = R(e, h).excl
        while eh != -1:
            nxt = (<Excl*>e.excls.items)[eh].next
            slab_give(&e.excls, eh, &e.mem)
            eh = nxt
        R(e, h).excl = -1
        if R(e, h).sk != -1:
            slab_give(&e.skreqs, R(e, h).sk, &e.mem)
            R(e, h).sk = -1
        R(e, h).state = ST_FREE
        R(e, h).first_entry = -1
        slab_give(&e.reqs, h, &e.mem)
    for i in range(e.n_dead_ops):
        h = e.dead_ops[i]
        eh = O(e, h).first_member
        while eh != -1:
            nxt = M(e, eh).next
            slab_give(&e.mems, eh, &e.mem)
            eh = nxt
        O(e, h).first_member = -1
        # the operator's slot is not recycled: ended conversations in history still
        # name it by handle
    e.n_dead_reqs = 0
    e.n_dead_ops = 0
    e.n_ev = 0
    e.n_evg = 0
