# Fields of the hot command structs read where msgspec stores them, for apply_many.
#
# A msgspec Struct keeps its fields in slots described by member descriptors (as
# ``__slots__`` do). Reading ``cmd.request`` goes through the generic attribute lookup:
# the type's MRO, the descriptor, its getter — about 80 instructions a field, some 700 for
# a Submit. Here the slot offsets of Submit, Finish and Cancel are taken once from their
# descriptors, and ``_apply`` reads the fields at those offsets (a few instructions each).
# Only for the exact types (``type(cmd) is Submit``), and only when every field is an
# object slot (T_OBJECT_EX) the way msgspec lays them out today; otherwise FIELDS_OK is
# false and ``_apply`` reads the attributes as before.

from cpython.object cimport PyObject

cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member

cdef enum:
    _T_OBJECT_EX = 16

cdef Py_ssize_t SUBMIT_AT[9]
cdef Py_ssize_t FINISH_AT[2]
cdef Py_ssize_t CANCEL_AT[3]


cdef bint _offsets(object tp, tuple names, Py_ssize_t* at):
    cdef Py_ssize_t i
    cdef PyMemberDescrObject* d
    if tuple(tp.__struct_fields__) != names:
        return False
    for i in range(len(names)):
        desc = tp.__dict__.get(names[i])
        if type(desc) is not _MemberDescriptor:
            return False
        d = <PyMemberDescrObject*>desc
        if d.d_member.type != _T_OBJECT_EX or d.d_member.offset <= 0:
            return False
        at[i] = d.d_member.offset
    return True


from types import MemberDescriptorType as _MemberDescriptor
cdef bint FIELDS_OK = (
    _offsets(Submit, ("request", "channel", "group", "priority", "visitor", "now", "skills",
                      "prefer", "prefer_for"), SUBMIT_AT)
    and _offsets(Finish, ("request", "now"), FINISH_AT)
    and _offsets(Cancel, ("request", "now", "switched_to"), CANCEL_AT))


cdef inline object field(object cmd, Py_ssize_t at):
    """The field stored at offset ``at`` of ``cmd`` (set: msgspec fills every field)."""
    cdef PyObject* p = (<PyObject**>((<char*><PyObject*>cmd) + at))[0]
    if p == NULL:
        raise AttributeError("a command struct field is not set")
    return <object>p
