# Snapshots of the native router (for pyroute.journal): the core's state arrays as bytes,
# copied exactly (handles are array indices, never pointers, so a copy is the state), plus
# the Python-side maps of the bindings. Configuration-derived arrays are rebuilt from the
# config by __init__ and not stored. Included into _core.pyx (it needs the Engine), unlike
# the rest of this directory, which is the pyroute._durable extension.

from pyroute import statecodec as _statecodec



cdef bytes _blob(const void* p, int64_t nbytes):
    if nbytes <= 0 or p == NULL:
        return b""
    return (<const char*>p)[:nbytes]


cdef void* _unblob(bytes b, int64_t cap_bytes) except NULL:
    cdef int64_t n = len(b)
    cdef void* p
    if n > cap_bytes:
        raise ValueError("snapshot array longer than its capacity")
    p = malloc(<size_t>(cap_bytes if cap_bytes > 0 else 1))
    if p == NULL:
        raise MemoryError()
    if n:
        memcpy(p, <const char*>b, <size_t>n)
    return p


cdef void _fill(void* dst, bytes b, int64_t nbytes) except *:
    if len(b) != nbytes:
        raise ValueError("snapshot array of the wrong size for this config")
    if nbytes:
        memcpy(dst, <const char*>b, <size_t>nbytes)


cdef void _load_array(void** p, int64_t* cap, int64_t* n, tuple saved,
                      size_t item) except *:
    """Replace the array at ``*p`` by a saved ``(bytes, capacity)``; its length in items
    goes to ``*n`` when given."""
    blob, c = saved
    free(p[0])
    p[0] = NULL
    p[0] = _unblob(blob, c * <int64_t>item)
    cap[0] = c
    if n != NULL:
        n[0] = len(blob) // item


cdef tuple _save_slab(Slab* s):
    return (_blob(s.items, s.used * <int64_t>s.item), s.cap, s.used,
            _blob(s.free_list, s.n_free * <int64_t>sizeof(hnd)), s.n_free, s.free_cap)


cdef void _load_slab(Slab* s, tuple t) except *:
    items, cap, used, free_list, n_free, free_cap = t
    free(s.items)
    free(s.free_list)
    s.items = NULL
    s.free_list = NULL
    s.items = _unblob(items, cap * <int64_t>s.item)
    s.free_list = <hnd*>_unblob(free_list, free_cap * <int64_t>sizeof(hnd))
    s.cap, s.used, s.n_free, s.free_cap = cap, used, n_free, free_cap


cdef tuple _save_subs(RQueue* q):
    """A queue's sub-heaps: (their capacity, [(mask, nodes, capacity), ...])."""
    return (q.cap_subs, [(q.subs[s].mask, _blob(q.subs[s].nodes, q.subs[s].n * sizeof(QNode)),
                          q.subs[s].cap) for s in range(q.n_subs)])


cdef void _load_subs(RQueue* q, tuple saved) except *:
    cdef int64_t s
    cap, subs = saved
    if not (0 <= len(subs) <= cap):
        raise ValueError("snapshot sub-heaps longer than their capacity")
    for s in range(q.n_subs):
        free(q.subs[s].nodes)
    free(q.subs)
    q.subs = NULL
    q.n_subs = 0
    q.subs = <SubQ*>_unblob(b"", cap * <int64_t>sizeof(SubQ))
    memset(q.subs, 0, <size_t>(cap * <int64_t>sizeof(SubQ)))
    q.cap_subs = cap
    for s in range(len(subs)):
        mask, blob, c = subs[s]
        if not (isinstance(mask, int) and 0 < mask < 2 ** 64):
            raise ValueError("snapshot sub-heap of no skills")
        q.subs[s].mask = mask
        q.n_subs = s + 1
        _load_array(<void**>&q.subs[s].nodes, &q.subs[s].cap, &q.subs[s].n, (blob, c),
                    sizeof(QNode))


