# The packed records of pyroute.packed (docs/packed.md) as C structs, for the binding
# (packing.pyx) and the simulator's loop (sim/_loop.pyx): one definition of the layout.
# Each side checks once that the structs are what the struct formats say (size, offsets,
# a little-endian machine) before it reads or writes one.

from libc.stdint cimport uint8_t, int16_t, uint16_t, int32_t, uint32_t, int64_t

cdef struct PkCmd:       # pyroute.packed.COMMAND, "<BxHHxxi4xqd"
    uint8_t op
    uint8_t pad0
    uint16_t ch
    uint16_t group
    uint16_t pad1
    int32_t prio
    uint32_t pad2
    int64_t req
    double now

cdef struct PkEv:        # pyroute.packed.EVENT, "<BBhhxxi4xqqdd"
    uint8_t type
    uint8_t code
    int16_t ch
    int16_t group
    uint16_t pad0
    int32_t aux
    uint32_t pad1
    int64_t req
    int64_t op
    double at
    double value

cdef enum:
    PK_SUBMIT = 1
    PK_FINISH = 2
    PK_CANCEL = 3
    PK_ADVANCE = 4
    PK_ESCALATE = 5
    PK_TRANSFER = 6
    PK_ACCEPT = 7
    PK_ASSIGNED = 1
    PK_QUEUED = 2
    PK_FINISHED = 3
    PK_CANCELLED = 4
    PK_REJECTED = 5
    PK_OFFERED = 6
    PK_ACCEPTED = 7
    PK_OTHER = 255


cdef bint _pack_layout(Py_ssize_t command_size, Py_ssize_t event_size):
    """The structs are pyroute.packed's COMMAND and EVENT records on this machine."""
    cdef uint16_t one = 1
    cdef PkCmd c
    cdef PkEv v
    cdef char* c0 = <char*>&c
    cdef char* v0 = <char*>&v
    return ((<uint8_t*>&one)[0] == 1
            and sizeof(PkCmd) == command_size and sizeof(PkEv) == event_size
            and <char*>&c.prio - c0 == 8 and <char*>&c.req - c0 == 16
            and <char*>&c.now - c0 == 24 and <char*>&v.aux - v0 == 8
            and <char*>&v.req - v0 == 16 and <char*>&v.value - v0 == 40)
