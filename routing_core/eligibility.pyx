# Whether an operator may take a request now: the channel fits, no decline, its tier is
# due, the skills still required after relaxation; ``pickable`` for Router.pick.

cdef bint fits(Engine* e, hnd mh, hnd rh, double now) noexcept nogil:
    """Whether the operator of membership ``mh`` may take request ``rh`` through its group
    at ``now``: its channel fits, it has not declined it, its tier is due, and it has the
    skills still required after relaxation."""
    if not fits_channel(e, M(e, mh).op, R(e, rh).ch):
        return False
    return fits_rules(e, mh, rh, now)


cdef inline bint fits_rules(Engine* e, hnd mh, hnd rh, double now) noexcept nogil:
    """``fits`` apart from the channel: no decline, the preference, the tier, the skills."""
    cdef Member* m = M(e, mh)
    cdef hnd oh = m.op
    cdef int32_t g = m.group
    cdef Req* r = R(e, rh)
    cdef SkillReq* sk
    cdef uint64_t need, dropped = 0
    cdef int32_t i, bit
    cdef uint8_t* has
    if r.excl != -1 and excludes(e, rh, oh):
        return False
    if r.x != -1 and RX(e, r.x).prefer != -1 and now < RX(e, r.x).prefer_until \
            and oh != RX(e, r.x).prefer:
        return False
    if e.cfg.level_step[g] >= 0 and r.arrival + <double>(m.level - 1) * e.cfg.level_step[g] > now:
        return False
    if r.sk == -1:
        return True
    sk = &(<SkillReq*>e.skreqs.items)[r.sk]
    for i in range(e.cfg.relax_start[r.home], e.cfg.relax_start[r.home + 1]):
        if r.arrival + e.cfg.relax_after[i] <= now:
            dropped |= e.cfg.relax_mask[i]
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


cdef inline bint pickable(Engine* e, hnd mh, int32_t c, hnd excl) noexcept nogil:
    cdef Member* m = M(e, mh)
    return (m.op != excl and fits_channel(e, m.op, c)
            and (e.cfg.level_step[m.group] < 0 or m.level <= 1)
            and not new_held(e, m.op, m.group, c))


cdef inline uint64_t skills_needed(Engine* e, Req* r, double now) noexcept nogil:
    """The mask of the skills request ``r`` still requires at ``now`` (after its home
    group's relaxations): the sub-heap of its queues it sits in."""
    cdef uint64_t need
    cdef int32_t i
    if r.sk == -1:
        return 0
    need = (<SkillReq*>e.skreqs.items)[r.sk].mask
    for i in range(e.cfg.relax_start[r.home], e.cfg.relax_start[r.home + 1]):
        if r.arrival + e.cfg.relax_after[i] <= now:
            need &= ~e.cfg.relax_mask[i]
    return need


cdef inline uint64_t op_skill_mask(Engine* e, hnd oh) noexcept nogil:
    """The mask of the skills operator ``oh`` has (at any level)."""
    cdef uint8_t* has = &e.op_sk[<int64_t>oh * 64]
    cdef uint64_t m = 0
    cdef int i
    for i in range(64):
        if has[i]:
            m |= (<uint64_t>1) << i
    return m
