# Expected wait (Queued.position and expected_wait, RequestView, Router.expected_wait,
# Group.max_expected_wait). Each queue keeps a QStat, updated as conversations join and
# leave it; a prediction reads it in O(1). The arithmetic is pyroute/_ewt.py's, in the
# same order, so both engines predict the same seconds. docs/semantics.md "Expected wait".

from libc.math cimport log

cdef double EWT_DECAY = 1023.0 / 1024.0
cdef int64_t EWT_SUM_TERMS = 16


cdef inline void ewt_touch(Engine* e, QStat* st, int32_t g, double now) noexcept nogil:
    """Account the time since the queue of ``st`` (of group ``g``) last changed (call
    before it changes)."""
    cdef double dt
    if st.len:
        dt = now - st.last
        if dt > 0.0:
            st.pm += <double>e.cnt.g_online[g] * dt
            st.pa += <double>st.len * dt
    st.last = now


cdef inline void ewt_joined(QStat* st, double k, int64_t seq) noexcept nogil:
    """After a push of (k, seq): count it, and keep the largest key since the queue was
    last empty."""
    st.len += 1
    if st.len == 1 or k > st.kmax or (k == st.kmax and seq > st.smax):
        st.kmax = k
        st.smax = seq


cdef inline void ewt_departed(QStat* st, bint served) noexcept nogil:
    st.len -= 1
    if served:
        st.n = EWT_DECAY * st.n + 1.0
        st.mw = EWT_DECAY * st.mw + st.pm
        st.pm = 0.0
    st.a = EWT_DECAY * st.a + (0.0 if served else 1.0)
    st.s = EWT_DECAY * st.s + st.pa
    st.pa = 0.0


cdef double ewt_digamma(double x) noexcept nogil:
    cdef double acc = 0.0, f
    while x < 6.0:
        acc -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    return (acc + log(x) - 0.5 / x
            - f * (1.0 / 12.0 - f * (1.0 / 120.0 - f * (1.0 / 252.0
                                                        - f * (1.0 / 240.0 - f / 132.0)))))


cdef double ewt_predict(Engine* e, int64_t qi, int64_t pos, double now) noexcept nogil:
    """Seconds until the conversation at ``pos`` (1: the head) of queue ``qi`` is served;
    -1 with nothing to go by."""
    cdef QStat* st = &e.qst[qi]
    cdef int64_t n = st.len
    cdef int64_t members = e.cnt.g_online[qi // e.C]
    cdef double mw = st.mw + st.pm, s = st.s + st.pa, dt, r, theta, w, x
    cdef int64_t i
    if n:
        dt = now - st.last
        if dt > 0.0:
            mw += <double>members * dt
            s += <double>n * dt
    if st.n <= 0.0 or mw <= 0.0 or members <= 0:
        return -1.0
    r = st.n * <double>members / mw
    theta = st.a / s if s > 0.0 else 0.0
    if theta <= 0.0:
        return <double>pos / r
    if pos <= EWT_SUM_TERMS:
        w = 0.0
        for i in range(pos):
            w += 1.0 / (r + <double>i * theta)
        return w
    x = r / theta
    return (ewt_digamma(x + <double>pos) - ewt_digamma(x)) / theta


cdef int64_t heap_count_below(Engine* e, QNode* nodes, int64_t n, QNode* x) noexcept nogil:
    """How many nodes of the heap come before ``x``: a walk that only goes down from
    nodes that do (a heap's nodes before x are a subtree at its root). O(that count)."""
    cdef int64_t count = 0, top = 0, i
    if n == 0 or not qn_less(&nodes[0], x):
        return 0
    if not trav_reserve(e, n):
        # no room for the walk's stack: count them one by one instead (O(n), no memory)
        for i in range(n):
            if qn_less(&nodes[i], x):
                count += 1
        return count
    e.scr.trav[0] = 0
    top = 1
    while top:
        top -= 1
        i = e.scr.trav[top]
        count += 1
        if 2 * i + 1 < n and qn_less(&nodes[2 * i + 1], x):
            e.scr.trav[top] = 2 * i + 1
            top += 1
        if 2 * i + 2 < n and qn_less(&nodes[2 * i + 2], x):
            e.scr.trav[top] = 2 * i + 2
            top += 1
    return count


cdef int64_t ewt_position(Engine* e, hnd rh) noexcept nogil:
    """A queued request's place in its home group's queue of its channel (1: next), or 0
    when it is not in that queue. O(1) for one at the back, else O(those ahead)."""
    cdef Req* r = R(e, rh)
    cdef int64_t qi = <int64_t>r.home * e.C + r.ch
    cdef RQueue* q = &e.queues[qi]
    cdef QStat* st = &e.qst[qi]
    cdef hnd eh = r.first_entry
    cdef QNode x
    cdef int64_t count, s
    cdef bint found = False
    while eh != -1:
        if EN(e, eh).group == r.home and EN(e, eh).pos >= 0:
            found = True
            break
        eh = EN(e, eh).next
    if not found:
        return 0
    x.k = req_key(e, r)
    x.seq = r.seq
    if x.k == st.kmax and x.seq == st.smax:
        return st.len
    count = heap_count_below(e, q.nodes, q.n, &x)
    for s in range(q.n_subs):
        count += heap_count_below(e, q.subs[s].nodes, q.subs[s].n, &x)
    return count + 1


cdef double ewt_waiting(Engine* e, hnd rh, double now, int64_t* pos) noexcept nogil:
    """A queued request's place (``pos``; 0 when not in its home queue) and its expected
    wait from ``now`` (-1: nothing to go by)."""
    pos[0] = ewt_position(e, rh)
    if pos[0] == 0:
        return -1.0
    return ewt_predict(e, <int64_t>R(e, rh).home * e.C + R(e, rh).ch, pos[0], now)


cdef double eng_newcomer_wait(Engine* e, int32_t g, int32_t c, double now) noexcept nogil:
    """The wait predicted for a conversation of channel ``c`` submitted to ``g`` now: 0
    when someone could answer it at once, else the prediction for the back of the queue
    (-1: nothing to go by)."""
    cdef int64_t qi = <int64_t>g * e.C + c
    if eng_pick(e, g, c, -1) != -1:
        return 0.0
    return ewt_predict(e, qi, e.qst[qi].len + 1, now)
