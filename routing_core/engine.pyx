# The engine's lifecycle: the table of its arrays (eng_arrays), allocated and counted by
# eng_init and freed by eng_dealloc. The state machine itself is spread over the parts that follow (one
# concept a file); it mirrors pyroute/reference.py step for step: the same operations in
# the same order, so both engines emit the same events and reach the same state.
# docs/semantics.md states the rules in prose.

cdef inline int64_t arr(EngArray* t, int64_t k, void** p, int64_t n, size_t item) noexcept nogil:
    t[k].p = p
    t[k].n = n
    t[k].item = item
    return k + 1


cdef int64_t eng_arrays(Engine* e, EngArray* t, int32_t n_rules, int32_t n_targets,
                        int32_t n_steps, int32_t n_relax) noexcept nogil:
    """Fill ``t`` with every array the engine owns (but the node arrays of its queues and
    heaps, and the slabs): where it lives, how many items eng_init allocates (from the
    config's sizes; -1 for the arrays that grow later through pr_grow) and their size.
    Returns the number of rows. eng_init allocates and counts by it, eng_dealloc frees by
    it, so an array added here is allocated, freed and counted in memory() alike."""
    cdef int64_t k = 0
    cdef int64_t C = e.C, G = e.G, nq = <int64_t>e.G * e.C
    # the config
    k = arr(t, k, <void**>&e.cfg.off, nq, sizeof(double))
    k = arr(t, k, <void**>&e.cfg.early, C, sizeof(double))
    k = arr(t, k, <void**>&e.cfg.tw, C, sizeof(double))
    k = arr(t, k, <void**>&e.cfg.cost, C, sizeof(int32_t))
    k = arr(t, k, <void**>&e.cfg.reserve, C, sizeof(int8_t))
    k = arr(t, k, <void**>&e.cfg.wrap_ch, C, sizeof(double))
    k = arr(t, k, <void**>&e.cfg.ret_start, C + 1, sizeof(int32_t))
    k = arr(t, k, <void**>&e.cfg.ret_after, n_steps + 1, sizeof(double))
    k = arr(t, k, <void**>&e.cfg.policy, G, sizeof(int32_t))
    k = arr(t, k, <void**>&e.cfg.max_queue, G, sizeof(int64_t))
    k = arr(t, k, <void**>&e.cfg.max_ewt, G, sizeof(double))
    k = arr(t, k, <void**>&e.cfg.wrap_g, G, sizeof(double))
    k = arr(t, k, <void**>&e.cfg.accept_timeout, G, sizeof(double))
    k = arr(t, k, <void**>&e.cfg.max_missed, G, sizeof(int32_t))
    k = arr(t, k, <void**>&e.cfg.level_step, G, sizeof(double))
    k = arr(t, k, <void**>&e.cfg.transfer_timeout, G, sizeof(double))
    k = arr(t, k, <void**>&e.cfg.has_no_ops, G, sizeof(bint))
    k = arr(t, k, <void**>&e.cfg.rule_start, G + 1, sizeof(int32_t))
    k = arr(t, k, <void**>&e.cfg.rule_kind, n_rules + 1, sizeof(int32_t))
    k = arr(t, k, <void**>&e.cfg.rule_value, n_rules + 1, sizeof(double))
    k = arr(t, k, <void**>&e.cfg.to_start, n_rules + 1, sizeof(int32_t))
    k = arr(t, k, <void**>&e.cfg.to_group, n_targets + 1, sizeof(int32_t))
    k = arr(t, k, <void**>&e.cfg.takes, nq, sizeof(uint8_t))
    k = arr(t, k, <void**>&e.cfg.relax_start, G + 1, sizeof(int32_t))
    k = arr(t, k, <void**>&e.cfg.relax_after, n_relax + 1, sizeof(double))
    k = arr(t, k, <void**>&e.cfg.relax_mask, n_relax + 1, sizeof(uint64_t))
    # state
    k = arr(t, k, <void**>&e.rng, G, sizeof(uint64_t))
    k = arr(t, k, <void**>&e.queues, nq, sizeof(RQueue))
    k = arr(t, k, <void**>&e.qst, nq, sizeof(QStat))
    k = arr(t, k, <void**>&e.g_subq, G, sizeof(int64_t))
    k = arr(t, k, <void**>&e.oheaps, G, sizeof(OHeap))
    k = arr(t, k, <void**>&e.op_ch, -1, sizeof(int32_t))
    k = arr(t, k, <void**>&e.op_sk, -1, sizeof(uint8_t))
    # counters
    k = arr(t, k, <void**>&e.cnt.g_waiting, G, sizeof(int64_t))
    k = arr(t, k, <void**>&e.cnt.g_online, G, sizeof(int64_t))
    k = arr(t, k, <void**>&e.cnt.g_free, G, sizeof(int64_t))
    k = arr(t, k, <void**>&e.cnt.g_active, G, sizeof(int64_t))
    k = arr(t, k, <void**>&e.cnt.g_cant, nq, sizeof(int64_t))
    k = arr(t, k, <void**>&e.cnt.c_waiting, C, sizeof(int64_t))
    k = arr(t, k, <void**>&e.cnt.c_active, C, sizeof(int64_t))
    k = arr(t, k, <void**>&e.cnt.c_out, C * N_OUT, sizeof(double))
    k = arr(t, k, <void**>&e.cnt.g_out, G * N_OUT, sizeof(double))
    k = arr(t, k, <void**>&e.cnt.g_age, G, sizeof(AgeHeap))
    k = arr(t, k, <void**>&e.cnt.c_age, C, sizeof(AgeHeap))
    k = arr(t, k, <void**>&e.cnt.c_reserved, C, sizeof(int64_t))
    k = arr(t, k, <void**>&e.cnt.g_reserved, G, sizeof(int64_t))
    k = arr(t, k, <void**>&e.cnt.c_arr_sum, C, sizeof(double))
    k = arr(t, k, <void**>&e.cnt.g_arr_sum, G, sizeof(double))
    k = arr(t, k, <void**>&e.cnt.c_held, C, sizeof(int64_t))
    k = arr(t, k, <void**>&e.cnt.g_held, G, sizeof(int64_t))
    # the event buffer and history
    k = arr(t, k, <void**>&e.evs.recs, -1, sizeof(EvRec))
    k = arr(t, k, <void**>&e.evs.groups, -1, sizeof(int32_t))
    k = arr(t, k, <void**>&e.hist.ring, -1, sizeof(hnd))
    k = arr(t, k, <void**>&e.hist.dead_reqs, -1, sizeof(hnd))
    k = arr(t, k, <void**>&e.hist.dead_ops, -1, sizeof(hnd))
    k = arr(t, k, <void**>&e.hist.dead_holds, -1, sizeof(hnd))
    # scratch
    k = arr(t, k, <void**>&e.scr.work, G + 1, sizeof(int32_t))
    k = arr(t, k, <void**>&e.scr.work2, G + 1, sizeof(int32_t))
    k = arr(t, k, <void**>&e.scr.pending, n_rules + 1, sizeof(PendingTimer))
    k = arr(t, k, <void**>&e.scr.tmp, -1, sizeof(int64_t))
    k = arr(t, k, <void**>&e.scr.trav, -1, sizeof(int64_t))
    PR_ASSERT(k <= N_ENG_ARRAYS)
    return k


