# Config lowering: the compiled config (pyroute.config.compile_config) copied into the
# engine's arrays, names become indices.

cdef inline double _or(object x, double missing):
    return missing if x is None else x


cdef int lower_config(Router self, object cc) except -1:
    """Allocate the engine for the compiled config ``cc`` and copy its lowered tables
    (pyroute.config.Compiled, which the reference engine reads too) into the engine's
    arrays: names are indices already, "not set" (None) becomes -1."""
    cdef int32_t n_rules = 0, n_targets = 0, ri = 0, ti = 0, g, c
    cdef int32_t n_steps = 0, si = 0, n_relax = 0, xi = 0
    cdef Engine* e
    cfg = cc.config
    for steps in cc.retention:
        n_steps += len(steps)
    for rules in cc.rules:
        n_rules += len(rules)
        for rule in rules:
            n_targets += len(rule.to)
    G = len(cc.group_names)
    C = len(cc.channel_names)
    e = &self.e
    for rx in cc.relax:
        n_relax += len(rx)
    if eng_init(e, C, G, n_rules, n_targets, n_steps, n_relax) < 0:
        eng_dealloc(e)
        raise MemoryError("pyroute: out of memory creating the router")
    self.initialized = True
    e.now = -INFINITY
    e.hist.limit = cfg.history
    e.cfg.deadline = cfg.order == "deadline"
    e.cfg.aging = cfg.aging
    for c in range(C):
        e.cfg.early[c] = cc.early_cancel[c]
        e.cfg.tw[c] = cc.target_wait[c]
        e.cfg.cost[c] = cc.cost[c]
        e.cfg.reserve[c] = 1 if cc.reserve[c] else 0
        e.cfg.wrap_ch[c] = cc.channel_wrap_up[c]
        e.cfg.ret_start[c] = si
        for after, _action in cc.retention[c]:
            e.cfg.ret_after[si] = after
            si += 1
    e.cfg.ret_start[C] = si
    for g in range(G):
        e.cfg.policy[g] = cc.policies[g]
        e.rng[g] = _rng_init(cfg.seed, g)
        e.cfg.has_no_ops[g] = False
        e.cfg.max_queue[g] = -1 if cc.max_queue[g] is None else cc.max_queue[g]
        e.cfg.max_ewt[g] = _or(cc.max_expected_wait[g], -1.0)
        e.cfg.wrap_g[g] = _or(cc.group_wrap_up[g], -1.0)
        e.cfg.accept_timeout[g] = _or(cc.accept_timeout[g], -1.0)
        e.cfg.max_missed[g] = -1 if cc.max_missed[g] is None else cc.max_missed[g]
        e.cfg.level_step[g] = _or(cc.level_step[g], -1.0)
        e.cfg.transfer_timeout[g] = cc.transfer_timeout[g]
        e.cfg.relax_start[g] = xi
        for after, drop in cc.relax[g]:
            bits = self.tags.register(self.tags.check({n: 1 for n in drop}, "relax"))
            e.cfg.relax_after[xi] = after
            e.cfg.relax_mask[xi] = 0
            for b in bits:
                e.cfg.relax_mask[xi] |= (<uint64_t>1) << <int>b
            xi += 1
        for c in range(C):
            e.cfg.off[g * C + c] = cc.offset[g][c]
            e.cfg.takes[g * C + c] = cc.takes[g][c]
        e.cfg.rule_start[g] = ri
        for rule in cc.rules[g]:
            e.cfg.rule_kind[ri] = rule.kind
            e.cfg.rule_value[ri] = rule.value
            e.cfg.to_start[ri] = ti
            if rule.kind == RULE_NO_OPS:
                e.cfg.has_no_ops[g] = True
            for t in rule.to:
                e.cfg.to_group[ti] = t
                ti += 1
            ri += 1
    e.cfg.rule_start[G] = ri
    e.cfg.relax_start[G] = xi
    e.cfg.to_start[ri] = ti
    return 0
