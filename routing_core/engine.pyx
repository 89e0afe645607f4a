# The engine's lifecycle: the arrays a config needs, allocated once by eng_init and freed
# by eng_dealloc. The state machine itself is spread over the parts that follow (one
# concept a file); it mirrors pyroute/reference.py step for step: the same operations in
# the same order, so both engines emit the same events and reach the same state.
# docs/semantics.md states the rules in prose.

cdef int eng_init(Engine* e, int32_t C, int32_t G, int32_t n_rules,
                  int32_t n_targets, int32_t n_steps, int32_t n_relax) noexcept nogil:
    cdef int64_t nq = <int64_t>G * C
    memset(e, 0, sizeof(Engine))
    e.C = C
    e.G = G
    e.now = -1e308
    slab_init(&e.reqs, sizeof(Req))
    slab_init(&e.ents, sizeof(Entry))
    slab_init(&e.ops, sizeof(Op))
    slab_init(&e.mems, sizeof(Member))
    slab_init(&e.excls, sizeof(Excl))
    slab_init(&e.skreqs, sizeof(SkillReq))
    e.off = <double*>malloc(sizeof(double) * nq)
    e.early = <double*>malloc(sizeof(double) * C)
    e.tw = <double*>malloc(sizeof(double) * C)
    e.c_out = <double*>calloc_(<int64_t>C * N_OUT, sizeof(double))
    e.g_out = <double*>calloc_(<int64_t>G * N_OUT, sizeof(double))
    e.policy = <int32_t*>malloc(sizeof(int32_t) * G)
    e.rng = <uint64_t*>malloc(sizeof(uint64_t) * G)
    e.rule_start = <int32_t*>malloc(sizeof(int32_t) * (G + 1))
    e.rule_kind = <int32_t*>malloc(sizeof(int32_t) * (n_rules + 1))
    e.rule_value = <double*>malloc(sizeof(double) * (n_rules + 1))
    e.to_start = <int32_t*>malloc(sizeof(int32_t) * (n_rules + 1))
    e.to_group = <int32_t*>malloc(sizeof(int32_t) * (n_targets + 1))
    e.has_no_ops = <bint*>malloc(sizeof(bint) * G)
    e.max_queue = <int64_t*>malloc(sizeof(int64_t) * G)
    e.ret_start = <int32_t*>malloc(sizeof(int32_t) * (C + 1))
    e.ret_after = <double*>malloc(sizeof(double) * (n_steps + 1))
    e.wrap_ch = <double*>malloc(sizeof(double) * C)
    e.wrap_g = <double*>malloc(sizeof(double) * G)
    e.accept_timeout = <double*>malloc(sizeof(double) * G)
    e.max_missed = <int32_t*>malloc(sizeof(int32_t) * G)
    e.cost = <int32_t*>malloc(sizeof(int32_t) * C)
    e.relax_start = <int32_t*>malloc(sizeof(int32_t) * (G + 1))
    e.relax_after = <double*>malloc(sizeof(double) * (n_relax + 1))
    e.relax_mask = <uint64_t*>malloc(sizeof(uint64_t) * (n_relax + 1))
    e.level_step = <double*>malloc(sizeof(double) * G)
    e.transfer_timeout = <double*>malloc(sizeof(double) * G)
    e.queues = <RQueue*>calloc_(nq, sizeof(RQueue))
    e.oheaps = <OHeap*>calloc_(G, sizeof(OHeap))
    e.g_waiting = <int64_t*>calloc_(G, sizeof(int64_t))
    e.g_online = <int64_t*>calloc_(G, sizeof(int64_t))
    e.g_free = <int64_t*>calloc_(G, sizeof(int64_t))
    e.g_active = <int64_t*>calloc_(G, sizeof(int64_t))
    e.c_waiting = <int64_t*>calloc_(C, sizeof(int64_t))
    e.g_age = <AgeHeap*>calloc_(G, sizeof(AgeHeap))
    e.c_age = <AgeHeap*>calloc_(C, sizeof(AgeHeap))
    e.c_active = <int64_t*>calloc_(C, sizeof(int64_t))
    e.work = <int32_t*>malloc(sizeof(int32_t) * (G + 1))
    e.work2 = <int32_t*>malloc(sizeof(int32_t) * (G + 1))
    e.pending = <PendingTimer*>malloc(sizeof(PendingTimer) * (n_rules + 1))
    e.mem = (sizeof(double) * (nq + C) + sizeof(int32_t) * (4 * G + 3 * n_rules + n_targets)
             + sizeof(int64_t) * G + sizeof(int32_t) * (C + 1) + sizeof(double) * n_steps
             + sizeof(double) * (C + 2 * G) + sizeof(int32_t) * G
             + sizeof(double) * (C + (C + G) * N_OUT)
             + sizeof(RQueue) * nq + sizeof(OHeap) * G + sizeof(int64_t) * (5 * G + 2 * C)
             + sizeof(PendingTimer) * n_rules + sizeof(Engine))
    if (e.off == NULL or e.early == NULL or e.tw == NULL or e.c_out == NULL or e.g_out == NULL or e.policy == NULL or e.rng == NULL
            or e.rule_start == NULL or e.rule_kind == NULL or e.rule_value == NULL
            or e.to_start == NULL or e.to_group == NULL or e.has_no_ops == NULL
            or e.max_queue == NULL or e.ret_start == NULL or e.ret_after == NULL
            or e.wrap_ch == NULL or e.wrap_g == NULL or e.accept_timeout == NULL
            or e.max_missed == NULL or e.cost == NULL or e.relax_start == NULL
            or e.relax_after == NULL or e.relax_mask == NULL or e.level_step == NULL
            or e.transfer_timeout == NULL
            or e.queues == NULL or e.oheaps == NULL or e.g_waiting == NULL
            or e.g_online == NULL or e.g_free == NULL or e.g_active == NULL
            or e.c_waiting == NULL or e.c_active == NULL or e.g_age == NULL or e.c_age == NULL or e.work == NULL
            or e.work2 == NULL or e.pending == NULL):
        return ERR_NOMEM
    return 0


