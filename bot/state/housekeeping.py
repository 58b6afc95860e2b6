"""Retention: old processed-event ids and missed queries are deleted by whichever process runs.

Both tables grow with traffic. The web process prunes at start-up and about
once an hour, and so does ``ai-race digest run`` (each run, or hourly with
``--forever``), so neither table depends on the clock process being deployed.
Deleting is idempotent, so two processes pruning together is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from bot.state.events import DEFAULT_RETENTION as EVENT_RETENTION
from bot.state.events import EventLedger
from bot.state.misses import prune_misses
from bot.state.models import utcnow

DEFAULT_MISS_RETENTION = timedelta(days=90)
"""Long enough for a quarterly look at ``ai-race report misses``, short enough to stay small."""
PRUNE_INTERVAL_S = 3600.0


@dataclass(frozen=True)
class Pruned:
    events: int
    misses: int


def prune_state(
    engine: Engine,
    *,
    miss_retention: timedelta = DEFAULT_MISS_RETENTION,
    event_retention: timedelta = EVENT_RETENTION,
    now: datetime | None = None,
) -> Pruned:
    """Delete processed events and missed queries older than their retention periods."""
    when = now or utcnow()
    events = EventLedger(engine, clock=lambda: when).prune(event_retention)
    misses = prune_misses(engine, when - miss_retention)
    return Pruned(events, misses)
