"""Public posts of claims, recorded once per (workspace, channel, message, claim).

Recording is an insert that ignores a row already there, so a retried post
or a second process recording the same message cannot make duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot.state.models import ClaimCitation, CorrectionDelivery, utcnow

RETENTION = timedelta(days=31)
"""Corrections look 30 days back; older records of public posts serve nothing."""


@dataclass(frozen=True)
class Citation:
    team_id: str
    enterprise_id: str
    channel_id: str
    thread_ts: str
    message_ts: str
    claim_id: str
    content_hash: str
    reviewed: date
    kind: str
    evidence: str = ""  # the evidence level when cited, so a correction can say "was …"


def record_citations(
    engine: Engine, citations: Iterable[Citation], *, now: datetime | None = None
) -> int:
    """Store each citation once; returns how many were new."""
    with engine.begin() as connection:
        return insert_citations(connection, citations, now=now)


def insert_citations(
    connection: Connection, citations: Iterable[Citation], *, now: datetime | None = None
) -> int:
    """:func:`record_citations` inside the caller's transaction (a correction and its record)."""
    rows = [{**c.__dict__, "posted_at": now or utcnow()} for c in citations]
    if not rows:
        return 0
    postgres = connection.dialect.name == "postgresql"
    insert = postgresql.insert if postgres else sqlite.insert
    stmt = (
        insert(ClaimCitation)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["team_id", "channel_id", "message_ts", "claim_id"])
    )
    return int(connection.execute(stmt).rowcount)


def citations_since(engine: Engine, since: datetime) -> list[Citation]:
    """Every citation posted since ``since``, oldest first (what corrections look at)."""
    stmt = (
        select(ClaimCitation)
        .where(ClaimCitation.posted_at >= since)
        .order_by(ClaimCitation.posted_at, ClaimCitation.id)
    )
    with engine.connect() as connection:
        return [
            Citation(
                r.team_id,
                r.enterprise_id,
                r.channel_id,
                r.thread_ts,
                r.message_ts,
                r.claim_id,
                r.content_hash,
                r.reviewed,
                r.kind,
                r.evidence,
            )
            for r in connection.execute(stmt)
        ]


def prune_citations(engine: Engine, before: datetime) -> int:
    """Delete citations, and correction ledger rows, older than ``before``; how many citations.

    A thread past the 30-day window gets no correction, so neither its
    citations nor its correction rows are read again.
    """
    with engine.begin() as connection:
        connection.execute(delete(CorrectionDelivery).where(CorrectionDelivery.claimed_at < before))
        result = connection.execute(delete(ClaimCitation).where(ClaimCitation.posted_at < before))
    return int(result.rowcount)
