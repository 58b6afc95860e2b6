"""Where claims were shown in public, with their content hash (for corrections).

Revision ID: 0014b
Revises: 0014a
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014b"
down_revision: str | None = "0014a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_citations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("enterprise_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=False),
        sa.Column("message_ts", sa.String(32), nullable=False),
        sa.Column("claim_id", sa.String(80), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("reviewed", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("posted_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint(
            "team_id", "channel_id", "message_ts", "claim_id", name="uq_claim_citation"
        ),
    )
    op.create_index("ix_claim_citations_claim", "claim_citations", ["claim_id", "posted_at"])
    op.create_index("ix_claim_citations_posted_at", "claim_citations", ["posted_at"])


def downgrade() -> None:
    op.drop_table("claim_citations")
