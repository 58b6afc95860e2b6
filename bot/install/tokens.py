"""Each workspace's bot token, for work that runs outside a Slack request (the digest).

Inside a request Bolt's authorize step finds the token; the digest runner has
only a subscription's team id, so it asks here. The lookup is slack_sdk's
``find_bot`` on the same installation store the OAuth flow writes, and
:meth:`InstalledTokens.forget` is what an ``invalid_auth``/``token_revoked``
answer means: the same as an uninstall (the installation goes, the team's
digests pause until it installs again).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.context import BoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Engine

from bot.state.workspaces import TokenLoss, pause_workspace_digests

log = logging.getLogger(__name__)

REFUSED = frozenset(loss.value for loss in TokenLoss)
"""Slack error codes that mean the token itself is dead (not a rate limit, not an outage)."""


class InstalledTokens:
    """``token(team_id)`` from the installation store; ``forget`` on a dead token."""

    def __init__(self, client_id: str, engine: Engine) -> None:
        self.engine = engine
        self.store = SQLAlchemyInstallationStore(client_id=client_id, engine=engine)

    def token(self, team_id: str) -> str | None:
        bot = self.store.find_bot(enterprise_id=None, team_id=team_id)
        return bot.bot_token if bot is not None else None

    def forget(self, team_id: str, reason: TokenLoss) -> None:
        """Slack refused the team's token: delete its installation, pause its digests."""
        self.store.delete_all(enterprise_id=None, team_id=team_id)
        count = pause_workspace_digests(self.engine, team_id, reason)
        log.warning(
            "token of team %s refused (%s): installation removed, %d digests paused",
            team_id,
            reason,
            count,
        )


class ForgettingAuthorize(InstallationStoreAuthorize):
    """Bolt's authorize step, plus: a stored token Slack now refuses is forgotten.

    Bolt checks each request's token with ``auth.test`` and, when Slack
    refuses it, treats the team as not installed (the person sees our "not
    installed" message) but keeps the dead row. Only then do we ask Slack
    once more for the exact error, and on ``invalid_auth``/``token_revoked``/
    ``account_inactive`` forget the installation and pause the team's digests,
    as if it had been uninstalled. A rate limit or an outage forgets nothing.
    """

    def __init__(self, tokens: InstalledTokens, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokens = tokens

    def __call__(self, *, context: BoltContext, **kwargs: Any) -> AuthorizeResult | None:
        result = super().__call__(context=context, **kwargs)
        team_id = kwargs.get("team_id")
        if result is not None or not team_id or kwargs.get("enterprise_id"):
            return result
        token = self.tokens.token(team_id)
        if token is None:
            return None  # simply not installed
        try:
            context.client.auth_test(token=token)
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error in REFUSED:
                self.tokens.forget(team_id, TokenLoss(error))
        return None
