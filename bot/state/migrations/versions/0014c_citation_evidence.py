"""Citations keep the evidence level they showed, so a correction can say what it was.

Revision ID: 0014c
Revises: 0014b
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014c"
down_revision: str | None = "0014b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("claim_citations") as batch:
        batch.add_column(sa.Column("evidence", sa.String(16), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("claim_citations") as batch:
        batch.drop_column("evidence")
