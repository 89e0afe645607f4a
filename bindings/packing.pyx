# Packed batches (pyroute.packed, docs/packed.md): command records read and event records
# written in C, for Router.apply_packed.
#
# A packed command names its conversation by an int64 and its channel and group by index,
# so reading one makes no str, hashes nothing and reads no struct fields; an event record
# is written from the core's EvRec with the ids looked up, so no event object is built.
# The commands still go through the _submit/_finish/... of the method calls (the same
# checks, the same semantics); only the way in and the way out differ. A hot event whose
# ids are not int64 (a conversation submitted with a str id) is built as an object and
# written as an *other* record by pyroute.packed, as is every other event type.
#
# The records are C structs laid out as pyroute.packed's struct formats on a
# little-endian machine with natural alignment; PACK_OK checks that once, and without it
# apply_packed answers through pyroute.packed (the same bytes, at the reference's pace).

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from libc.stdint cimport uint16_t, uint32_t
from pyroute import packed as _packed

include "packed.pxi"

cdef uint64_t PK_NAN_BITS = 0x7FF8000000000000ULL   # struct.pack("<d", math.nan)


cdef bint PACK_OK = _pack_layout(_packed.COMMAND.size, _packed.EVENT.size)
_fast_paths["pack"] = PACK_OK


cdef extern from *:
    """
    /* An exact int of at most two digits read from its digits (CPython before 3.12 lays
       an int out as a signed digit count and 30-bit digits); 0 when it is not one of
       those (a bigger one, or another layout), for PyLong_AsLongLongAndOverflow. */
    static inline int pr_small_long(PyObject* x, int64_t* out) {
    #if PY_VERSION_HEX < 0x030C0000 && PYLONG_BITS_IN_DIGIT == 30
        Py_ssize_t n = Py_SIZE(x);
        const digit* d = ((PyLongObject*)x)->ob_digit;
        switch (n) {
        case 0: *out = 0; return 1;
        case 1: *out = (int64_t)d[0]; return 1;
        case -1: *out = -(int64_t)d[0]; return 1;
        case 2: *out = (int64_t)d[0] | ((int64_t)d[1] << PyLong_SHIFT); return 1;
        case -2: *out = -((int64_t)d[0] | ((int64_t)d[1] << PyLong_SHIFT)); return 1;
        }
    #endif
        return 0;
    }
    """
    bint pr_small_long(object x, int64_t* out) noexcept


cdef inline bint int_id(object x, int64_t* out) except -1:
    """``x`` as an int64 when it is an exact int that fits (what a packed record can name)."""
    cdef int overflow = 0
    cdef long long v
    if not PyLong_CheckExact(x):
        return False
    if pr_small_long(x, out):
        return True
    v = PyLong_AsLongLongAndOverflow(x, &overflow)
    if overflow:
        return False
    out[0] = v
    return True


cdef extern from "Python.h":
    PyObject* PyBytes_New "PyBytes_FromStringAndSize"(const char* s, Py_ssize_t n)
    int _PyBytes_Resize(PyObject** b, Py_ssize_t n)


cdef enum:
    PK_SMALL = 16        # commands in a batch whose answer is written in the scratch buffer


cdef char* pk_room(Router self, Py_ssize_t n) except NULL:
    """Room for ``n`` more bytes at the end of the packed answer being written. A big
    batch's answer is a bytes object of its own (``pk``, the router's one reference),
    grown in place and handed over as it is; a small one's is written in the router's
    scratch buffer (``pk_buf``, kept from call to call) and copied out: no allocation
    to grow, no resize to shrink, for the one-command calls of a simulator or a host."""
    cdef Py_ssize_t cap
    cdef char* p
    if self.pk != NULL:
        cap = PyBytes_GET_SIZE(<object>self.pk)
        if self.pk_n + n > cap:
            while cap < self.pk_n + n:
                cap *= 2
            if _PyBytes_Resize(&self.pk, cap) < 0:   # on failure it frees pk and sets NULL
                self.pk_n = 0
                raise MemoryError()
        p = PyBytes_AS_STRING(<object>self.pk)
    else:
        if self.pk_n + n > self.pk_cap:
            cap = self.pk_cap * 2 if self.pk_cap else 1024
            while cap < self.pk_n + n:
                cap *= 2
            p = <char*>realloc(self.pk_buf, cap)
            if p == NULL:
                raise MemoryError()
            self.pk_buf, self.pk_cap = p, cap
        p = self.pk_buf
    p += self.pk_n
    self.pk_n += n
    return p


cdef object pk_take(Router self):
    """The packed answer written so far, as bytes of its length; the next call starts
    a new one."""
    cdef PyObject* done = self.pk
    cdef object out
    cdef Py_ssize_t n = self.pk_n
    self.pk = NULL
    self.pk_n = 0
    if done == NULL:
        out = PyBytes_FromStringAndSize(self.pk_buf, n)
        if self.pk_cap > 65536:     # a burst's room (a long advance) is not kept for good
            free(self.pk_buf)
            self.pk_buf, self.pk_cap = NULL, 0
        return out
    if _PyBytes_Resize(&done, n) < 0:
        raise MemoryError()
    out = <object>done      # a reference of its own...
    Py_XDECREF(done)        # ...so the router's goes
    return out


