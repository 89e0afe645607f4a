# The engine: all routing state behind integer handles, and the state machine that the
# bindings drive. Every operation is ``noexcept nogil``; allocation failures set the sticky
# ``oom`` flag, which the bindings turn into MemoryError (and then refuse further calls).

cdef enum:                   # outcome counters (pyroute._common.OUT_*), per channel and group
    OUT_ANSWERED = 0
    OUT_WAIT = 1
    OUT_WITHIN = 2
    OUT_ABANDONED = 3
    OUT_EARLY = 4
    OUT_REJECTED = 5          # + the reject reason
    N_OUT = 8

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
