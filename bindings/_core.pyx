# cython: freethreading_compatible = False
"""pyroute._core: the native engine and its Python boundary.

This is the only place where Python objects meet the core: id <-> handle maps, argument
checks, conversion of the core's event records into event Structs, and ``_raise_core``,
the one function that turns the core's error state into an exception. Users import
``pyroute``, never this module.
"""

include "slab.pyx"
include "reqqueue.pyx"
include "opslots.pyx"
include "timers.pyx"
include "engine.pyx"
include "events.pyx"
include "history.pyx"
include "ageheap.pyx"
include "capacity.pyx"
include "queueing.pyx"
include "eligibility.pyx"
include "walks.pyx"
include "assign.pyx"
include "overflow.pyx"
include "fire.pyx"
include "requests.pyx"
include "operators.pyx"
include "offers.pyx"

import time as _time_mod

from libc.math cimport isfinite, INFINITY

from pyroute import errors as _errors
from pyroute.errors import RoutingError, InvalidState, InvalidArgument, BatchError
from pyroute.config import (
    compile_config as _compile, RULE_REASONS as _REASONS, POLICIES as _POLICIES,
    MAX_LIMIT as _MAX_LIMIT, PRIORITY_LIMIT as _PRIORITY_LIMIT,
)
from pyroute._common import (
    rng_init as _rng_init, iterate_commands as _iterate, Bans as _Bans,
    Categories as _Categories, outcomes as _outcomes, total_row as _total_row,
    check_channel_limits as _check_channel_limits, SkillTags as _SkillTags,
    check_levels as _check_levels, check_prefer_for as _check_prefer_for,
    check_kind as _check_kind, KINDS as _KINDS,
    check_visitor as _check_visitor,
)
from pyroute.events import (
    Assigned, Queued, Overflowed, Finished, Cancelled, Rejected, StatusChanged, RetentionDue,
    Offered, Accepted, OfferExpired, Transferred,
)
from pyroute.commands import (
    Submit, Finish, Cancel, AddOperator, RemoveOperator, SetStatus, SetGroups, SetLimit,
    Ban, Unban, Categorize, Accept, Decline, Advance, Transfer, Escalate,
)
from pyroute.views import (
    STATUSES as _STATUSES, OperatorView, RequestView, Stats, ChannelStats, GroupStats,
    TotalStats,
)

DEBUG = bool(PR_DEBUG)

cdef tuple STATUSES = _STATUSES
cdef dict STATUS_CODE = {name: i for i, name in enumerate(_STATUSES)}
cdef tuple REASONS = _REASONS
cdef tuple REJECT_REASONS = ("hidden", "banned", "overloaded")
cdef tuple STATE_NAMES = ("queued", "offered", "active", "finished", "cancelled", "rejected")


cdef inline int check_id(object x, str what) except -1:
    if type(x) is str or type(x) is int:
        return 0
    if isinstance(x, bool) or not isinstance(x, (str, int)):
        raise _errors._id_problem(what, x)
    return 0


