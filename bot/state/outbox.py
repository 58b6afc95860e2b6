"""The reply outbox table (``reply_outbox``): fenced SQL on a lease, as the digest ledger does.

A reply enters the outbox the first time Slack makes it wait (429
Retry-After, a 5xx) or when its process stops before it could be sent. The
row is *owned* by one process at a time (``owner``, ``lease_until``) and
``attempts`` is the fencing token (:mod:`bot.state.fencing`):

* ``keep`` inserts it, owned by us (we retry it when it is due) or by nobody
  (we are stopping: the next process takes it);
* ``take`` moves our own row to ``sending`` just before we post it;
* ``take_over`` claims a row whose lease ran out (its process stopped or
  died), bumping the token so the old owner's late updates change nothing;
* ``finish`` records ``sent`` or ``failed``; ``wait`` and ``release`` put it
  back to ``waiting`` with a new due time.

A row found ``sending`` with an expired lease may or may not have reached
Slack: the taker is told (``Lease.previous``) and checks before posting again.
Deciding *when* to call these is :mod:`bot.outbox`'s job.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, and_, delete, select, update
from sqlalchemy.orm import Session

from bot.state.models import ReplyOutbox, utcnow


class OutboxStatus(StrEnum):
    WAITING = "waiting"  # due at ``lease_until`` (for its owner; for others, once it has passed)
    SENDING = "sending"  # being posted; after ``lease_until`` it may or may not have arrived
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class OutboxLease:
    """A row we own: its id, the fencing token, and the status it had when we took it."""

    row_id: int
    attempt: int
    previous: OutboxStatus = OutboxStatus.WAITING


class OutboxStore:
    """Keep, take, take over, finish, wait and release — each one fenced transaction."""

    def __init__(
        self,
        engine: Engine,
        *,
        lease: timedelta = timedelta(seconds=30),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.lease = lease
        self.clock = clock
        self._name = f"{socket.gethostname()[:40]}:{uuid.uuid4().hex[:8]}"

    @property
    def owner(self) -> str:
        """This process: built before gunicorn forks, so the pid is read on each use."""
        return f"{self._name}:{os.getpid()}"

    def keep(self, values: dict[str, Any], due: datetime, *, owned: bool) -> OutboxLease:
        """Insert a waiting reply: ours until ``due`` + lease, or anyone's from ``due``."""
        row = ReplyOutbox(
            **values,
            status=OutboxStatus.WAITING.value,
            attempts=1,
            owner=self.owner if owned else None,
            lease_until=due + self.lease if owned else due,
            created_at=self.clock(),
        )
        with Session(self.engine) as session, session.begin():
            session.add(row)
            session.flush()
            return OutboxLease(row.id, 1)

    def _mine(self, lease: OutboxLease) -> Any:
        return and_(
            ReplyOutbox.id == lease.row_id,
            ReplyOutbox.attempts == lease.attempt,
            ReplyOutbox.owner == self.owner,
        )

    def _update(self, where: Any, **values: Any) -> bool:
        with self.engine.begin() as connection:
            result = connection.execute(update(ReplyOutbox).where(where).values(**values))
        return result.rowcount == 1

    def take(self, lease: OutboxLease) -> OutboxLease | None:
        """Our row, about to be posted: ``sending``; None if someone took it over meanwhile."""
        taken = self._update(
            self._mine(lease),
            status=OutboxStatus.SENDING.value,
            attempts=lease.attempt + 1,
            lease_until=self.clock() + self.lease,
        )
        return OutboxLease(lease.row_id, lease.attempt + 1, lease.previous) if taken else None

    def wait(self, lease: OutboxLease, due: datetime) -> bool:
        """Slack said "later" again: ours to retry at ``due`` (others may from ``due`` + lease)."""
        return self._update(
            self._mine(lease), status=OutboxStatus.WAITING.value, lease_until=due + self.lease
        )

    def release(self, lease: OutboxLease, due: datetime) -> bool:
        """We are stopping: anyone may send it from ``due``."""
        return self._update(
            self._mine(lease), status=OutboxStatus.WAITING.value, owner=None, lease_until=due
        )

    def finish(
        self,
        lease: OutboxLease,
        status: OutboxStatus,
        *,
        message_ts: str | None = None,
        error: str | None = None,
    ) -> bool:
        """``sent`` (with Slack's ts when known) or ``failed``; the response_url is forgotten."""
        now = self.clock()
        return self._update(
            self._mine(lease),
            status=status.value,
            sent_at=now if status is OutboxStatus.SENT else None,
            message_ts=message_ts,
            error=error[:2000] if error else None,
            response_url=None,
            lease_until=now,
        )

    def due(self, limit: int = 50) -> list[ReplyOutbox]:
        """Rows whose lease has run out: their owner stopped, died, or released them."""
        stmt = (
            select(ReplyOutbox)
            .where(
                ReplyOutbox.status.in_([OutboxStatus.WAITING.value, OutboxStatus.SENDING.value]),
                ReplyOutbox.lease_until <= self.clock(),
            )
            .order_by(ReplyOutbox.lease_until)
            .limit(limit)
        )
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.scalars(stmt))

    def take_over(self, row: ReplyOutbox) -> OutboxLease | None:
        """Claim ``row`` as read by :meth:`due`; None when another process was faster."""
        now = self.clock()
        taken = self._update(
            and_(
                ReplyOutbox.id == row.id,
                ReplyOutbox.attempts == row.attempts,
                ReplyOutbox.status == row.status,
                ReplyOutbox.lease_until <= now,
            ),
            owner=self.owner,
            attempts=row.attempts + 1,
            status=OutboxStatus.WAITING.value,
            lease_until=now + self.lease,
        )
        return OutboxLease(row.id, row.attempts + 1, OutboxStatus(row.status)) if taken else None

    def prune(self, older_than: timedelta) -> int:
        """Forget finished rows (sent or failed) older than ``older_than``."""
        done: Sequence[str] = (OutboxStatus.SENT.value, OutboxStatus.FAILED.value)
        with self.engine.begin() as connection:
            result = connection.execute(
                delete(ReplyOutbox).where(
                    ReplyOutbox.status.in_(done), ReplyOutbox.created_at < self.clock() - older_than
                )
            )
        return int(result.rowcount or 0)


__all__ = ["OutboxLease", "OutboxStatus", "OutboxStore"]