cdef dict _snapshot_engine(Engine* e):
    cdef int64_t i, nq = <int64_t>e.G * e.C
    return {
        "scalars": (e.now, e.seq, e.reg, e.join, e.tick, e.tseq, e.mem, e.cnt.online,
                    e.cnt.free_slots, e.cnt.n_ops, e.hist.head, e.hist.n),
        "c_out": _blob(e.cnt.c_out, e.C * N_OUT * sizeof(double)),
        "g_out": _blob(e.cnt.g_out, e.G * N_OUT * sizeof(double)),
        "rng": _blob(e.rng, e.G * sizeof(uint64_t)),
        "g_counts": [_blob(e.cnt.g_waiting, e.G * sizeof(int64_t)),
                     _blob(e.cnt.g_online, e.G * sizeof(int64_t)),
                     _blob(e.cnt.g_free, e.G * sizeof(int64_t)),
                     _blob(e.cnt.g_active, e.G * sizeof(int64_t))],
        "c_counts": [_blob(e.cnt.c_waiting, e.C * sizeof(int64_t)),
                     _blob(e.cnt.c_active, e.C * sizeof(int64_t))],
        "g_cant": _blob(e.cnt.g_cant, nq * sizeof(int64_t)),
        "arr_sums": [_blob(e.cnt.c_arr_sum, e.C * sizeof(double)),
                     _blob(e.cnt.g_arr_sum, e.G * sizeof(double))],
        "slabs": [_save_slab(&e.reqs), _save_slab(&e.ents), _save_slab(&e.ops),
                  _save_slab(&e.mems), _save_slab(&e.excls), _save_slab(&e.skreqs),
                  _save_slab(&e.xs), _save_slab(&e.hlds)],
        "queues": [(_blob(e.queues[i].nodes, e.queues[i].n * sizeof(QNode)), e.queues[i].cap)
                   for i in range(nq)],
        "subqs": [_save_subs(&e.queues[i]) for i in range(nq)],
        "g_subq": _blob(e.g_subq, e.G * sizeof(int64_t)),
        "oheaps": [(_blob(e.oheaps[i].nodes, e.oheaps[i].n * sizeof(ONode)), e.oheaps[i].cap)
                   for i in range(e.G)],
        "timers": (_blob(e.timers.nodes, e.timers.n * sizeof(TNode)), e.timers.cap),
        "g_age": [(_blob(e.cnt.g_age[i].nodes, e.cnt.g_age[i].n * sizeof(AgeNode)), e.cnt.g_age[i].cap)
                  for i in range(e.G)],
        "c_age": [(_blob(e.cnt.c_age[i].nodes, e.cnt.c_age[i].n * sizeof(AgeNode)), e.cnt.c_age[i].cap)
                  for i in range(e.C)],
        "hist": (_blob(e.hist.ring, e.hist.cap * sizeof(hnd)), e.hist.cap),
        "op_ch": (_blob(e.op_ch, e.cap_op_ch * sizeof(int32_t)), e.cap_op_ch),
        "op_sk": (_blob(e.op_sk, e.cap_op_sk * sizeof(uint8_t)), e.cap_op_sk),
        "reserved": (e.cnt.unres, _blob(e.cnt.c_reserved, e.C * sizeof(int64_t)),
                     _blob(e.cnt.g_reserved, e.G * sizeof(int64_t))),
        "holds": (e.hseq, _blob(e.cnt.c_held, e.C * sizeof(int64_t)),
                  _blob(e.cnt.g_held, e.G * sizeof(int64_t))),
        "ewt": _blob(e.qst, nq * sizeof(QStat)),
        "sizes": (sizeof(Req), sizeof(Entry), sizeof(Op), sizeof(Member), sizeof(Excl),
                  sizeof(SkillReq), sizeof(QNode), sizeof(ONode), sizeof(TNode),
                  sizeof(AgeNode), sizeof(SubQ), sizeof(ReqX), sizeof(Hold), sizeof(QStat)),
    }


