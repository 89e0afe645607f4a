# The event buffer of the current call: one EvRec a routing event, read by the bindings
# (bindings/convert.pyx) and reset by eng_free_dead.

cdef inline EvRec* ev_new(Engine* e, int8_t type, hnd req, double at) noexcept nogil:
    cdef EvRec* ev
    if e.evs.n == e.evs.cap and pr_grow(<void**>&e.evs.recs, &e.evs.cap, e.evs.n + 1, sizeof(EvRec),
                                      &e.mem) < 0:
        e.oom = 1
        return NULL
    ev = &e.evs.recs[e.evs.n]
    e.evs.n += 1
    ev.type = type
    ev.req = req
    ev.at = at
    ev.op = -1
    ev.group = -1
    ev.ch = -1
    ev.waited = 0.0
    ev.aux = 0
    ev.naux = 0
    ev.flag = 0
    return ev
