# Handle slabs: ``slab_reserve`` is the only call that allocates; ``slab_take`` after a
# successful reserve cannot fail, so mutations never stop half-way for lack of memory.

cdef int slab_init(Slab* s, size_t item) noexcept nogil:
    memset(s, 0, sizeof(Slab))
    s.item = item
    return 0


cdef void slab_dealloc(Slab* s) noexcept nogil:
    free(s.items)
    free(s.free_list)
    s.items = NULL
    s.free_list = NULL


cdef int slab_reserve(Slab* s, int64_t n, int64_t* bytes) noexcept nogil:
    """Make sure ``n`` more handles can be taken without allocating."""
    cdef int64_t fresh = n - s.n_free
    if fresh <= 0:
        return 0
    if pr_grow(&s.items, &s.cap, s.used + fresh, s.item, bytes) < 0:
        return ERR_NOMEM
    if pr_grow(<void**>&s.free_list, &s.free_cap, s.used + fresh, sizeof(hnd), bytes) < 0:
        return ERR_NOMEM
    return 0


cdef hnd slab_take(Slab* s) noexcept nogil:
    cdef hnd h
    if s.n_free > 0:
        s.n_free -= 1
        return s.free_list[s.n_free]
    PR_ASSERT(s.used < s.cap)
    h = <hnd>s.used
    s.used += 1
    return h


cdef int slab_give(Slab* s, hnd h, int64_t* bytes) noexcept nogil:
    PR_ASSERT(0 <= h and h < s.used)
    PR_ASSERT(s.n_free < s.free_cap)
    s.free_list[s.n_free] = h
    s.n_free += 1
    return 0
