"""Random configurations and command streams shared by the differential, property and
stress tests. Everything is driven by a ``random.Random`` so a failing seed replays."""

from __future__ import annotations

import random

import pyroute as pr
from pyroute.config import POLICIES


def random_config(rng: random.Random) -> pr.RouterConfig:
    n_ch = rng.randint(1, 4)
    n_g = rng.randint(1, 5)
    steps = [(), (), (pr.Retention(after=30.0, action="hold_message"),),
             (pr.Retention(after=10.0, action="hold_message"),
              pr.Retention(after=45.0, action="offer_callback"))]
    channels = [pr.Channel(f"ch{i}", priority=rng.choice([0, 0, 5, 10]),
                           target_wait=rng.choice([20.0, 60.0, 300.0]),
                           early_cancel=rng.choice([0.0, 20.0]),
                           retention=rng.choice(steps),
                           wrap_up=rng.choice([0.0, 0.0, 5.0, 20.0]),
                           cost=rng.choice([1, 1, 1, 2, "all"]),
                           # no draw of its own: the streams of every seed stay as they were
                           reserve=(i + n_g) % 4 != 3)
                for i in range(n_ch)]
    names = [f"g{i}" for i in range(n_g)]
    # departments bound to contact points: most groups take every channel, some a subset
    takes = [None if n_ch == 1 or rng.random() < 0.6 else
             tuple(sorted(rng.sample([c.name for c in channels], rng.randint(1, n_ch - 1))))
             for _ in names]

    def shared(a: int, b: int) -> set:
        every = {c.name for c in channels}
        return (set(takes[a] or every)) & (set(takes[b] or every))

    groups = []
    for i, name in enumerate(names):
        rules = []
        for _ in range(rng.choice([0, 0, 1, 2])):
            to = rng.sample(names, rng.randint(1, min(2, n_g)))
            if not any(shared(i, names.index(t)) for t in to):
                continue    # a rule that could never move anything is a ConfigError
            kind = rng.randrange(3)
            if kind == 0:
                rules.append(pr.Overflow(to=to, after=float(rng.choice([0, 5, 30, 60]))))
            elif kind == 1:
                rules.append(pr.Overflow(to=to, when_no_operators=True))
            else:
                rules.append(pr.Overflow(to=to, when_queue_over=rng.choice([0, 1, 3])))
        nxt = i + 1
        escalate = (names[nxt] if nxt < n_g and rng.random() < 0.6 and shared(i, nxt)
                    else None)
        # a bot line falls back to the next line by itself; one with nowhere to fall back
        # to (or a next line that misses some of its channels) is a ConfigWarning
        line = min(i, 3)
        if line == 0 and (escalate is None or shared(i, nxt) != shared(i, i)):
            line = 1
        groups.append(pr.Group(name, policy=rng.choice(POLICIES),
                               priority=rng.choice([0, 0, 3]), overflow=rules,
                               hidden=(i > 0 and rng.random() < 0.15),
                               max_queue=rng.choice([None, None, None, 0, 2, 5]),
                               wrap_up=rng.choice([None, None, None, 0.0, 10.0]),
                               accept_timeout=rng.choice([None, None, 15.0, 40.0]),
                               max_missed=rng.choice([None, 1, 3]),
                               relax=rng.choice([(), (pr.Relax(after=20.0, drop=("en",)),),
                                                 (pr.Relax(after=5.0, drop=("billing",)),
                                                  pr.Relax(after=60.0, drop=("en", "vip")))]),
                               level_step=rng.choice([None, None, 15.0]),
                               sticky_for=rng.choice([None, None, 300.0]),
                               line=line,
                               escalate_to=escalate,
                               transfer_timeout=rng.choice([10.0, 60.0]),
                               channels=takes[i]))
    return pr.RouterConfig(channels=channels, groups=groups,
                           aging=rng.choice([0.0, 0.0, 0.1, 1.0]),
                           order=rng.choice(["priority", "priority", "deadline"]),
                           seed=rng.randrange(1000), history=rng.choice([0, 5, 100_000]))


