"""What one digest run did: an :class:`Outcome` per due subscription, in a :class:`RunReport`.

Kept apart from the runner so the command line and the Slack command can read
a report without importing the machinery that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bot.digest.kinds import OutcomeStatus


@dataclass
class Outcome:
    """What happened to one due subscription in one run (``status``: :class:`OutcomeStatus`)."""

    team_id: str
    channel_id: str
    local_date: date
    status: OutcomeStatus
    message_ts: str | None = None
    claim_ids: list[str] = field(default_factory=list)
    error: str | None = None
    text: str | None = None
    blocks: list[dict[str, Any]] | None = None


UNDELIVERED = frozenset(
    {
        OutcomeStatus.FAILED,
        OutcomeStatus.UNKNOWN,
        OutcomeStatus.GAVE_UP,
        OutcomeStatus.PAUSED,
        OutcomeStatus.ERROR,
    }
)
"""Outcomes that leave a due channel without its digest and want a person's attention.

``digest run`` exits non-zero when any occurs, so cron and schedulers alert.
Not among them: ``busy``/``lost_lease`` (another runner has the row) and
``empty`` (no eligible claims: nothing to deliver).
"""


@dataclass
class RunReport:
    run_id: str
    now: datetime
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for outcome in self.outcomes:
            key = str(outcome.status)
            out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items()))

    @property
    def undelivered(self) -> int:
        """How many due channels were left without their digest (see :data:`UNDELIVERED`)."""
        return sum(1 for o in self.outcomes if o.status in UNDELIVERED)

    @property
    def delivered(self) -> int:
        return self.count(OutcomeStatus.POSTED) + self.count(OutcomeStatus.RECONCILED)


__all__ = ["UNDELIVERED", "Outcome", "RunReport"]
