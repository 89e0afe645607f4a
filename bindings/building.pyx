# The hot events built where msgspec keeps their fields, for convert_events.
#
# Calling an event type (``Assigned(...)``) goes through the generic call: the vectorcall
# of the Struct type, its argument checks, defaults and keyword handling, about 250
# instructions an event. An event is a frozen, untracked (gc=False) msgspec Struct: an
# object header and one object slot a field, nothing else. Here the four events of the
# hot path (Assigned, Finished, Queued, Cancelled) are allocated the way msgspec
# allocates an untracked Struct (PyObject_Malloc of the type's basic size, zeroed, then
# PyObject_Init) and their fields stored at the slot offsets taken once from the member
# descriptors (fields.pyx). msgspec's own dealloc frees them as it frees its own.
#
# Only when the layout is exactly that (no GC, no item size, the generic allocator and
# PyObject_Free, the basic size one header and one slot a field, every field an object
# slot, no __post_init__) and an event built this way equals, and encodes as, the one the
# call builds; otherwise BUILD_OK is false and convert_events calls the types as before.

from cpython.mem cimport PyObject_Malloc, PyObject_Free
from libc.string cimport memset as _memset

cdef extern from "Python.h":
    ctypedef struct PyTypeObject:
        Py_ssize_t tp_basicsize
        Py_ssize_t tp_itemsize
        unsigned long tp_flags
        void* tp_alloc
        void* tp_free
    object PyObject_Init(PyObject* op, PyTypeObject* tp)
    PyObject* PyType_GenericAlloc(PyTypeObject* tp, Py_ssize_t n)
    unsigned long Py_TPFLAGS_HAVE_GC

cdef Py_ssize_t ASSIGNED_AT[6]
cdef Py_ssize_t FINISHED_AT[3]
cdef Py_ssize_t QUEUED_AT[6]
cdef Py_ssize_t CANCELLED_AT[5]


cdef inline object struct_alloc(object tp):
    """A zeroed instance of the untracked Struct type ``tp``, its fields not set yet."""
    cdef Py_ssize_t size = (<PyTypeObject*>tp).tp_basicsize
    cdef void* mem = PyObject_Malloc(size)
    if mem == NULL:
        raise MemoryError()
    _memset(mem, 0, size)
    return PyObject_Init(<PyObject*>mem, <PyTypeObject*>tp)


cdef inline void put(object obj, Py_ssize_t at, object v):
    """Store ``v`` in the (empty) slot at offset ``at`` of a Struct just allocated."""
    Py_INCREF(v)
    (<PyObject**>((<char*><PyObject*>obj) + at))[0] = <PyObject*>v


cdef object build_assigned(object request, object operator, object group, object channel,
                           double at, double waited):
    cdef object ev = struct_alloc(Assigned)
    put(ev, ASSIGNED_AT[0], request)
    put(ev, ASSIGNED_AT[1], operator)
    put(ev, ASSIGNED_AT[2], group)
    put(ev, ASSIGNED_AT[3], channel)
    put(ev, ASSIGNED_AT[4], at)
    put(ev, ASSIGNED_AT[5], waited)
    return ev


cdef object build_finished(object request, object operator, double at):
    cdef object ev = struct_alloc(Finished)
    put(ev, FINISHED_AT[0], request)
    put(ev, FINISHED_AT[1], operator)
    put(ev, FINISHED_AT[2], at)
    return ev


cdef object build_queued(object request, object group, object channel, double at,
                         object position, object expected_wait):
    cdef object ev = struct_alloc(Queued)
    put(ev, QUEUED_AT[0], request)
    put(ev, QUEUED_AT[1], group)
    put(ev, QUEUED_AT[2], channel)
    put(ev, QUEUED_AT[3], at)
    put(ev, QUEUED_AT[4], position)
    put(ev, QUEUED_AT[5], expected_wait)
    return ev


cdef object build_cancelled(object request, double at, double waited, bint early,
                            object reason):
    cdef object ev = struct_alloc(Cancelled)
    put(ev, CANCELLED_AT[0], request)
    put(ev, CANCELLED_AT[1], at)
    put(ev, CANCELLED_AT[2], waited)
    put(ev, CANCELLED_AT[3], early)
    put(ev, CANCELLED_AT[4], reason)
    return ev


cdef bint _plain(object tp, Py_ssize_t* at):
    """Whether ``tp`` is laid out as this file assumes (the offsets go to ``at``)."""
    cdef PyTypeObject* t = <PyTypeObject*>tp
    names = tuple(tp.__struct_fields__)
    if t.tp_flags & Py_TPFLAGS_HAVE_GC or t.tp_itemsize != 0:
        return False
    # allocated and freed the way struct_alloc and msgspec's dealloc pair up
    if t.tp_alloc != <void*>PyType_GenericAlloc or t.tp_free != <void*>PyObject_Free:
        return False
    if t.tp_basicsize != <Py_ssize_t>sizeof(PyObject) + len(names) * <Py_ssize_t>sizeof(void*):
        return False
    if getattr(tp, "__post_init__", None) is not None:
        return False
    return _offsets(tp, names, at)


cdef bint _same(object built, object called):
    import msgspec
    return (type(built) is type(called) and built == called
            and msgspec.json.encode(built) == msgspec.json.encode(called)
            and msgspec.msgpack.encode(built) == msgspec.msgpack.encode(called))


cdef bint _build_ok():
    if not (_plain(Assigned, ASSIGNED_AT) and _plain(Finished, FINISHED_AT)
            and _plain(Queued, QUEUED_AT) and _plain(Cancelled, CANCELLED_AT)):
        return False
    return (_same(build_assigned("r", "o", "g", "c", 1.5, 0.25),
                  Assigned("r", "o", "g", "c", 1.5, 0.25))
            and _same(build_finished(7, "o", 2.0), Finished(7, "o", 2.0))
            and _same(build_queued("r", "g", "c", 1.0, 3, None),
                      Queued("r", "g", "c", 1.0, 3, None))
            and _same(build_queued("r", "g", "c", 1.0, 1, 4.5),
                      Queued("r", "g", "c", 1.0, 1, 4.5))
            and _same(build_cancelled("r", 3.0, 1.0, True, "customer"),
                      Cancelled("r", 3.0, 1.0, True, "customer")))


cdef bint BUILD_OK = _build_ok()

#: which slot fast paths this build uses with the installed msgspec (tests check both)
_fast_paths = {"command_fields": FIELDS_OK, "event_slots": BUILD_OK}
