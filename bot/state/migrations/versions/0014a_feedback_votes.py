"""Feedback on answers: one row per person, answer and claim (latest vote wins).

Revision ID: 0014a
Revises: 0013a
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014a"
down_revision: str | None = "0013a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback_votes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("message_ts", sa.String(32), nullable=False),
        sa.Column("claim_id", sa.String(80), nullable=False),
        sa.Column("voter", sa.String(64), nullable=False),
        sa.Column("vote", sa.String(16), nullable=False),
        sa.Column("answer_kind", sa.String(16), nullable=False),
        sa.Column("query", sa.String(500), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source_url", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint(
            "team_id",
            "enterprise_id",
            "channel_id",
            "message_ts",
            "claim_id",
            "voter",
            name="uq_feedback_vote",
        ),
    )
    op.create_index("ix_feedback_votes_claim", "feedback_votes", ["claim_id", "vote"])
    op.create_index("ix_feedback_votes_created_at", "feedback_votes", ["created_at"])


def downgrade() -> None:
    op.drop_table("feedback_votes")
