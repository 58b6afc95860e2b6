"""What an uninstall or a revoked token means for a workspace's digests.

Uninstalling the app, revoking its tokens, or a token that Slack answers
``invalid_auth``/``token_revoked`` for all leave the workspace's digests
unable to post. They are *paused with the reason* rather than deleted, so
``digest status`` can say why, and a reinstall (a fresh, working token)
resumes exactly those, never a channel someone paused on purpose.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine, update

from bot.state.models import DigestSubscription, utcnow


class TokenLoss(StrEnum):
    """Pause reasons that mean "this workspace's token is gone", not "this channel"."""

    APP_UNINSTALLED = "app_uninstalled"
    TOKENS_REVOKED = "tokens_revoked"
    INVALID_AUTH = "invalid_auth"
    TOKEN_REVOKED = "token_revoked"
    ACCOUNT_INACTIVE = "account_inactive"
    NOT_INSTALLED = "not_installed"  # a subscription whose workspace has no installation


def pause_workspace_digests(
    engine: Engine, team_id: str, reason: TokenLoss, *, now: datetime | None = None
) -> int:
    """Pause every active digest of ``team_id`` with ``reason``; returns how many."""
    now = now or utcnow()
    with engine.begin() as connection:
        result = connection.execute(
            update(DigestSubscription)
            .where(
                DigestSubscription.team_id == team_id,
                DigestSubscription.paused_reason.is_(None),
            )
            .values(paused_reason=reason.value, paused_at=now, updated_at=now)
        )
        return result.rowcount


def resume_workspace_digests(engine: Engine, team_id: str, *, now: datetime | None = None) -> int:
    """Resume the digests of ``team_id`` that a lost token paused; returns how many."""
    now = now or utcnow()
    with engine.begin() as connection:
        result = connection.execute(
            update(DigestSubscription)
            .where(
                DigestSubscription.team_id == team_id,
                DigestSubscription.paused_reason.in_([r.value for r in TokenLoss]),
            )
            .values(paused_reason=None, paused_at=None, updated_at=now)
        )
        return result.rowcount
