# The engine: all routing state behind integer handles, and the state machine that the
# bindings drive. Every operation is ``noexcept nogil``; allocation failures set the sticky
# ``oom`` flag, which the bindings turn into MemoryError (and then refuse further calls).

cdef enum:                   # outcome counters (pyroute._common.OUT_*), per channel and group
    OUT_ANSWERED = 0
    OUT_WAIT = 1
    OUT_WITHIN = 2
    OUT_ABANDONED = 3
    OUT_EARLY = 4
    OUT_SWITCHED = 5
    OUT_SUBMITTED = 6
    OUT_REJECTED = 7          # + the reject reason (requests.pxd REJECT_*)
    N_OUT = 11

cdef enum:                   # why a conversation was cancelled (pyroute._common.CANCEL_*)
    CANCEL_CUSTOMER = 0
    CANCEL_SWITCHED = 1
    CANCEL_BANNED = 2

ctypedef struct PendingTimer:
    double due
    int32_t group
    int32_t rule

ctypedef struct EngArray:     # a row of the table of the engine's arrays (engine.pyx)
    void** p                  # where the pointer lives
    int64_t n                 # items eng_init allocates; -1: grown later through pr_grow
    size_t item

cdef enum:
    N_ENG_ARRAYS = 80         # rows the table may have

ctypedef struct EngConfig:    # the config, lowered to indices by the bindings; fixed after init
    bint deadline             # order="deadline": k is the arrival, off the target wait
    double aging              # priority points per waited second
    double* off               # [G*C] added to a request's k when comparing across queues
    double* early             # [C] cancelled within this many seconds: early
    double* tw                # [C] target wait
    int32_t* cost             # [C] slots a conversation takes; -1: all of the operator's
    int8_t* reserve           # [C] a waiting one that fits nobody reserves an operator
    double* wrap_ch           # [C] wrap-up seconds after a finish
    int32_t* ret_start        # [C+1] retention steps of channel c: ret_start[c] .. [c+1]
    double* ret_after         # [steps] seconds of waiting before each step
    int32_t* policy           # [G]
    int64_t* max_queue        # [G] admission limit on waiting, or -1
    double* max_ewt           # [G] admission limit on the expected wait, or -1
    double* wrap_g            # [G] the group's override, or -1
    double* accept_timeout    # [G] offers instead of assignments when >= 0
    int32_t* max_missed       # [G] expired offers in a row before an operator goes away, or -1
    double* level_step        # [G] seconds per tier, or -1
    double* transfer_timeout  # [G]
    bint* has_no_ops          # [G] the group has a when_no_operators rule
    int32_t* rule_start       # [G+1] rules of group g: rule_start[g] .. rule_start[g+1]
    int32_t* rule_kind        # [R]
    double* rule_value        # [R]
    int32_t* to_start         # [R+1] targets of rule r: to_start[r] .. to_start[r+1]
    int32_t* to_group         # [sum of targets]
    uint8_t* takes            # [G*C] group g takes channel c (Group.channels)
    int32_t* relax_start      # [G+1] relax rules of group g
    double* relax_after       # [relax rules]
    uint64_t* relax_mask      # [relax rules] skills dropped

ctypedef struct EngCounters:  # kept incrementally for stats (and checked by check.pyx)
    int64_t* g_waiting        # [G] queue entries in the group
    int64_t* g_online         # [G] online members
    int64_t* g_free           # [G] free slots of online members
    int64_t* g_active         # [G] conversations assigned through the group
    int64_t* g_cant           # [G*C] online members of g who cannot take channel c (limit
                              #   0, or a cap of 0 for it): accepting() per channel
    int64_t* c_waiting        # [C] waiting conversations
    int64_t* c_active         # [C]
    double* c_out             # [C*N_OUT] outcome counters per channel
    double* g_out             # [G*N_OUT] outcome counters per group
    AgeHeap* g_age            # [G] the longest-waiting request of each group
    AgeHeap* c_age            # [C] and of each channel
    int64_t* c_reserved       # [C] waiting requests with an operator reserved
    int64_t* g_reserved       # [G] members reserved for a waiting request
    int64_t unres             # requests with hold and no operator reserved
    double* c_arr_sum         # [C] sum of the arrival times of the waiting (mean wait)
    double* g_arr_sum         # [G] and of those in each group's queues
    int64_t online            # online operators
    int64_t free_slots
    int64_t n_ops             # operators not removed
    int64_t* c_held           # [C] live holds of each channel
    int64_t* g_held           # [G] and placed through each group