cdef int pk_start(Router self, Py_ssize_t commands) except -1:
    """A new packed answer for a batch of ``commands``: room for two event records a
    command in a bytes object of its own for a big batch, the scratch buffer for a small
    one."""
    pk_drop(self)
    if commands > PK_SMALL:
        self.pk = PyBytes_New(NULL, commands * 2 * sizeof(PkEv))   # shrunk in place after
        if self.pk == NULL:
            raise MemoryError()
    return 0


cdef void pk_drop(Router self) noexcept:
    Py_XDECREF(self.pk)
    self.pk = NULL
    self.pk_n = 0


cdef int pk_append(Router self, bytes b) except -1:
    cdef Py_ssize_t n = PyBytes_GET_SIZE(b)
    memcpy(pk_room(self, n), PyBytes_AS_STRING(b), n)
    return 0


cdef int pack_events(Router self) except -1:
    """The core's event records of the current call appended to the packed answer."""
    cdef Engine* e = &self.e
    cdef int64_t i, rid = 0, oid = 0
    cdef EvRec* ev
    cdef PkEv* p
    cdef list req_ids = self.req_ids
    cdef list op_ids = self.op_ids
    cdef int8_t t
    cdef bint hot
    if e.oom:
        self._raise_core()
    for i in range(e.evs.n):
        ev = &e.evs.recs[i]
        t = ev.type
        oid = 0
        if t == EV_ASSIGNED or t == EV_FINISHED or t == EV_OFFERED or t == EV_ACCEPTED:
            hot = int_id(req_ids[ev.req], &rid) and int_id(op_ids[ev.op], &oid)
        elif t == EV_QUEUED or t == EV_CANCELLED or t == EV_REJECTED:
            hot = int_id(req_ids[ev.req], &rid)
        else:
            hot = False
        if hot:
            p = <PkEv*>pk_room(self, sizeof(PkEv))
            memset(p, 0, sizeof(PkEv))
            p.ch = -1
            p.group = -1
            p.req = rid
            p.op = oid
            p.at = ev.at
            if t == EV_ASSIGNED or t == EV_OFFERED:
                p.type = PK_ASSIGNED if t == EV_ASSIGNED else PK_OFFERED
                p.ch = <int16_t>ev.ch
                p.group = <int16_t>ev.group
                p.value = ev.waited       # Offered: its expires_at
            elif t == EV_QUEUED:
                p.type = PK_QUEUED
                p.ch = <int16_t>ev.ch
                p.group = <int16_t>ev.group
                p.aux = <int32_t>ev.aux
                if ev.waited >= 0.0:
                    p.value = ev.waited
                else:
                    memcpy(&p.value, &PK_NAN_BITS, 8)
            elif t == EV_FINISHED:
                p.type = PK_FINISHED
            elif t == EV_ACCEPTED:
                p.type = PK_ACCEPTED
                p.value = ev.waited
            elif t == EV_CANCELLED:
                p.type = PK_CANCELLED
                p.code = <uint8_t>ev.aux
                p.aux = ev.flag != 0
                p.value = ev.waited
            else:
                p.type = PK_REJECTED
                p.code = <uint8_t>ev.flag
            if t == EV_FINISHED or t == EV_CANCELLED:
                if self.by_visitor or self.visitors:    # else nothing to forget
                    ended(self, ev)
        else:       # built as an object (which does what ended does), then written
            one = []
            convert_events(self, one, i, i + 1, False)
            if one:
                pk_append(self, _packed.other(one[0]))
    convert_events(self, None, 0, 0, True)     # the id maps forget the retired handles
    return 0


cdef int apply_record(Router self, const PkCmd* c) except -1:
    """One packed command, through the same cdef call its method makes."""
    cdef int op = c.op
    if (op < PK_SUBMIT or op > PK_ACCEPT or (op == PK_SUBMIT and c.ch >= self.e.C)
            or ((op == PK_SUBMIT or op == PK_TRANSFER) and c.group >= self.e.G)):
        raise _packed.refused(op, c.ch, c.group, list(self.cnames), list(self.gnames))
    if c.now != c.now:      # NaN: no now given, the router's clock
        now = None
    else:
        self.pk_now = c.now
        now = PK_NOW
    if op == PK_ADVANCE:
        return self._advance(now, None)
    if op == PK_SUBMIT:
        return self._submit(c.req, self.cnames[c.ch], self.gnames[c.group], c.prio, None, now,
                            None, None, 0.0, None)
    if op == PK_FINISH:
        return self._finish(c.req, now, None)
    if op == PK_CANCEL:
        return self._cancel(c.req, now, None, None)
    if op == PK_ESCALATE:
        return self._transfer(c.req, None, None, now, True, None)
    if op == PK_TRANSFER:
        return self._transfer(c.req, self.gnames[c.group], None, now, False, None)
    return self._answer_offer(c.req, None, now, True, None)
