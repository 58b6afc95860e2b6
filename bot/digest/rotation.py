"""Which claims a channel gets next (pure; the runner loads the history and stores the pick).

Rules, per channel:

* Eligible claims are those matching the subscription's topic filter (all
  claims without one).
* Claims are sent in *cycles*: none repeats until every eligible claim has
  been sent in the current cycle. Claims added later join the current cycle
  as unsent, so they come soon instead of waiting for a whole new round.
* Among unsent claims, claims within their review interval go before stale
  ones (see bot.core.freshness; judged on the digest's local date), then
  fresh ones — added or re-reviewed after the channel's last delivery — then
  the most recently touched, then by id, so the choice is deterministic (two
  runners, or a preview and the real post, agree). Stale claims are not
  dropped: a channel whose every claim is overdue still gets its digest.
* When a cycle runs out mid-digest, the digest is filled from a new cycle,
  preferring claims that were not in the previous digest so readers do not
  see the same claim two days running when that can be avoided.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from bot.core.freshness import is_stale


class Rotatable(Protocol):
    """What rotation reads about a claim: a full Claim, or a store's compact ClaimRow."""

    @property
    def id(self) -> str: ...
    @property
    def topics(self) -> Sequence[str]: ...
    @property
    def last_touched(self) -> date: ...
    @property
    def reviewed(self) -> date: ...
    @property
    def review_every(self) -> int | None: ...


@dataclass(frozen=True)
class SentRecord:
    """One claim sent to the channel on ``local_date`` as part of rotation ``cycle``."""

    claim_id: str
    cycle: int
    local_date: date


@dataclass(frozen=True)
class RotationPick:
    """The claims for the next digest and the cycle each one counts towards."""

    claims: tuple[Rotatable, ...]
    cycles: tuple[int, ...]

    @property
    def claim_ids(self) -> list[str]:
        return [claim.id for claim in self.claims]


def matches_topics(claim: Rotatable, topics: Iterable[str] | None) -> bool:
    """True when ``topics`` is empty/None or shares a topic with the claim (case-insensitive)."""
    wanted = {t.strip().lower() for t in topics or () if t.strip()}
    return not wanted or bool(wanted & {t.lower() for t in claim.topics})


def eligible_claims(claims: Iterable[Rotatable], topics: Iterable[str] | None) -> list[Rotatable]:
    wanted = list(topics or ())
    return [claim for claim in claims if matches_topics(claim, wanted)]


def _order_key(
    claim: Rotatable, last_delivery: date | None, today: date | None
) -> tuple[bool, int, int, str]:
    stale = today is not None and is_stale(claim, today)
    fresh = last_delivery is None or claim.last_touched > last_delivery
    return (stale, 0 if fresh else 1, -claim.last_touched.toordinal(), claim.id)


def choose_claims(
    claims: Sequence[Rotatable],
    count: int,
    history: Sequence[SentRecord] = (),
    *,
    topics: Iterable[str] | None = None,
    last_delivery: date | None = None,
    today: date | None = None,
) -> RotationPick:
    """Pick up to ``count`` distinct claims for the channel's next digest.

    ``history`` needs at least the records of the current (highest) cycle and
    of the previous digest; older records are ignored. ``last_delivery``
    defaults to the newest date in ``history``. ``today`` (the digest's local
    date) puts stale claims last; None ignores staleness.
    """
    pool = eligible_claims(claims, topics)
    if count <= 0 or not pool:
        return RotationPick((), ())
    if last_delivery is None and history:
        last_delivery = max(record.local_date for record in history)
    cycle = max((record.cycle for record in history), default=1)
    sent = {record.claim_id for record in history if record.cycle == cycle}
    previous_digest = {
        record.claim_id
        for record in history
        if last_delivery is not None and record.local_date == last_delivery
    }

    unsent = sorted(
        (c for c in pool if c.id not in sent), key=lambda c: _order_key(c, last_delivery, today)
    )
    picked = unsent[:count]
    cycles = [cycle] * len(picked)
    if len(picked) < count:
        # The current cycle is complete: continue with a fresh one.
        chosen = {c.id for c in picked}
        rest = sorted(
            (c for c in pool if c.id not in chosen),
            key=lambda c: (c.id in previous_digest, *_order_key(c, last_delivery, today)),
        )
        extra = rest[: count - len(picked)]
        picked += extra
        cycles += [cycle + 1] * len(extra)
    return RotationPick(tuple(picked), tuple(cycles))
