"""Processed Slack event ids: drop retries and duplicates across restarts and processes.

Slack retries an event it thinks failed (up to three times, and already after
3 s while the first handler may still be running), and with several web
processes the retry can land on another process. An in-memory set cannot see
that; a primary-key row claimed with ``INSERT … ON CONFLICT DO NOTHING`` can,
atomically, on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete
from sqlalchemy.dialects import postgresql, sqlite

from bot.state.models import ProcessedEvent, utcnow

DEFAULT_RETENTION = timedelta(days=2)  # Slack's last retry comes ~5 min after the first try


class EventLedger:
    """``first_time(event_id)`` is True for exactly one caller per event id, in any process."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.clock = clock
        dialect = engine.dialect.name
        self._insert: Any
        if dialect == "postgresql":
            self._insert = postgresql.insert
        elif dialect == "sqlite":
            self._insert = sqlite.insert
        else:  # pragma: no cover - only the two supported back-ends
            raise ValueError(f"unsupported database dialect: {dialect}")

    def first_time(self, event_id: str) -> bool:
        """Record ``event_id``; True if this call recorded it, False if it was already there."""
        if not event_id:
            raise ValueError("event_id must not be empty")
        stmt = (
            self._insert(ProcessedEvent)
            .values(event_id=event_id, received_at=self.clock())
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(ProcessedEvent.event_id)
        )
        # RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT here.
        with self.engine.begin() as connection:
            return connection.execute(stmt).first() is not None

    def prune(self, older_than: timedelta = DEFAULT_RETENTION) -> int:
        """Delete ids received more than ``older_than`` ago; returns how many went.

        Safe because Slack stops retrying within minutes; keeping two days
        covers clock skew and long outages without the table growing forever.
        """
        cutoff = self.clock() - older_than
        with self.engine.begin() as connection:
            result = connection.execute(
                delete(ProcessedEvent).where(ProcessedEvent.received_at < cutoff)
            )
            return result.rowcount