cdef int eng_init(Engine* e, int32_t C, int32_t G, int32_t n_rules,
                  int32_t n_targets, int32_t n_steps, int32_t n_relax) noexcept nogil:
    """Allocate, zeroed, the arrays the config needs (``eng_arrays``); memory() starts at
    their bytes and the Engine's own. On failure the caller frees with eng_dealloc."""
    cdef EngArray t[N_ENG_ARRAYS]
    cdef int64_t k, i, nbytes
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
    slab_init(&e.xs, sizeof(ReqX))
    slab_init(&e.hlds, sizeof(Hold))
    e.mem = sizeof(Engine)
    k = eng_arrays(e, t, n_rules, n_targets, n_steps, n_relax)
    for i in range(k):
        if t[i].n < 0:
            continue
        nbytes = (t[i].n if t[i].n > 0 else 1) * <int64_t>t[i].item
        t[i].p[0] = malloc(<size_t>nbytes)
        if t[i].p[0] == NULL:
            return ERR_NOMEM
        memset(t[i].p[0], 0, <size_t>nbytes)
        e.mem += nbytes
    return 0


cdef void eng_dealloc(Engine* e) noexcept nogil:
    cdef EngArray t[N_ENG_ARRAYS]
    cdef int64_t i, k
    if e.queues != NULL:
        for i in range(<int64_t>e.G * e.C):
            free(e.queues[i].nodes)
            for k in range(e.queues[i].n_subs):
                free(e.queues[i].subs[k].nodes)
            free(e.queues[i].subs)
    if e.oheaps != NULL:
        for i in range(e.G):
            free(e.oheaps[i].nodes)
    free(e.timers.nodes)
    if e.cnt.g_age != NULL:
        for i in range(e.G):
            free(e.cnt.g_age[i].nodes)
    if e.cnt.c_age != NULL:
        for i in range(e.C):
            free(e.cnt.c_age[i].nodes)
    slab_dealloc(&e.reqs)
    slab_dealloc(&e.ents)
    slab_dealloc(&e.ops)
    slab_dealloc(&e.mems)
    slab_dealloc(&e.excls)
    slab_dealloc(&e.skreqs)
    slab_dealloc(&e.xs)
    slab_dealloc(&e.hlds)
    k = eng_arrays(e, t, 0, 0, 0, 0)
    for i in range(k):
        free(t[i].p[0])
    memset(e, 0, sizeof(Engine))
