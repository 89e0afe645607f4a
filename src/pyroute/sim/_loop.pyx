# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The simulator's discrete-event loop, compiled: ``pyroute.sim._loop``.

Everything the loop keeps per conversation and per operator lives in C arrays, its event
heap is a C binary heap and its random numbers come from xoshiro256** generators (one per
traffic stream and purpose, seeded with splitmix64 from the scenario's seed), so the only
Python work per conversation is the Router's own calls and reading the events they return.
Routing is entirely the Router's: the loop submits, finishes, cancels, escalates,
transfers, accepts offers and fires the router's timers at their due times
(``next_timer``/``advance``). ``engine.py`` prepares the inputs and turns the counts into a
Report.
"""

from libc.math cimport exp, log, sqrt, cos, floor, INFINITY
from libc.stdint cimport int8_t, int32_t, int64_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, qsort, realloc
from libc.string cimport memset

from ..events import Accepted, Assigned, Cancelled, Offered, Rejected
from .. import packed as _packed
from .._common import REJECT_REASONS as _REJECT_REASONS
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.object cimport PyObject
from types import MemberDescriptorType as _MemberDescriptor

cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member

# Assigned's request, operator, group and at read where msgspec keeps them (the slot
# offsets of its member descriptors, as the router reads its commands: bindings/fields.pyx)
# instead of through the generic attribute lookup, some 80 instructions a field; only
# when every field is an object slot, else ASSIGNED_OK is false and events() reads the
# attributes.
cdef Py_ssize_t ASSIGNED_AT[4]


cdef bint _assigned_offsets():
    cdef PyMemberDescrObject* d
    cdef int i
    for i, name in enumerate(("request", "operator", "group", "at")):
        desc = Assigned.__dict__.get(name)
        if type(desc) is not _MemberDescriptor:
            return False
        d = <PyMemberDescrObject*>desc
        if d.d_member.type != 16 or d.d_member.offset <= 0:   # T_OBJECT_EX
            return False
        ASSIGNED_AT[i] = d.d_member.offset
    return True


cdef bint ASSIGNED_OK = _assigned_offsets()

# Packed batches (pyroute.packed): with a router that has apply_packed natively, the loop
# sends each call as one packed command record and reads the packed event records it
# gets back, so no event object is built and none is read field by field. A call the
# packed form cannot carry (a submit with skills, a status change) goes through the
# method as before.
include "packed.pxi"
cdef bint PACK_OK = _pack_layout(_packed.COMMAND.size, _packed.EVENT.size)
cdef object _NO_NAME = object()   # Loop.g_last before any lookup (no name is it)


cdef inline object slot(object ev, Py_ssize_t at):
    cdef PyObject* p = (<PyObject**>((<char*><PyObject*>ev) + at))[0]
    if p == NULL:
        raise AttributeError("an event field is not set")
    return <object>p

cdef enum:
    K_ARRIVE = 0
    K_FINISH = 1
    K_PATIENCE = 2
    K_EARLY = 3
    K_STATUS = 4
    K_SAMPLE = 5
    OFFERED = 0
    ANSWERED = 1
    WITHIN = 2
    WAITED = 3
    WAIT_ANS = 4
    WAIT_ALL = 5
    ABANDONED = 6
    EARLY = 7
    REJECTED = 8
    ESCALATED = 9
    TRANSFERRED = 10
    NR = 11
    D_NONE = 0
    D_FIXED = 1
    D_EXP = 2
    D_LOGNORMAL = 3
    MAX_HOPS = 4

cdef double TWO_PI = 6.283185307179586

# event kinds

# counters of a row (channel rows, group rows, the total row, batch rows)




cdef struct Ev:
    double t
    int64_t seq
    int64_t x
    int32_t kind
    int32_t gen


# The event heap is the core's one heap (routing_core/heap.pyx) on Ev, ordered by (t, seq).
ctypedef fused HNode:
    Ev


cdef inline bint hn_less(HNode* a, HNode* b, void* ctx) noexcept nogil:
    return a.t < b.t or (a.t == b.t and a.seq < b.seq)


cdef inline void hn_put(HNode* a, int64_t i, HNode* x, void* ctx) noexcept nogil:
    a[i] = x[0]


include "heap.pyx"


cdef struct Rng:
    uint64_t s0, s1, s2, s3


cdef struct Dist:
    int kind
    double a
    double b


cdef inline uint64_t splitmix(uint64_t* x) noexcept nogil:
    x[0] += 0x9E3779B97F4A7C15ULL
    cdef uint64_t z = x[0]
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef void rng_seed(Rng* r, uint64_t seed, uint64_t stream, uint64_t purpose) noexcept nogil:
    cdef uint64_t x = seed * 0x100000001B3ULL + stream * 0x9E3779B1ULL + purpose * 7919ULL + 1
    r.s0 = splitmix(&x)
    r.s1 = splitmix(&x)
    r.s2 = splitmix(&x)
    r.s3 = splitmix(&x)


cdef inline uint64_t rotl(uint64_t x, int k) noexcept nogil:
    return (x << k) | (x >> (64 - k))


cdef inline double rng_u(Rng* r) noexcept nogil:
    """Uniform on [0, 1): xoshiro256**, 53 bits."""
    cdef uint64_t result = rotl(r.s1 * 5, 7) * 9
    cdef uint64_t t = r.s1 << 17
    r.s2 ^= r.s0
    r.s3 ^= r.s1
    r.s1 ^= r.s2
    r.s0 ^= r.s3
    r.s2 ^= t
    r.s3 = rotl(r.s3, 45)
    return (result >> 11) * (1.0 / 9007199254740992.0)


cdef inline double rng_exp(Rng* r, double mean) noexcept nogil:
    return -mean * log(1.0 - rng_u(r))


cdef inline double draw(Dist* d, Rng* r) noexcept nogil:
    cdef double u1, u2
    if d.kind == D_FIXED:
        return d.a
    if d.kind == D_EXP:
        return rng_exp(r, d.a)
    if d.kind == D_LOGNORMAL:   # Box-Muller, one of the pair
        u1 = 1.0 - rng_u(r)
        u2 = rng_u(r)
        return exp(d.a + d.b * sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2))
    return -1.0


cdef Dist make_dist(object spec):
    cdef Dist d
    cdef double s2
    d.kind, d.a, d.b = D_NONE, 0.0, 0.0
    if spec is None:
        return d
    if spec.dist == "fixed":
        d.kind, d.a = D_FIXED, spec.mean
    elif spec.dist == "exp":
        d.kind, d.a = D_EXP, spec.mean
    else:
        s2 = log(1.0 + (spec.sd / spec.mean) ** 2)
        d.kind, d.a, d.b = D_LOGNORMAL, log(spec.mean) - s2 / 2, sqrt(s2)
    return d


cdef struct Stream:
    int32_t ch, g, prio, transfer_to, src   # src: 0 rate, 1 hourly rates, 2 recorded
    double rate, top
    double rates[24]
    Dist handle, patience, bot_handle
    double slowdown, early_share, early_window, bot_resolve, escalate, transfer
    int moves
    Rng r_arr, r_handle, r_pat, r_early, r_route, r_bot
    int64_t row


cdef int cmp_double(const void* a, const void* b) noexcept nogil:
    cdef double x = (<double*>a)[0], y = (<double*>b)[0]
    return (x > y) - (x < y)


cdef class Loop:
    """One run: build it, ``run()`` it, then read its counts (engine.py)."""

    cdef object router, submit, finish, cancel, escalate_, transfer_, accept, advance
    cdef object next_timer, stats
    cdef object packed        # the router's apply_packed, or None: method calls
    cdef list cnames, gnames, skills, rows_of, status_of, samples
    cdef public list reject_reasons
    cdef Stream* st
    cdef int n_streams
    cdef int32_t C, G, B
    cdef double start, end, drain_until, batch_len
    cdef double* target
    cdef int32_t* escalates
    # event heap
    cdef Ev* heap
    cdef int64_t hn, hcap, seq
    # per conversation
    cdef int64_t n, cap
    cdef double* r_arr
    cdef double* r_handle
    cdef double* r_at
    cdef int32_t* r_stream
    cdef int32_t* r_gen
    cdef int32_t* r_op
    cdef int32_t* r_group
    cdef int32_t* r_ch
    cdef int32_t* r_via       # the group whose row holds its current stay: the home group
                              # until a group answers the stay, then that group
    cdef int32_t* r_batch
    cdef int8_t* r_hops
    cdef int8_t* r_answered
    cdef int8_t* r_live
    cdef int8_t* r_counted
    cdef double* r_since      # when its current stay in a group began (arrival, a move)
    cdef int8_t* r_stay       # answered in its current stay
    cdef dict g_of            # group name -> index
    cdef object g_last        # the group name object last looked up in g_of...
    cdef int32_t g_last_i     # ...and its index
    # per operator
    cdef public int32_t n_ops
    cdef int32_t* o_held
    cdef int32_t* o_limit
    cdef int8_t* o_bot
    cdef double* o_busy
    cdef double* o_online
    cdef double* o_since
    cdef int64_t* o_handled
    # counts
    cdef double* rows
    cdef double* brows
    cdef double* w_val
    cdef int32_t* w_ch
    cdef int32_t* w_g
    cdef int64_t wn, wcap
    cdef public int64_t live_counted, calls, conversations

    def __cinit__(self):
        self.st = NULL
        self.heap = NULL
        self.n = 0
        self.cap = 0
        self.hn = self.hcap = self.seq = 0
        self.wn = self.wcap = 0

    def __init__(self, router, sc, int64_t seed, list limits, list bots, list streams_in,
                 list status_events, list sample_times, list recorded, int batches=20,
                 bint packed=False):
        cdef int i, h
        cdef Stream* s
        cfg = sc.router
        self.router = router
        self.packed = router.apply_packed if packed and PACK_OK else None
        self.submit, self.finish, self.cancel = router.submit, router.finish, router.cancel
        self.escalate_, self.transfer_ = router.escalate, router.transfer
        self.accept, self.advance = router.accept, router.advance
        self.next_timer, self.stats = router.next_timer, router.stats
        self.cnames = [c.name for c in cfg.channels]
        self.gnames = [g.name for g in cfg.groups]
        gi = {n: k for k, n in enumerate(self.gnames)}
        self.g_of = gi
        self.g_last = _NO_NAME
        self.C, self.G, self.B = len(self.cnames), len(self.gnames), batches
        self.start, self.end = sc.warmup, sc.warmup + sc.duration
        self.drain_until = self.end + max(sc.duration, 86400.0)
        self.batch_len = sc.duration / batches
        self.target = <double*>malloc(self.C * sizeof(double))
        for i in range(self.C):
            self.target[i] = cfg.channels[i].target_wait
        self.escalates = <int32_t*>malloc(self.G * sizeof(int32_t))
        for i in range(self.G):
            e = cfg.groups[i].escalate_to
            self.escalates[i] = -1 if e is None else gi[e]
        self.rows = <double*>malloc((self.C + self.G + 1) * NR * sizeof(double))
        memset(self.rows, 0, (self.C + self.G + 1) * NR * sizeof(double))
        # batch rows: every row above (channels, groups, total) again for each batch
        self.brows = <double*>malloc(batches * (self.C + self.G + 1) * NR * sizeof(double))
        memset(self.brows, 0, batches * (self.C + self.G + 1) * NR * sizeof(double))
        self.reject_reasons = []
        # operators
        self.n_ops = len(limits)
        self.o_held = <int32_t*>malloc(self.n_ops * sizeof(int32_t) + 8)
        self.o_limit = <int32_t*>malloc(self.n_ops * sizeof(int32_t) + 8)
        self.o_bot = <int8_t*>malloc(self.n_ops + 8)
        self.o_busy = <double*>malloc(self.n_ops * sizeof(double) + 8)
        self.o_online = <double*>malloc(self.n_ops * sizeof(double) + 8)
        self.o_since = <double*>malloc(self.n_ops * sizeof(double) + 8)
        self.o_handled = <int64_t*>malloc(self.n_ops * sizeof(int64_t) + 8)
        for i in range(self.n_ops):
            self.o_held[i] = 0
            self.o_limit[i] = limits[i]
            self.o_bot[i] = bots[i]
            self.o_busy[i] = 0.0
            self.o_online[i] = 0.0
            self.o_since[i] = -1.0
            self.o_handled[i] = 0
        # streams
        self.n_streams = len(streams_in)
        self.st = <Stream*>malloc(self.n_streams * sizeof(Stream) + 8)
        self.skills = []
        self.rows_of = recorded
        for i, t in enumerate(streams_in):
            s = &self.st[i]
            s.ch = self.cnames.index(t.channel)
            s.g = gi[t.group]
            s.prio = t.priority
            s.transfer_to = -1 if t.transfer_to is None else gi[t.transfer_to]
            s.src = 2 if t.recorded is not None else (1 if t.rates is not None else 0)
            s.rate = t.rate if t.rate is not None else 0.0
            s.top = 0.0
            for h in range(24):
                s.rates[h] = t.rates[h] if t.rates is not None else 0.0
                if s.rates[h] > s.top:
                    s.top = s.rates[h]
            s.handle = make_dist(t.handle)
            s.patience = make_dist(t.patience)
            s.bot_handle = make_dist(t.bot_handle)
            s.slowdown = t.slowdown
            s.early_share = t.early_cancel_share
            s.early_window = cfg.channels[s.ch].early_cancel
            s.bot_resolve = t.bot_resolve
            s.escalate = t.escalate
            s.transfer = t.transfer
            s.moves = t.escalate > 0 or t.transfer > 0
            rng_seed(&s.r_arr, seed, i, 0)
            rng_seed(&s.r_handle, seed, i, 1)
            rng_seed(&s.r_pat, seed, i, 2)
            rng_seed(&s.r_early, seed, i, 3)
            rng_seed(&s.r_route, seed, i, 4)
            rng_seed(&s.r_bot, seed, i, 5)
            s.row = 0
            self.skills.append(dict(t.skills) or None)
        self.status_of = status_events
        for k, (when, op, status) in enumerate(status_events):
            self.push(when, K_STATUS, k, 0)
        for when in sample_times:
            self.push(when, K_SAMPLE, 0, 0)
        self.samples = []
        for i in range(self.n_streams):
            self.next_arrival(i, 0.0)
        self.live_counted = self.calls = self.conversations = 0

    def __dealloc__(self):
        free(self.st); free(self.heap); free(self.target); free(self.escalates)
        free(self.rows); free(self.brows)
        free(self.r_arr); free(self.r_handle); free(self.r_at); free(self.r_stream)
        free(self.r_gen); free(self.r_op); free(self.r_group); free(self.r_ch); free(self.r_via)
        free(self.r_batch); free(self.r_hops); free(self.r_answered); free(self.r_live)
        free(self.r_counted); free(self.r_since); free(self.r_stay)
        free(self.o_held); free(self.o_limit); free(self.o_bot); free(self.o_busy)
        free(self.o_online); free(self.o_since); free(self.o_handled)
        free(self.w_val); free(self.w_ch); free(self.w_g)

    # ------------------------------------------------------------------ the heap
    cdef void push(self, double t, int32_t kind, int64_t x, int32_t gen) except *:
        cdef Ev e
        if self.hn == self.hcap:
            self.hcap = self.hcap * 2 + 64
            self.heap = <Ev*>realloc(self.heap, self.hcap * sizeof(Ev))
            if self.heap == NULL:
                raise MemoryError()
        self.seq += 1
        e.t, e.seq, e.kind, e.x, e.gen = t, self.seq, kind, x, gen
        hp_push(self.heap, &self.hn, &e, NULL)

    cdef Ev pop(self) noexcept:
        cdef Ev top = self.heap[0]
        hp_pop(self.heap, &self.hn, NULL)
        return top

    # ------------------------------------------------------------------ conversations
    cdef int64_t new_request(self) except -1:
        cdef int64_t k
        if self.n == self.cap:
            k = self.cap * 2 + 1024
            self.r_arr = <double*>realloc(self.r_arr, k * sizeof(double))
            self.r_handle = <double*>realloc(self.r_handle, k * sizeof(double))
            self.r_at = <double*>realloc(self.r_at, k * sizeof(double))
            self.r_stream = <int32_t*>realloc(self.r_stream, k * sizeof(int32_t))
            self.r_gen = <int32_t*>realloc(self.r_gen, k * sizeof(int32_t))
            self.r_op = <int32_t*>realloc(self.r_op, k * sizeof(int32_t))
            self.r_group = <int32_t*>realloc(self.r_group, k * sizeof(int32_t))
            self.r_ch = <int32_t*>realloc(self.r_ch, k * sizeof(int32_t))
            self.r_via = <int32_t*>realloc(self.r_via, k * sizeof(int32_t))
            self.r_batch = <int32_t*>realloc(self.r_batch, k * sizeof(int32_t))
            self.r_hops = <int8_t*>realloc(self.r_hops, k)
            self.r_answered = <int8_t*>realloc(self.r_answered, k)
            self.r_live = <int8_t*>realloc(self.r_live, k)
            self.r_counted = <int8_t*>realloc(self.r_counted, k)
            self.r_since = <double*>realloc(self.r_since, k * sizeof(double))
            self.r_stay = <int8_t*>realloc(self.r_stay, k)
            if (self.r_arr == NULL or self.r_handle == NULL or self.r_at == NULL
                    or self.r_stream == NULL or self.r_gen == NULL or self.r_op == NULL
                    or self.r_group == NULL or self.r_ch == NULL or self.r_via == NULL
                    or self.r_batch == NULL or self.r_hops == NULL or self.r_answered == NULL
                    or self.r_live == NULL or self.r_counted == NULL or self.r_since == NULL
                    or self.r_stay == NULL):
                raise MemoryError()
            self.cap = k
        self.n += 1
        return self.n - 1

    cdef void next_arrival(self, int i, double now) except *:
        cdef Stream* s = &self.st[i]
        cdef double t
        if s.src == 2:
            rows = self.rows_of[i]
            while s.row < len(rows) and rows[s.row].time < now:
                s.row += 1
            if s.row < len(rows) and rows[s.row].time < self.end:
                self.push(rows[s.row].time, K_ARRIVE, i, 0)
            return
        if s.src == 0:
            if s.rate <= 0:
                return
            t = now + rng_exp(&s.r_arr, 1.0 / s.rate)
        else:
            if s.top <= 0:
                return
            t = now
            while True:
                t += rng_exp(&s.r_arr, 1.0 / s.top)
                if rng_u(&s.r_arr) * s.top < s.rates[<int64_t>floor(t / 3600.0) % 24]:
                    break
        if t < self.end:
            self.push(t, K_ARRIVE, i, 0)

    cdef inline void count(self, int64_t rid, int k, double v) noexcept:
        """A conversation's counter: its channel and the total, overall and in its
        batch (group rows count stays: ``count_g``)."""
        cdef int64_t b = <int64_t>self.r_batch[rid] * (self.C + self.G + 1)
        self.rows[self.r_ch[rid] * NR + k] += v
        self.rows[(self.C + self.G) * NR + k] += v
        self.brows[(b + self.r_ch[rid]) * NR + k] += v
        self.brows[(b + self.C + self.G) * NR + k] += v

    cdef inline void count_g(self, int64_t rid, int32_t g, int k, double v) noexcept:
        """A stay's counter in group ``g``'s row, overall and in the conversation's batch
        (the slice of the window it arrived in)."""
        cdef int64_t b = <int64_t>self.r_batch[rid] * (self.C + self.G + 1)
        self.rows[(self.C + g) * NR + k] += v
        self.brows[(b + self.C + g) * NR + k] += v

    cdef void answered(self, int64_t rid, double wait) except *:
        if not self.r_counted[rid]:
            return
        self.count(rid, ANSWERED, 1.0)
        self.count(rid, WAIT_ANS, wait)
        self.count(rid, WAIT_ALL, wait)
        if wait <= self.target[self.r_ch[rid]]:
            self.count(rid, WITHIN, 1.0)
        if wait > 0:
            self.count(rid, WAITED, 1.0)
        self.sample(wait, self.r_ch[rid], -1)

    cdef void stay_answered(self, int64_t rid, int32_t g, double at) except *:
        """The first answer of a stay, in the row of the group that answered it, with
        the wait of that stay (docs/semantics.md, "Glossary of outcomes")."""
        cdef double wait
        if self.r_stay[rid]:
            return
        self.r_stay[rid] = 1
        if not self.r_counted[rid]:
            self.r_via[rid] = g
            return
        if g != self.r_via[rid]:   # answered through another group (an overflow): the
            self.count_g(rid, self.r_via[rid], OFFERED, -1.0)   # stay is that group's work
            self.count_g(rid, g, OFFERED, 1.0)
            self.r_via[rid] = g
        wait = at - self.r_since[rid]
        self.count_g(rid, g, ANSWERED, 1.0)
        self.count_g(rid, g, WAIT_ANS, wait)
        self.count_g(rid, g, WAIT_ALL, wait)
        if wait <= self.target[self.r_ch[rid]]:
            self.count_g(rid, g, WITHIN, 1.0)
        if wait > 0:
            self.count_g(rid, g, WAITED, 1.0)
        self.sample(wait, -1, g)

    cdef void sample(self, double wait, int32_t ch, int32_t g) except *:
        """A wait for the percentiles: a conversation's (``ch``) or a stay's (``g``)."""
        cdef int64_t k
        if self.wn == self.wcap:
            k = self.wcap * 2 + 1024
            self.w_val = <double*>realloc(self.w_val, k * sizeof(double))
            self.w_ch = <int32_t*>realloc(self.w_ch, k * sizeof(int32_t))
            self.w_g = <int32_t*>realloc(self.w_g, k * sizeof(int32_t))
            if self.w_val == NULL or self.w_ch == NULL or self.w_g == NULL:
                raise MemoryError()
            self.wcap = k
        self.w_val[self.wn] = wait
        self.w_ch[self.wn] = ch
        self.w_g[self.wn] = g
        self.wn += 1

    cdef void done(self, int64_t rid) noexcept:
        self.r_live[rid] = 0
        if self.r_counted[rid]:
            self.live_counted -= 1

    cdef void busy(self, int32_t op, double a, double b) noexcept:
        cdef double lo, hi
        if a >= self.start and a < self.end:
            self.o_handled[op] += 1
        lo = a if a > self.start else self.start
        hi = b if b < self.end else self.end
        if hi > lo:
            self.o_busy[op] += hi - lo

    cdef void release(self, int64_t rid, double t) noexcept:
        cdef int32_t op = self.r_op[rid]
        if op < 0:
            return
        self.o_held[op] -= 1
        self.busy(op, self.r_at[rid], t)
        self.r_op[rid] = -1
        self.r_gen[rid] += 1

    cdef void on_status(self, int32_t op, int online, double t) noexcept:
        cdef double since = self.o_since[op], lo, hi
        if since >= 0:
            lo = since if since > self.start else self.start
            hi = t if t < self.end else self.end
            if hi > lo:
                self.o_online[op] += hi - lo
            self.o_since[op] = -1.0
        if online:
            self.o_since[op] = t

    # ------------------------------------------------------------------ router events
    cdef void events(self, list evs) except *:
        cdef object e, a
        for e in evs:
            tp = type(e)
            if tp is Assigned:
                if ASSIGNED_OK:
                    self.answer(slot(e, ASSIGNED_AT[0]), slot(e, ASSIGNED_AT[1]),
                                slot(e, ASSIGNED_AT[3]), self.group_of(slot(e, ASSIGNED_AT[2])))
                else:
                    self.answer(e.request, e.operator, e.at, self.g_of[e.group])
            elif tp is Offered:    # the simulated operator accepts at once
                self.calls += 1
                for a in self.accept(e.request, None, e.at):
                    if type(a) is Accepted:
                        self.answer(a.request, a.operator, a.at, self.g_of[e.group])
                    else:
                        self.events([a])

    cdef bytes pk_call(self, uint8_t op, int32_t ch, int32_t g, int32_t prio, int64_t rid,
                       double t):
        """One packed command through the router's apply_packed: its packed answer."""
        cdef PkCmd c
        memset(&c, 0, sizeof(PkCmd))
        c.op = op
        c.ch = <uint16_t>ch
        c.group = <uint16_t>g
        c.prio = prio
        c.req = rid
        c.now = t
        return self.packed(PyBytes_FromStringAndSize(<char*>&c, sizeof(PkCmd)))

    cdef const PkEv* pk_events(self, bytes data, int32_t offer_group) except? NULL:
        """events() for a packed answer: the assignments answered, the offers accepted (an
        Accepted answers in ``offer_group``, the group of the offer accepted, when given).
        Returns the last record (NULL for an empty answer)."""
        cdef const char* p = PyBytes_AS_STRING(data)
        cdef Py_ssize_t i = 0, n = PyBytes_GET_SIZE(data)
        cdef const PkEv* ev = NULL
        while i < n:
            ev = <const PkEv*>(p + i)
            i += sizeof(PkEv)
            if ev.type == PK_ASSIGNED:
                self.answer(ev.req, <int32_t>ev.op, ev.at, ev.group)
            elif ev.type == PK_OFFERED:    # the simulated operator accepts at once
                self.calls += 1
                self.pk_events(self.pk_call(PK_ACCEPT, 0, 0, 0, ev.req, ev.at), ev.group)
            elif ev.type == PK_ACCEPTED and offer_group >= 0:
                self.answer(ev.req, <int32_t>ev.op, ev.at, offer_group)
            elif ev.type == PK_OTHER:
                self.events([_packed.other_event(data[i:i + ev.aux], ev.code)])
                i += ev.aux + (-ev.aux & 7)
        return ev

    cdef int pk_early(self, bytes data, int64_t rid) except -1:
        """The ``early`` of conversation ``rid``'s Cancelled in a packed answer (0 if none)."""
        cdef const char* p = PyBytes_AS_STRING(data)
        cdef Py_ssize_t i = 0, n = PyBytes_GET_SIZE(data)
        cdef const PkEv* ev
        while i < n:
            ev = <const PkEv*>(p + i)
            i += sizeof(PkEv)
            if ev.type == PK_CANCELLED and ev.req == rid:
                return ev.aux != 0
            if ev.type == PK_OTHER:
                i += ev.aux + (-ev.aux & 7)
        return 0

    cdef inline int32_t group_of(self, object name) except -1:
        """A group's index from its name in an event: the router names a group with the
        same str object every time, so the last one is remembered by identity."""
        if name is not self.g_last:
            self.g_last_i = self.g_of[name]
            self.g_last = name
        return self.g_last_i

    cdef void answer(self, int64_t rid, int32_t op, double at, int32_t g) except *:
        cdef Stream* s = &self.st[self.r_stream[rid]]
        cdef int32_t held = self.o_held[op] + 1
        cdef double h
        self.o_held[op] = held
        self.r_op[rid] = op
        self.r_at[rid] = at
        if not self.r_answered[rid]:
            self.r_answered[rid] = 1
            self.answered(rid, at - self.r_arr[rid])
        self.stay_answered(rid, g, at)
        if self.o_bot[op]:
            h = draw(&s.bot_handle, &s.r_bot)
        else:
            h = self.r_handle[rid]   # the customer's own handling time, for its first human
            if h < 0:
                h = draw(&s.handle, &s.r_handle)
            else:
                self.r_handle[rid] = -1.0
            if s.slowdown != 0:
                h *= 1.0 + s.slowdown * (held - 1)
        self.push(at + h, K_FINISH, rid, self.r_gen[rid])

    # ------------------------------------------------------------------ the loop
    def run(self, progress=None):
        """Run to the end (and drain); ``progress(t)`` is called now and then."""
        cdef Ev ev
        cdef double t
        cdef int64_t steps = 0, rid
        while self.hn > 0:
            t = self.heap[0].t
            nt = self.next_timer()
            if nt is not None and <double>nt <= t:
                self.calls += 1
                if self.packed is not None:
                    self.pk_events(self.pk_call(PK_ADVANCE, 0, 0, 0, 0, nt), -1)
                else:
                    self.events(self.advance(nt))
                continue
            if t > self.end and (self.live_counted == 0 or t > self.drain_until):
                break
            ev = self.pop()
            if ev.kind == K_ARRIVE:
                self.on_arrive(t, <int>ev.x)
            elif ev.kind == K_FINISH:
                self.on_finish(t, ev.x, ev.gen)
            elif ev.kind == K_PATIENCE:
                self.on_patience(t, ev.x)
            elif ev.kind == K_EARLY:
                self.on_early(t, ev.x)
            elif ev.kind == K_STATUS:
                self.on_status_event(t, ev.x)
            else:
                if t <= self.end:
                    st = self.stats(t)
                    self.samples.append((t, st.total.waiting,
                                         [st.channels[c].waiting for c in self.cnames],
                                         [st.groups[g].waiting for g in self.gnames]))
            steps += 1
            if progress is not None and (steps & 16383) == 0:
                progress(t)
        for rid in range(self.n):   # still held when the run stopped
            if self.r_op[rid] >= 0:
                self.busy(self.r_op[rid], self.r_at[rid], self.end)
        for rid in range(self.n_ops):
            self.on_status(<int32_t>rid, 0, self.end)
        self.conversations = self.n

    cdef void on_arrive(self, double t, int i) except *:
        cdef Stream* s = &self.st[i]
        cdef int64_t rid = self.new_request()
        cdef int32_t ch = s.ch, g = s.g
        cdef double handle = -1.0, patience = -1.0
        cdef int early = 0
        cdef object row, events
        cdef bytes data
        cdef const PkEv* last_rec
        if s.src == 2:
            row = self.rows_of[i][s.row]
            s.row += 1
            ch, g = self.cnames.index(row.channel), self.gnames.index(row.group)
            if row.handle is not None:
                handle = row.handle
            if row.patience is not None:
                patience = row.patience
        if handle < 0:
            handle = draw(&s.handle, &s.r_handle)
        if patience < 0 and s.patience.kind != D_NONE:
            patience = draw(&s.patience, &s.r_pat)
        if s.early_share > 0:
            early = rng_u(&s.r_early) < s.early_share
        self.r_arr[rid] = t
        self.r_stream[rid] = i
        self.r_handle[rid] = handle
        self.r_gen[rid] = 0
        self.r_op[rid] = -1
        self.r_at[rid] = 0.0
        self.r_hops[rid] = 0
        self.r_group[rid] = g
        self.r_answered[rid] = 0
        self.r_live[rid] = 1
        self.r_ch[rid] = ch
        self.r_via[rid] = g
        self.r_since[rid] = t
        self.r_stay[rid] = 0
        self.r_counted[rid] = self.start <= t < self.end
        self.r_batch[rid] = 0
        if self.r_counted[rid]:
            self.r_batch[rid] = min(self.B - 1, <int32_t>((t - self.start) / self.batch_len))
            self.count(rid, OFFERED, 1.0)
            self.count_g(rid, g, OFFERED, 1.0)
            self.live_counted += 1
        self.calls += 1
        reason = None
        # a rejection is its submit's one event, so the last of the answer
        if self.packed is not None and self.skills[i] is None:
            data = self.pk_call(PK_SUBMIT, ch, g, s.prio, rid, t)
            last_rec = self.pk_events(data, -1)   # points into data, which lives on here
            if last_rec != NULL and last_rec.type == PK_REJECTED and last_rec.req == rid:
                reason = _REJECT_REASONS[last_rec.code]
        else:
            events = self.submit(rid, self.cnames[ch], self.gnames[g], s.prio, None, t,
                                 self.skills[i])
            self.events(events)
            last = events[len(events) - 1]
            if type(last) is Rejected:
                reason = last.reason
        if reason is not None:
            if self.r_counted[rid]:
                self.count(rid, REJECTED, 1.0)
                self.count(rid, WAITED, 1.0)
                self.count_g(rid, g, REJECTED, 1.0)
                self.count_g(rid, g, WAITED, 1.0)
                self.reject_reasons.append(reason)
            self.done(rid)
        else:
            if not self.r_answered[rid] and patience >= 0:
                self.push(t + patience, K_PATIENCE, rid, 0)
            if early:
                self.push(t + rng_u(&s.r_early) * s.early_window, K_EARLY, rid, 0)
        self.next_arrival(i, t)

    cdef void on_finish(self, double t, int64_t rid, int32_t gen) except *:
        cdef Stream* s
        cdef int32_t op, g
        cdef int hops
        cdef int action = 0   # 0 finish, 1 escalate, 2 transfer
        cdef double u = 1.0
        cdef bytes data
        if not self.r_live[rid] or self.r_gen[rid] != gen:
            return
        s = &self.st[self.r_stream[rid]]
        op, g = self.r_op[rid], self.r_group[rid]
        hops = self.r_hops[rid]
        if s.moves or self.o_bot[op]:
            u = rng_u(&s.r_route)
        if self.o_bot[op]:
            if u >= s.bot_resolve:
                action = 1
        elif hops < MAX_HOPS:
            if u < s.escalate:
                action = 1
            elif u < s.escalate + s.transfer:
                action = 2
        if action == 1 and self.escalates[g] < 0:
            action = 0
        self.release(rid, t)
        self.calls += 1
        if action:
            self.r_hops[rid] = hops + 1
            self.r_group[rid] = self.escalates[g] if action == 1 else s.transfer_to
            if self.r_counted[rid]:   # in the row of the group that handled the stay
                self.count(rid, ESCALATED if action == 1 else TRANSFERRED, 1.0)
                self.count_g(rid, self.r_via[rid], ESCALATED if action == 1 else TRANSFERRED,
                             1.0)
            self.new_stay(rid, t)
        if self.packed is not None:
            data = self.pk_call(PK_FINISH if action == 0 else
                                PK_ESCALATE if action == 1 else PK_TRANSFER,
                                0, s.transfer_to if action == 2 else 0, 0, rid, t)
        elif action == 0:
            events = self.finish(rid, t)
        elif action == 1:
            events = self.escalate_(rid, t)
        else:
            events = self.transfer_(rid, self.gnames[s.transfer_to], None, t)
        if action == 0:
            self.done(rid)
        if self.packed is not None:
            self.pk_events(data, -1)
        else:
            self.events(events)

    cdef void new_stay(self, int64_t rid, double t) noexcept:
        """An escalation or a transfer: a new stay begins in ``r_group``, waiting from
        now (the conversation was answered, so its wait starts again)."""
        self.r_since[rid] = t
        self.r_stay[rid] = 0
        self.r_via[rid] = self.r_group[rid]
        if self.r_counted[rid]:
            self.count_g(rid, self.r_group[rid], OFFERED, 1.0)

    cdef void left(self, int64_t rid, double t, bint early, bint unanswered) except *:
        """Count a customer who left before being answered the way the router's stats
        do (docs/semantics.md, "Glossary of outcomes"): the router's ``Cancelled.early``
        (sooner than the channel's early_cancel after arrival) makes it an early cancel,
        out of service level and abandonment; otherwise it abandoned."""
        if not self.r_counted[rid]:
            return
        if unanswered:
            self.count(rid, EARLY if early else ABANDONED, 1.0)
            self.count(rid, WAIT_ALL, t - self.r_arr[rid])
            self.count(rid, WAITED, 1.0)
        if not self.r_stay[rid]:   # in the row of the group whose queue it left
            self.count_g(rid, self.r_group[rid], EARLY if early else ABANDONED, 1.0)
            self.count_g(rid, self.r_group[rid], WAIT_ALL, t - self.r_since[rid])
            self.count_g(rid, self.r_group[rid], WAITED, 1.0)

    cdef void cancelled(self, int64_t rid, double t, bint unanswered) except *:
        """The customer leaves: the cancel, the count (by its ``Cancelled.early``), then
        what its freed slot takes."""
        cdef bytes data
        cdef bint early = False
        self.calls += 1
        if self.packed is not None:
            data = self.pk_call(PK_CANCEL, 0, 0, 0, rid, t)
            self.done(rid)
            self.left(rid, t, self.pk_early(data, rid), unanswered)
            self.pk_events(data, -1)
            return
        events = self.cancel(rid, t)
        self.done(rid)
        for e in events:
            if type(e) is Cancelled and e.request == rid:
                early = e.early
                break
        self.left(rid, t, early, unanswered)
        self.events(events)

    cdef void on_patience(self, double t, int64_t rid) except *:
        if self.r_live[rid] and not self.r_answered[rid]:
            self.cancelled(rid, t, True)

    cdef void on_early(self, double t, int64_t rid) except *:
        cdef int answered
        if not self.r_live[rid]:
            return
        answered = self.r_answered[rid]
        self.release(rid, t)
        # an answered customer who hangs up stays answered (on the channel, and in the
        # group of a stay that was answered)
        self.cancelled(rid, t, not answered)

    cdef void on_status_event(self, double t, int64_t k) except *:
        when, op, status = self.status_of[k]
        self.on_status(<int32_t>op, status == "online", t)
        self.calls += 1
        self.events(self.router.set_status(op, status, t))

    # ------------------------------------------------------------------ results
    def row(self, int k):
        """Counters of row ``k``: channels 0..C-1, groups C..C+G-1, then the total."""
        return [self.rows[k * NR + j] for j in range(NR)]

    def unresolved(self):
        """Counted conversations still live when the run stopped: ([per channel],
        [per group]), each in its channel and in the row of its current stay (``r_via``)."""
        cdef int64_t rid
        ch = [0] * self.C
        gr = [0] * self.G
        for rid in range(self.n):
            if self.r_live[rid] and self.r_counted[rid]:
                ch[self.r_ch[rid]] += 1
                gr[self.r_via[rid]] += 1
        return ch, gr

    def batch_rows(self, int k=-1):
        """Counters of row ``k`` (as ``row``; -1: the total) in each batch, in time order."""
        cdef int64_t R = self.C + self.G + 1
        if k < 0:
            k = self.C + self.G
        return [[self.brows[(b * R + k) * NR + j] for j in range(NR)] for b in range(self.B)]

    def operators(self):
        """(handled, busy slot-seconds, online seconds) per operator, in the window."""
        return [(self.o_handled[i], self.o_busy[i], self.o_online[i])
                for i in range(self.n_ops)]

    def samples_list(self):
        return self.samples

    def waits(self, int key, int which, groups=None):
        """Sorted waits of the answered: ``key`` -1 for all, else a channel (``which`` 0)
        or a group (``which`` 1) index; with ``groups`` (which 2), the stays answered in
        any of those group indexes (a line)."""
        cdef int64_t i, m = 0
        cdef int8_t* ing = NULL
        if which == 2:
            ing = <int8_t*>calloc(self.G + 1, 1)
            if ing == NULL:
                raise MemoryError()
            for i in groups:
                ing[i] = 1
        cdef double* buf = <double*>malloc((self.wn + 1) * sizeof(double))
        if buf == NULL:
            raise MemoryError()
        try:
            for i in range(self.wn):
                if ((key < 0 and self.w_ch[i] >= 0)
                        or (key >= 0 and which == 0 and self.w_ch[i] == key)
                        or (key >= 0 and which == 1 and self.w_g[i] == key)
                        or (which == 2 and self.w_g[i] >= 0 and ing[self.w_g[i]])):
                    buf[m] = self.w_val[i]
                    m += 1
            qsort(buf, m, sizeof(double), cmp_double)
            return WaitSample.wrap(buf, m)
        except BaseException:
            free(buf)
            raise
        finally:
            free(ing)


cdef class WaitSample:
    """Sorted waits (owned C buffer): percentiles and a histogram without Python floats."""

    cdef double* buf
    cdef public int64_t n

    @staticmethod
    cdef WaitSample wrap(double* buf, int64_t n):
        cdef WaitSample w = WaitSample.__new__(WaitSample)
        w.buf = buf
        w.n = n
        return w

    def __dealloc__(self):
        free(self.buf)

    def pct(self, double q):
        if self.n == 0:
            return None
        cdef int64_t i = <int64_t>(q * self.n)
        if i >= self.n:
            i = self.n - 1
        return self.buf[i]

    def count_le(self, double x):
        """How many waits are at most ``x`` (the waits are sorted)."""
        cdef int64_t lo = 0, hi = self.n, mid
        while lo < hi:
            mid = (lo + hi) // 2
            if self.buf[mid] <= x:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def histogram(self, int bins=30):
        if self.n == 0:
            return ([], [])
        cdef double top = self.buf[self.n - 1], step
        cdef int64_t i, b
        if top <= 0:
            return ([0.0, 1.0], [self.n])
        step = top / bins
        counts = [0] * bins
        for i in range(self.n):
            b = <int64_t>(self.buf[i] / step)
            if b >= bins:
                b = bins - 1
            counts[b] += 1
        return ([k * step for k in range(bins + 1)], counts)
