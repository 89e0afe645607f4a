"""Expected wait: what each (group, channel) queue learns, and the prediction made from it.

The reference engine uses these functions; the native core (routing_core/ewt.pyx) does
the same arithmetic in the same order, so both engines predict the same seconds to the
last bit. docs/semantics.md ("Expected wait") states the model in prose.

A queue's record is seven floats, ``[last, pm, pa, n, mw, a, s]``:

- ``last``: when the queue last changed (a conversation joined or left it);
- ``pm``: online members of the group x seconds the queue was non-empty since its last
  service start, not yet in ``mw``; ``pa``: waiting conversations x seconds (the area
  under its length) since its last departure, not yet in ``s``;
- ``n``: service starts (a conversation of the queue assigned or offered), decayed by
  ``DECAY`` at each one; ``mw``: the member-seconds of non-empty queue behind them, decayed
  alike. ``n / mw`` is the rate at which the queue's head is served per online member;
- ``a``: departures without service (cancelled, switched, banned, moved by a transfer),
  decayed by ``DECAY`` at every departure; ``s``: the waiting seconds behind them
  (served conversations' waits included: they were at risk of leaving too). ``a / s``
  is the rate at which a waiting conversation leaves (the abandonment rate theta).

A conversation with ``pos - 1`` ahead of it waits, with service rate ``r`` (``n / mw``
times the members online now) and abandonment rate ``theta``, for
``sum(1 / (r + i * theta) for i in range(pos))`` seconds: each one ahead leaves by
service (rate r) or by abandoning (rate theta each), and then its own turn comes (the
Ibrahim-Whitt form of the queue-length predictor, with learned rates).
"""

from __future__ import annotations

import math
from typing import Optional

DECAY = 1023.0 / 1024.0   # weight of the past at each new observation (~1,000 count;
                          # 63/64 learned low rates exactly when queues were long)
SUM_TERMS = 16        # positions up to this are summed term by term; beyond, by digamma

LAST, PM, PA, N, MW, A, S = range(7)


def new_record() -> list:
    return [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def touch(st: list, length: int, members: int, now: float) -> None:
    """Account the time since the queue last changed (call before it changes)."""
    if length:
        dt = now - st[LAST]
        if dt > 0.0:
            st[PM] += members * dt
            st[PA] += length * dt
    st[LAST] = now


def departed(st: list, served: bool) -> None:
    """One conversation left the queue (after ``touch``): served (assigned or offered)
    or not."""
    if served:
        st[N] = DECAY * st[N] + 1.0
        st[MW] = DECAY * st[MW] + st[PM]
        st[PM] = 0.0
    st[A] = DECAY * st[A] + (0.0 if served else 1.0)
    st[S] = DECAY * st[S] + st[PA]
    st[PA] = 0.0


def digamma(x: float) -> float:
    """psi(x) for x > 0: the recurrence up to 6, then the asymptotic series."""
    acc = 0.0
    while x < 6.0:
        acc -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    return (acc + math.log(x) - 0.5 / x
            - f * (1.0 / 12.0 - f * (1.0 / 120.0 - f * (1.0 / 252.0
                                                        - f * (1.0 / 240.0 - f / 132.0)))))


def predict(st: list, length: int, members: int, pos: int, now: float) -> Optional[float]:
    """Seconds until the conversation at ``pos`` (1: the head) of the queue is served, or
    None with nothing to go by (no service seen yet, or nobody of the group online)."""
    mw = st[MW] + st[PM]
    s = st[S] + st[PA]
    if length:
        dt = now - st[LAST]
        if dt > 0.0:
            mw += members * dt
            s += length * dt
    if st[N] <= 0.0 or mw <= 0.0 or members <= 0:
        return None
    r = st[N] * members / mw
    theta = st[A] / s if s > 0.0 else 0.0
    if theta <= 0.0:
        return pos / r
    if pos <= SUM_TERMS:
        w = 0.0
        for i in range(pos):
            w += 1.0 / (r + i * theta)
        return w
    x = r / theta
    return (digamma(x + pos) - digamma(x)) / theta
