"""Initial schema: digest subscriptions, delivery ledger, rotation history, events, misses.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _create_subscriptions() -> None:
    """Channels that get a daily digest, and when."""
    op.create_table(
        "digest_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("time", sa.String(5), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("days", sa.String(16), nullable=False),
        sa.Column("claims_per_digest", sa.Integer(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("paused_reason", sa.String(200), nullable=True),
        sa.Column("paused_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("team_id", "channel_id", name="uq_digest_sub_channel"),
    )


def _create_deliveries() -> None:
    """The ledger: one row per channel and local day, leased while it is being posted."""
    op.create_table(
        "digest_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claim_ids", sa.JSON(), nullable=False),
        sa.Column("claim_cycles", sa.JSON(), nullable=False),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=False),
        sa.Column("posted_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.UniqueConstraint("team_id", "channel_id", "local_date", name="uq_digest_delivery_day"),
    )
    op.create_index("ix_digest_deliveries_status", "digest_deliveries", ["status"])


def _create_sent_claims() -> None:
    """Which claims went to which channel on which day (the rotation's memory)."""
    op.create_table(
        "digest_sent_claims",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("channel_id", sa.String(32), primary_key=True),
        sa.Column("local_date", sa.Date(), primary_key=True),
        sa.Column("claim_id", sa.String(80), primary_key=True),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "ix_digest_sent_channel", "digest_sent_claims", ["team_id", "channel_id", "cycle"]
    )


def _create_processed_events() -> None:
    """Slack event ids already handled, so a retried event is answered once."""
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_processed_events_received", "processed_events", ["received_at"])


def _create_query_misses() -> None:
    """Questions that matched nothing, for the claim authors' report."""
    op.create_table(
        "query_misses",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("query", sa.String(500), nullable=False),
        sa.Column("query_norm", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_query_misses_norm", "query_misses", ["query_norm"])
    op.create_index("ix_query_misses_created_at", "query_misses", ["created_at"])


def upgrade() -> None:
    _create_subscriptions()
    _create_deliveries()
    _create_sent_claims()
    _create_processed_events()
    _create_query_misses()


def downgrade() -> None:
    op.drop_table("query_misses")
    op.drop_table("processed_events")
    op.drop_table("digest_sent_claims")
    op.drop_table("digest_deliveries")
    op.drop_table("digest_subscriptions")
