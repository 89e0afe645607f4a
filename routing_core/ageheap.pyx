# The longest-waiting request of each group and of each channel (for stats): a lazy heap
# (heap.pyx on AgeNode) by submission order.

cdef inline bint age_live(Engine* e, AgeNode* x) noexcept nogil:
    cdef Req* r = R(e, x.req)
    return r.state == ST_QUEUED and r.seq == x.seq and r.gen == x.gen


cdef void age_push(Engine* e, AgeHeap* h, hnd rh, int64_t live) noexcept nogil:
    """Index a request that entered a queue. Entries of requests that left stay until they
    reach the top; when they outnumber the live ones the heap is rebuilt (amortised O(1))."""
    cdef int64_t i, kept
    cdef AgeNode x
    if h.n > 2 * live + 64:
        kept = 0
        for i in range(h.n):
            if age_live(e, &h.nodes[i]):
                h.nodes[kept] = h.nodes[i]
                kept += 1
        h.n = kept
        hp_heapify(h.nodes, kept, NULL)
    if h.n == h.cap and pr_grow(<void**>&h.nodes, &h.cap, h.n + 1, sizeof(AgeNode),
                                &e.mem) < 0:
        e.oom = 1
        return
    x.seq = R(e, rh).seq
    x.req = rh
    x.gen = R(e, rh).gen
    hp_push(h.nodes, &h.n, &x, NULL)


cdef int64_t age_over(Engine* e, AgeHeap* h, double t, double least) noexcept nogil:
    """Live entries that have waited longer than their channel's target at ``t`` (``least``:
    the smallest target of the channels in the heap). A walk from the top that stops below
    a live entry not over ``least`` (those after it arrived no earlier): it visits the
    entries over target, the departed ones among them and a boundary. -1: out of memory."""
    cdef int64_t k = 0, pos, n = 0
    cdef AgeNode* x
    cdef Req* r
    if h.n == 0:
        return 0
    if not trav_reserve(e, h.n):
        return -1
    e.scr.trav[k] = 0
    k += 1
    while k > 0:
        k -= 1
        pos = e.scr.trav[k]
        x = &h.nodes[pos]
        if age_live(e, x):
            r = R(e, x.req)
            if t - r.arrival <= least:
                continue
            if t - r.arrival > e.cfg.tw[r.ch]:
                n += 1
        if 2 * pos + 1 < h.n:
            e.scr.trav[k] = 2 * pos + 1
            k += 1
        if 2 * pos + 2 < h.n:
            e.scr.trav[k] = 2 * pos + 2
            k += 1
    return n


cdef hnd age_oldest(Engine* e, AgeHeap* h, int64_t live) noexcept nogil:
    """The longest-waiting request still queued (dropping entries of those that left), or
    -1 when none waits."""
    if live == 0:
        h.n = 0
        return -1
    while h.n and not age_live(e, &h.nodes[0]):
        hp_pop(h.nodes, &h.n, NULL)
    return h.nodes[0].req if h.n else -1
