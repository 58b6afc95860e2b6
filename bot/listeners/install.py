"""``app_uninstalled`` and ``tokens_revoked``: forget the workspace's token, pause its digests.

Bolt's own ``TokenRevocationListeners`` delete the rows from the
installation store; we then pause the workspace's digests with the reason,
so ``digest status`` explains the silence and a reinstall resumes them.
Registered only in multi-workspace mode (there is no installation store
with a single ``SLACK_BOT_TOKEN``).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.listener.builtins import TokenRevocationListeners

from bot.services import Services
from bot.state.workspaces import TokenLoss, pause_workspace_digests


def register(app: App) -> None:
    store = app.installation_store
    if store is None:
        return
    builtin = TokenRevocationListeners(store)

    @app.event("app_uninstalled")
    def uninstalled(context: BoltContext) -> None:
        builtin.handle_app_uninstalled_events(context)
        _pause(context, TokenLoss.APP_UNINSTALLED)

    @app.event("tokens_revoked")
    def revoked(event: dict[str, Any], context: BoltContext) -> None:
        builtin.handle_tokens_revoked_events(event, context)
        if (event.get("tokens") or {}).get("bot"):
            _pause(context, TokenLoss.TOKENS_REVOKED)


def _pause(context: BoltContext, reason: TokenLoss) -> None:
    services: Services = context["services"]
    team_id = context.team_id or context.enterprise_id
    if team_id:
        count = pause_workspace_digests(services.engine, team_id, reason)
        context.logger.info("%s in team %s: %d digests paused", reason, team_id, count)
