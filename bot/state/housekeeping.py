"""Retention: old event ids, missed queries and citations are deleted by whichever process runs.

These tables grow with traffic. The web process prunes at start-up and about
once an hour, and so does ``ai-race digest run`` (each run, or hourly with
``--forever``), so neither table depends on the clock process being deployed.
Deleting is idempotent, so two processes pruning together is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from bot.state.citations import RETENTION as CITATION_RETENTION
from bot.state.citations import prune_citations
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
    citations: int = 0


def prune_state(
    engine: Engine,
    *,
    miss_retention: timedelta = DEFAULT_MISS_RETENTION,
    event_retention: timedelta = EVENT_RETENTION,
    now: datetime | None = None,
) -> Pruned:
    """Delete processed events, missed queries and citations older than their retention."""
    when = now or utcnow()
    events = EventLedger(engine, clock=lambda: when).prune(event_retention)
    misses = prune_misses(engine, when - miss_retention)
    citations = prune_citations(engine, when - CITATION_RETENTION)
    return Pruned(events, misses, citations)
