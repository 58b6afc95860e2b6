"""Ledger rows held under a *lease* with a fencing token: exactly-once posting, shared.

The digest (``digest_deliveries``) and corrections (``correction_deliveries``)
both post to Slack at most once per key, across threads, processes and
restarts, the same way:

* **Acquire** with ``INSERT … ON CONFLICT DO NOTHING`` on the key's unique
  constraint: exactly one poster wins, on SQLite and PostgreSQL. A row whose
  lease expired while ``claimed`` (its poster died) or that was left
  ``failed``/``unknown`` may be *taken over*, at most ``max_attempts`` times.
* **Fence** every later update on the row id, the owner and ``attempts`` (bumped
  on every acquisition), so a poster that lost its lease cannot overwrite the
  new owner's outcome.

The table needs the columns ``id``, ``status``, ``attempts``, ``claimed_at``,
``claimed_by`` and ``lease_until``; what else a row carries is its ledger's
business (:mod:`bot.digest.ledger`, :mod:`bot.corrections.ledger`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Engine, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


class LeaseStatus(StrEnum):
    """A ledger row's state.

    ``claimed`` is held under a lease; ``failed`` means Slack definitely did not
    post (retried without looking); ``unknown`` means the post may have
    reached Slack (the next owner looks for it in Slack first).
    """

    CLAIMED = "claimed"
    POSTED = "posted"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Held:
    """A row this poster owns: its id, the fencing token, and the row as it was before."""

    row_id: int
    attempt: int
    claimed_at: datetime  # the first claim, never moved: where to start looking in Slack
    previous: Any | None  # the row before a take-over; None when this acquisition inserted it

    @property
    def previous_status(self) -> str | None:
        return None if self.previous is None else str(self.previous.status)


class LeasedRows:
    """Acquire, renew and fenced updates on one ledger table's rows."""

    def __init__(
        self,
        engine: Engine,
        model: Any,
        key: Sequence[str],
        owner: str,
        clock: Callable[[], datetime],
        *,
        lease: timedelta,
        max_attempts: int,
    ) -> None:
        self.engine = engine
        self.model = model
        self.key = tuple(key)
        self.owner = owner
        self.clock = clock
        self.lease = lease
        self.max_attempts = max_attempts
        self.insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def acquire(self, key: Mapping[str, Any], values: Mapping[str, Any]) -> Held | None:
        """Insert the row, or take over one whose owner is gone; None when someone holds it."""
        model, now = self.model, self.clock()
        leased = {
            "status": LeaseStatus.CLAIMED.value,
            "claimed_by": self.owner,
            "lease_until": now + self.lease,
            **values,
        }
        with self.engine.begin() as connection:
            inserted = connection.execute(
                self.insert(model)
                .values(**key, attempts=1, claimed_at=now, **leased)
                .on_conflict_do_nothing(index_elements=list(self.key))
                .returning(model.id)
            ).first()
            if inserted is not None:
                return Held(inserted[0], 1, now, None)
            where = [getattr(model, name) == value for name, value in key.items()]
            row = connection.execute(select(model.__table__).where(*where)).one()
            if not self.may_take_over(row, now):
                return None
            taken = connection.execute(
                update(model)
                .where(
                    model.id == row.id,
                    model.attempts == row.attempts,
                    model.status == row.status,
                )
                .values(attempts=row.attempts + 1, **leased)
            )
            if taken.rowcount != 1:
                return None
        return Held(row.id, row.attempts + 1, row.claimed_at, row)

    def may_take_over(self, row: Any, now: datetime) -> bool:
        """Not posted, not given up, and not under someone's live lease."""
        if row.status == LeaseStatus.POSTED or row.attempts >= self.max_attempts:
            return False
        return not (row.status == LeaseStatus.CLAIMED and row.lease_until > now)

    def fenced(self, row_id: int, attempt: int) -> ColumnElement[bool]:
        """The condition every update of a held row carries: still ours, still claimed."""
        model = self.model
        return and_(
            model.id == row_id,
            model.attempts == attempt,
            model.claimed_by == self.owner,
            model.status == LeaseStatus.CLAIMED.value,
        )

    def renew(self, row_id: int, attempt: int, extra: timedelta = timedelta(0)) -> bool:
        """Extend our lease; False if the row is no longer ours (then we must not post)."""
        with self.engine.begin() as connection:
            result = connection.execute(
                update(self.model)
                .where(self.fenced(row_id, attempt))
                .values(lease_until=self.clock() + self.lease + extra)
            )
        return bool(result.rowcount == 1)

    def set(
        self, connection: Connection, row_id: int, attempt: int, values: Mapping[str, Any]
    ) -> bool:
        """A fenced update inside the caller's transaction; False if the row was taken over."""
        result = connection.execute(
            update(self.model).where(self.fenced(row_id, attempt)).values(**values)
        )
        return bool(result.rowcount == 1)


__all__ = ["Held", "LeaseStatus", "LeasedRows"]


class LeaseLedger:
    """A ledger over one table's leased rows: the engine, owner, clock and :class:`LeasedRows`.

    The digest and corrections ledgers are built the same way and differ only
    in their table and key; a subclass names those two and adds what its rows
    carry.
    """

    table: ClassVar[Any]  # the ORM model, with bot.state.models.LeasedRowColumns
    key_columns: ClassVar[tuple[str, ...]]  # the unique key an acquisition conflicts on

    def __init__(
        self,
        engine: Engine,
        owner: str,
        clock: Callable[[], datetime],
        *,
        lease: timedelta = timedelta(minutes=5),
        max_attempts: int = 6,
    ) -> None:
        self.engine = engine
        self.owner = owner
        self.clock = clock
        self.rows = LeasedRows(
            engine,
            self.table,
            self.key_columns,
            owner,
            clock,
            lease=lease,
            max_attempts=max_attempts,
        )
