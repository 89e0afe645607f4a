# The journal's hot path (pyroute.journal): frame one encoded command record — length,
# CRC-32 (the IEEE polynomial, as zlib.crc32) and payload — straight into the journal's
# memory mapping, in one call. Included into _durable.pyx.

from cpython.buffer cimport PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from libc.stdint cimport uint32_t, uint8_t

cdef uint32_t _crc_table[256]


cdef void _crc_init() noexcept nogil:
    cdef uint32_t c, n, k
    for n in range(256):
        c = n
        for k in range(8):
            c = (<uint32_t>0xEDB88320U ^ (c >> 1)) if (c & 1) else (c >> 1)
        _crc_table[n] = c


_crc_init()


cdef inline uint32_t _crc32(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    cdef uint32_t c = <uint32_t>0xFFFFFFFFU
    cdef Py_ssize_t i
    for i in range(n):
        c = _crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8)
    return c ^ <uint32_t>0xFFFFFFFFU


def crc32(bytes data):
    """CRC-32 as ``zlib.crc32`` computes it (exposed for tests)."""
    return _crc32(<const uint8_t*><const char*>data, len(data))


cdef inline void _put32(uint8_t* p, uint32_t v) noexcept nogil:
    p[0] = v & 0xFF
    p[1] = (v >> 8) & 0xFF
    p[2] = (v >> 16) & 0xFF
    p[3] = (v >> 24) & 0xFF


cdef class JournalLog:
    """Where the next record goes: ``end`` (bytes) and ``count`` (commands) of the journal
    mapped by ``attach(mm)``. ``append(payload)`` writes a record and returns True, or
    returns False and writes nothing when the caller must take the general path: no
    mapping, no room, ``fast`` off (fsync="always"), the snapshot due at ``snap_due``
    commands, or the group-commit thread reporting an error."""

    cdef Py_buffer view
    cdef bint has_view
    cdef public int64_t end
    cdef public int64_t count
    cdef public double snap_due
    cdef public bint fast
    cdef Syncer syncer

    def __cinit__(self):
        self.has_view = False
        self.end = 0
        self.count = 0
        self.snap_due = INFINITY
        self.fast = True
        self.syncer = None

    def attach(self, mm):
        """Write into ``mm`` (a writable buffer: the mapping of the journal file)."""
        self.detach()
        PyObject_GetBuffer(mm, &self.view, PyBUF_WRITABLE)
        self.has_view = True

    def detach(self):
        """Let go of the mapping (before it is closed or remapped)."""
        if self.has_view:
            PyBuffer_Release(&self.view)
            self.has_view = False

    @property
    def size(self):
        return self.view.len if self.has_view else 0

    def set_syncer(self, Syncer syncer):
        self.syncer = syncer

    def append(self, bytes payload, bint force=False):
        cdef Py_ssize_t n = len(payload)
        cdef uint8_t* p
        if not self.has_view or self.end + 8 + n > self.view.len:
            return False
        if not force and (not self.fast or self.count + 1 >= self.snap_due or (
                self.syncer is not None and self.syncer.st.error != 0)):
            return False
        p = <uint8_t*>self.view.buf + self.end
        _put32(p, <uint32_t>n)
        _put32(p + 4, _crc32(<const uint8_t*><const char*>payload, n))
        memcpy(p + 8, <const char*>payload, n)
        self.end += 8 + n
        self.count += 1
        return True

    def __dealloc__(self):
        if self.has_view:
            PyBuffer_Release(&self.view)
