# The engine: all routing state behind integer handles, and the state machine that the
# bindings drive. Every operation is ``noexcept nogil``; allocation failures set the sticky
# ``oom`` flag, which the bindings turn into MemoryError (and then refuse further calls).

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

ctypedef struct EvRec:
    double at
    double waited
    hnd req
    hnd op
    int32_t group
    int32_t ch
    int32_t aux           # Overflowed: first target in evg; StatusChanged: the new status;
                          # RetentionDue: the step
    int32_t naux          # Overflowed: number of targets
    int8_t type
    int8_t flag           # Cancelled: early; Overflowed: rule kind; Rejected: reason;
                          # StatusChanged: 1 when set away for missed offers

cdef enum:                   # outcome counters (pyroute._common.OUT_*), per channel and group
    OUT_ANSWERED = 0
    OUT_WAIT = 1
    OUT_WITHIN = 2
    OUT_ABANDONED = 3
    OUT_EARLY = 4
    OUT_REJECTED = 5          # + the reject reason
    N_OUT = 8

ctypedef struct AgeNode:      # a request that entered a queue, by submission order
    int64_t seq
    hnd req
    int32_t gen

ctypedef struct AgeHeap:      # lazy: entries of requests that left are dropped when seen
    AgeNode* nodes
    int64_t n
    int64_t cap

ctypedef struct PendingTimer:
    double due
    int32_t group
    int32_t rule

ctypedef struct Engine:
    int32_t C
    int32_t G
    double now
    int64_t seq
    int64_t reg
    int64_t join
    int64_t tick
    int64_t tseq
    bint deadline
    double aging
    int oom
    int64_t mem               # bytes held by the core's arrays
    # configuration (indices)
    double* off               # [G*C] added to a request's k when comparing across queues
    double* early             # [C]
    double* tw                # [C] target wait
    double* c_out             # [C*N_OUT] outcome counters per channel
    double* g_out             # [G*N_OUT] outcome counters per group
    int32_t* policy           # [G]
    uint64_t* rng             # [G]
    int32_t* rule_start       # [G+1] rules of group g: rule_start[g] .. rule_start[g+1]
    int32_t* rule_kind        # [R]
    double* rule_value        # [R]
    int32_t* to_start         # [R+1] targets of rule r: to_start[r] .. to_start[r+1]
    int32_t* to_group         # [sum of targets]
    bint* has_no_ops          # [G]
    int64_t* max_queue        # [G] admission limit on waiting, or -1
    int32_t* ret_start        # [C+1] retention steps of channel c: ret_start[c] .. [c+1]
    double* ret_after         # [steps] seconds of waiting before each step
    double* wrap_ch           # [C] wrap-up seconds after a finish
    double* wrap_g            # [G] the group's override, or -1
    double* accept_timeout    # [G] offers instead of assignments when >= 0
    int32_t* max_missed       # [G] expired offers in a row before an operator goes away, or -1
    int32_t* cost             # [C] slots a conversation takes; -1: all of the operator's
    int32_t* op_ch            # [ops * 2C] per operator: channel caps (-1 none), then counts
    int64_t cap_op_ch
    uint8_t* op_sk            # [ops * 64] per operator: level of each skill (0: none)
    int64_t cap_op_sk
    Slab skreqs               # SkillReq of requests that require skills
    int32_t* relax_start      # [G+1] relax rules of group g
    double* relax_after       # [relax rules]
    uint64_t* relax_mask      # [relax rules] skills dropped
    double* level_step        # [G] seconds per tier, or -1
    double* transfer_timeout  # [G]
    # slabs
    Slab reqs
    Slab ents
    Slab ops
    Slab mems
    Slab excls
    # structures
    RQueue* queues            # [G*C]
    OHeap* oheaps             # [G]
    THeap timers
    # counters
    int64_t* g_waiting
    int64_t* g_online
    int64_t* g_free
    int64_t* g_active
    int64_t* c_waiting
    AgeHeap* g_age            # [G] the longest-waiting request of each group
    AgeHeap* c_age            # [C] and of each channel
    int64_t* c_active
    int64_t online
    int64_t free_slots
    int64_t n_ops
    # events of the current call
    EvRec* ev
    int64_t n_ev
    int64_t cap_ev
    int32_t* evg
    int64_t n_evg
    int64_t cap_evg
    # ended requests kept for history (a ring, oldest at hist_head), and the ones the
    # current call pushed out of it: freed once the bindings have read them
    hnd* hist
    int64_t hist_limit
    int64_t hist_head
    int64_t hist_n
    int64_t hist_cap
    hnd* dead_reqs
    int64_t n_dead_reqs
    int64_t cap_dead_reqs
    hnd* dead_ops
    int64_t n_dead_ops
    int64_t cap_dead_ops
    # scratch
    int32_t* work             # [G] groups being expanded
    int32_t* work2            # [G] groups to sweep
    PendingTimer* pending     # [R]
    int64_t n_pending
    int64_t* tmp              # sweep / requeue lists
    int64_t cap_tmp
    int64_t* trav             # best-first walks of a heap (candidate positions)
    int64_t cap_trav

