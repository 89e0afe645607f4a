# The event records of the current call (see events.pyx).

cdef enum:
    EV_ASSIGNED = 1
    EV_QUEUED = 2
    EV_OVERFLOWED = 3
    EV_FINISHED = 4
    EV_CANCELLED = 5
    EV_STATUS = 6
    EV_REJECTED = 7
    EV_RETENTION = 8
    EV_OFFERED = 9
    EV_ACCEPTED = 10
    EV_OFFER_EXPIRED = 11
    EV_TRANSFERRED = 12
    EV_TRANSFER_FAILED = 13   # op: the sender (or -1), aux: the target, flag: the reason
    EV_HELD = 14              # req: the Hold, waited: its until
    EV_HOLD_ENDED = 15        # req: the Hold, flag: the reason (HOLD_*)
    EV_HOLD_REFUSED = 16      # req: -1 (the call's hold id)

cdef enum:                    # why a hold ended (pyroute._common.HOLD_REASONS)
    HOLD_RELEASED = 0
    HOLD_EXPIRED = 1
    HOLD_OFFLINE = 2
    HOLD_REMOVED = 3

ctypedef struct EvRec:
    double at
    double waited
    hnd req
    hnd op
    int32_t group
    int32_t ch
    int32_t aux           # Overflowed: first target in evg; StatusChanged: the new status;
                          # RetentionDue: the step; Cancelled: the reason
    int32_t naux          # Overflowed: number of targets
    int8_t type
    int8_t flag           # Cancelled: early; Overflowed: rule kind; Rejected: reason;
                          # StatusChanged: 1 when set away for missed offers
