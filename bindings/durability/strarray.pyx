# The Redis workers' batch framing (pyroute.redis.worker): a list of bytes as one
# MessagePack array of str, each str header followed by the raw bytes. Redis's cmsgpack,
# which unpacks it inside the fenced write script, reads no bin type; Lua strings are
# bytes, so nothing checks UTF-8. One pass to size the result, one to fill it.

from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE


cdef inline Py_ssize_t _head(unsigned char* p, Py_ssize_t n, unsigned char small,
                             unsigned char c8, unsigned char c16, unsigned char c32,
                             Py_ssize_t small_max, bint has8):
    """Write the header of a str (or array) of ``n`` into ``p`` (NULL: only size it)."""
    if n < small_max:
        if p != NULL:
            p[0] = small | <unsigned char>n
        return 1
    if has8 and n < 256:
        if p != NULL:
            p[0] = c8
            p[1] = <unsigned char>n
        return 2
    if n < 65536:
        if p != NULL:
            p[0] = c16
            p[1] = <unsigned char>(n >> 8)
            p[2] = <unsigned char>n
        return 3
    if p != NULL:
        p[0] = c32
        p[1] = <unsigned char>(n >> 24)
        p[2] = <unsigned char>(n >> 16)
        p[3] = <unsigned char>(n >> 8)
        p[4] = <unsigned char>n
    return 5


def str_array(list fields):
    """``fields`` (bytes each) as one MessagePack array of str (raw bytes, any content).
    Raises TypeError for an item that is not bytes, ValueError past 4 GiB."""
    cdef Py_ssize_t n = len(fields), total, i, k, at
    cdef object f
    cdef unsigned char* p
    for f in fields:
        if type(f) is not bytes:
            raise TypeError(f"str_array takes bytes, got {type(f).__name__}")
    total = _head(NULL, n, 0x90, 0, 0xdc, 0xdd, 16, False)
    for f in fields:
        k = PyBytes_GET_SIZE(f)
        if k > 0xFFFFFFFF:
            raise ValueError("a field of more than 4 GiB")
        total += _head(NULL, k, 0xa0, 0xd9, 0xda, 0xdb, 32, True) + k
    out = PyBytes_FromStringAndSize(NULL, total)
    p = <unsigned char*>PyBytes_AS_STRING(out)
    at = _head(p, n, 0x90, 0, 0xdc, 0xdd, 16, False)
    for i in range(n):
        f = fields[i]
        k = PyBytes_GET_SIZE(f)
        at += _head(p + at, k, 0xa0, 0xd9, 0xda, 0xdb, 32, True)
        memcpy(p + at, PyBytes_AS_STRING(f), k)
        at += k
    return out
