# Requests entering and leaving their (group, channel) queues, and the engine's one way
# to set a timer.

cdef inline void enqueue_entry(Engine* e, hnd eh, double now) noexcept nogil:
    """Put an entry in its queue: the queue's own heap, or the sub-heap of the skills its
    request still requires at ``now``."""
    cdef Entry* en = EN(e, eh)
    cdef Req* r = R(e, en.req)
    cdef int32_t g = en.group
    cdef int64_t qi = <int64_t>g * e.C + r.ch
    cdef RQueue* q = &e.queues[qi]
    cdef uint64_t need = skills_needed(e, r, now) if r.sk != -1 else 0
    cdef int64_t s
    ewt_touch(e, &e.qst[qi], g, now)
    if need == 0:
        if q.n == q.cap and rq_reserve(q, 1, &e.mem) < 0:
            e.oom = 1
            return
        rq_push(q, <Entry*>e.ents.items, eh, req_key(e, r), r.seq)
        en.sub = -1
    else:
        s = rq_sub_for(q, need, &e.g_subq[g], &e.mem)
        if s < 0:
            e.oom = 1
            return
        en.sub = <int32_t>s
        qn_push(q.subs[s].nodes, &q.subs[s].n, <Entry*>e.ents.items, eh, req_key(e, r), r.seq)
    ewt_joined(&e.qst[qi], req_key(e, r), r.seq)
    if r.n_queued == 0:
        e.cnt.c_waiting[r.ch] += 1
        e.cnt.c_arr_sum[r.ch] += r.arrival
        age_push(e, &e.cnt.c_age[r.ch], en.req, e.cnt.c_waiting[r.ch])
    r.n_queued += 1
    e.cnt.g_waiting[g] += 1
    e.cnt.g_arr_sum[g] += r.arrival
    age_push(e, &e.cnt.g_age[g], en.req, e.cnt.g_waiting[g])


cdef inline void dequeue(Engine* e, hnd rh, double now, bint served) noexcept nogil:
    """Take the request out of its queues; ``served``: it goes to an operator (assigned
    or offered), for what the queues learn for their expected wait."""
    cdef Req* r = R(e, rh)
    cdef hnd eh = r.first_entry
    cdef Entry* en
    cdef int64_t qi
    if r.n_queued == 0:
        return
    while eh != -1:
        en = EN(e, eh)
        if en.pos >= 0:
            qi = <int64_t>en.group * e.C + r.ch
            ewt_touch(e, &e.qst[qi], en.group, now)
            rq_remove_entry(&e.queues[qi], <Entry*>e.ents.items, eh)
            ewt_departed(&e.qst[qi], served)
            e.cnt.g_waiting[en.group] -= 1
            e.cnt.g_arr_sum[en.group] = (e.cnt.g_arr_sum[en.group] - r.arrival
                                         if e.cnt.g_waiting[en.group] else 0.0)
        eh = en.next
    e.cnt.c_waiting[r.ch] -= 1
    e.cnt.c_arr_sum[r.ch] = e.cnt.c_arr_sum[r.ch] - r.arrival if e.cnt.c_waiting[r.ch] else 0.0
    r.n_queued = 0


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


cdef void resort_entries(Engine* e, hnd rh, double now) noexcept nogil:
    """Move a queued request whose requirements relax at ``now`` to the sub-heaps of the
    skills it still requires (moving changes no order: only which heaps an operator's
    walk may skip)."""
    cdef Req* r = R(e, rh)
    cdef uint64_t need = skills_needed(e, r, now)
    cdef hnd eh = r.first_entry
    cdef Entry* en
    cdef RQueue* q
    cdef int64_t s
    cdef int32_t g
    while eh != -1:
        en = EN(e, eh)
        if en.pos >= 0:
            g = en.group
            q = &e.queues[<int64_t>g * e.C + r.ch]
            if (q.subs[en.sub].mask if en.sub >= 0 else 0) != need:
                if need == 0:
                    if q.n == q.cap and rq_reserve(q, 1, &e.mem) < 0:
                        e.oom = 1
                        return
                    rq_remove_entry(q, <Entry*>e.ents.items, eh)
                    rq_push(q, <Entry*>e.ents.items, eh, req_key(e, r), r.seq)
                else:
                    rq_remove_entry(q, <Entry*>e.ents.items, eh)
                    s = rq_sub_for(q, need, &e.g_subq[g], &e.mem)
                    if s < 0:
                        e.oom = 1
                        return
                    EN(e, eh).sub = <int32_t>s
                    qn_push(q.subs[s].nodes, &q.subs[s].n, <Entry*>e.ents.items, eh,
                            req_key(e, r), r.seq)
        eh = EN(e, eh).next
