"""Explanations of routing decisions, recorded by the reference engine when asked for.

``reference.Router(config, explain=True)`` calls :func:`decided` at every routing
decision, before the decision changes anything, so the candidates are seen as the rule saw
them. The native ``pyroute.Router(config, explain=True)`` mirrors its commands into such a
reference router (the two engines agree event for event; the test suite checks it) and asks
it. With ``explain=False`` (the default) none of this runs: no engine records anything.
"""

from __future__ import annotations

from typing import Any, Optional

import msgspec

from .config import POLICIES
from .views import STATUSES, Candidate, Explanation

EXPLAIN_OFF = ("explain() needs a router made with explain=True: routing decisions are "
               "recorded only when asked for, so that they cost nothing otherwise")

ONLINE = 2

# Explanation.rule values
RULE_TEXT = {
    "policy": "the group's policy ranked it first",
    "tie_break_last_assignment": "tied on the policy; the longest since their last assignment",
    "tie_break_registration": "tied on the policy and on the last assignment; registered first",
    "only_candidate": "the only operator who could take it",
    "preferred": "its preferred operator (prefer, sticky or a transfer to them)",
    "pulled": "the operator had room and this was the best-ranked waiting conversation it could take",
    "no_eligible_operator": "nobody in its eligible groups could take it",
    "reserved": "it waits for its preferred operator alone",
    "draining": "nobody can fit it now; an operator is reserved for it and drains",
}


def _verdict(rt: Any, op: Any, r: Any, g: int, now: float) -> tuple[str, str]:
    """Why ``op`` can (or cannot) take ``r`` through group ``g`` at ``now``: the checks of
    ``Router._fits`` in the same order, plus status and room (wrap-up where its slots are what is missing)."""
    free = op.limit - op.load
    if op.status != ONLINE:
        return STATUSES[op.status], f"{STATUSES[op.status]}"
    if op.id in r.excluded:
        return "declined", "declined it or let its offer expire"
    need = max(rt._charge(op, r.ch), 1)
    if free < need:
        if op.wrap and free + op.wrap >= need:   # only the wrap-up slots make it full
            return "wrap_up", f"{op.wrap} slot(s) in wrap-up, needs {need}"
        return "full", f"{op.load}/{op.limit} slots taken, needs {need}"
    cap = op.ch_limit[r.ch]
    if cap >= 0 and op.ch_count[r.ch] >= cap:
        return "channel_limit", (f"holds {op.ch_count[r.ch]} of its {cap} "
                                 f"{rt._cc.channel_names[r.ch]!r} conversation(s)")
    if r.prefer is not None and now < r.prefer_until and op.id != r.prefer:
        return "reserved", f"reserved for {r.prefer!r} until {r.prefer_until:g}"
    step = rt._level_step[g]
    level = op.members[g].level
    if step is not None and r.arrival + (level - 1) * step > now:
        return "tier", f"level {level}: eligible from {r.arrival + (level - 1) * step:g}"
    if r.skills:
        dropped = _dropped(rt, r, now)
        for t, want in sorted(r.skills.items()):
            have = op.skills.get(t, 0)
            if t not in dropped and have < want:
                return "skills", f"{rt._tags.names[t]} {have} < {want}"
    if rt._held(op, r):
        return "held", f"reserved for {op.res!r}, which ranks above this one"
    return "eligible", f"{free} free slot(s)"


def _dropped(rt: Any, r: Any, now: float) -> set:
    dropped: set = set()
    for after, drop in rt._relax[r.home]:
        if r.arrival + after <= now:
            dropped |= drop
    return dropped


def decided(rt: Any, r: Any, decision: str, now: float, op: Any = None, g: int = -1,
            how: str = "") -> None:
    """Record the decision just being made for ``r`` (before it changes the state).

    ``how``: ``"placed"`` (the conversation looked for an operator: on arrival, after an
    overflow or a timer), ``"preferred"`` or ``"pulled"`` (an operator with room took it).
    """
    names = rt._cc.group_names
    cands: list[Candidate] = []
    ranked: list[tuple] = []   # (key, op id) of the eligible in the chosen group
    ops = list(rt._ops.values())
    for gi in r.elig:
        for o in ops:
            if gi not in o.members:
                continue
            verdict, detail = _verdict(rt, o, r, gi, now)
            if o is op and gi == g:
                verdict = "chosen"
            if gi == g and verdict in ("chosen", "eligible"):
                ranked.append((rt._key(o, gi), o.id))
            cands.append(Candidate(o.id, names[gi], verdict, max(0, o.limit - o.load), detail))
    relaxed = tuple(sorted(rt._tags.names[t] for t in _dropped(rt, r, now) if t in r.skills))
    base = dict(request=r.id, at=now, eligible_groups=tuple(names[x] for x in r.elig),
                relaxed=relaxed, candidates=tuple(cands))
    if op is None:
        reserved = r.prefer is not None and now < r.prefer_until
        rule = "reserved" if reserved else "no_eligible_operator"
        reason = (f"waits for {r.prefer!r} alone until {r.prefer_until:g}" if reserved
                  else "waits: " + RULE_TEXT[rule])
        rt._explained[r.id] = Explanation(decision=decision, rule=rule, reason=reason, **base)
        return
    policy = POLICIES[rt._policy[g]]
    if how == "preferred":
        rule = "preferred"
    elif how == "pulled":
        rule = "pulled"
    else:
        ranked.sort()
        others = [k for k, oid in ranked if oid != op.id]
        mine = rt._key(op, g)
        if not others:
            rule = "only_candidate"
        elif mine[0] != others[0][0]:
            rule = "policy"
        elif mine[1] != others[0][1]:
            rule = "tie_break_last_assignment"
        else:
            rule = "tie_break_registration"
    step = r.elig.index(g)
    via = "its home group" if step == 0 else f"overflow step {step}"
    reason = (f"{decision} to {op.id!r} through {names[g]!r} ({via}, policy {policy}): "
              f"{RULE_TEXT[rule]}")
    rt._explained[r.id] = Explanation(decision=decision, rule=rule, reason=reason,
                                      operator=op.id, group=names[g], step=step,
                                      policy=policy, **base)


def reserved(rt: Any, r: Any, op: Any) -> None:
    """A waiting conversation's reservation was made (``op``) or found nobody (``None``):
    its last explanation, a queued decision, says so."""
    e = rt._explained.get(r.id)
    if e is None or e.decision != "queued" or (op is None and e.reserved is None):
        return
    if op is None:
        rt._explained[r.id] = msgspec.structs.replace(
            e, rule="no_eligible_operator", reserved=None,
            reason="waits: " + RULE_TEXT["no_eligible_operator"])
        return
    need = max(rt._charge(op, r.ch), 1) + op.load - op.limit
    rt._explained[r.id] = msgspec.structs.replace(
        e, rule="draining", reserved=op.id,
        reason=(f"waits: nobody can fit it now; {op.id!r} is reserved for it and takes "
                f"nothing ranked below it until it fits ({max(need, 0)} more slot(s) to "
                f"free)"))


def rejected(rt: Any, request: Any, reason: str, now: float, group: str) -> None:
    rt._explained[request] = Explanation(
        request=request, at=now, decision="rejected", rule=reason,
        reason=f"rejected at the door: {reason}", eligible_groups=(group,))


def lookup(rt: Any, request: Any) -> Optional[Explanation]:
    return rt._explained.get(request)