cdef void _load_engine(Engine* e, dict d) except *:
    cdef int64_t i, n, cap, nq = <int64_t>e.G * e.C
    if tuple(d["sizes"]) != (sizeof(Req), sizeof(Entry), sizeof(Op), sizeof(Member),
                             sizeof(Excl), sizeof(SkillReq), sizeof(QNode), sizeof(ONode),
                             sizeof(TNode), sizeof(AgeNode), sizeof(SubQ), sizeof(ReqX),
                             sizeof(Hold), sizeof(QStat)):
        raise ValueError("snapshot taken by a build with other record layouts")
    (e.now, e.seq, e.reg, e.join, e.tick, e.tseq, e.mem, e.cnt.online, e.cnt.free_slots, e.cnt.n_ops,
     e.hist.head, e.hist.n) = d["scalars"]
    _fill(e.cnt.c_out, d["c_out"], e.C * N_OUT * sizeof(double))
    _fill(e.cnt.g_out, d["g_out"], e.G * N_OUT * sizeof(double))
    _fill(e.rng, d["rng"], e.G * sizeof(uint64_t))
    gw, go, gf, ga = d["g_counts"]
    _fill(e.cnt.g_waiting, gw, e.G * sizeof(int64_t))
    _fill(e.cnt.g_online, go, e.G * sizeof(int64_t))
    _fill(e.cnt.g_free, gf, e.G * sizeof(int64_t))
    _fill(e.cnt.g_active, ga, e.G * sizeof(int64_t))
    cw, ca = d["c_counts"]
    _fill(e.cnt.c_waiting, cw, e.C * sizeof(int64_t))
    _fill(e.cnt.c_active, ca, e.C * sizeof(int64_t))
    _fill(e.cnt.g_cant, d["g_cant"], nq * sizeof(int64_t))
    cs, gs = d["arr_sums"]
    _fill(e.cnt.c_arr_sum, cs, e.C * sizeof(double))
    _fill(e.cnt.g_arr_sum, gs, e.G * sizeof(double))
    slabs = d["slabs"]
    _load_slab(&e.reqs, slabs[0])
    _load_slab(&e.ents, slabs[1])
    _load_slab(&e.ops, slabs[2])
    _load_slab(&e.mems, slabs[3])
    _load_slab(&e.excls, slabs[4])
    _load_slab(&e.skreqs, slabs[5])
    _load_slab(&e.xs, slabs[6])
    _load_slab(&e.hlds, slabs[7])
    if len(d["queues"]) != nq or len(d["subqs"]) != nq or len(d["oheaps"]) != e.G:
        raise ValueError("snapshot of another config")
    for i in range(nq):
        _load_array(<void**>&e.queues[i].nodes, &e.queues[i].cap, &e.queues[i].n,
                    d["queues"][i], sizeof(QNode))
        _load_subs(&e.queues[i], tuple(d["subqs"][i]))
    _fill(e.g_subq, d["g_subq"], e.G * sizeof(int64_t))
    for i in range(e.G):
        _load_array(<void**>&e.oheaps[i].nodes, &e.oheaps[i].cap, &e.oheaps[i].n,
                    d["oheaps"][i], sizeof(ONode))
        _load_array(<void**>&e.cnt.g_age[i].nodes, &e.cnt.g_age[i].cap, &e.cnt.g_age[i].n,
                    d["g_age"][i], sizeof(AgeNode))
    for i in range(e.C):
        _load_array(<void**>&e.cnt.c_age[i].nodes, &e.cnt.c_age[i].cap, &e.cnt.c_age[i].n,
                    d["c_age"][i], sizeof(AgeNode))
    _load_array(<void**>&e.timers.nodes, &e.timers.cap, &e.timers.n, d["timers"],
                sizeof(TNode))
    _load_array(<void**>&e.hist.ring, &e.hist.cap, NULL, d["hist"], sizeof(hnd))
    _load_array(<void**>&e.op_ch, &e.cap_op_ch, NULL, d["op_ch"], sizeof(int32_t))
    _load_array(<void**>&e.op_sk, &e.cap_op_sk, NULL, d["op_sk"], sizeof(uint8_t))
    unres, c_res, g_res = d["reserved"]
    e.cnt.unres = unres
    _fill(e.cnt.c_reserved, c_res, e.C * sizeof(int64_t))
    _fill(e.cnt.g_reserved, g_res, e.G * sizeof(int64_t))
    hseq, c_held, g_held = d["holds"]
    e.hseq = hseq
    _fill(e.cnt.c_held, c_held, e.C * sizeof(int64_t))
    _fill(e.cnt.g_held, g_held, e.G * sizeof(int64_t))
    _fill(e.qst, d["ewt"], nq * sizeof(QStat))