cdef inline Req* R(Engine* e, hnd h) noexcept nogil:
    PR_ASSERT(0 <= h and h < e.reqs.used)
    return &(<Req*>e.reqs.items)[h]

cdef inline Entry* EN(Engine* e, hnd h) noexcept nogil:
    PR_ASSERT(0 <= h and h < e.ents.used)
    return &(<Entry*>e.ents.items)[h]

cdef inline Op* O(Engine* e, hnd h) noexcept nogil:
    PR_ASSERT(0 <= h and h < e.ops.used)
    return &(<Op*>e.ops.items)[h]

cdef inline Member* M(Engine* e, hnd h) noexcept nogil:
    PR_ASSERT(0 <= h and h < e.mems.used)
    return &(<Member*>e.mems.items)[h]

cdef int eng_init(Engine* e, int32_t C, int32_t G, int32_t n_rules, int32_t n_targets,
                  int32_t n_steps, int32_t n_relax) noexcept nogil
cdef void eng_dealloc(Engine* e) noexcept nogil
cdef void eng_begin(Engine* e, double now) noexcept nogil
cdef void eng_fire(Engine* e, double now) noexcept nogil
cdef hnd eng_submit(Engine* e, int32_t ch, int32_t g, int32_t prio, uint64_t sk_mask,
                    uint8_t* sk_level, hnd prefer, double prefer_for, double now) noexcept nogil
cdef enum:
    REJECT_HIDDEN = 0
    REJECT_BANNED = 1
    REJECT_OVERLOADED = 2

cdef hnd eng_reject(Engine* e, int32_t ch, int32_t g, int32_t prio, int8_t reason,
                    double now) noexcept nogil
cdef bint eng_overloaded(Engine* e, int32_t g) noexcept nogil
cdef hnd eng_pick(Engine* e, int32_t g, int32_t c, hnd excl) noexcept nogil
cdef void eng_finish(Engine* e, hnd r, double now) noexcept nogil
cdef void eng_cancel(Engine* e, hnd r, double now) noexcept nogil
cdef hnd eng_add_op(Engine* e, int32_t* groups, int32_t n, int32_t limit, int8_t status,
                    int32_t* caps, uint8_t* skills, int32_t* levels, int8_t kind,
                    double now) noexcept nogil
cdef void eng_remove_op(Engine* e, hnd op, double now) noexcept nogil
cdef void eng_set_status(Engine* e, hnd op, int8_t status, bint requeue,
                         double now) noexcept nogil
cdef void eng_set_groups(Engine* e, hnd op, int32_t* groups, int32_t n,
                         double now) noexcept nogil
cdef void eng_set_limit(Engine* e, hnd op, int32_t limit, double now) noexcept nogil
cdef void eng_accept(Engine* e, hnd rh, double now) noexcept nogil
cdef void eng_transfer(Engine* e, hnd rh, int32_t g, hnd target, bint escalated,
                       double now) noexcept nogil
cdef void eng_decline(Engine* e, hnd rh, double now) noexcept nogil
cdef void eng_free_dead(Engine* e) noexcept nogil
cdef hnd age_oldest(Engine* e, AgeHeap* h, int64_t live) noexcept nogil
cdef double op_key(Engine* e, Op* o, Member* m) noexcept nogil

