"""The delivery ledger (``digest_deliveries``): fenced SQL on a *lease*.

A runner *acquires* the row for (team, channel, local date) with
``INSERT … ON CONFLICT DO NOTHING`` — the unique key lets exactly one runner
win, on SQLite and PostgreSQL, across threads, processes and machines — or
takes over a stale one. The :class:`Lease` it gets back carries the fencing
token (``attempts``): every later update (:meth:`DeliveryLedger.renew`,
:meth:`~DeliveryLedger.mark_posted`, :meth:`~DeliveryLedger.release`) is
conditional on it and on the owner, so a runner that lost its lease cannot
overwrite the new owner's outcome. Deciding *when* to call these is
:mod:`bot.digest.flow`'s job; this module only keeps the row honest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.digest.kinds import DeliveryStatus
from bot.digest.rotation import RotationPick, SentRecord
from bot.state.leases import LeaseLedger
from bot.state.models import DigestDelivery, DigestSentClaim, DigestSubscription

log = logging.getLogger(__name__)

LedgerKey = tuple[str, str, date]


@dataclass(frozen=True)
class Lease:
    """A ledger row this runner owns, with the fencing token and what was there before."""

    row_id: int
    attempt: int
    claimed_at: datetime
    previous_status: str | None
    previous_claim_ids: tuple[str, ...]
    previous_cycles: tuple[int, ...]


def load_rotation_history(
    connection: Connection, team_id: str, channel_id: str
) -> list[SentRecord]:
    """The channel's records of the current cycle and of its last digest (all rotation needs)."""
    where = and_(DigestSentClaim.team_id == team_id, DigestSentClaim.channel_id == channel_id)
    max_cycle = select(func.max(DigestSentClaim.cycle)).where(where).scalar_subquery()
    last_date = select(func.max(DigestSentClaim.local_date)).where(where).scalar_subquery()
    stmt = select(
        DigestSentClaim.claim_id, DigestSentClaim.cycle, DigestSentClaim.local_date
    ).where(where, or_(DigestSentClaim.cycle == max_cycle, DigestSentClaim.local_date == last_date))
    return [SentRecord(r.claim_id, r.cycle, r.local_date) for r in connection.execute(stmt)]


class DeliveryLedger(LeaseLedger):
    """Acquire, renew, mark posted, release and pause — each one fenced transaction.

    The lease and the fencing are :class:`bot.state.leases.LeasedRows`'s (shared
    with the corrections ledger); this class adds what a digest row carries.
    """

    table = DigestDelivery
    key_columns = ("team_id", "channel_id", "local_date")

    def existing(self, dates: Sequence[date]) -> dict[LedgerKey, DigestDelivery]:
        """Rows already there for these local dates (one query per date, not per channel)."""
        rows: dict[LedgerKey, DigestDelivery] = {}
        with Session(self.engine, expire_on_commit=False) as session:
            for day in sorted(set(dates)):
                stmt = select(DigestDelivery).where(DigestDelivery.local_date == day)
                for row in session.scalars(stmt):
                    rows[(row.team_id, row.channel_id, row.local_date)] = row
        return rows

    def history(self, team_id: str, channel_id: str) -> list[SentRecord]:
        with self.engine.connect() as connection:
            return load_rotation_history(connection, team_id, channel_id)

    def acquire(
        self, sub: DigestSubscription, day: date, pick: RotationPick, run_id: str
    ) -> Lease | None:
        """Insert the ledger row, or take over a stale one; None when someone else has it."""
        held = self.rows.acquire(
            {"team_id": sub.team_id, "channel_id": sub.channel_id, "local_date": day},
            {"run_id": run_id, "claim_ids": pick.claim_ids, "claim_cycles": list(pick.cycles)},
        )
        if held is None:
            return None
        row = held.previous
        if row is None:
            return Lease(held.row_id, 1, held.claimed_at, None, (), ())
        log.info(
            "took over digest %s/%s %s (was %s, attempt %d)",
            sub.team_id,
            sub.channel_id,
            day,
            row.status,
            held.attempt,
        )
        return Lease(
            held.row_id,
            held.attempt,
            held.claimed_at,
            row.status,
            tuple(row.claim_ids or ()),
            tuple(row.claim_cycles or ()),
        )

    def _fenced(self, lease: Lease) -> Any:
        return self.rows.fenced(lease.row_id, lease.attempt)

    def renew(self, lease: Lease, extra: timedelta = timedelta(0)) -> bool:
        """Extend our lease; False if the row is no longer ours (then we must not post)."""
        renewed = self.rows.renew(lease.row_id, lease.attempt, extra)
        if not renewed:
            log.warning("lost the lease on digest row %d; not posting", lease.row_id)
        return renewed

    def mark_posted(
        self,
        lease: Lease,
        sub: DigestSubscription,
        day: date,
        ts: str,
        claim_ids: Sequence[str],
        cycles: Sequence[int],
    ) -> bool:
        """Record the delivery and the claims it carried; False if the row was taken over."""
        now = self.clock()
        with self.engine.begin() as connection:
            result = connection.execute(
                update(DigestDelivery)
                .where(self._fenced(lease))
                .values(
                    status=DeliveryStatus.POSTED.value,
                    message_ts=ts,
                    posted_at=now,
                    lease_until=now,
                    claim_ids=list(claim_ids),
                    claim_cycles=list(cycles),
                    error=None,
                )
            )
            if result.rowcount != 1:
                # Someone took the row over; they will find this message by its metadata.
                log.warning("digest row %d was taken over after posting ts=%s", lease.row_id, ts)
                return False
            rows = [
                {
                    "team_id": sub.team_id,
                    "channel_id": sub.channel_id,
                    "local_date": day,
                    "claim_id": claim_id,
                    "cycle": cycle,
                    "sent_at": now,
                }
                for claim_id, cycle in zip(claim_ids, cycles, strict=False)
            ]
            if rows:
                connection.execute(
                    self.rows.insert(DigestSentClaim).values(rows).on_conflict_do_nothing()
                )
        return True

    def release(
        self,
        lease: Lease,
        status: DeliveryStatus,
        error: str,
        *,
        pause: str | None = None,
        sub: DigestSubscription | None = None,
    ) -> None:
        """Give the row up as ``failed``/``unknown`` (retryable by the next run), maybe pausing."""
        now = self.clock()
        with self.engine.begin() as connection:
            connection.execute(
                update(DigestDelivery)
                .where(self._fenced(lease))
                .values(status=status.value, error=error[:2000], lease_until=now)
            )
            if pause is not None and sub is not None:
                _pause_in(connection, sub, pause, now)

    def pause(self, sub: DigestSubscription, reason: str) -> None:
        """Pause a subscription without touching any delivery row (its team's token is dead)."""
        with self.engine.begin() as connection:
            _pause_in(connection, sub, reason, self.clock())
        log.warning("digest for %s/%s paused: %s", sub.team_id, sub.channel_id, reason)


def _pause_in(connection: Connection, sub: DigestSubscription, reason: str, now: datetime) -> None:
    connection.execute(
        update(DigestSubscription)
        .where(
            DigestSubscription.team_id == sub.team_id,
            DigestSubscription.channel_id == sub.channel_id,
        )
        .values(paused_reason=reason, paused_at=now, updated_at=now)
    )


__all__ = ["DeliveryLedger", "Lease", "LedgerKey", "load_rotation_history"]
