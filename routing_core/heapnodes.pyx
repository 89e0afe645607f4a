# How each node type of the core orders and where its heaps record positions: the two
# functions heap.pyx asks of its includer. Keys are unique (each ends in a submission,
# registration or timer number), so the order of service never depends on the heap's
# layout: both engines agree on it.

cdef inline bint qn_less(QNode* a, QNode* b) noexcept nogil:
    return a.k < b.k or (a.k == b.k and a.seq < b.seq)


cdef inline bint on_less(ONode* a, ONode* b) noexcept nogil:
    if a.p != b.p:
        return a.p < b.p
    if a.s1 != b.s1:
        return a.s1 < b.s1
    return a.s2 < b.s2


cdef inline bint hn_less(HNode* a, HNode* b, void* ctx) noexcept nogil:
    if HNode is QNode:            # (k, seq)
        return qn_less(a, b)
    elif HNode is ONode:          # (policy key, last assignment, registration)
        return on_less(a, b)
    elif HNode is TNode:          # (due, tseq)
        return a.due < b.due or (a.due == b.due and a.tseq < b.tseq)
    elif HNode is AgeNode:        # submission order
        return a.seq < b.seq
    elif HNode is RCand:          # the request-queue nodes they point at (ctx)
        return qn_less(&(<QNode*>ctx)[a.pos], &(<QNode*>ctx)[b.pos])
    else:                         # OCand: the operator-heap nodes they point at (ctx)
        return on_less(&(<ONode*>ctx)[a.pos], &(<ONode*>ctx)[b.pos])


cdef inline void hn_put(HNode* a, int64_t i, HNode* x, void* ctx) noexcept nogil:
    a[i] = x[0]
    if HNode is QNode:            # indexed: Entry.pos (ctx: the entries)
        (<Entry*>ctx)[a[i].entry].pos = <int32_t>i
    elif HNode is ONode:          # indexed: Member.pos (ctx: the memberships)
        (<Member*>ctx)[a[i].member].pos = <int32_t>i