class CommandStream:
    """Generates plausible commands (and a few invalid ones) for a config."""

    def __init__(self, cfg: pr.RouterConfig, rng: random.Random, bad: float = 0.03) -> None:
        self.cfg = cfg
        self.rng = rng
        self.bad = bad
        self.now = 0.0
        self.n_req = 0
        self.n_op = 0
        self.ops: list = []
        self.reqs: list = []
        self.offered: list = []   # (request, operator) of open offers seen by observe()
        self.assigned: list = []  # (request, operator) of recent assignments seen by observe()
        self.holds: list = []     # (hold, operator, group, channel) of live holds seen
        self.n_hold = 0
        self.release_next: list = []   # a hold whose conversation was just submitted

    def observe(self, events) -> None:
        """Feed back the events of the last command, so accepts and declines can target
        open offers (optional: without it they pick recent conversations at random)."""
        for e in events or ():
            if isinstance(e, pr.Offered):
                self.offered.append((e.request, e.operator))
            elif isinstance(e, (pr.Assigned, pr.Accepted)):
                self.assigned.append((e.request, e.operator))
            elif isinstance(e, pr.Held):
                self.holds.append((e.hold, e.operator, e.group, e.channel))
            elif isinstance(e, pr.HoldEnded):
                self.holds = [h for h in self.holds if h[0] != e.hold]
        self.offered = self.offered[-10:]
        self.assigned = self.assigned[-20:]

    def _groups(self) -> list[str]:
        names = [g.name for g in self.cfg.groups]
        return self.rng.sample(names, self.rng.randint(0 if self.rng.random() < 0.05 else 1,
                                                       min(3, len(names))))

    def next(self) -> pr.Command:
        rng = self.rng
        if rng.random() < 0.6:
            self.now += rng.choice([0.0, 0.0, 0.5, 1.0, 3.0, 10.0, 45.0])
        now = self.now
        if self.release_next:     # the conversation came: release its hold (same moment)
            return pr.ReleaseHold(hold=self.release_next.pop(), now=now)
        if rng.random() < (0.15 if self.holds else 0.04) and self.ops:
            return self._hold_step(now)
        if rng.random() < self.bad:
            return self._bad(now)
        x = rng.random()
        if self.offered and rng.random() < 0.25:
            x = 0.98
        if not self.ops or x < 0.08:
            self.n_op += 1
            op = f"op{self.n_op}" if rng.random() < 0.7 else self.n_op
            self.ops.append(op)
            caps = None
            if rng.random() < 0.3:
                caps = {c.name: rng.choice([0, 1, 2])
                        for c in rng.sample(self.cfg.channels, 1)}
            groups = tuple(self._groups())
            return pr.AddOperator(operator=op, groups=groups,
                                  limit=rng.choice([0, 1, 2, 3, 5]),
                                  status=rng.choice(["online", "online", "offline", "away"]),
                                  channel_limits=caps,
                                  skills=rng.choice([None, {"en": 3}, {"en": 1, "billing": 2},
                                                     {"vip": 5, "en": 2}]),
                                  levels=({g: rng.randint(1, 3) for g in groups[:1]}
                                          if rng.random() < 0.4 else None),
                                  kind=rng.choice(["human", "human", "bot"]),
                                  now=now)
        if x < 0.45:
            self.n_req += 1
            rid = f"c{self.n_req}" if rng.random() < 0.8 else 10_000 + self.n_req
            self.reqs.append(rid)
            return pr.Submit(request=rid, channel=rng.choice(self.cfg.channels).name,
                             group=rng.choice(self.cfg.groups).name,
                             priority=rng.choice([0, 0, 0, 1, 5, -2]),
                             visitor=rng.choice([None, None, "v1", "v2", 3]),
                             skills=rng.choice([None, None, {"en": 2}, {"billing": 1},
                                                {"en": 1, "vip": 3}]),
                             prefer=(rng.choice(self.ops) if self.ops and rng.random() < 0.15
                                     else None),
                             prefer_for=rng.choice([0.0, 10.0, 60.0]), now=now)
        if x < 0.65 and self.reqs:
            return pr.Finish(request=rng.choice(self.reqs[-30:]), now=now)
        if x < 0.72 and self.reqs:
            # now and then the customer takes a call-back: switched to a recent conversation
            # (sometimes one already linked, itself, or an unknown id: refused alike)
            switched = (rng.choice(self.reqs[-10:] + ["never-submitted"])
                        if rng.random() < 0.25 else None)
            return pr.Cancel(request=rng.choice(self.reqs[-30:]), now=now, switched_to=switched)
        if x < 0.84:
            return pr.SetStatus(operator=rng.choice(self.ops),
                                status=rng.choice(["online", "online", "away", "offline"]),
                                requeue=rng.random() < 0.3, now=now)
        if x < 0.88:
            return pr.SetGroups(operator=rng.choice(self.ops), groups=tuple(self._groups()),
                                now=now)
        if x < 0.92:
            return pr.SetLimit(operator=rng.choice(self.ops), limit=rng.choice([0, 1, 2, 4, 6]),
                               now=now)
        if x < 0.95:
            return pr.RemoveOperator(operator=rng.choice(self.ops), requeue=rng.random() < 0.7,
                                     now=now)
        if x < 0.965:
            return pr.Ban(visitor=rng.choice(["v1", "v2", 3]),
                          until=rng.choice([None, now + rng.choice([1.0, 30.0, 300.0])]),
                          reason=rng.choice(["", "spam"]), now=now,
                          cancel_waiting=rng.random() < 0.7)
        if x < 0.975:
            return pr.Unban(visitor=rng.choice(["v1", "v2", 3]), now=now)
        if x < 0.985 and self.reqs:
            rid = rng.choice(self.reqs[-20:])
            op = rng.choice([None, None, rng.choice(self.ops)])
            if self.offered and rng.random() < 0.8:
                rid, op = self.offered.pop(rng.randrange(len(self.offered)))
                op = op if rng.random() < 0.5 else None
            if rng.random() < 0.7:
                return pr.Accept(request=rid, operator=op, now=now)
            return pr.Decline(request=rid, operator=op, now=now)
        if self.reqs and self.ops and (x >= 0.985 and x < 0.995 or rng.random() < 0.05):
            rid = rng.choice(self.reqs[-20:])
            k = rng.randrange(3)
            if k == 0:
                return pr.Escalate(request=rid, now=now)
            if k == 1:
                return pr.Transfer(request=rid, group=rng.choice(self.cfg.groups).name, now=now)
            op = rng.choice(self.ops)
            if len(self.assigned) > 1 and rng.random() < 0.7:
                # an answered conversation to a colleague who was busy lately: a transfer
                # that may have to wait (or be refused)
                rid = rng.choice(self.assigned)[0]
                op = rng.choice(self.assigned)[1]
            return pr.Transfer(request=rid, operator=op, now=now,
                               if_busy=rng.choice(["wait", "wait", "refuse"]))
        if x < 0.99 and self.reqs:
            return pr.Categorize(request=rng.choice(self.reqs[-40:]),
                                 name=rng.choice(["non_target", "billing", "bug"]), now=now)
        if self.ops and rng.random() < 0.5:
            return self._hold_step(now)
        return pr.Advance(now=now)

    def _hold_step(self, now: float) -> pr.Command:
        """A platform that places conversations itself: hold a slot, or the conversation a
        hold was for arrives (submitted preferring the operator, the release follows), or
        the hold is let go (sometimes one that already ended, or never was)."""
        rng = self.rng
        if self.holds and rng.random() < 0.6:
            hid, op, group, channel = self.holds[rng.randrange(len(self.holds))]
            if rng.random() < 0.6:
                self.n_req += 1
                rid = f"c{self.n_req}"
                self.reqs.append(rid)
                self.release_next.append(hid)
                return pr.Submit(request=rid, channel=channel, group=group, prefer=op,
                                 prefer_for=rng.choice([0.0, 60.0, 60.0]), now=now)
            return pr.ReleaseHold(hold=hid if rng.random() < 0.9 else "never-held", now=now)
        self.n_hold += 1
        hid = f"h{self.n_hold}"
        if self.holds and rng.random() < 0.05:
            hid = self.holds[0][0]          # a live id again: DuplicateId
        return pr.Hold(group=rng.choice(self.cfg.groups).name,
                       channel=rng.choice(self.cfg.channels).name, hold=hid,
                       seconds=rng.choice([2.0, 30.0, 120.0]),
                       exclude=(rng.choice(self.ops) if rng.random() < 0.2 else None),
                       now=now)

    def _bad(self, now: float) -> pr.Command:
        rng = self.rng
        k = rng.randrange(6)
        if k == 0:
            return pr.Submit(request=rng.choice(self.reqs) if self.reqs else "c1",
                             channel=self.cfg.channels[0].name,
                             group=self.cfg.groups[0].name, now=now)
        if k == 1:
            return pr.Submit(request="zz", channel="nope", group=self.cfg.groups[0].name, now=now)
        if k == 2:
            return pr.Finish(request="never-submitted", now=now)
        if k == 3:
            return pr.SetLimit(operator=rng.choice(self.ops) if self.ops else "x", limit=-1,
                               now=now)
        if k == 4:
            return pr.Advance(now=now - 5.0)
        return pr.SetStatus(operator="ghost", status="online", now=now)


def run_both(native, ref, cmd, stream=None):
    """Apply ``cmd`` to both engines; return (events, error type) of each. With
    ``stream``, the native engine's events are fed back to it (``observe``)."""
    out = []
    for router in (native, ref):
        try:
            out.append((router.apply(cmd), None))
        except pr.RoutingError as e:
            out.append((None, type(e)))
    if stream is not None:
        stream.observe(out[0][0])
    return out
