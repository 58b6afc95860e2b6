"""The corrections ledger (``correction_deliveries``): one row per (thread, claim, revision).

The lease and its fencing are :class:`bot.state.leases.LeasedRows`, as for the
digest: a poster acquires the row before posting, renews it before each
attempt, and records the outcome only while the row is still its own. What
this module adds is the key (a :class:`~bot.corrections.plan.Correction`) and
a read of the rows already settled, so a run skips them without leasing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import select

from bot.corrections.plan import Correction
from bot.state.citations import Citation, insert_citations
from bot.state.leases import Held, LeaseLedger, LeaseStatus
from bot.state.models import CorrectionDelivery

log = logging.getLogger(__name__)

CorrectionKey = tuple[str, str, str, str, str]  # team, channel, thread, claim, revision
KEY_COLUMNS = ("team_id", "channel_id", "thread_ts", "claim_id", "revision")


def key_of(plan: Correction) -> CorrectionKey:
    return (plan.team_id, plan.channel_id, plan.thread_ts, plan.claim_id, plan.revision)


class CorrectionLedger(LeaseLedger):
    """Acquire, renew, mark posted and release correction rows — each one fenced."""

    table = CorrectionDelivery
    key_columns = KEY_COLUMNS

    def settled(self, plans: Iterable[Correction]) -> dict[CorrectionKey, str]:
        """Plans that need nothing now (posted, given up, or under a live lease): their status."""
        keys = {key_of(plan) for plan in plans}
        claim_ids = sorted({key[3] for key in keys})
        found: dict[CorrectionKey, str] = {}
        now = self.clock()
        with self.engine.connect() as connection:
            for start in range(0, len(claim_ids), 500):  # bounded IN lists
                chunk = claim_ids[start : start + 500]
                stmt = select(CorrectionDelivery.__table__).where(
                    CorrectionDelivery.claim_id.in_(chunk)
                )
                for row in connection.execute(stmt):
                    key = (row.team_id, row.channel_id, row.thread_ts, row.claim_id, row.revision)
                    if key in keys and not self.rows.may_take_over(row, now):
                        found[key] = str(row.status)
        return found

    def acquire(self, plan: Correction) -> Held | None:
        """The row for ``plan``, leased to us; None when it is posted, given up or held."""
        key = dict(zip(KEY_COLUMNS, key_of(plan), strict=True))
        return self.rows.acquire(key, {})

    def renew(self, held: Held, extra: timedelta = timedelta(0)) -> bool:
        renewed = self.rows.renew(held.row_id, held.attempt, extra)
        if not renewed:
            log.warning("lost the lease on correction row %d; not posting", held.row_id)
        return renewed

    def mark_posted(self, held: Held, ts: str, cited: Citation | None = None) -> bool:
        """Record the correction's ts (and what it told the thread, ``cited``), in one go.

        False, and nothing recorded, if the row was taken over meanwhile.
        """
        now = self.clock()
        values = {
            "status": LeaseStatus.POSTED.value,
            "message_ts": ts,
            "posted_at": now,
            "lease_until": now,
            "error": None,
        }
        with self.engine.begin() as connection:
            marked = self.rows.set(connection, held.row_id, held.attempt, values)
            if marked and cited is not None:
                insert_citations(connection, [cited], now=now)
        if not marked:  # the new owner finds this message by its metadata
            log.warning("correction row %d was taken over after posting ts=%s", held.row_id, ts)
        return marked

    def release(self, held: Held, status: LeaseStatus, error: str) -> None:
        """Give the row up as ``failed``/``unknown``: retryable by a later run."""
        values = {"status": status.value, "error": error[:2000], "lease_until": self.clock()}
        with self.engine.begin() as connection:
            self.rows.set(connection, held.row_id, held.attempt, values)


__all__ = ["KEY_COLUMNS", "CorrectionKey", "CorrectionLedger", "key_of"]
