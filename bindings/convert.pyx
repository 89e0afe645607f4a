# Event conversion: the core's event records of the current call become event Structs
# (and the id maps forget the handles the call retired).

cdef inline int ended(Router self, EvRec* ev) except -1:
    """What the id maps remember of a visitor, once a conversation of theirs finished or
    was cancelled: no longer live by the visitor; its operator, for sticky routing."""
    if self.by_visitor:
        self._unvisit(ev.req)
    if self.visitors:
        v = self.visitors.pop(self.req_ids[ev.req], None)
        if v is not None and ev.type == EV_FINISHED:
            self.last_op.pop(v, None)
            self.last_op[v] = (self.op_ids[ev.op], ev.at)
    return 0


cdef int convert_events(Router self, list out, int64_t lo, int64_t hi, bint retire) except -1:
    """Event records ``lo`` to ``hi`` of the current call as event Structs, appended to
    ``out``; then, with ``retire``, the id maps forget the handles the call retired."""
    cdef Engine* e = &self.e
    cdef int64_t i, j
    cdef EvRec* ev
    cdef list req_ids = self.req_ids
    cdef list op_ids = self.op_ids
    cdef tuple gnames = self.gnames
    cdef tuple cnames = self.cnames
    cdef hnd h
    if e.oom:
        self._raise_core()
    for i in range(lo, hi):
        ev = &e.evs.recs[i]
        if ev.type == EV_ASSIGNED:
            if BUILD_OK:
                out.append(build_assigned(req_ids[ev.req], op_ids[ev.op], gnames[ev.group],
                                          cnames[ev.ch], ev.at, ev.waited))
            else:
                out.append(Assigned(req_ids[ev.req], op_ids[ev.op], gnames[ev.group],
                                    cnames[ev.ch], ev.at, ev.waited))
        elif ev.type == EV_FINISHED:
            if BUILD_OK:
                out.append(build_finished(req_ids[ev.req], op_ids[ev.op], ev.at))
            else:
                out.append(Finished(req_ids[ev.req], op_ids[ev.op], ev.at))
            if self.by_visitor or self.visitors:    # else nothing to forget
                ended(self, ev)
        elif ev.type == EV_QUEUED:
            if BUILD_OK:
                out.append(build_queued(req_ids[ev.req], gnames[ev.group], cnames[ev.ch],
                                        ev.at, ev.aux,
                                        ev.waited if ev.waited >= 0.0 else None))
            else:
                out.append(Queued(req_ids[ev.req], gnames[ev.group], cnames[ev.ch], ev.at,
                                  ev.aux, ev.waited if ev.waited >= 0.0 else None))
        elif ev.type == EV_CANCELLED:
            if BUILD_OK:
                out.append(build_cancelled(req_ids[ev.req], ev.at, ev.waited, ev.flag != 0,
                                           CANCEL_REASONS[ev.aux]))
            else:
                out.append(Cancelled(req_ids[ev.req], ev.at, ev.waited, ev.flag != 0,
                                     CANCEL_REASONS[ev.aux]))
            if self.by_visitor or self.visitors:    # else nothing to forget
                ended(self, ev)
        elif ev.type == EV_OVERFLOWED:
            out.append(Overflowed(
                req_ids[ev.req], gnames[ev.group],
                tuple([gnames[e.evs.groups[j]] for j in range(ev.aux, ev.aux + ev.naux)]),
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
        elif ev.type == EV_TRANSFER_FAILED:
            out.append(TransferFailed(req_ids[ev.req], ev.at, op_ids[ev.aux],
                                      op_ids[ev.op] if ev.op >= 0 else None,
                                      XFER_REASONS[ev.flag]))
        elif ev.type == EV_OFFER_EXPIRED:
            out.append(OfferExpired(req_ids[ev.req], op_ids[ev.op], ev.at))
        elif ev.type == EV_RETENTION:
            out.append(RetentionDue(req_ids[ev.req], self.ret_actions[ev.ch][ev.aux], ev.at))
        elif ev.type == EV_REJECTED:
            out.append(Rejected(req_ids[ev.req], ev.at, REJECT_REASONS[ev.flag]))
        elif ev.type == EV_HELD:
            out.append(Held(self.hold_ids[ev.req], op_ids[ev.op], gnames[ev.group],
                            cnames[ev.ch], ev.at, ev.waited))
        elif ev.type == EV_HOLD_ENDED:
            out.append(HoldEnded(self.hold_ids[ev.req], op_ids[ev.op], ev.at,
                                 _HOLD_REASONS[ev.flag]))
        elif ev.type == EV_HOLD_REFUSED:
            out.append(HoldRefused(self.cur_hold, gnames[ev.group], cnames[ev.ch], ev.at))
    if not retire:
        return 0
    for i in range(e.hist.n_dead_reqs):
        h = e.hist.dead_reqs[i]
        if self.switched:
            self.switches.forget(req_ids[h])     # a no-op while it holds no link
        del self.req_map[req_ids[h]]
        req_ids[h] = None
        if h < len(self.req_vis):
            self.req_vis[h] = None
    for i in range(e.hist.n_dead_ops):
        h = e.hist.dead_ops[i]
        del self.op_map[op_ids[h]]   # op_ids keeps the id: history names it
    for i in range(e.hist.n_dead_holds):
        h = e.hist.dead_holds[i]
        del self.hold_map[self.hold_ids[h]]
        self.hold_ids[h] = None
    return 0
