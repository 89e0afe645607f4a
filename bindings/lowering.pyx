# Config lowering: the compiled config (pyroute.config.compile_config) copied into the
# engine's arrays, names become indices.

cdef int lower_config(Router self, object cc) except -1:
    """Allocate the engine for the compiled config ``cc`` and copy the config into its
    arrays (indices for names, -1 for "not set")."""
    cdef int32_t n_rules = 0, n_targets = 0, ri = 0, ti = 0, g, c
    cdef int32_t n_steps = 0, si = 0, n_relax = 0, xi = 0
    cdef Engine* e
    cfg = cc.config
    for ch in cfg.channels:
        n_steps += len(ch.retention)
    for rules in cc.rules:
        n_rules += len(rules)
        for rule in rules:
            n_targets += len(rule.to)
    G = len(cfg.groups)
    C = len(cfg.channels)
    e = &self.e
    for grp in cfg.groups:
        n_relax += len(grp.relax)
    if eng_init(e, C, G, n_rules, n_targets, n_steps, n_relax) < 0:
        eng_dealloc(e)
        raise MemoryError("pyroute: out of memory creating the router")
    self.initialized = True
    e.now = -INFINITY
    e.hist.limit = cfg.history
    e.cfg.deadline = cfg.order == "deadline"
    e.cfg.aging = cfg.aging
    for c in range(C):
        e.cfg.early[c] = cfg.channels[c].early_cancel
        e.cfg.tw[c] = cfg.channels[c].target_wait
        e.cfg.cost[c] = -1 if cfg.channels[c].cost == "all" else cfg.channels[c].cost
        e.cfg.wrap_ch[c] = cfg.channels[c].wrap_up
        e.cfg.ret_start[c] = si
        for step in cfg.channels[c].retention:
            e.cfg.ret_after[si] = step.after
            si += 1
    e.cfg.ret_start[C] = si
    for g in range(G):
        e.cfg.policy[g] = cc.policies[g]
        e.rng[g] = _rng_init(cfg.seed, g)
        e.cfg.has_no_ops[g] = False
        e.cfg.max_queue[g] = -1 if cfg.groups[g].max_queue is None else cfg.groups[g].max_queue
        e.cfg.wrap_g[g] = -1.0 if cfg.groups[g].wrap_up is None else cfg.groups[g].wrap_up
        e.cfg.accept_timeout[g] = (-1.0 if cfg.groups[g].accept_timeout is None
                               else cfg.groups[g].accept_timeout)
        e.cfg.max_missed[g] = -1 if cfg.groups[g].max_missed is None else cfg.groups[g].max_missed
        e.cfg.level_step[g] = (-1.0 if cfg.groups[g].level_step is None
                           else cfg.groups[g].level_step)
        e.cfg.transfer_timeout[g] = cfg.groups[g].transfer_timeout
        e.cfg.relax_start[g] = xi
        for rx in cfg.groups[g].relax:
            bits = self.tags.register(self.tags.check({n: 1 for n in rx.drop}, "relax"))
            e.cfg.relax_after[xi] = rx.after
            e.cfg.relax_mask[xi] = 0
            for b in bits:
                e.cfg.relax_mask[xi] |= (<uint64_t>1) << <int>b
            xi += 1
        for c in range(C):
            if e.cfg.deadline:
                e.cfg.off[g * C + c] = cfg.channels[c].target_wait
            else:
                e.cfg.off[g * C + c] = -(cfg.channels[c].priority + cfg.groups[g].priority)
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
