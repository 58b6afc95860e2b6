"""Bolt's OAuth flow on our database, with our pages and our reinstall rule.

Everything protocol-shaped is Bolt's and slack_sdk's: ``OAuthFlow`` issues
the ``state`` (stored in ``slack_oauth_states`` and bound to the browser by a
cookie), checks and consumes it once on the way back (so a reused or expired
link fails), trades the code at ``oauth.v2.access`` and saves the installation
with ``SQLAlchemyInstallationStore``; Bolt's authorize step then looks up each
request's team (and enterprise) token there. We add only what is ours: the
install page, one failure page per cause, and resuming the digests that an
uninstall paused when the workspace installs again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_bolt import BoltResponse
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.request import BoltRequest
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import Engine

from bot.install import pages
from bot.install.tokens import ForgettingAuthorize, InstalledTokens
from bot.settings import OAuthConfig
from bot.state.workspaces import resume_workspace_digests

log = logging.getLogger(__name__)

STATE_EXPIRATION_SECONDS = 600  # Slack's own examples use 10 minutes
_HTML = "text/html; charset=utf-8"


class InstallFlow(OAuthFlow):
    """Bolt's ``OAuthFlow`` with our install page instead of its one-line default."""

    def __init__(self, *, settings: OAuthSettings, scopes: tuple[str, ...]) -> None:
        super().__init__(settings=settings)
        self.scopes = scopes

    def build_install_page_html(self, url: str, request: BoltRequest) -> str:
        return pages.install_page(url, self.scopes)


class _Callbacks:
    """Success and failure pages; a success also resumes digests paused by an uninstall."""

    def __init__(self, engine: Engine, slack_url: str) -> None:
        self.engine = engine
        self.slack_url = slack_url

    def _cookie_cleared(self, settings: OAuthSettings) -> dict[str, str | Sequence[str]]:
        return {
            "Content-Type": _HTML,
            "Set-Cookie": settings.state_utils.build_set_cookie_for_deletion(),
        }

    def success(self, args: SuccessArgs) -> BoltResponse:
        installation = args.installation
        team_id = installation.team_id or installation.enterprise_id
        resumed = resume_workspace_digests(self.engine, team_id) if team_id else 0
        log.info("installed in team %s (%d paused digests resumed)", team_id, resumed)
        app_url = (
            f"{self.slack_url}app_redirect?app={installation.app_id}&team={installation.team_id}"
            if installation.app_id and installation.team_id
            else None
        )
        body = pages.success_page(installation.team_name, app_url)
        return BoltResponse(status=200, body=body, headers=self._cookie_cleared(args.settings))

    def failure(self, args: FailureArgs) -> BoltResponse:
        failure = pages.failure_for(args.reason)
        log.warning("install failed: %s (%s)", args.reason, failure)
        status = 200 if failure is pages.Failure.CANCELLED else args.suggested_status_code
        body = pages.failure_page(failure)
        return BoltResponse(status=status, body=body, headers=self._cookie_cleared(args.settings))


def build_install_flow(config: OAuthConfig, engine: Engine) -> InstallFlow:
    """The flow for ``/slack/install`` and ``/slack/oauth_redirect``, storing in ``engine``."""
    callbacks = _Callbacks(engine, config.slack_url)
    settings = OAuthSettings(
        client_id=config.client_id,
        client_secret=config.client_secret,
        scopes=list(config.scopes),
        user_scopes=[],
        authorization_url=config.authorize_url,
        installation_store=SQLAlchemyInstallationStore(client_id=config.client_id, engine=engine),
        installation_store_bot_only=True,
        state_store=SQLAlchemyOAuthStateStore(
            expiration_seconds=STATE_EXPIRATION_SECONDS, engine=engine
        ),
        state_expiration_seconds=STATE_EXPIRATION_SECONDS,
        callback_options=CallbackOptions(success=callbacks.success, failure=callbacks.failure),
    )
    # Bolt's own authorize step on the same store, which also forgets refused tokens.
    settings.authorize = ForgettingAuthorize(
        InstalledTokens(config.client_id, engine),
        logger=logging.getLogger("slack_bolt.authorize"),
        client_id=config.client_id,
        client_secret=config.client_secret,
        installation_store=settings.installation_store,
        bot_only=True,
    )
    return InstallFlow(settings=settings, scopes=config.scopes)
