"""Tables of the bot's durable state (SQLAlchemy 2 typed ORM).

The migrations in ``bot/state/migrations/versions`` create exactly these
tables; ``tests/test_state_db.py`` checks that the two agree, so a model
change without a migration fails CI.

Timestamps are stored as UTC. SQLite has no time-zone-aware type, so
:class:`UtcDateTime` stores naive UTC and hands back aware UTC datetimes on
both back-ends; comparing a naive and an aware datetime would raise.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

QUERY_MAX_CHARS = 500


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC in Python, naive UTC in the column (same on SQLite and PostgreSQL)."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class LeasedRowColumns:
    """The columns :class:`bot.state.leases.LeasedRows` reads and fences on, and the outcome.

    A declarative mixin, so the digest and corrections ledgers cannot drift
    apart in the columns their shared lease code relies on. The migrations
    keep their own frozen copies: a migration never imports the models.
    """

    status: Mapped[str] = mapped_column(String(16))  # claimed | posted | failed | unknown
    message_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime)  # first claim; never moved
    claimed_by: Mapped[str] = mapped_column(String(64))
    lease_until: Mapped[datetime] = mapped_column(UtcDateTime)
    posted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class DigestSubscription(Base):
    """One channel's digest: when, in which time zone, how many claims, and whether paused."""

    __tablename__ = "digest_subscriptions"
    __table_args__ = (UniqueConstraint("team_id", "channel_id", name="uq_digest_sub_channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    time: Mapped[str] = mapped_column(String(5))  # "HH:MM", local to ``timezone``
    timezone: Mapped[str] = mapped_column(String(64))  # IANA name
    days: Mapped[str] = mapped_column(String(16))  # "weekdays" | "daily"
    claims_per_digest: Mapped[int] = mapped_column(Integer, default=3)
    topics: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="slack")  # "slack" | "config"
    paused_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    @property
    def paused(self) -> bool:
        return self.paused_reason is not None


class DigestDelivery(LeasedRowColumns, Base):
    """The ledger: one row per (team, channel, local date), claimed before anything is posted.

    ``attempts`` doubles as a fencing token: every claim or takeover increments
    it, and every later update of the row is conditional on the value the
    runner saw, so a runner whose lease was taken over cannot overwrite the
    newer owner's outcome.
    """

    __tablename__ = "digest_deliveries"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id", "local_date", name="uq_digest_delivery_day"),
        Index("ix_digest_deliveries_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    local_date: Mapped[date] = mapped_column(Date)
    claim_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    claim_cycles: Mapped[list[int]] = mapped_column(JSON, default=list)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class DigestSentClaim(Base):
    """Rotation history: which claims a channel has received, in which rotation cycle."""

    __tablename__ = "digest_sent_claims"
    __table_args__ = (Index("ix_digest_sent_channel", "team_id", "channel_id", "cycle"),)

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    local_date: Mapped[date] = mapped_column(Date, primary_key=True)
    claim_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    cycle: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ProcessedEvent(Base):
    """Slack event ids already handled, so retries and duplicate deliveries are dropped."""

    __tablename__ = "processed_events"
    __table_args__ = (Index("ix_processed_events_received", "received_at"),)

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class QueryMiss(Base):
    """A question that matched no claim. No user id on purpose: only what, where and when."""

    __tablename__ = "query_misses"
    __table_args__ = (Index("ix_query_misses_norm", "query_norm"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    query: Mapped[str] = mapped_column(String(QUERY_MAX_CHARS))
    query_norm: Mapped[str] = mapped_column(String(QUERY_MAX_CHARS))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


# slack_sdk's OAuth tables ("Add to Slack"), built by slack_sdk's own table builders into
# our metadata: the stores read and write them, migration 0013a creates them, and the
# models-and-migrations test then also proves that migration matches slack_sdk.
SLACK_INSTALLATIONS = SQLAlchemyInstallationStore.build_installations_table(
    Base.metadata, SQLAlchemyInstallationStore.default_installations_table_name
)
SLACK_BOTS = SQLAlchemyInstallationStore.build_bots_table(
    Base.metadata, SQLAlchemyInstallationStore.default_bots_table_name
)
SLACK_OAUTH_STATES = SQLAlchemyOAuthStateStore.build_oauth_states_table(
    Base.metadata, SQLAlchemyOAuthStateStore.default_table_name
)


class FeedbackVote(Base):
    """One person's latest vote on one claim in one answer (Helpful / Not what I asked / Wrong).

    The person is kept only as ``voter``, a hash of workspace and user id: enough
    to replace their earlier vote on the same answer and claim, and to count
    people, never to name them. ``note`` and ``source_url`` come from the
    "Wrong or outdated" form. ``message_ts`` identifies the answer within its
    channel (an ephemeral answer has one too).
    """

    __tablename__ = "feedback_votes"
    __table_args__ = (
        UniqueConstraint(
            "team_id",
            "enterprise_id",
            "channel_id",
            "message_ts",
            "claim_id",
            "voter",
            name="uq_feedback_vote",
        ),
        Index("ix_feedback_votes_claim", "claim_id", "vote"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str] = mapped_column(String(32), default="")  # "" outside Enterprise Grid
    channel_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    claim_id: Mapped[str] = mapped_column(String(80))
    voter: Mapped[str] = mapped_column(String(64))
    vote: Mapped[str] = mapped_column(String(16))  # bot.feedback.votes.VoteKind
    answer_kind: Mapped[str] = mapped_column(String(16))  # private | shared | thread | digest
    query: Mapped[str] = mapped_column(String(QUERY_MAX_CHARS), default="")
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    source_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ClaimCitation(Base):
    """Where the app showed a claim in public, and what the claim said then.

    Thread replies, shared answers and digests — never private answers. The
    ``content_hash`` (bot.core.revisions) is what a later correction compares
    with; ``thread_ts`` is where a correction would reply.
    """

    __tablename__ = "claim_citations"
    __table_args__ = (
        UniqueConstraint(
            "team_id", "channel_id", "message_ts", "claim_id", name="uq_claim_citation"
        ),
        Index("ix_claim_citations_claim", "claim_id", "posted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str] = mapped_column(String(32), default="")
    channel_id: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    claim_id: Mapped[str] = mapped_column(String(80))
    content_hash: Mapped[str] = mapped_column(String(64))
    reviewed: Mapped[date] = mapped_column(Date)
    evidence: Mapped[str] = mapped_column(String(16), default="")  # level when cited ("was …")
    kind: Mapped[str] = mapped_column(String(16))  # shared | thread | digest
    posted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class CorrectionDelivery(LeasedRowColumns, Base):
    """The corrections ledger: one row per (thread, claim, revision), claimed before posting.

    Held under a lease and fenced by ``attempts`` exactly as the digest ledger
    (:mod:`bot.state.leases`), so each correction reaches its thread once,
    across restarts and processes. ``revision`` is the claim's new content
    hash, or ``withdrawn``.
    """

    __tablename__ = "correction_deliveries"
    __table_args__ = (
        UniqueConstraint(
            "team_id",
            "channel_id",
            "thread_ts",
            "claim_id",
            "revision",
            name="uq_correction_delivery",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32))
    claim_id: Mapped[str] = mapped_column(String(80))
    revision: Mapped[str] = mapped_column(String(64))


class ReplyOutbox(Base):
    """A reply that met a Retry-After (or a deploy) before Slack accepted it.

    Kept so that the next process posts it when the process that computed it
    stops. ``attempts`` is the fencing token, as in :class:`DigestDelivery`:
    every take-over or send attempt increments it, and every update is
    conditional on the value its owner saw. ``reply_key`` travels in a thread
    reply's message metadata, so a process taking over a row that was being
    sent can look for the message before posting it again. No token is kept:
    the workspace's token is looked up when the reply is sent.
    """

    __tablename__ = "reply_outbox"
    __table_args__ = (
        UniqueConstraint("reply_key", name="uq_reply_outbox_key"),
        Index("ix_reply_outbox_due", "status", "lease_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reply_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # bot.outbox.ReplyKind
    team_id: Mapped[str] = mapped_column(String(32), default="")
    enterprise_id: Mapped[str] = mapped_column(String(32), default="")
    channel_id: Mapped[str] = mapped_column(String(32), default="")
    thread_ts: Mapped[str] = mapped_column(String(32), default="")
    response_url: Mapped[str | None] = mapped_column(Text, nullable=True)  # cleared when done
    response_type: Mapped[str] = mapped_column(String(16), default="ephemeral")
    replace_original: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    message: Mapped[dict[str, Any]] = mapped_column(JSON)  # text, blocks, metadata
    cites: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16))  # bot.state.outbox.OutboxStatus
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime] = mapped_column(UtcDateTime)  # others may take it after this
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    message_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
