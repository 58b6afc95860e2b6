"""The reply outbox: replies still waiting for Slack survive a deploy or a crash.

Revision ID: 0015a
Revises: 0014d
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015a"
down_revision: str | None = "0014d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reply_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("reply_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False),
        sa.Column("response_url", sa.Text(), nullable=True),
        sa.Column("response_type", sa.String(16), nullable=False),
        sa.Column("replace_original", sa.Boolean(), nullable=True),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("cites", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.UniqueConstraint("reply_key", name="uq_reply_outbox_key"),
    )
    op.create_index("ix_reply_outbox_due", "reply_outbox", ["status", "lease_until"])


def downgrade() -> None:
    op.drop_index("ix_reply_outbox_due", table_name="reply_outbox")
    op.drop_table("reply_outbox")
