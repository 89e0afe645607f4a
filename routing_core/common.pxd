# Shared vocabulary of the native core: integer types, state codes, the debug switch and
# the one allocation helper every growable array goes through (it keeps the byte count
# behind ``Router.memory()``).

from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport malloc, realloc, free, qsort
from libc.string cimport memset, memcpy

cdef extern from *:
    """
    #include <stdio.h>
    #include <stdlib.h>
    #ifdef PYROUTE_DEBUG
    #define PR_DEBUG 1
    #define PR_ASSERT(c) do { if (!(c)) { fprintf(stderr, \
        "pyroute core assertion failed: %s (%s:%d)\\n", #c, __FILE__, __LINE__); abort(); } } while (0)
    #else
    #define PR_DEBUG 0
    #define PR_ASSERT(c) ((void)0)
    #endif
    /* splitmix64, the generator of the random policy (pyroute._common.rng_next) */
    static inline unsigned long long pr_splitmix(unsigned long long *s) {
        unsigned long long z = (*s += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return (z ^ (z >> 31)) >> 11;
    }
    """
    const int PR_DEBUG
    unsigned long long pr_splitmix(unsigned long long* s) noexcept nogil
    void PR_ASSERT(bint c) noexcept nogil

ctypedef int32_t hnd          # a slab handle; -1 is "none"

cdef enum:
    ST_FREE = -1
    ST_QUEUED = 0
    ST_OFFERED = 1
    ST_ACTIVE = 2
    ST_FINISHED = 3
    ST_CANCELLED = 4
    ST_REJECTED = 5

cdef enum:
    OP_OFFLINE = 0
    OP_AWAY = 1
    OP_ONLINE = 2

cdef enum:
    POL_EVEN = 0
    POL_LONGEST_IDLE = 1
    POL_ROUND_ROBIN = 2
    POL_LEAST_RATIO = 3
    POL_FEWEST_HANDLED = 4
    POL_ORDERED = 5
    POL_RANDOM = 6

cdef enum:
    RULE_AFTER = 0
    RULE_NO_OPS = 1
    RULE_QUEUE_OVER = 2

cdef enum:
    ERR_OK = 0
    ERR_NOMEM = -1


cdef inline int pr_grow(void** ptr, int64_t* cap, int64_t need, size_t item,
                        int64_t* bytes) noexcept nogil:
    """Grow ``*ptr`` (an array of ``*cap`` items) to hold ``need`` items; -1 if out of memory."""
    cdef int64_t newcap
    cdef void* p
    if need <= cap[0]:
        return 0
    newcap = cap[0] * 2
    if newcap < need:
        newcap = need
    if newcap < 8:
        newcap = 8
    p = realloc(ptr[0], <size_t>newcap * item)
    if p == NULL:
        return ERR_NOMEM
    bytes[0] += (newcap - cap[0]) * <int64_t>item
    ptr[0] = p
    cap[0] = newcap
    return 0
