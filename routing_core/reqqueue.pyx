# Indexed request heaps (heap.pyx on QNode): Entry.pos follows every move, so a request
# leaves from the middle in O(log n).

cdef int rq_reserve(RQueue* q, int64_t extra, int64_t* bytes) noexcept nogil:
    if pr_grow(<void**>&q.nodes, &q.cap, q.n + extra, sizeof(QNode), bytes) < 0:
        return ERR_NOMEM
    return 0


cdef void rq_push(RQueue* q, Entry* ents, hnd entry, double k, int64_t seq) noexcept nogil:
    cdef QNode x
    PR_ASSERT(q.n < q.cap)
    x.k = k
    x.seq = seq
    x.entry = entry
    hp_push(q.nodes, &q.n, &x, ents)


cdef void rq_remove(RQueue* q, Entry* ents, int64_t pos) noexcept nogil:
    PR_ASSERT(0 <= pos and pos < q.n)
    ents[q.nodes[pos].entry].pos = -1
    hp_remove(q.nodes, &q.n, pos, ents)


cdef inline void qn_push(QNode* nodes, int64_t* n, Entry* ents, hnd entry, double k,
                         int64_t seq) noexcept nogil:
    cdef QNode x
    x.k = k
    x.seq = seq
    x.entry = entry
    hp_push(nodes, n, &x, ents)


cdef int64_t rq_sub_for(RQueue* q, uint64_t mask, int64_t* n_made, int64_t* bytes) noexcept nogil:
    """The index of ``q``'s sub-heap of ``mask`` with room for one more node (an empty
    sub-heap is taken over, else one is added), or -1 when out of memory. O(sub-heaps)."""
    cdef int64_t i, free_ = -1
    cdef SubQ* sq
    for i in range(q.n_subs):
        if q.subs[i].mask == mask and q.subs[i].n:
            free_ = i
            break
        if q.subs[i].n == 0 and free_ < 0:
            free_ = i
    if free_ < 0:
        if q.n_subs == q.cap_subs and pr_grow(<void**>&q.subs, &q.cap_subs, q.n_subs + 1,
                                               sizeof(SubQ), bytes) < 0:
            return -1
        free_ = q.n_subs
        q.n_subs += 1
        n_made[0] += 1
        memset(&q.subs[free_], 0, sizeof(SubQ))
    sq = &q.subs[free_]
    if sq.n == 0:
        sq.mask = mask
    if sq.n == sq.cap and pr_grow(<void**>&sq.nodes, &sq.cap, sq.n + 1, sizeof(QNode),
                                  bytes) < 0:
        return -1
    return free_


cdef inline void rq_remove_entry(RQueue* q, Entry* ents, hnd eh) noexcept nogil:
    """Take entry ``eh`` out of whichever heap of ``q`` holds it."""
    if ents[eh].sub < 0:
        rq_remove(q, ents, ents[eh].pos)
    else:
        rq_remove_sub(q, ents, eh)


cdef void rq_remove_sub(RQueue* q, Entry* ents, hnd eh) noexcept nogil:
    """Take entry ``eh`` out of its sub-heap (out of line: the skill-free path stays as
    short as it was)."""
    cdef Entry* en = &ents[eh]
    cdef int64_t pos = en.pos
    cdef SubQ* sq = &q.subs[en.sub]
    PR_ASSERT(0 <= pos and pos < sq.n)
    en.pos = -1
    en.sub = -1
    hp_remove(sq.nodes, &sq.n, pos, ents)


cdef inline int64_t rq_len(RQueue* q) noexcept nogil:
    """How many requests wait in ``q`` (its own heap and its sub-heaps). O(sub-heaps)."""
    cdef int64_t n = q.n, i
    for i in range(q.n_subs):
        n += q.subs[i].n
    return n
