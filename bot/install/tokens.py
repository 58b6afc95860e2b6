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

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Engine

from bot.state.workspaces import TokenLoss, pause_workspace_digests

log = logging.getLogger(__name__)


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
