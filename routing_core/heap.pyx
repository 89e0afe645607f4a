# The one binary min-heap of the project, on a C array of nodes, generic over the node
# type. Every queue and heap of the core uses it (request queues, operator heaps, timers,
# the longest-waiting index, the candidate heaps of the best-first walks), and so does the
# simulator's event loop (src/pyroute/sim/_loop.pyx).
#
# The includer supplies, before including this file:
#   ctypedef fused HNode: ...           the node types it keeps in heaps
#   hn_less(HNode* a, HNode* b, void* ctx) -> bint
#                                       the order (``ctx``: what the key needs, e.g. the
#                                       nodes a candidate position points into)
#   hn_put(HNode* a, int64_t i, HNode* x, void* ctx)
#                                       store ``x`` at ``a[i]`` and record the position
#                                       where the heap is indexed (Entry.pos, Member.pos)
# Fused types are resolved at compile time, so each heap gets its own specialised C code:
# the same instructions as a heap written out for one type.
#
# Callers own the array and its growth (pr_grow) and keep ``n``; every function here is
# O(log n) and never allocates.

cdef inline void hp_up(HNode* a, int64_t i, HNode* x, void* ctx) noexcept nogil:
    """Put ``x`` in the hole at ``i`` and move it up to its place."""
    cdef HNode v = x[0]
    cdef int64_t parent
    while i > 0:
        parent = (i - 1) >> 1
        if not hn_less(&v, &a[parent], ctx):
            break
        hn_put(a, i, &a[parent], ctx)
        i = parent
    hn_put(a, i, &v, ctx)


cdef inline void hp_down(HNode* a, int64_t n, int64_t i, HNode* x, void* ctx) noexcept nogil:
    """Put ``x`` in the hole at ``i`` of a heap of ``n`` nodes and move it down to its
    place."""
    cdef HNode v = x[0]
    cdef int64_t child
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and hn_less(&a[child + 1], &a[child], ctx):
            child += 1
        if not hn_less(&a[child], &v, ctx):
            break
        hn_put(a, i, &a[child], ctx)
        i = child
    hn_put(a, i, &v, ctx)


cdef inline void hp_sink(HNode* a, int64_t n, int64_t i, HNode* x, void* ctx) noexcept nogil:
    """``hp_down`` for a node that most likely belongs near the bottom (the last node,
    filling a hole): the hole first moves down along the lesser children to a leaf, one
    comparison a level instead of two, then ``x`` moves up from there (rarely far)."""
    cdef HNode v = x[0]
    cdef int64_t child, parent, top = i
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and hn_less(&a[child + 1], &a[child], ctx):
            child += 1
        hn_put(a, i, &a[child], ctx)
        i = child
    while i > top:
        parent = (i - 1) >> 1
        if not hn_less(&v, &a[parent], ctx):
            break
        hn_put(a, i, &a[parent], ctx)
        i = parent
    hn_put(a, i, &v, ctx)


cdef inline void hp_push(HNode* a, int64_t* n, HNode* x, void* ctx) noexcept nogil:
    """Add ``x`` (room for it reserved by the caller)."""
    n[0] += 1
    hp_up(a, n[0] - 1, x, ctx)


cdef inline void hp_pop(HNode* a, int64_t* n, void* ctx) noexcept nogil:
    """Drop the top (``a[0]``; read it first)."""
    n[0] -= 1
    if n[0] > 0:
        hp_sink(a, n[0], 0, &a[n[0]], ctx)


cdef inline void hp_remove(HNode* a, int64_t* n, int64_t pos, void* ctx) noexcept nogil:
    """Drop the node at ``pos``: the last node fills the hole, up or down."""
    n[0] -= 1
    if pos == n[0]:
        return
    if pos > 0 and hn_less(&a[n[0]], &a[(pos - 1) >> 1], ctx):
        hp_up(a, pos, &a[n[0]], ctx)
    else:
        hp_sink(a, n[0], pos, &a[n[0]], ctx)


cdef inline void hp_heapify(HNode* a, int64_t n, void* ctx) noexcept nogil:
    """Make heap order over ``a[:n]``, in O(n)."""
    cdef int64_t i = n // 2
    while i > 0:
        i -= 1
        hp_down(a, n, i, &a[i], ctx)