cdef inline void* calloc_(int64_t n, size_t size) noexcept nogil:
    cdef void* p = malloc(<size_t>(n if n > 0 else 1) * size)
    if p != NULL:
        memset(p, 0, <size_t>(n if n > 0 else 1) * size)
    return p


cdef void eng_dealloc(Engine* e) noexcept nogil:
    cdef int64_t i
    if e.queues != NULL:
        for i in range(<int64_t>e.G * e.C):
            free(e.queues[i].nodes)
    if e.oheaps != NULL:
        for i in range(e.G):
            free(e.oheaps[i].nodes)
    free(e.timers.nodes)
    if e.g_age != NULL:
        for i in range(e.G):
            free(e.g_age[i].nodes)
    if e.c_age != NULL:
        for i in range(e.C):
            free(e.c_age[i].nodes)
    free(e.g_age); free(e.c_age)
    slab_dealloc(&e.reqs)
    slab_dealloc(&e.ents)
    slab_dealloc(&e.ops)
    slab_dealloc(&e.mems)
    slab_dealloc(&e.excls)
    slab_dealloc(&e.skreqs)
    free(e.off); free(e.early); free(e.tw); free(e.c_out); free(e.g_out)
    free(e.policy); free(e.rng); free(e.rule_start)
    free(e.rule_kind); free(e.rule_value); free(e.to_start); free(e.to_group)
    free(e.has_no_ops); free(e.max_queue); free(e.ret_start); free(e.ret_after);
    free(e.wrap_ch); free(e.wrap_g); free(e.accept_timeout); free(e.max_missed)
    free(e.cost); free(e.op_ch); free(e.op_sk); free(e.relax_start); free(e.relax_after)
    free(e.relax_mask); free(e.level_step); free(e.transfer_timeout)
    free(e.queues); free(e.oheaps); free(e.g_waiting); free(e.g_online)
    free(e.g_free); free(e.g_active); free(e.c_waiting); free(e.c_active); free(e.work)
    free(e.work2); free(e.pending); free(e.ev); free(e.evg); free(e.dead_reqs)
    free(e.dead_ops); free(e.tmp); free(e.hist); free(e.trav)
    memset(e, 0, sizeof(Engine))