cdef int check_int(object x, str what, long lo, long hi) except -1:
    if isinstance(x, bool) or not isinstance(x, int):
        raise InvalidArgument(f"{what} must be an int, got {type(x).__name__} {x!r}")
    if x < lo or x > hi:
        raise InvalidArgument(f"{what} must be between {lo} and {hi}, got {x}")
    return 0


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
    cdef object bans_
    cdef object cats
    cdef list cat_names
    cdef dict cat_index
    cdef bint broken
    cdef bint initialized

    engine = "native"

    def __cinit__(self):
        memset(&self.e, 0, sizeof(Engine))
        self.initialized = False

    def __init__(self, config, *, clock=_time_mod.monotonic):
        cdef int32_t n_rules = 0, n_targets = 0, ri = 0, ti = 0, g, c
        cdef int32_t n_steps = 0, si = 0, n_relax = 0, xi = 0
        cdef Engine* e
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
        self.hidden = [grp.hidden for grp in cfg.groups]
        self.bans_ = _Bans()
        self.tags = _SkillTags()
        self.sticky = [None if grp.sticky_for is None else grp.sticky_for for grp in cfg.groups]
        self.last_op = {}
        self.escalate_to = list(cc.escalate)
        self.visitors = {}
        self.cats = _Categories()
        self.cat_names = []
        self.cat_index = {}
        self.req_map = {}
        self.req_ids = []
        self.op_map = {}
        self.op_ids = []
        for ch in cfg.channels:
            n_steps += len(ch.retention)
        self.ret_actions = tuple(tuple(x.action for x in ch.retention) for ch in cfg.channels)
        for rules in cc.rules:
            n_rules += len(rules)
            for rule in rules:
                n_targets += len(rule.to)
        G = len(cfg.groups)
        C = len(cfg.channels)
        e = &self.e
        for grp in cfg.groups:
            n_relax += len(grp.relax)
        if eng_init(e, C, G, n_rules, n_targets, n_steps, n_relax) < 0:
            eng_dealloc(e)
            raise MemoryError("pyroute: out of memory creating the router")
        self.initialized = True
        e.now = -INFINITY
        e.hist_limit = cfg.history
        e.deadline = cfg.order == "deadline"
        e.aging = cfg.aging
        for c in range(C):
            e.early[c] = cfg.channels[c].early_cancel
            e.tw[c] = cfg.channels[c].target_wait
            e.cost[c] = -1 if cfg.channels[c].cost == "all" else cfg.channels[c].cost
            e.wrap_ch[c] = cfg.channels[c].wrap_up
            e.ret_start[c] = si
            for step in cfg.channels[c].retention:
                e.ret_after[si] = step.after
                si += 1
        e.ret_start[C] = si
        for g in range(G):
            e.policy[g] = cc.policies[g]
            e.rng[g] = _rng_init(cfg.seed, g)
            e.has_no_ops[g] = False
            e.max_queue[g] = -1 if cfg.groups[g].max_queue is None else cfg.groups[g].max_queue
            e.wrap_g[g] = -1.0 if cfg.groups[g].wrap_up is None else cfg.groups[g].wrap_up
            e.accept_timeout[g] = (-1.0 if cfg.groups[g].accept_timeout is None
                                   else cfg.groups[g].accept_timeout)
            e.max_missed[g] = -1 if cfg.groups[g].max_missed is None else cfg.groups[g].max_missed
            e.level_step[g] = (-1.0 if cfg.groups[g].level_step is None
                               else cfg.groups[g].level_step)
            e.transfer_timeout[g] = cfg.groups[g].transfer_timeout
            e.relax_start[g] = xi
            for rx in cfg.groups[g].relax:
                bits = self.tags.register(self.tags.check({n: 1 for n in rx.drop}, "relax"))
                e.relax_after[xi] = rx.after
                e.relax_mask[xi] = 0
                for b in bits:
                    e.relax_mask[xi] |= (<uint64_t>1) << <int>b
                xi += 1
            for c in range(C):
                if e.deadline:
                    e.off[g * C + c] = cfg.channels[c].target_wait
                else:
                    e.off[g * C + c] = -(cfg.channels[c].priority + cfg.groups[g].priority)
            e.rule_start[g] = ri
            for rule in cc.rules[g]:
                e.rule_kind[ri] = rule.kind
                e.rule_value[ri] = rule.value
                e.to_start[ri] = ti
                if rule.kind == RULE_NO_OPS:
                    e.has_no_ops[g] = True
                for t in rule.to:
                    e.to_group[ti] = t
                    ti += 1
                ri += 1
        e.rule_start[G] = ri
        e.relax_start[G] = xi
        e.to_start[ri] = ti

    def __dealloc__(self):
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

    cdef double _time(self, object now) except? -1.0:
        cdef double t
        if now is None:
            now = self._clock()
        if type(now) is float:
            t = now
        elif isinstance(now, bool) or not isinstance(now, (int, float)):
            raise _errors.bad_time(now, self.e.now)
        else:
            try:
                t = float(now)
            except OverflowError:
                raise _errors.bad_time(float("inf"), self.e.now) from None
        if not isfinite(t) or t < self.e.now:
            raise _errors.bad_time(now, self.e.now)
        return t

    cdef inline hnd _op(self, object opid) except -2:
        check_id(opid, "operator")
        h = self.op_map.get(opid)
        if h is None:
            raise _errors.unknown("operator", opid)
        return <hnd>h

    cdef hnd _live(self, object rid, str verb) except -2:
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

    cdef list _groups(self, object groups):
        if isinstance(groups, (str, bytes)) or not isinstance(groups, (list, tuple)):
            raise InvalidArgument(
                f"groups must be a list of group names, got {type(groups).__name__} {groups!r}")
        out = []
        for g in groups:
            if not isinstance(g, str):
                raise InvalidArgument(f"group names are str, got {type(g).__name__} {g!r}")
            gi = self.gindex.get(g)
            if gi is None:
                raise _errors.unknown("group", g)
            if gi in out:
                raise InvalidArgument(f"group {g!r} is listed twice in groups")
            out.append(gi)
        return out

    cdef inline int8_t _status(self, object status) except -1:
        code = STATUS_CODE.get(status) if isinstance(status, str) else None
        if code is None:
            raise InvalidArgument(
                f"status must be one of {', '.join(map(repr, STATUSES))}, got {status!r}")
        return <int8_t>code

    cdef int _raise_core(self) except -1:
        """The one place the core's error state becomes an exception."""
        if self.e.oom:
            self.broken = True
            raise MemoryError("pyroute: the native core ran out of memory")
        return 0

    cdef inline void _bind(self, list ids, dict idmap, hnd h, object ident):
        if h >= len(ids):
            ids.extend([None] * (h + 1 - len(ids)))
        ids[h] = ident
        idmap[ident] = h

    cdef tuple _elig(self, Req* r):
        cdef hnd eh = r.first_entry
        cdef Entry* en = EN(&self.e, eh)
        if en.next == -1:
            return (self.gnames[en.group],)
        out = []
        while eh != -1:
            en = EN(&self.e, eh)
            out.append(self.gnames[en.group])
            eh = en.next
        return tuple(out)

    cdef int _collect(self, list out) except -1:
        """Turn the core's event records into events, retire dead handles, reset.

        The core has already changed state: if building the events fails (out of
        memory), the handles are still retired and the router is marked broken."""
        try:
            self._convert(out)
        except BaseException:
            self.broken = True
            raise
        finally:
            eng_free_dead(&self.e)
        if PR_DEBUG:
            self.check()
        return 0

    cdef int _convert(self, list out) except -1:
        cdef Engine* e = &self.e
        cdef int64_t i, j
        cdef EvRec* ev
        cdef Req* r
        cdef list req_ids = self.req_ids
        cdef list op_ids = self.op_ids
        cdef tuple gnames = self.gnames
        cdef tuple cnames = self.cnames
        cdef hnd h
        if e.oom:
            self._raise_core()
        for i in range(e.n_ev):
            ev = &e.ev[i]
            if ev.type == EV_ASSIGNED:
                out.append(Assigned(req_ids[ev.req], op_ids[ev.op], gnames[ev.group],
                                    cnames[ev.ch], ev.at, ev.waited))
            elif ev.type == EV_FINISHED:
                out.append(Finished(req_ids[ev.req], op_ids[ev.op], ev.at))
                if self.visitors:
                    v = self.visitors.pop(req_ids[ev.req], None)
                    if v is not None:
                        self.last_op.pop(v, None)
                        self.last_op[v] = (op_ids[ev.op], ev.at)
            elif ev.type == EV_QUEUED:
                out.append(Queued(req_ids[ev.req], gnames[ev.group], cnames[ev.ch], ev.at))
            elif ev.type == EV_CANCELLED:
                out.append(Cancelled(req_ids[ev.req], ev.at, ev.waited, ev.flag != 0))
                if self.visitors:
                    self.visitors.pop(req_ids[ev.req], None)
            elif ev.type == EV_OVERFLOWED:
                out.append(Overflowed(
                    req_ids[ev.req], gnames[ev.group],
                    tuple([gnames[e.evg[j]] for j in range(ev.aux, ev.aux + ev.naux)]),
                    REASONS[ev.flag], ev.at))
            elif ev.type == EV_STATUS:
                out.append(StatusChanged(op_ids[ev.op], STATUSES[ev.aux], ev.at,
                                         "missed_offers" if ev.flag else ""))
            elif ev.type == EV_OFFERED:
                out.append(Offered(req_ids[ev.req], op_ids[ev.op], gnames[ev.group],
                                   cnames[ev.ch], ev.at, ev.waited))
            elif ev.type == EV_ACCEPTED:
                out.append(Accepted(req_ids[ev.req], op_ids[ev.op], ev.at, ev.waited))
            elif ev.type == EV_TRANSFERRED:
                out.append(Transferred(req_ids[ev.req], ev.at,
                                       op_ids[ev.op] if ev.op >= 0 else None, gnames[ev.group],
                                       op_ids[ev.aux] if ev.aux >= 0 else None, ev.flag != 0))
            elif ev.type == EV_OFFER_EXPIRED:
                out.append(OfferExpired(req_ids[ev.req], op_ids[ev.op], ev.at))
            elif ev.type == EV_RETENTION:
                out.append(RetentionDue(req_ids[ev.req], self.ret_actions[ev.ch][ev.aux], ev.at))
            elif ev.type == EV_REJECTED:
                out.append(Rejected(req_ids[ev.req], ev.at, REJECT_REASONS[ev.flag]))
        for i in range(e.n_dead_reqs):
            h = e.dead_reqs[i]
            del self.req_map[req_ids[h]]
            req_ids[h] = None
        for i in range(e.n_dead_ops):
            h = e.dead_ops[i]
            del self.op_map[op_ids[h]]   # op_ids keeps the id: history names it
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
        t = self._time(now)   # first: a clock may call back into the router
        check_id(request, "conversation")
        if request in self.req_map:
            raise _errors.duplicate("conversation", request)
        x = self.cindex.get(channel) if isinstance(channel, str) else None
        if x is None:
            raise _errors.unknown("channel", channel)
        ci = x
        x = self.gindex.get(group) if isinstance(group, str) else None
        if x is None:
            raise _errors.unknown("group", group)
        gi = x
        if type(priority) is not int or not (-_PRIORITY_LIMIT <= priority <= _PRIORITY_LIMIT):
            check_int(priority, "priority", -_PRIORITY_LIMIT, _PRIORITY_LIMIT)
        if visitor is not None and (isinstance(visitor, bool)
                                    or not isinstance(visitor, (str, int))):
            raise InvalidArgument(
                f"visitor must be a str, an int or None, got {type(visitor).__name__} "
                f"{visitor!r}")
        wanted = self.tags.check(skills, "skills") if skills is not None else None
        if prefer is not None:
            ph = self._op(prefer)
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
        self._collect(out)
        return 0

    cdef int _finish(self, object request, object now, list out) except -1:
        cdef hnd h
        cdef double t
        self._ok()
        t = self._time(now)   # first: a clock may call back into the router
        h = self._live(request, "finish")
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

    cdef int _cancel(self, object request, object now, list out) except -1:
        cdef hnd h
        cdef double t
        self._ok()
        t = self._time(now)   # first: a clock may call back into the router
        h = self._live(request, "cancel")
        eng_cancel(&self.e, h, t)
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
        t = self._time(now)   # first: a clock may call back into the router
        check_id(operator, "operator")
        if operator in self.op_map:
            raise _errors.duplicate("operator", operator)
        gs = self._groups(groups)
        check_int(limit, "limit", 0, _MAX_LIMIT)
        st = self._status(status)
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
        t = self._time(now)   # first: a clock may call back into the router
        h = self._op(operator)
        if not isinstance(requeue, bool):
            raise InvalidArgument(f"requeue must be True or False, got {requeue!r}")
        held = self._held(h)
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
        t = self._time(now)   # first: a clock may call back into the router
        h = self._op(operator)
        st = self._status(status)
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
        t = self._time(now)   # first: a clock may call back into the router
        h = self._op(operator)
        gs = self._groups(groups)
        for i in range(len(gs)):
            buf[i] = gs[i]
        eng_set_groups(&self.e, h, buf, <int32_t>len(gs), t)
        self._collect(out)
        return 0

    cdef int _set_limit(self, object operator, object limit, object now, list out) except -1:
        cdef hnd h
        cdef double t
        self._ok()
        t = self._time(now)   # first: a clock may call back into the router
        h = self._op(operator)
        check_int(limit, "limit", 0, _MAX_LIMIT)
        eng_set_limit(&self.e, h, <int32_t>limit, t)
        self._collect(out)
        return 0

    cdef int _advance(self, object now, list out) except -1:
        cdef double t
        self._ok()
        t = self._time(now)   # first: a clock may call back into the router
        eng_begin(&self.e, t)
        self._collect(out)
        return 0

    cdef int _ban(self, object visitor, object until, object reason, object now,
                  list out) except -1:
        cdef double t
        self._ok()
        t = self._time(now)
        u = _Bans.check(visitor, until, reason, t)
        eng_begin(&self.e, t)
        self._collect(out)
        self.bans_.ban(visitor, u, reason, t)
        return 0

    cdef int _unban(self, object visitor, object now, list out) except -1:
        cdef double t
        self._ok()
        t = self._time(now)
        self.bans_.require(visitor)
        if not self.bans_.is_banned(visitor, t):
            raise _errors.UnknownId(f"visitor {visitor!r} is not banned")
        eng_begin(&self.e, t)
        self._collect(out)
        self.bans_.unban(visitor, t)
        return 0

    cdef int _held(self, hnd oh):
        """Active (accepted or assigned) conversations of an operator."""
        cdef int n = 0
        cdef hnd x = O(&self.e, oh).act_head
        while x != -1:
            if R(&self.e, x).state == ST_ACTIVE:
                n += 1
            x = R(&self.e, x).act_next
        return n

    cdef hnd _offer(self, object request, object operator, str verb) except -2:
        cdef hnd h = self._live(request, verb)
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

    cdef int _transfer(self, object request, object group, object operator, object now,
                       bint escalate, list out) except -1:
        cdef double t
        cdef hnd h, oh = -1, mh
        cdef int32_t gi
        cdef Req* r
        self._ok()
        t = self._time(now)
        h = self._live(request, "escalate" if escalate else "transfer")
        r = R(&self.e, h)
        if escalate:
            gi = self.escalate_to[r.home]
            if gi < 0:
                raise InvalidState(
                    f"cannot escalate {request!r}: group {self.gnames[r.home]!r} has no "
                    f"escalate_to (it is the last line)")
        elif (group is None) == (operator is None):
            raise InvalidArgument("transfer needs exactly one of group= or operator=")
        elif group is not None:
            x = self.gindex.get(group) if isinstance(group, str) else None
            if x is None:
                raise _errors.unknown("group", group)
            gi = x
        else:
            oh = self._op(operator)
            if O(&self.e, oh).status != OP_ONLINE:
                raise InvalidState(
                    f"cannot transfer {request!r} to operator {operator!r}: they are "
                    f"{STATUSES[O(&self.e, oh).status]}; transfer to a group instead")
            if O(&self.e, oh).first_member == -1:
                raise InvalidState(
                    f"cannot transfer {request!r} to operator {operator!r}: they are in no group")
            if r.op == oh and r.state != ST_QUEUED:
                raise InvalidState(
                    f"conversation {request!r} is already with operator {operator!r}")
            gi = M(&self.e, O(&self.e, oh).first_member).group
            if is_member(&self.e, oh, r.home):
                gi = r.home
        eng_transfer(&self.e, h, gi, oh, escalate, t)
        self._collect(out)
        return 0

    cdef int _answer_offer(self, object request, object operator, object now, bint accept,
                           list out) except -1:
        """accept (or decline) an open offer."""
        cdef double t
        cdef hnd h
        self._ok()
        t = self._time(now)
        h = self._offer(request, operator, "accept" if accept else "decline")
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
        t = self._time(now)
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
        self.cats.move(self.cat_names[old] if old >= 0 else None, name)
        ci = self.cat_index.get(name)
        if ci is None:
            ci = len(self.cat_names)
            self.cat_names.append(name)
            self.cat_index[name] = ci
        R(&self.e, h).cat = <int32_t>ci
        return 0

    cdef int _apply(self, object cmd, list out) except -1:
        tp = type(cmd)
        if tp is Submit:
            return self._submit(cmd.request, cmd.channel, cmd.group, cmd.priority, cmd.visitor,
                                cmd.now, cmd.skills, cmd.prefer, cmd.prefer_for, out)
        if tp is Finish:
            return self._finish(cmd.request, cmd.now, out)
        if tp is Cancel:
            return self._cancel(cmd.request, cmd.now, out)
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
            return self._transfer(cmd.request, cmd.group, cmd.operator, cmd.now, False, out)
        if tp is Escalate:
            return self._transfer(cmd.request, None, None, cmd.now, True, out)
        if tp is Accept:
            return self._answer_offer(cmd.request, cmd.operator, cmd.now, True, out)
        if tp is Decline:
            return self._answer_offer(cmd.request, cmd.operator, cmd.now, False, out)
        if tp is Categorize:
            return self._categorize(cmd.request, cmd.name, cmd.now, out)
        if tp is Ban:
            return self._ban(cmd.visitor, cmd.until, cmd.reason, cmd.now, out)
        if tp is Unban:
            return self._unban(cmd.visitor, cmd.now, out)
        if tp is Advance:
            return self._advance(cmd.now, out)
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

    def cancel(self, request, now=None):
        """The customer left: ``Cancelled(early=...)``; an answered conversation frees its
        operator's slot. Raises UnknownId, InvalidState (already ended). O(log n)."""
        cdef list out = []
        self._cancel(request, now, out)
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

    def transfer(self, request, group=None, operator=None, now=None):
        """Hand a conversation to another group, or to an operator (who gets it as soon as
        they can; after the target group's transfer_timeout anyone in it may take it).
        ``Transferred``, then the new routing decision; it keeps its arrival time. Raises
        UnknownId, InvalidArgument, InvalidState."""
        cdef list out = []
        self._transfer(request, group, operator, now, False, out)
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

    def ban(self, visitor, until=None, reason="", now=None):
        """Ban a visitor until ``until`` (``None``: until lifted): its submits are
        ``Rejected(reason="banned")``. Banning again replaces the ban. Returns the events
        of timers due by ``now``. Raises InvalidArgument (no visitor, ``until`` not later
        than ``now``), TimeError. O(1)."""
        cdef list out = []
        self._ban(visitor, until, reason, now, out)
        return out

    def unban(self, visitor, now=None):
        """Lift a ban. Raises UnknownId when the visitor is not banned. O(1)."""
        cdef list out = []
        self._unban(visitor, now, out)
        return out

    def bans(self, now=None):
        """The bans in force at ``now`` (``BanView``), in the order they were set. Fires
        no timers. O(bans)."""
        return self.bans_.views(self._time(now))

    def accepting(self, group, channel, now=None, visitor=None):
        """Whether a submit to ``group`` on ``channel`` (by ``visitor``) would be admitted
        now: False for a hidden group, a group whose ``max_queue`` is reached while none of
        its operators has room, or a banned visitor. For a chat widget to hide itself. Fires no timers. O(1)."""
        t = self._time(now)
        gi = self.gindex.get(group) if isinstance(group, str) else None
        if gi is None:
            raise _errors.unknown("group", group)
        if not isinstance(channel, str) or channel not in self.cindex:
            raise _errors.unknown("channel", channel)
        _check_visitor(visitor)
        if self.hidden[gi]:
            return False
        if eng_overloaded(&self.e, <int32_t>gi):
            return False
        return not (visitor is not None and self.bans_.is_banned(visitor, t))

    def pick(self, group, channel, exclude=None):
        """The operator ``group``'s policy would give a new conversation of ``channel``
        now — online, with room for the channel, level 1 where the group has tiers —
        skipping ``exclude``; ``None`` when nobody could take it. Changes nothing and
        fires no timers: for a platform that assigns conversations itself and asks whom
        (Rocket.Chat's External Queue Service). O(k log k) for the k operators passed over."""
        cdef hnd ex = -1, oh
        gi = self.gindex.get(group) if isinstance(group, str) else None
        if gi is None:
            raise _errors.unknown("group", group)
        ci = self.cindex.get(channel) if isinstance(channel, str) else None
        if ci is None:
            raise _errors.unknown("channel", channel)
        if exclude is not None:
            check_id(exclude, "operator")
            ex = self.op_map.get(exclude, -1)
        oh = eng_pick(&self.e, <int32_t>gi, <int32_t>ci, ex)
        self._raise_core()
        return None if oh < 0 else self.op_ids[oh]

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

    # ------------------------------------------------------------------ views
    def operator(self, operator):
        """A snapshot of one operator (``OperatorView``). O(groups + load)."""
        cdef int32_t* row
        cdef int64_t c
        cdef hnd h = self._op(operator)
        cdef Op* o = O(&self.e, h)
        cdef hnd x
        groups = []
        x = o.first_member
        while x != -1:
            groups.append(self.gnames[M(&self.e, x).group])
            x = M(&self.e, x).next
        active = []
        x = o.act_head
        while x != -1:
            active.append(self.req_ids[x])
            x = R(&self.e, x).act_next
        row = &self.e.op_ch[<int64_t>h * 2 * self.e.C]
        caps = {self.cnames[c]: row[c] for c in range(self.e.C) if row[c] >= 0}
        return OperatorView(self.op_ids[h], STATUSES[o.status], o.limit, o.load,
                            tuple(groups), tuple(active), o.wrap, caps,
                            {self.tags.names[b]: lv for b, lv in self._op_skills(h)},
                            self._op_levels(h), _KINDS[o.kind])

    cdef list _op_skills(self, hnd h):
        cdef uint8_t* has = &self.e.op_sk[<int64_t>h * 64]
        cdef int b
        return [(b, has[b]) for b in range(64) if has[b]]

    cdef dict _op_levels(self, hnd h):
        cdef hnd x = O(&self.e, h).first_member
        out = {}
        while x != -1:
            if M(&self.e, x).level != 1:
                out[self.gnames[M(&self.e, x).group]] = M(&self.e, x).level
            x = M(&self.e, x).next
        return out

    cdef list _req_skills(self, Req* r):
        cdef SkillReq* sk
        cdef int b
        if r.sk == -1:
            return []
        sk = &(<SkillReq*>self.e.skreqs.items)[r.sk]
        return [(b, sk.level[b]) for b in range(64) if (sk.mask >> b) & 1]

    def request(self, request):
        """A snapshot of one conversation, live or kept in history (``RequestView``)."""
        cdef Req* r
        check_id(request, "conversation")
        h = self.req_map.get(request)
        if h is None:
            raise _errors.unknown("conversation", request)
        return self._view(<hnd>h)

    cdef object _view(self, hnd h):
        cdef Req* r = R(&self.e, h)
        return RequestView(self.req_ids[h], STATE_NAMES[r.state], self.cnames[r.ch],
                           self.gnames[r.home], r.prio,
                           self.op_ids[r.op] if r.op >= 0 else None, r.arrival,
                           self._elig(r), self.cat_names[r.cat] if r.cat >= 0 else None,
                           self._declined(r),
                           {self.tags.names[b]: lv for b, lv in self._req_skills(r)})

    cdef tuple _declined(self, Req* r):
        cdef hnd x = r.excl
        if x == -1:
            return ()
        out = []
        while x != -1:
            out.append(self.op_ids[(<Excl*>self.e.excls.items)[x].op])
            x = (<Excl*>self.e.excls.items)[x].next
        return tuple(out)

    def queue(self, group, channel=None):
        """Waiting conversation ids of a group (one channel, or all merged) in the order an
        operator of that group alone would take them. O(n log n)."""
        cdef int64_t c, i, base
        cdef RQueue* q
        gi = self.gindex.get(group) if isinstance(group, str) else None
        if gi is None:
            raise _errors.unknown("group", group)
        if channel is not None:
            ci = self.cindex.get(channel) if isinstance(channel, str) else None
            if ci is None:
                raise _errors.unknown("channel", channel)
        base = <int64_t>gi * self.e.C
        items = []
        for c in range(self.e.C):
            if channel is not None and c != ci:
                continue
            q = &self.e.queues[base + c]
            for i in range(q.n):
                items.append((q.nodes[i].k + (0.0 if channel is not None else self.e.off[base + c]),
                              q.nodes[i].seq, EN(&self.e, q.nodes[i].entry).req))
        items.sort()
        return [self.req_ids[x[2]] for x in items]

    def stats(self, now=None):
        """Monitoring counters, kept incrementally: O(channels + groups). Reading fires no
        timers; call ``advance(now)`` first for a view that includes them."""
        cdef Engine* e = &self.e
        cdef int64_t g, c
        t = self._time(now)
        c_rows, g_rows = self._outcome_rows()
        c_wait = [self._longest(&e.c_age[c], e.c_waiting[c], t) for c in range(e.C)]
        chans = {self.cnames[c]: ChannelStats(e.c_waiting[c], e.c_active[c], e.online,
                                              e.free_slots, _outcomes(c_rows[c]), c_wait[c])
                 for c in range(e.C)}
        groups = {self.gnames[g]: GroupStats(e.g_waiting[g], e.g_active[g], e.g_online[g],
                                             e.g_free[g], _outcomes(g_rows[g]),
                                             self._longest(&e.g_age[g], e.g_waiting[g], t))
                  for g in range(e.G)}
        waits = [w for w in c_wait if w is not None]
        total = TotalStats(sum([e.c_waiting[c] for c in range(e.C)]),
                           sum([e.c_active[c] for c in range(e.C)]), e.online, e.free_slots,
                           e.n_ops, _outcomes(_total_row(c_rows)), max(waits) if waits else None)
        return Stats(t, total, chans, groups, dict(self.cats.counts))

    cdef object _longest(self, AgeHeap* h, int64_t live, double t):
        cdef hnd x = age_oldest(&self.e, h, live)
        return None if x < 0 else t - R(&self.e, x).arrival

    cdef tuple _outcome_rows(self):
        cdef Engine* e = &self.e
        cdef int64_t c, g, k
        return ([[e.c_out[c * N_OUT + k] for k in range(N_OUT)] for c in range(e.C)],
                [[e.g_out[g * N_OUT + k] for k in range(N_OUT)] for g in range(e.G)])

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
        cdef Engine* e = &self.e
        cdef int64_t i, c, g
        cdef Op* o
        cdef Req* r
        cdef Member* m
        cdef hnd x
        gn, cn = self.gnames, self.cnames
        ops = []
        for i in range(e.ops.used):
            o = O(e, <hnd>i)
            if not o.alive:
                continue
            members = []
            x = o.first_member
            while x != -1:
                m = M(e, x)
                members.append((gn[m.group], m.join, m.rr, m.rand, m.level))
                x = m.next
            active = []
            x = o.act_head
            while x != -1:
                active.append(self.req_ids[x])
                x = R(e, x).act_next
            ops.append((o.reg, (self.op_ids[i], STATUSES[o.status], o.limit, o.load, o.wrap,
                                o.missed,
                                tuple([e.op_ch[i * 2 * e.C + c] for c in range(e.C)]),
                                tuple([e.op_ch[i * 2 * e.C + e.C + c] for c in range(e.C)]),
                                self._op_skills(<hnd>i), o.kind,
                                o.reg, o.last_assign, o.idle, o.handled, tuple(active),
                                tuple(members))))
        ops.sort(key=lambda p: p[0])
        reqs = []
        for i in range(e.reqs.used):
            r = R(e, <hnd>i)
            if r.state == ST_FREE or r.state > ST_ACTIVE:
                continue
            queued_in = []
            x = r.first_entry
            while x != -1:
                if EN(e, x).pos >= 0:
                    queued_in.append(gn[EN(e, x).group])
                x = EN(e, x).next
            reqs.append((r.seq, (self.req_ids[i], STATE_NAMES[r.state],
                                 cn[r.ch], gn[r.home], r.prio, r.arrival, r.k, r.seq, r.gen,
                                 self.op_ids[r.op] if r.op >= 0 else None,
                                 gn[r.via] if r.via >= 0 else None,
                                 r.assigned_at if r.state != ST_QUEUED else None,
                                 self._elig(r), tuple(queued_in),
                                 self.cat_names[r.cat] if r.cat >= 0 else None,
                                 bool(r.answered), r.ret_next, r.offers, self._declined(r),
                                 r.charge, self._req_skills(r),
                                 self.op_ids[r.prefer] if r.prefer >= 0 else None,
                                 r.prefer_until if r.prefer >= 0 else None)))
        reqs.sort(key=lambda p: p[0])
        queues = {}
        for g in range(e.G):
            for c in range(e.C):
                if e.queues[g * e.C + c].n:
                    queues[f"{gn[g]}/{cn[c]}"] = self.queue(gn[g], cn[c])
        opsets = {}
        for g in range(e.G):
            if e.oheaps[g].n:
                items = sorted((e.oheaps[g].nodes[i].p, e.oheaps[g].nodes[i].s1,
                                e.oheaps[g].nodes[i].s2,
                                self.op_ids[M(e, e.oheaps[g].nodes[i].member).op])
                               for i in range(e.oheaps[g].n))
                opsets[gn[g]] = [it[3] for it in items]
        timers = sorted((e.timers.nodes[i].due, e.timers.nodes[i].tseq, i)
                        for i in range(e.timers.n))
        tlist = []
        for (_, _, i) in timers:
            tn = e.timers.nodes[i]
            if tn.group == TIMER_WRAP_UP:
                live = O(e, tn.req).alive and O(e, tn.req).reg == tn.rseq
                rid = self.op_ids[tn.req] if live else None
                kind = "wrap_up"
            else:
                r = R(e, tn.req)
                live = r.state <= ST_ACTIVE and r.state != ST_FREE and r.seq == tn.rseq
                rid = self.req_ids[tn.req] if live else None
                kind = "overflow" if tn.group >= 0 else "retention"
            tlist.append((tn.due, kind, rid, tn.rseq, tn.gen,
                          gn[tn.group] if tn.group >= 0 else None, tn.rule))
        history = [self._view(e.hist[(e.hist_head + i) % e.hist_limit])
                   for i in range(e.hist_n)]
        return {
            "now": e.now, "seq": e.seq, "reg": e.reg, "join": e.join, "tick": e.tick,
            "rng": [e.rng[g] for g in range(e.G)],
            "operators": [p[1] for p in ops], "requests": [p[1] for p in reqs],
            "queues": queues, "opsets": opsets, "timers": tlist, "history": history,
            "bans": self.bans_.state(), "categories": dict(self.cats.counts),
            "outcomes": self._outcome_rows(),
            "skills": list(self.tags.names),
            "sticky": [(v, op, at) for v, (op, at) in self.last_op.items()],
            "counters": ([e.g_waiting[g] for g in range(e.G)],
                         [e.g_online[g] for g in range(e.G)],
                         [e.g_free[g] for g in range(e.G)],
                         [e.g_active[g] for g in range(e.G)],
                         [e.c_waiting[c] for c in range(e.C)],
                         [e.c_active[c] for c in range(e.C)], e.online, e.free_slots),
        }

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
        return _pickle.dumps({
            "engine": _snapshot_engine(&self.e),
            "py": (self.req_map, self.req_ids, self.op_map, self.op_ids, self.tags,
                   self.last_op, self.visitors, self.bans_, self.cats, self.cat_names,
                   self.cat_index)}, protocol=_pickle.HIGHEST_PROTOCOL)

    @classmethod
    def _restore(cls, config, data, explain=False, clock=_time_mod.monotonic):
        """A router for ``config`` (with ``clock``) in the state ``_snapshot`` saved."""
        if explain:
            raise ValueError("a router that explains is rebuilt by replay, not from a snapshot")
        state = _pickle.loads(data)
        if not isinstance(state, dict) or "engine" not in state:
            raise ValueError("not a native engine snapshot")
        cdef Router router = cls(config, clock=clock)
        _load_engine(&router.e, state["engine"])
        (router.req_map, router.req_ids, router.op_map, router.op_ids, router.tags,
         router.last_op, router.visitors, router.bans_, router.cats, router.cat_names,
         router.cat_index) = state["py"]
        return router


include "check.pyx"
include "durability/snapshot.pyx"

# Temporary re-exports: pyroute.journal and its tests still import these from here; they
# live in pyroute._durable, which needs nothing of the engine.
from pyroute._durable import JournalLog, Syncer, crc32

