# The Redis workers' per-entry loop (pyroute.redis.worker.Worker._apply_batch), compiled:
# at 100,000 commands a second the interpreter's bookkeeping of a Python loop (the fields
# of each entry, the seen ids, the places of each tenant's commands) cost more than the
# routing. The careful path of an unusual entry (malformed, re-delivered, no now, a
# tenant not met yet in the batch) stays in Python, in the callbacks.


def apply_entries(list entries, dict seen, object order, Py_ssize_t seen_max,
                  object decode_cmd, object encode, object careful, object apply_each_of,
                  object refused, bint keep_entries):
    """Apply one shard's command entries (``[[id, [k, v, ...]], ...]``, as XREAD gives
    them) in order: each tenant's commands in one ``apply_each``. Returns ``(out,
    applied)``: ``out`` the fields of the event entries, 5 a command, in stream order
    (with ``keep_entries``: a list of ``(entry, fields)`` instead, for a replay to
    filter); ``applied`` the commands the routers applied.

    ``careful(entry, cid, tenant, cmd)`` takes any entry but the usual one and returns
    ``(tenant name, command)``, the fields of an event entry already (re-delivered,
    unknown tenant) or None (malformed); ``apply_each_of(tenant name)`` the router's
    ``apply_each``; ``refused(entry, cid, tenant, error)`` the fields of a refused
    command's event entry; ``seen`` the shard's recent command ids and ``order`` (a
    deque) the same ids, oldest first: the oldest is forgotten in O(1) (``del
    seen[next(iter(seen))]`` on a dict whose front was deleted over and over scans every
    deleted slot: 4-20 us a command once a shard had seen ``seen_max`` ids)."""
    cdef list recs = []          # per entry: [entry, fields or None, cid, tenant]
    cdef dict tenants = {}       # raw tenant -> (apply_each, commands, places in recs)
    cdef list flat, rec, out, cmds, places
    cdef tuple t
    cdef Py_ssize_t i, n, applied = 0
    for item in entries:
        entry = item[0]
        flat = item[1]
        if (len(flat) == 6 and flat[0] == b"cid" and flat[2] == b"tenant"
                and flat[4] == b"cmd"):   # the order Client.send writes them
            rcid = flat[1]
            rtenant = flat[3]
            rcmd = flat[5]
        else:
            f = dict(zip(flat[::2], flat[1::2]))
            rcid = f.get(b"cid")
            rtenant = f.get(b"tenant")
            rcmd = f.get(b"cmd")
        got = tenants.get(rtenant)
        usual = False
        if got is not None and type(rcid) is bytes:
            try:
                cid = (<bytes>rcid).decode()
                cmd = decode_cmd(rcmd)
                usual = cmd.now is not None and cid not in seen
            except Exception:
                usual = False
        if usual:
            seen[cid] = None
            order.append(cid)
            if len(seen) > seen_max:
                del seen[order.popleft()]
            t = <tuple>got
        else:
            got = careful(entry, rcid, rtenant, rcmd)
            if type(got) is not tuple:
                recs.append([entry, got, rcid, rtenant])
                continue
            cmd = (<tuple>got)[1]
            t = tenants.get(rtenant)
            if t is None:
                t = tenants[rtenant] = (apply_each_of((<tuple>got)[0]), [], [])
        (<list>t[1]).append(cmd)
        (<list>t[2]).append(len(recs))
        recs.append([entry, None, rcid, rtenant])
    for t in tenants.values():
        places = <list>t[2]
        res_all = t[0](t[1])
        n = len(places)
        for i in range(n):
            res = res_all[i]
            rec = <list>recs[<Py_ssize_t>places[i]]
            if type(res) is list:
                applied += 1
                rec[1] = [rec[2], rec[0], rec[3], b"events", encode(res)]
            else:
                rec[1] = refused(rec[0], rec[2], rec[3], res)
    if keep_entries:
        return [(rec[0], rec[1]) for rec in recs], applied
    out = []
    for rec in recs:
        if rec[1] is not None:
            out.extend(<list>rec[1])
    return out, applied
