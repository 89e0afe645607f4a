# The Router class: the extension type that holds the engine and the id maps, its
# command methods (checks, one call into the core, events), and the public API. Argument
# checks, event conversion, views, state dumps and config lowering are functions of it in
# their own parts.

cdef class Router:
    """The native router. See ``pyroute.Router`` for the documented API."""

    cdef Engine e
    cdef readonly object config
    cdef object _cc
    cdef object _clock
    cdef dict req_map
    cdef list req_ids
    cdef dict op_map
    cdef list op_ids
    cdef tuple gnames
    cdef tuple cnames
    cdef dict gindex
    cdef dict cindex
    cdef list hidden
    cdef tuple ret_actions
    cdef object tags
    cdef list sticky
    cdef list escalate_to
    cdef dict last_op
    cdef dict visitors
    cdef list req_vis
    cdef dict by_visitor
    cdef object bans_
    cdef object cats
    cdef object switches
    cdef bint switched       # a channel switch was ever linked (else nothing to forget)
    cdef list cat_names
    cdef dict cat_index
    cdef bint broken
    cdef bint initialized
    cdef list pending        # events of timers fired but not returned yet
    cdef dict hold_map       # live hold id -> its Hold handle
    cdef list hold_ids       # Hold handle -> its id (None once ended)
    cdef object cur_hold     # the hold id of the call being made (HoldRefused names it)
    cdef bint packing        # in apply_packed (a second one is refused); its events are...
    cdef PyObject* pk        # ...in this bytes object (a big batch) or NULL: pk_buf
    cdef char* pk_buf        # (packing.pyx); pk_n bytes so far
    cdef Py_ssize_t pk_n, pk_cap
    cdef double pk_now       # the now of the packed command being applied (read_time)
    # names seen, by identity: the last exact str found in cindex / gindex at each slot
    # (a strong reference, so that its address is not reused), and its index
    cdef PyObject* name_keys[2 * NAME_SLOTS]
    cdef int32_t name_vals[2 * NAME_SLOTS]

    engine = "native"

    def __cinit__(self):
        memset(&self.e, 0, sizeof(Engine))
        self.initialized = False
        self.pending = []

    def __init__(self, config, *, clock=_time_mod.monotonic):
        if self.initialized:
            raise InvalidState("Router is already initialised")
        cc = _compile(config)
        cfg = cc.config
        self.config = cfg
        self._cc = cc
        if not callable(clock):
            raise InvalidArgument(f"clock must be callable, got {clock!r}")
        self._clock = clock
        self.gnames = cc.group_names
        self.cnames = cc.channel_names
        self.gindex = dict(cc.group_index)
        self.cindex = dict(cc.channel_index)
        self.hidden = list(cc.hidden)
        self.bans_ = _Bans()
        self.tags = _SkillTags()
        self.sticky = list(cc.sticky_for)
        self.last_op = {}
        self.escalate_to = list(cc.escalate)
        self.visitors = {}
        self.req_vis = []        # handle -> the visitor who submitted it (live and history)
        self.by_visitor = {}     # visitor -> {handle: None} of its live conversations
        self.cats = _Categories()
        self.switches = _Switches()
        self.cat_names = []
        self.cat_index = {}
        self.req_map = {}
        self.req_ids = []
        self.op_map = {}
        self.op_ids = []
        self.hold_map = {}
        self.hold_ids = []
        self.ret_actions = tuple(tuple(action for _after, action in steps) for steps in cc.retention)
        lower_config(self, cc)

    def __dealloc__(self):
        cdef int i
        for i in range(2 * NAME_SLOTS):
            Py_XDECREF(self.name_keys[i])
            self.name_keys[i] = NULL
        pk_drop(self)
        free(self.pk_buf)
        self.pk_buf = NULL
        eng_dealloc(&self.e)

    @classmethod
    def from_toml(cls, path, **kw):
        """Build a router from a TOML config file (``RouterConfig.from_toml``)."""
        from pyroute.config import RouterConfig
        return cls(RouterConfig.from_toml(path), **kw)

    # ------------------------------------------------------------------ boundary helpers
    cdef inline int _ok(self) except -1:
        if self.broken:
            raise RoutingError(
                "this router ran out of memory earlier and its state is no longer known; "
                "build a new one (or reopen it from its journal)")
        return 0

    cdef int _raise_core(self) except -1:
        """The one place the core's error state becomes an exception."""
        if self.e.oom:
            self.broken = True
            raise MemoryError("pyroute: the native core ran out of memory")
        return 0

    cdef inline int32_t _name(self, object name, dict index, int half):
        """The index of a channel (``half`` 0, ``cindex``) or group (1, ``gindex``) name, or
        -1 when it is not one. A host names them with the same few str objects call
        after call, so the last exact str found at each slot of a small table keyed by
        its address answers without hashing; a str subclass always goes to the dict."""
        cdef size_t s = ((<size_t><PyObject*>name >> 4) & (NAME_SLOTS - 1)) + half * NAME_SLOTS
        if self.name_keys[s] == <PyObject*>name:
            return self.name_vals[s]
        if not isinstance(name, str):
            return -1
        x = index.get(name)
        if x is None:
            return -1
        if type(name) is str:
            Py_INCREF(name)
            Py_XDECREF(self.name_keys[s])
            self.name_keys[s] = <PyObject*>name
            self.name_vals[s] = <int32_t>x
        return <int32_t>x

    cdef inline void _bind(self, list ids, dict idmap, hnd h, object ident):
        cdef Py_ssize_t n = len(ids)
        if h == n:       # the usual case, a fresh handle: no list of padding to build
            ids.append(ident)
        else:
            if h > n:
                ids.extend([None] * (h + 1 - n))
            ids[h] = ident
        idmap[ident] = h

    cdef int _collect(self, list out) except -1:
        """Turn the core's event records into events, retire dead handles, reset.

        The core has already changed state: if building the events fails (out of
        memory), the handles are still retired and the router is marked broken.
        Events held from timers fired earlier (by a read, or a call that was refused)
        come first: this is where a call has succeeded. In ``apply_packed`` they are
        written as packed records instead (timers fired by a call that may yet be refused
        still become objects, held in ``pending``)."""
        if out is None:     # apply_packed's commands (packing.pyx): written as records
            return self._collect_packed()
        if self.pending and out is not self.pending:
            out.extend(self.pending)
            self.pending = []
        try:
            convert_events(self, out, 0, self.e.evs.n, True)
        except BaseException:
            self.broken = True
            raise
        finally:
            eng_free_dead(&self.e)
        if PR_DEBUG:
            self.check()
        return 0

    cdef int _collect_packed(self) except -1:
        try:
            if self.pending:
                held, self.pending = self.pending, []
                pk_append(self, _packed.encode_events(held, self.config))
            pack_events(self)
        except BaseException:
            self.broken = True
            raise
        finally:
            eng_free_dead(&self.e)
        if PR_DEBUG:
            self.check()
        return 0

    # ------------------------------------------------------------------ commands (cdef)
    cdef int _submit(self, object request, object channel, object group, object priority,
                     object visitor, object now, object skills, object prefer,
                     object prefer_for, list out) except -1:
        cdef double t, wait
        cdef int32_t ci, gi
        cdef hnd h, ph = -1
        cdef uint64_t mask = 0
        cdef uint8_t levels[64]
        self._ok()
        t = arg_time(self, now)   # first: a clock may call back into the router
        request = exact_id(request, "conversation")
        x = self.req_map.get(request)
        if x is not None:
            if R(&self.e, <hnd>x).state >= ST_FINISHED:
                raise _errors.ended(request, STATE_NAMES[R(&self.e, <hnd>x).state],
                                    self.config.history)
            raise _errors.duplicate("conversation", request)
        ci = self._name(channel, self.cindex, 0)
        if ci < 0:
            raise _errors.unknown("channel", channel, self.cindex)
        gi = self._name(group, self.gindex, 1)
        if gi < 0:
            raise _errors.unknown("group", group, self.gindex)
        check_int(priority, "priority", -PRIORITY_LIMIT, PRIORITY_LIMIT)
        if visitor is not None and (isinstance(visitor, bool)
                                    or not isinstance(visitor, (str, int))):
            raise InvalidArgument(
                f"visitor must be a str, an int or None, got {type(visitor).__name__} "
                f"{visitor!r}")
        if visitor is not None and type(visitor) is not str and type(visitor) is not int:
            visitor = exact_id(visitor, "visitor")
        wanted = self.tags.check(skills, "skills") if skills is not None else None
        if prefer is not None:
            ph = arg_op(self, prefer)
        if type(prefer_for) is float and 0.0 <= prefer_for <= 1e9:
            wait = prefer_for
        else:
            wait = _check_prefer_for(prefer_for)
        if wanted:   # registered by any submit that passes the checks, admitted or not
            memset(levels, 0, 64)
            for b, lv in self.tags.register(wanted).items():
                mask |= (<uint64_t>1) << <int>b
                levels[<int>b] = <uint8_t>lv
        if visitor is not None and self.bans_.active(visitor, t):
            h = eng_reject(&self.e, ci, gi, <int32_t>priority, REJECT_BANNED, t)
        elif self.hidden[gi]:
            h = eng_reject(&self.e, ci, gi, <int32_t>priority, REJECT_HIDDEN, t)
        elif not self.e.cfg.takes[gi * self.e.C + ci]:
            h = eng_reject(&self.e, ci, gi, <int32_t>priority, REJECT_CHANNEL, t)
        else:
            sticky = self.sticky[gi]
            if prefer is None and visitor is not None and sticky is not None:
                last = self.last_op.get(visitor)
                if last is not None and t - last[1] <= sticky:
                    ph, wait = self.op_map.get(last[0], -1), 0.0
            h = eng_submit(&self.e, ci, gi, <int32_t>priority, mask, levels, ph, wait, t)
            if (h >= 0 and visitor is not None and sticky is not None
                    and R(&self.e, h).state != ST_REJECTED):
                self.visitors[request] = visitor
        if h < 0:
            self._raise_core()
        self._bind(self.req_ids, self.req_map, h, request)
        if visitor is not None:
            self._visit(h, visitor)
        self._collect(out)
        return 0

    cdef int _visit(self, hnd h, object visitor) except -1:
        """Remember who submitted request ``h`` (and, while it is live, find it by them)."""
        cdef list vis = self.req_vis
        if h >= len(vis):
            vis.extend([None] * (h + 1 - len(vis)))
        vis[h] = visitor
        if R(&self.e, h).state <= ST_ACTIVE:
            d = self.by_visitor.get(visitor)
            if d is None:
                self.by_visitor[visitor] = {h: None}
            else:
                d[h] = None
        return 0

    cdef int _unvisit(self, hnd h) except -1:
        """Request ``h`` ended: it is no longer one of its visitor's live conversations."""
        v = self.req_vis[h] if h < len(self.req_vis) else None
        if v is not None:
            d = self.by_visitor[v]
            del d[h]
            if not d:
                del self.by_visitor[v]
        return 0

    cdef int _finish(self, object request, object now, list out) except -1:
        cdef hnd h
        cdef double t
        self._ok()
        t = arg_time(self, now)   # first: a clock may call back into the router
        h = arg_live(self, request, "finish")
        if R(&self.e, h).state == ST_QUEUED:
            raise InvalidState(
                f"cannot finish conversation {request!r}: it is still queued "
                f"(cancel it if the customer left)")
        if R(&self.e, h).state == ST_OFFERED:
            raise InvalidState(
                f"cannot finish conversation {request!r}: it is offered to "
                f"{self.op_ids[R(&self.e, h).op]!r} and not accepted yet")
        eng_finish(&self.e, h, t)
        self._collect(out)
        return 0

    cdef int _cancel(self, object request, object now, object switched_to,
                     list out) except -1:
        cdef hnd h
        cdef double t
        cdef int8_t reason = CANCEL_CUSTOMER
        self._ok()
        t = arg_time(self, now)   # first: a clock may call back into the router
        h = arg_live(self, request, "cancel")
        if switched_to is not None:
            switched_to = self.switches.check(request, switched_to,
                                              self.req_map.__contains__)
            reason = CANCEL_SWITCHED
            self.switches.link(self.req_ids[h], switched_to)
            self.switched = True
        eng_cancel(&self.e, h, reason, t)
        self._collect(out)
        return 0

    cdef int _add_operator(self, object operator, object groups, object limit, object status,
                           object now, object channel_limits, object skills, object levels,
                           object kind, list out) except -1:
        cdef double t
        cdef int8_t st
        cdef hnd h
        cdef int32_t buf[1024]
        cdef int32_t capbuf[64]
        cdef uint8_t skbuf[64]
        cdef int32_t lvbuf[1024]
        cdef Py_ssize_t i
        self._ok()
        t = arg_time(self, now)   # first: a clock may call back into the router
        operator = exact_id(operator, "operator")
        if operator in self.op_map:
            raise _errors.duplicate("operator", operator)
        gs = arg_groups(self, groups)
        check_int(limit, "limit", 0, _MAX_LIMIT)
        st = arg_status(self, status)
        caps = _check_channel_limits(channel_limits, self.cindex)
        has = self.tags.check(skills, "skills")
        tiers = _check_levels(levels, gs, self.gindex)
        kind_i = _check_kind(kind)
        memset(skbuf, 0, 64)
        for b, lv in self.tags.register(has).items():
            skbuf[<int>b] = <uint8_t>lv
        for i in range(len(gs)):
            buf[i] = gs[i]
            lvbuf[i] = tiers.get(gs[i], 1)
        for i in range(self.e.C):
            capbuf[i] = caps[i]
        h = eng_add_op(&self.e, buf, <int32_t>len(gs), <int32_t>limit, st, capbuf, skbuf,
                       lvbuf, <int8_t>kind_i, t)
        if h < 0:
            self._raise_core()
        self._bind(self.op_ids, self.op_map, h, operator)
        self._collect(out)
        return 0

    cdef int _remove_operator(self, object operator, object now, object requeue,
                              list out) except -1:
        cdef hnd h
        cdef double t
        self._ok()
        t = arg_time(self, now)   # first: a clock may call back into the router
        h = arg_op(self, operator)
        if not isinstance(requeue, bool):
            raise InvalidArgument(f"requeue must be True or False, got {requeue!r}")
        held = held_count(self, h)
        if held and self.pending:      # not told yet: given by a timer just now
            for rid in _untold_assigned(self.pending, operator):
                x = self.req_map.get(rid)
                if (x is not None and R(&self.e, <hnd>x).state == ST_ACTIVE
                        and R(&self.e, <hnd>x).op == h):
                    held -= 1
        if held and not requeue:
            raise InvalidState(
                f"operator {operator!r} still holds {held} "
                f"conversation(s): "
                f"finish them first, or pass requeue=True to send them back to the queue")
        eng_remove_op(&self.e, h, t)
        self._collect(out)
        return 0

    cdef int _set_status(self, object operator, object status, object now, object requeue,
                         list out) except -1:
        cdef hnd h
        cdef double t
        cdef int8_t st
        self._ok()
        t = arg_time(self, now)   # first: a clock may call back into the router
        h = arg_op(self, operator)
        st = arg_status(self, status)
        if not isinstance(requeue, bool):
            raise InvalidArgument(f"requeue must be True or False, got {requeue!r}")
        eng_set_status(&self.e, h, st, requeue, t)
        self._collect(out)
        return 0

    cdef int _set_groups(self, object operator, object groups, object now,
                         list out) except -1:
        cdef hnd h
        cdef double t
        cdef int32_t buf[1024]
        cdef Py_ssize_t i
        self._ok()
        t = arg_time(self, now)   # first: a clock may call back into the router
        h = arg_op(self, operator)
        gs = arg_groups(self, groups)
        for i in range(len(gs)):
            buf[i] = gs[i]
        eng_set_groups(&self.e, h, buf, <int32_t>len(gs), t)
        self._collect(out)
        return 0

    cdef int _set_limit(self, object operator, object limit, object now, list out) except -1:
        cdef hnd h
        cdef double t
        self._ok()
        t = arg_time(self, now)   # first: a clock may call back into the router
        h = arg_op(self, operator)
        check_int(limit, "limit", 0, _MAX_LIMIT)
        eng_set_limit(&self.e, h, <int32_t>limit, t)
        self._collect(out)
        return 0

    cdef int _advance(self, object now, list out) except -1:
        cdef double t
        self._ok()
        t = arg_time(self, now)   # first: a clock may call back into the router
        eng_begin(&self.e, t)
        self._collect(out)
        return 0

    cdef int _ban(self, object visitor, object until, object reason, object now,
                  object cancel_waiting, list out) except -1:
        cdef double t
        cdef hnd* hs
        cdef Py_ssize_t i, n
        self._ok()
        t = arg_time(self, now)
        u = _Bans.check(visitor, until, reason, t)
        if not isinstance(cancel_waiting, bool):
            raise InvalidArgument(
                f"cancel_waiting must be True or False, got {cancel_waiting!r}")
        visitor = exact_id(visitor, "visitor")   # hashed only after timers fired below
        eng_begin(&self.e, t)
        self._collect(out)
        self.bans_.ban(visitor, u, reason, t)
        if not cancel_waiting:
            return 0
        live = self.by_visitor.get(visitor)
        if not live:
            return 0
        waiting = sorted([(R(&self.e, x).seq, x) for x in live
                          if R(&self.e, x).state != ST_ACTIVE])
        n = len(waiting)
        if n == 0:
            return 0
        hs = <hnd*>malloc(n * sizeof(hnd))
        if hs == NULL:
            raise MemoryError()
        for i in range(n):
            hs[i] = waiting[i][1]
        eng_ban_cancel(&self.e, hs, n, t)
        free(hs)
        self._collect(out)
        return 0

    cdef int _unban(self, object visitor, object now, list out) except -1:
        cdef double t
        self._ok()
        t = arg_time(self, now)
        self.bans_.require(visitor)
        if not self.bans_.is_banned(visitor, t):
            raise _errors.UnknownId(f"visitor {visitor!r} is not banned")
        eng_begin(&self.e, t)
        self._collect(out)
        self.bans_.unban(visitor, t)
        return 0

    cdef int _transfer(self, object request, object group, object operator, object now,
                       bint escalate, list out, object if_busy="wait") except -1:
        cdef double t
        cdef hnd h, oh = -1, mh
        cdef int32_t gi
        cdef Req* r
        self._ok()
        t = arg_time(self, now)
        h = arg_live(self, request, "escalate" if escalate else "transfer")
        r = R(&self.e, h)
        if escalate:
            gi = self.escalate_to[r.home]
            if gi < 0:
                raise InvalidState(
                    f"cannot escalate {request!r}: group {self.gnames[r.home]!r} has no "
                    f"escalate_to (it is the last line)")
            if not self.e.cfg.takes[gi * self.e.C + r.ch]:
                raise InvalidState(_channel_refused(self._cc, request, r.ch, gi, "escalate"))
        elif (group is None) == (operator is None):
            raise InvalidArgument("transfer needs exactly one of group= or operator=")
        if not escalate and (type(if_busy) is not str or if_busy not in ("wait", "refuse")):
            raise InvalidArgument(f"if_busy must be \"wait\" or \"refuse\", got {if_busy!r}")
        if escalate:
            pass
        elif group is not None:
            x = self.gindex.get(group) if isinstance(group, str) else None
            if x is None:
                raise _errors.unknown("group", group, self.gindex)
            gi = x
            if not self.e.cfg.takes[gi * self.e.C + r.ch]:
                raise InvalidState(_channel_refused(self._cc, request, r.ch, gi, "transfer"))
        else:
            oh = arg_op(self, operator)
            if O(&self.e, oh).status != OP_ONLINE:
                raise InvalidState(
                    f"cannot transfer {request!r} to operator {operator!r}: they are "
                    f"{STATUSES[O(&self.e, oh).status]}; transfer to a group instead")
            if O(&self.e, oh).first_member == -1:
                raise InvalidState(
                    f"cannot transfer {request!r} to operator {operator!r}: they are in no group")
            if r.op == oh and r.state != ST_QUEUED:
                if xfer_to(&self.e, h) == -1 or xfer_to(&self.e, h) == oh:
                    raise InvalidState(
                        f"conversation {request!r} is already with operator {operator!r}")
                # back to the one who has it: the pending transfer is withdrawn
                eng_withdraw_transfer(&self.e, h, oh, t)
                self._collect(out)
                return 0
            if is_member(&self.e, oh, r.home):
                gi = r.home
            else:
                gi = -1
                mh = O(&self.e, oh).first_member
                while mh != -1:
                    if self.e.cfg.takes[M(&self.e, mh).group * self.e.C + r.ch]:
                        gi = M(&self.e, mh).group
                        break
                    mh = M(&self.e, mh).next
                if gi < 0:
                    raise InvalidState(_channel_refused(self._cc, request, r.ch, None,
                                                        "transfer", operator))
            if if_busy == "refuse" and not takes(&self.e, oh, h):
                raise InvalidState(self._busy(request, oh, h))
            eng_transfer_to(&self.e, h, gi, oh, if_busy == "refuse", t)
            self._collect(out)
            return 0
        eng_transfer(&self.e, h, gi, oh, escalate, t)
        self._collect(out)
        return 0

    cdef str _busy(self, object request, hnd oh, hnd h):
        cdef Req* r = R(&self.e, h)
        cdef Op* o = O(&self.e, oh)
        cdef int32_t cap = self.e.op_ch[<int64_t>oh * 2 * self.e.C + r.ch]
        cdef int32_t count = self.e.op_ch[<int64_t>oh * 2 * self.e.C + self.e.C + r.ch]
        cdef int32_t need = charge(&self.e, o, r.ch)
        name = self.op_ids[oh]
        if r.excl != -1 and excludes(&self.e, h, oh):
            why = "they declined it or let its offer expire"
        elif cap >= 0 and count >= cap:
            why = (f"they hold {count} of their {cap} "
                   f"{self.cnames[r.ch]!r} conversation(s)")
        else:
            why = (f"they are full ({o.load}/{o.limit} slots taken, it needs "
                   f"{max(need, 1)})")
        return (f"cannot transfer {request!r} to operator {name!r}: {why}; try again "
                f"later, or pass if_busy=\"wait\" to leave it with its operator until they can")

    cdef int _answer_offer(self, object request, object operator, object now, bint accept,
                           list out) except -1:
        """accept (or decline) an open offer."""
        cdef double t
        cdef hnd h
        self._ok()
        t = arg_time(self, now)
        if self.pending:
            arg_live(self, request, "accept" if accept else "decline")
            if operator is not None:
                check_id(operator, "operator")
            if _untold_expiry(self.pending, request, operator):
                eng_begin(&self.e, t)
                self._collect(out)   # the offer expired by now: the events say what happened
                return 0
        h = arg_offer(self, request, operator, "accept" if accept else "decline")
        if accept:
            eng_accept(&self.e, h, t)
        else:
            eng_decline(&self.e, h, t)
        self._collect(out)
        return 0

    cdef int _categorize(self, object request, object name, object now, list out) except -1:
        cdef double t
        cdef hnd h
        self._ok()
        t = arg_time(self, now)
        check_id(request, "conversation")
        _Categories.check(name)
        x = self.req_map.get(request)
        if x is None:
            raise _errors.unknown("conversation", request)
        h = x
        self.cats.room(name)
        eng_begin(&self.e, t)
        self._collect(out)
        old = R(&self.e, h).cat
        self.cats.move(self.cat_names[old] if old >= 0 else None, name, R(&self.e, h).ch,
                       R(&self.e, h).home)
        ci = self.cat_index.get(name)
        if ci is None:
            ci = len(self.cat_names)
            self.cat_names.append(name)
            self.cat_index[name] = ci
        R(&self.e, h).cat = <int32_t>ci
        return 0

    cdef int _hold(self, object group, object channel, object hold, object seconds,
                   object exclude, object now, list out) except -1:
        cdef double t, secs
        cdef hnd ex = -1, hh
        self._ok()
        t = arg_time(self, now)   # first: a clock may call back into the router
        gi, ci = arg_group_channel(self, group, channel)
        hold = _exact_id("hold", hold)
        if exclude is not None:
            check_id(exclude, "operator")
            ex = self.op_map.get(exclude, -1)
        if hold in self.hold_map:
            raise _errors.duplicate("hold", hold)
        secs = _check_hold_seconds(seconds)
        self.cur_hold = hold
        hh = eng_hold(&self.e, <int32_t>gi, <int32_t>ci, ex, t + secs, t)
        if hh >= 0:
            self._bind(self.hold_ids, self.hold_map, hh, hold)
        self._collect(out)
        self.cur_hold = None
        return 0

    cdef int _release_hold(self, object hold, object now, list out) except -1:
        cdef double t
        self._ok()
        t = arg_time(self, now)   # first: a clock may call back into the router
        check_id(hold, "hold")
        h = self.hold_map.get(hold)
        if h is None:
            raise _errors.unknown("hold", hold)
        eng_release_hold(&self.e, <hnd>h, t)
        self._collect(out)
        return 0

    cdef int _apply(self, object cmd, list out) except -1:
        tp = type(cmd)
        if FIELDS_OK:    # the hot three, their fields read from their slots (fields.pyx)
            if tp is Submit:
                return self._submit(
                    field(cmd, SUBMIT_AT[0]), field(cmd, SUBMIT_AT[1]), field(cmd, SUBMIT_AT[2]),
                    field(cmd, SUBMIT_AT[3]), field(cmd, SUBMIT_AT[4]), field(cmd, SUBMIT_AT[5]),
                    field(cmd, SUBMIT_AT[6]), field(cmd, SUBMIT_AT[7]), field(cmd, SUBMIT_AT[8]),
                    out)
            if tp is Finish:
                return self._finish(field(cmd, FINISH_AT[0]), field(cmd, FINISH_AT[1]), out)
            if tp is Cancel:
                return self._cancel(field(cmd, CANCEL_AT[0]), field(cmd, CANCEL_AT[1]),
                                    field(cmd, CANCEL_AT[2]), out)
        if tp is Submit:
            return self._submit(cmd.request, cmd.channel, cmd.group, cmd.priority, cmd.visitor,
                                cmd.now, cmd.skills, cmd.prefer, cmd.prefer_for, out)
        if tp is Finish:
            return self._finish(cmd.request, cmd.now, out)
        if tp is Cancel:
            return self._cancel(cmd.request, cmd.now, cmd.switched_to, out)
        if tp is SetStatus:
            return self._set_status(cmd.operator, cmd.status, cmd.now, cmd.requeue, out)
        if tp is AddOperator:
            return self._add_operator(cmd.operator, cmd.groups, cmd.limit, cmd.status, cmd.now,
                                      cmd.channel_limits, cmd.skills, cmd.levels, cmd.kind,
                                      out)
        if tp is RemoveOperator:
            return self._remove_operator(cmd.operator, cmd.now, cmd.requeue, out)
        if tp is SetGroups:
            return self._set_groups(cmd.operator, cmd.groups, cmd.now, out)
        if tp is SetLimit:
            return self._set_limit(cmd.operator, cmd.limit, cmd.now, out)
        if tp is Transfer:
            return self._transfer(cmd.request, cmd.group, cmd.operator, cmd.now, False, out,
                                  cmd.if_busy)
        if tp is Escalate:
            return self._transfer(cmd.request, None, None, cmd.now, True, out)
        if tp is Accept:
            return self._answer_offer(cmd.request, cmd.operator, cmd.now, True, out)
        if tp is Decline:
            return self._answer_offer(cmd.request, cmd.operator, cmd.now, False, out)
        if tp is Categorize:
            return self._categorize(cmd.request, cmd.name, cmd.now, out)
        if tp is Ban:
            return self._ban(cmd.visitor, cmd.until, cmd.reason, cmd.now, cmd.cancel_waiting,
                             out)
        if tp is Unban:
            return self._unban(cmd.visitor, cmd.now, out)
        if tp is Advance:
            return self._advance(cmd.now, out)
        if tp is HoldCmd:
            return self._hold(cmd.group, cmd.channel, cmd.hold, cmd.seconds, cmd.exclude,
                              cmd.now, out)
        if tp is ReleaseHold:
            return self._release_hold(cmd.hold, cmd.now, out)
        raise InvalidArgument(
            f"apply takes a command struct (Submit, Finish, ...), got {tp.__name__}")

    # ------------------------------------------------------------------ commands (public)
    def submit(self, request, channel, group, priority=0, visitor=None, now=None,
               skills=None, prefer=None, prefer_for=0.0):
        """Route a new conversation. Returns ``[Assigned]``, or ``[Queued]`` (after any
        ``Overflowed``), or ``[Rejected]``; events of timers due by ``now`` come first.

        Raises UnknownId (channel, group), DuplicateId, InvalidArgument, TimeError.
        O(log n) in the queue and operator heaps touched.
        """
        cdef list out = []
        self._submit(request, channel, group, priority, visitor, now, skills, prefer,
                     prefer_for, out)
        return out

    def finish(self, request, now=None):
        """The operator is done with an active conversation: ``Finished``, then the
        ``Assigned`` events of what the freed slot pulls in. Raises UnknownId,
        InvalidState (queued or already ended). O(groups x channels + log n)."""
        cdef list out = []
        self._finish(request, now, out)
        return out

    def cancel(self, request, now=None, switched_to=None):
        """The customer left: ``Cancelled(early=...)``; an answered conversation frees its
        operator's slot. ``switched_to``: the conversation (already submitted) the customer
        moved to (a call-back, a request): ``Cancelled(reason="switched")``, counted as
        switched, not abandoned. Raises UnknownId, InvalidState (already ended). O(log n)."""
        cdef list out = []
        self._cancel(request, now, switched_to, out)
        return out

    def add_operator(self, operator, groups, limit, status="offline", now=None,
                     channel_limits=None, skills=None, levels=None, kind="human"):
        """Register an operator in ``groups`` with ``limit`` slots (offline unless
        ``status`` says otherwise); ``channel_limits`` caps its conversations per channel
        (``{"email": 2}``). Raises DuplicateId, UnknownId (group, channel),
        InvalidArgument. O(groups x log n)."""
        cdef list out = []
        self._add_operator(operator, groups, limit, status, now, channel_limits, skills, levels,
                           kind, out)
        return out

    def remove_operator(self, operator, now=None, requeue=False):
        """Remove an operator. One who holds conversations needs ``requeue=True``: they go
        back to the queue at their original place. Raises UnknownId, InvalidState."""
        cdef list out = []
        self._remove_operator(operator, now, requeue, out)
        return out

    def set_status(self, operator, status, now=None, requeue=False):
        """``"online"``, ``"away"`` or ``"offline"``: ``StatusChanged``, then what follows
        (assignments when going online; requeues with ``requeue=True``; overflow of
        groups left with nobody online). Raises UnknownId, InvalidArgument."""
        cdef list out = []
        self._set_status(operator, status, now, requeue, out)
        return out

    def set_groups(self, operator, groups, now=None):
        """Move an operator to ``groups``; waiting conversations of new groups can go to
        it at once. Raises UnknownId, InvalidArgument."""
        cdef list out = []
        self._set_groups(operator, groups, now, out)
        return out

    def set_limit(self, operator, limit, now=None):
        """Change the operator's limit; lowering it takes nothing away. Raises UnknownId,
        InvalidArgument."""
        cdef list out = []
        self._set_limit(operator, limit, now, out)
        return out

    def transfer(self, request, group=None, operator=None, now=None, if_busy="wait"):
        """Hand a conversation to another group, or to an operator. An operator who can
        take it gets it at once; one who cannot: with ``if_busy="wait"`` an active
        conversation stays with its sender until they can (``TransferFailed`` after the
        group's transfer_timeout), a waiting one waits for them alone that long; with
        ``if_busy="refuse"`` the call raises InvalidState. ``Transferred``, then the new
        routing decision; it keeps its arrival time. Raises UnknownId, InvalidArgument,
        InvalidState."""
        cdef list out = []
        self._transfer(request, group, operator, now, False, out, if_busy)
        return out

    def escalate(self, request, now=None):
        """Transfer a conversation to its group's ``escalate_to`` group (the next line).
        Raises InvalidState past the last line, UnknownId."""
        cdef list out = []
        self._transfer(request, None, None, now, True, out)
        return out

    def accept(self, request, operator=None, now=None):
        """The operator takes the offered conversation: ``Accepted``. If the offer expired
        by ``now``, the returned events say so (``OfferExpired``, and where it went) and
        there is no ``Accepted``. Raises InvalidState when it is not offered (to
        ``operator``, if given), UnknownId. O(1)."""
        cdef list out = []
        self._answer_offer(request, operator, now, True, out)
        return out

    def decline(self, request, operator=None, now=None):
        """The operator turns the offer down: the conversation goes back to its place and
        on to someone else, never again to this operator. Raises like ``accept``."""
        cdef list out = []
        self._answer_offer(request, operator, now, False, out)
        return out

    def categorize(self, request, name, now=None):
        """Tag a conversation, live or kept in history, with a category (``"non_target"``
        is just a name); tagging again replaces it. Returns the events of timers due by
        ``now``. Raises UnknownId, InvalidArgument. O(1)."""
        cdef list out = []
        self._categorize(request, name, now, out)
        return out

    def ban(self, visitor, until=None, reason="", now=None, cancel_waiting=True):
        """Ban a visitor until ``until`` (``None``: until lifted): its submits are
        ``Rejected(reason="banned")``, and unless ``cancel_waiting=False`` its waiting
        conversations (queued or offered) end as ``Cancelled(reason="banned")``; its
        active ones stay with their operators. Banning again replaces the ban. Returns
        the events of timers due by ``now``, then the cancels. Raises InvalidArgument (no
        visitor, ``until`` not later than ``now``), TimeError. O(k log k) for the
        visitor's k live conversations."""
        cdef list out = []
        self._ban(visitor, until, reason, now, cancel_waiting, out)
        return out

    def unban(self, visitor, now=None):
        """Lift a ban. Raises UnknownId when the visitor is not banned. O(1)."""
        cdef list out = []
        self._unban(visitor, now, out)
        return out

    def bans(self, now=None):
        """The bans in force at ``now`` (``BanView``), in the order they were set. Fires
        no timers. O(bans)."""
        return self.bans_.views(read_time(self, now))

    def accepting(self, group, channel, now=None, visitor=None):
        """Whether a submit to ``group`` on ``channel`` (by ``visitor``) would be admitted
        and could be answered: False for a hidden group, a group that does not take the
        channel, a group whose ``max_queue`` is reached for the channel while none of its
        operators could take one now, when nobody online who could take the channel is in
        the group or in a group its rules would add at once (the offline form), or a
        banned visitor. For a chat widget to hide itself. Fires no timers. O(groups
        reached)."""
        t = read_time(self, now)
        gi = self.gindex.get(group) if isinstance(group, str) else None
        if gi is None:
            raise _errors.unknown("group", group, self.gindex)
        if not isinstance(channel, str) or channel not in self.cindex:
            raise _errors.unknown("channel", channel, self.cindex)
        ci = self.cindex[channel]
        _check_visitor(visitor)
        if self.hidden[gi] or not self.e.cfg.takes[<int64_t>gi * self.e.C + <int64_t>ci]:
            return False
        if eng_overloaded(&self.e, <int32_t>gi, <int32_t>ci, t):
            return False
        if not eng_reach_able(&self.e, <int32_t>gi, <int32_t>ci):
            return False
        return not (visitor is not None and self.bans_.is_banned(visitor, t))

    def expected_wait(self, group, channel, now=None):
        """Seconds a conversation of ``channel`` submitted to ``group`` now would wait
        before an answer: 0.0 when someone could answer it at once, None when there is
        nothing to go by (no conversation of that queue served yet, nobody of the group
        online) or the group does not take it (hidden, or not its channel). Changes
        nothing, fires no timers. O(1) (the ``pick`` it asks first: O(k log k))."""
        t = read_time(self, now)
        gi, ci = arg_group_channel(self, group, channel)
        if self.hidden[gi] or not self.e.cfg.takes[<int64_t>gi * self.e.C + <int64_t>ci]:
            return None
        w = eng_newcomer_wait(&self.e, <int32_t>gi, <int32_t>ci, t)
        self._raise_core()
        return None if w < 0.0 else w

    def pick(self, group, channel, exclude=None):
        """The operator ``group``'s policy would give a new conversation of ``channel``
        now — online, with room for the channel, level 1 where the group has tiers —
        skipping ``exclude``; ``None`` when nobody could take it. Changes nothing and
        fires no timers: for a platform that assigns conversations itself and asks whom
        (Rocket.Chat's External Queue Service). O(k log k) for the k operators passed over."""
        cdef hnd ex = -1, oh
        gi, ci = arg_group_channel(self, group, channel)
        if exclude is not None:
            check_id(exclude, "operator")
            ex = self.op_map.get(exclude, -1)
        oh = eng_pick(&self.e, <int32_t>gi, <int32_t>ci, ex)
        self._raise_core()
        return None if oh < 0 else self.op_ids[oh]

    def hold(self, group, channel, hold, seconds, exclude=None, now=None):
        """Hold a slot for a conversation the host places itself: the operator ``pick``
        would name now keeps one ``channel`` conversation's worth of slots for
        ``seconds`` (``Held``; ``HoldRefused`` when nobody could take one). It ends by
        ``release_hold``, at its ``until`` (``HoldEnded(reason="expired")``), or when the
        operator leaves online or is removed. Raises UnknownId (group, channel),
        DuplicateId (a live hold of that id), InvalidArgument. See docs/semantics.md,
        "Holds". O(k log k) as ``pick``, then O(groups x log n)."""
        cdef list out = []
        self._hold(group, channel, hold, seconds, exclude, now, out)
        return out

    def release_hold(self, hold, now=None):
        """End a hold, once the conversation it was for has arrived (submitted preferring
        the operator, in the same batch before this) or will not come:
        ``HoldEnded(reason="released")``, then what the freed slot takes — first the
        waiting conversations that prefer the operator, in queue order, then as any freed
        slot. Raises UnknownId for a hold that is not live. O(waiting in the operator's
        groups)."""
        cdef list out = []
        self._release_hold(hold, now, out)
        return out

    def advance(self, now=None):
        """Fire the timers due by ``now``. O(k log n) for k timers."""
        cdef list out = []
        self._advance(now, out)
        return out

    def apply(self, cmd):
        """Apply one Command struct: the same as calling the matching method."""
        cdef list out = []
        self._apply(cmd, out)
        return out

    def apply_many(self, cmds):
        """Apply commands in order in one call. On a failure raises BatchError with the
        events of the commands applied before it (they stay applied)."""
        cdef list out = []
        cdef Py_ssize_t i = 0
        for cmd in _iterate(cmds):
            try:
                self._apply(cmd, out)
            except RoutingError as exc:
                raise BatchError(i, exc, out) from exc
            i += 1
        return out

    def apply_packed(self, data):
        """``apply_many`` in binary: ``data`` holds packed command records (int64
        conversation ids, channels and groups by index; ``pyroute.packed``,
        docs/packed.md), the answer packed event records. The same checks and semantics
        as the commands' methods. Raises InvalidArgument (not whole records) before
        applying anything; on a failure BatchError with the events (Structs) of the
        commands applied before it."""
        cdef const PkCmd* cmds
        cdef Py_ssize_t i, n
        if self.packing:
            raise InvalidState(
                "apply_packed was called while an apply_packed of this router is running "
                "(from its clock?): a clock must not call back into the router")
        if not PACK_OK:
            return _packed.apply(self, data)
        if type(data) is not bytes or PyBytes_GET_SIZE(data) % sizeof(PkCmd):
            data = _packed.whole(data)      # a copy of a buffer, or the error to raise
        n = PyBytes_GET_SIZE(data) // sizeof(PkCmd)
        cmds = <const PkCmd*>PyBytes_AS_STRING(data)
        pk_start(self, n)
        self.packing = True
        i = 0
        try:
            try:     # around the loop, not in it: entering a try costs every command
                while i < n:
                    apply_record(self, &cmds[i])
                    i += 1
            except RoutingError as exc:
                raise BatchError(i, exc, _packed.decode_events(pk_take(self), self.config)
                                 ) from exc
            return pk_take(self)
        finally:
            self.packing = False
            pk_drop(self)     # what an error left

    def apply_each(self, cmds):
        """Apply commands in order in one call, each on its own: a list with one item a
        command, its events (a list), or the exception that refused it (a RoutingError,
        not raised: a refused command changes nothing and the ones after it go on; a
        TypeError, ValueError, OverflowError or RecursionError likewise, a gap in the
        argument checks to report). For a host that answers each command's sender, such
        as the Redis workers. MemoryError is raised (the router is then broken)."""
        cdef list res = []
        cdef list out
        for cmd in _iterate(cmds):
            out = []
            try:
                self._apply(cmd, out)
            except RoutingError as exc:
                res.append(exc)
                continue
            except (TypeError, ValueError, OverflowError, RecursionError) as exc:
                if self.broken:
                    raise
                res.append(exc)
                continue
            res.append(out)
        return res

    # ------------------------------------------------------------------ views
    def operator(self, operator):
        """A snapshot of one operator (``OperatorView``). O(groups + load)."""
        return operator_view(self, operator)

    def request(self, request):
        """A snapshot of one conversation, live or kept in history (``RequestView``)."""
        cdef Req* r
        check_id(request, "conversation")
        h = self.req_map.get(request)
        if h is None:
            raise _errors.unknown("conversation", request)
        return request_view(self, <hnd>h)

    def queue(self, group, channel=None):
        """Waiting conversation ids of a group (one channel, or all merged) in the order an
        operator of that group alone would take them. O(n log n)."""
        return queue_ids(self, group, channel)

    def stats(self, now=None):
        """Monitoring counters at ``now``, kept incrementally: O(channels + groups). The
        router is brought to ``now`` first, as ``advance(now)`` would: the timers due fire
        and the events they cause come first in the next call's return."""
        self._ok()
        return stats_view(self, now)

    @property
    def now(self):
        """The router's time: the latest ``now`` a call has passed (-inf before any)."""
        return self.e.now

    def memory(self):
        """Bytes of native memory the core holds (its arrays, at their capacity)."""
        return self.e.mem

    def next_timer(self):
        """The due time of the earliest timer set (overflow, tier, offer expiry, wrap-up,
        retention, ...), or ``None``: ``advance`` before then has nothing to fire. A timer
        whose conversation has since left still counts until it is reached (it fires as
        nothing), so this is a lower bound. For a host's event loop. O(1)."""
        return self.e.timers.nodes[0].due if self.e.timers.n else None

    # ------------------------------------------------------------------ introspection
    def _state(self):
        """The full state in the reference engine's canonical form."""
        return state_dump(self)

    def check(self):
        """Verify the core's structures: heap order and positions, queue membership
        against request states, slot counts against assignments, counters. Raises
        AssertionError naming what is wrong. O(everything): for tests and debugging."""
        _check(&self.e)

    # ------------------------------------------------------------------ snapshots
    def _snapshot(self):
        """The whole state as bytes, for ``pyroute.journal`` snapshots: the core's arrays
        copied as they are, and the id maps. O(state)."""
        if self.broken:
            raise InvalidState("this router is broken (out of memory); it cannot snapshot")
        return _statecodec.dumps({
            "engine": _snapshot_engine(&self.e),
            "py": (self.req_map, self.req_ids, self.op_map, self.op_ids, self.tags,
                   self.last_op, self.visitors, self.bans_, self.cats, self.cat_names,
                   self.cat_index, self.switches, self.req_vis, self.pending,
                   self.hold_map, self.hold_ids)})

    @classmethod
    def _restore(cls, config, data, explain=False, clock=_time_mod.monotonic):
        """A router for ``config`` (with ``clock``) in the state ``_snapshot`` saved. The
        data is read with pyroute.statecodec (data only, never unpickled) and the restored
        core must pass its full self-check; anything else is ValueError."""
        if explain:
            raise ValueError("a router that explains is rebuilt by replay, not from a snapshot")
        state = _statecodec.loads(data)
        if not isinstance(state, dict) or not isinstance(state.get("engine"), dict):
            raise ValueError("not a native engine snapshot")
        py = state.get("py")
        kinds = (dict, list, dict, list, _SkillTags, dict, dict, _Bans, _Categories, list,
                 dict, _Switches, list, list, dict, list)
        if (not isinstance(py, tuple) or len(py) != len(kinds)
                or not all(isinstance(x, k) for x, k in zip(py, kinds))):
            raise ValueError("not a native engine snapshot (its id maps)")
        cdef Router router = cls(config, clock=clock)
        try:
            _load_engine(&router.e, state["engine"])
        except (KeyError, IndexError, TypeError) as e:
            raise ValueError(f"not a native engine snapshot ({type(e).__name__}: {e})") from None
        (router.req_map, router.req_ids, router.op_map, router.op_ids, router.tags,
         router.last_op, router.visitors, router.bans_, router.cats, router.cat_names,
         router.cat_index, router.switches, router.req_vis, router.pending,
         router.hold_map, router.hold_ids) = py
        router.switched = bool(router.switches.to or router.switches.from_)
        for i, v in enumerate(router.req_vis):     # the live ones, found by visitor
            if v is not None and i < router.e.reqs.used and \
                    ST_QUEUED <= R(&router.e, <hnd>i).state <= ST_ACTIVE:
                router.by_visitor.setdefault(v, {})[i] = None
        try:
            _check(&router.e)      # a snapshot that is not the core's own is refused
        except AssertionError as e:
            raise ValueError(f"snapshot fails the core's self-check: {e}") from None
        return router