ctypedef struct EventBuffer:  # events of the current call, read by the bindings
    EvRec* recs
    int64_t n
    int64_t cap
    int32_t* groups           # Overflowed targets (EvRec.aux .. aux + naux)
    int64_t n_groups
    int64_t cap_groups

ctypedef struct History:      # ended requests kept for views (a ring, oldest at ``head``),
    hnd* ring                 # and the handles the current call retired: freed once the
    int64_t limit             # bindings have read its events
    int64_t head
    int64_t n
    int64_t cap
    hnd* dead_reqs
    int64_t n_dead_reqs
    int64_t cap_dead_reqs
    hnd* dead_ops
    int64_t n_dead_ops
    int64_t cap_dead_ops
    hnd* dead_holds           # holds the current call ended
    int64_t n_dead_holds
    int64_t cap_dead_holds

ctypedef struct Scratch:      # working space of one call; nothing in it outlives the call
    int32_t* work             # [G+1] groups being expanded
    int32_t* work2            # [G+1] groups to sweep
    PendingTimer* pending     # [R+1] overflow rules due later, found by expand
    int64_t n_pending
    int64_t* tmp              # sweep / requeue lists (seq, handle) pairs
    int64_t cap_tmp
    int64_t* trav             # best-first walks of a heap (candidate positions)
    int64_t cap_trav

ctypedef struct Engine:
    int32_t C                 # channels
    int32_t G                 # groups
    double now
    int64_t seq               # last submission number
    int64_t reg               # last operator registration number
    int64_t join              # last membership number
    int64_t tick              # bumped at every assignment, release and return online
    int64_t tseq              # last timer number
    int64_t hseq              # last hold number
    int oom                   # sticky: an allocation failed (see docs/development.md)
    int64_t mem               # bytes held by the core's arrays, at capacity
    uint64_t* rng             # [G] the random policy's generator of each group
    EngConfig cfg
    # handle slabs
    Slab reqs
    Slab ents
    Slab ops
    Slab mems
    Slab excls
    Slab skreqs               # SkillReq of requests that require skills
    Slab xs                   # ReqX of requests that prefer an operator or are transferred to one
    Slab hlds                 # Hold: slots kept for conversations the host places (Router.hold)
    int32_t* op_ch            # [ops * 2C] per operator: channel caps (-1 none), then counts
    int64_t cap_op_ch
    uint8_t* op_sk            # [ops * 64] per operator: level of each skill (0: none)
    int64_t cap_op_sk
    # structures
    RQueue* queues            # [G*C]
    QStat* qst                # [G*C] what each queue learns for its expected wait (ewt.pyx)
    int64_t* g_subq           # [G] sub-heaps of the group's queues (kept once made)
    OHeap* oheaps             # [G]
    THeap timers
    EngCounters cnt
    EventBuffer evs
    History hist
    Scratch scr

cdef inline Req* R(Engine* e, hnd h) noexcept nogil:
    PR_ASSERT(0 <= h and h < e.reqs.used)
    return &(<Req*>e.reqs.items)[h]

cdef inline ReqX* RX(Engine* e, hnd h) noexcept nogil:
    PR_ASSERT(0 <= h and h < e.xs.used)
    return &(<ReqX*>e.xs.items)[h]

cdef inline hnd xfer_to(Engine* e, hnd rh) noexcept nogil:
    """The operator a pending transfer moves the request to, or -1."""
    cdef hnd x = R(e, rh).x
    return -1 if x == -1 else RX(e, x).xfer_to

cdef inline double req_key(Engine* e, Req* r) noexcept nogil:
    """The request's key in its (group, channel) queues: lower is served first. Computed
    from fields that never change after submit, so every push gives the same key."""
    return r.arrival if e.cfg.deadline else e.cfg.aging * r.arrival - <double>r.prio

cdef inline Hold* HL(Engine* e, hnd h) noexcept nogil:
    PR_ASSERT(0 <= h and h < e.hlds.used)
    return &(<Hold*>e.hlds.items)[h]

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
