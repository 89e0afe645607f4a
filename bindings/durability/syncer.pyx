# Group commit for pyroute.journal (fsync="batch"): a native thread that fdatasyncs the
# journal every interval. It never takes the GIL, so routing on the Python thread goes on
# untouched while the disk works. Included into _durable.pyx.

from libc.errno cimport errno

cdef extern from "<pthread.h>" nogil:
    ctypedef unsigned long pthread_t
    int pthread_create(pthread_t* thread, void* attr, void* (*start)(void*) noexcept nogil,
                       void* arg)
    int pthread_join(pthread_t thread, void** retval)

cdef extern from "<unistd.h>" nogil:
    int fdatasync(int fd)
    int usleep(unsigned int usec)
    int getpid()


cdef struct SyncState:
    int fd
    unsigned int interval_us
    int stop
    int error


cdef void* _sync_main(void* arg) noexcept nogil:
    cdef SyncState* s = <SyncState*>arg
    cdef unsigned int left, step
    while not s.stop:
        left = s.interval_us
        while left > 0 and not s.stop:     # short naps: stop() waits at most 10 ms
            step = 10000 if left > 10000 else left
            usleep(step)
            left -= step
        if s.stop:
            break
        if fdatasync(s.fd) != 0:
            s.error = errno
            break
    return NULL


cdef class Syncer:
    """``Syncer(fd, interval)``: fdatasync ``fd`` every ``interval`` seconds on a native
    thread until ``stop()``. ``error`` is the errno of a failed sync (0 while all is
    well); the thread stops at the first failure."""

    cdef SyncState st
    cdef pthread_t thread
    cdef bint running
    cdef int pid

    def __cinit__(self, int fd, double interval):
        if not (1e-4 <= interval <= 3600):
            raise ValueError("interval must be from 0.0001 to 3600 seconds")
        self.pid = getpid()
        self.st.fd = fd
        self.st.interval_us = <unsigned int>(interval * 1e6) if interval > 0 else 1
        self.st.stop = 0
        self.st.error = 0
        if pthread_create(&self.thread, NULL, _sync_main, &self.st) != 0:
            raise OSError(errno, "cannot start the journal sync thread")
        self.running = True

    @property
    def error(self):
        return self.st.error

    def stop(self):
        """Stop the thread and wait for it (10 ms at most). In a forked child, where the
        thread does not exist, it only forgets it."""
        if self.running:
            self.running = False
            if getpid() != self.pid:
                return
            self.st.stop = 1
            with nogil:
                pthread_join(self.thread, NULL)

    def __dealloc__(self):
        if self.running and getpid() == self.pid:
            self.st.stop = 1
            with nogil:
                pthread_join(self.thread, NULL)
