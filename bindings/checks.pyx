# Argument checks at the boundary: every public entry point turns ids, names, times and
# numbers into handles and indices here, or raises the error that says what to fix.
# Functions of the Router take it as ``self``, as the methods they were.

from cpython.long cimport PyLong_AsLongAndOverflow

cdef inline int check_id(object x, str what) except -1:
    if type(x) is str or type(x) is int:
        return 0
    if isinstance(x, bool) or not isinstance(x, (str, int)):
        raise _errors._id_problem(what, x)
    return 0


cdef inline object exact_id(object x, str what):
    """A new id as a plain str or int: a subclass is copied to its base type first, so
    that its own ``__hash__``/``__eq__`` (which may raise, or change, between two
    lookups) never run after the core has changed something."""
    if type(x) is str or type(x) is int:
        return x
    return _exact_id(what, x)     # pyroute._common: the check and the copy, shared


cdef int check_int(object x, str what, long lo, long hi) except -1:
    cdef int overflow = 0
    cdef long v
    if type(x) is int:     # compared in C: no int objects made for lo and hi
        v = PyLong_AsLongAndOverflow(x, &overflow)
        if not overflow and lo <= v <= hi:
            return 0
    _check_int(what, x, lo, hi)      # pyroute._common: the check and its message
    return 0


cdef double arg_time(Router self, object now) except? -1.0:
    """``now`` checked, and the router brought to it before anything else is looked at:
    the timers due by ``now`` fire (their events are held for this call's return, or the
    next call's if this one is refused). The clock moves to the last due time fired; the
    call moves it on to ``now`` once it is accepted (a refused call stops there)."""
    cdef double t = read_time(self, now)
    cdef double last
    if self.e.timers.n and self.e.timers.nodes[0].due <= t:
        while self.e.timers.n and self.e.timers.nodes[0].due <= t:
            last = self.e.timers.nodes[0].due
            eng_fire(&self.e, last)       # all due by then, as eng_begin(t) would in turn
        self.e.now = last
        self._collect(self.pending)
    return t


cdef object PK_NOW = object()   # apply_packed's stand-in for a command's now (Router.pk_now)


cdef double read_time(Router self, object now) except? -1.0:
    """``now`` checked, for a read that fires nothing."""
    cdef double t
    if now is None:
        now = self._clock()
    if type(now) is float:
        t = now
    elif now is PK_NOW:   # a packed command's time: a double already, no float object made
        t = self.pk_now
    elif isinstance(now, bool) or not isinstance(now, (int, float)):
        raise _errors.bad_time(now, self.e.now)
    else:
        try:
            t = float(now)
        except OverflowError:
            raise _errors.bad_time(float("inf"), self.e.now) from None
    if not isfinite(t) or t < self.e.now:
        raise _errors.bad_time(t if now is PK_NOW else now, self.e.now)
    return t


cdef tuple arg_group_channel(Router self, object group, object channel):
    """A (group, channel) pair of names as indices: UnknownId naming what is known."""
    gi = self.gindex.get(group) if isinstance(group, str) else None
    if gi is None:
        raise _errors.unknown("group", group, self.gindex)
    ci = self.cindex.get(channel) if isinstance(channel, str) else None
    if ci is None:
        raise _errors.unknown("channel", channel, self.cindex)
    return gi, ci


cdef inline hnd arg_op(Router self, object opid) except -2:
    check_id(opid, "operator")
    h = self.op_map.get(opid)
    if h is None:
        raise _errors.unknown("operator", opid)
    return <hnd>h


cdef hnd arg_live(Router self, object rid, str verb) except -2:
    cdef hnd h
    check_id(rid, "conversation")
    x = self.req_map.get(rid)
    if x is None:
        raise _errors.unknown("conversation", rid)
    h = x
    if R(&self.e, h).state > ST_ACTIVE:
        raise InvalidState(
            f"cannot {verb} conversation {rid!r}: it is already "
            f"{STATE_NAMES[R(&self.e, h).state]}")
    return h


cdef list arg_groups(Router self, object groups):
    return _check_groups(groups, self.gindex)     # shared with the reference engine


cdef inline int8_t arg_status(Router self, object status) except -1:
    code = STATUS_CODE.get(status) if isinstance(status, str) else None
    if code is None:
        _check_status(status)        # raises, with the shared message
    return <int8_t>code


cdef int held_count(Router self, hnd oh):
    """Active (accepted or assigned) conversations of an operator."""
    cdef int n = 0
    cdef hnd x = O(&self.e, oh).act_head
    while x != -1:
        if R(&self.e, x).state == ST_ACTIVE:
            n += 1
        x = R(&self.e, x).act_next
    return n


cdef hnd arg_offer(Router self, object request, object operator, str verb) except -2:
    cdef hnd h = arg_live(self, request, verb)
    cdef Req* r = R(&self.e, h)
    if r.state != ST_OFFERED:
        raise InvalidState(
            f"cannot {verb} conversation {request!r}: it is {STATE_NAMES[r.state]}, "
            f"not offered")
    if operator is not None:
        check_id(operator, "operator")
        if operator != self.op_ids[r.op]:
            raise InvalidState(
                f"cannot {verb} conversation {request!r} as {operator!r}: it is offered "
                f"to {self.op_ids[r.op]!r}")
    return h
