"""The "Add to Slack" half of the mock Slack: an authorize page and ``oauth.v2.access``.

Like slack.com: ``GET /oauth/v2/authorize?client_id=…&scope=…&state=…`` shows
what the app asks for and one "Allow" link per workspace the person belongs
to, plus "Cancel"; each link goes back to the app's redirect URL with a
one-time ``code`` (or ``error=access_denied``) and the ``state`` untouched.
``oauth.v2.access`` trades a code, once, for that workspace's bot token when
the client id and secret are right (HTTP Basic, as slack_sdk sends them).
``auth.test`` then answers for the workspace that owns the token.

Tests configure ``client_id``/``client_secret``/``redirect_uri`` (what a real
app's settings page holds) and ``add_workspace()`` the workspaces.
"""

from __future__ import annotations

import base64
import html
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode


@dataclass(frozen=True)
class Workspace:
    team_id: str
    name: str
    bot_token: str
    enterprise_id: str | None = None


class OAuthMixin:
    """Mixed into ``MockSlack``; all state is guarded by the mock's lock."""

    app_id = "A1"
    client_id = "1111.2222"
    client_secret = "mock-client-secret-0123456789"
    redirect_uri: str | None = None

    def _init_oauth(self) -> None:
        self.workspaces: dict[str, Workspace] = {}
        self._codes: dict[str, str] = {}  # code -> team id; each works once

    def add_workspace(self, team_id: str, name: str, bot_token: str) -> Workspace:
        workspace = Workspace(team_id, name, bot_token)
        self.workspaces[team_id] = workspace
        return workspace

    def workspace_for_token(self, token: str | None) -> Workspace | None:
        return next((w for w in self.workspaces.values() if w.bot_token == token), None)

    # ------------------------------------------------------------------ authorize page

    def _authorize_page(self, params: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        page = {"Content-Type": "text/html; charset=utf-8"}
        redirect = params.get("redirect_uri") or self.redirect_uri
        if params.get("client_id") != self.client_id or not redirect:
            body = "<!DOCTYPE html><title>Error</title><h1>invalid_client_id</h1>"
            return 400, page, body.encode()
        state = params.get("state", "")
        links = []
        for workspace in self.workspaces.values():
            code = secrets.token_hex(8)
            self._codes[code] = workspace.team_id
            href = f"{redirect}?{urlencode({'code': code, 'state': state})}"
            links.append(
                f'<li><a id="allow-{workspace.team_id}" href="{html.escape(href)}">'
                f"Allow in {html.escape(workspace.name)}</a></li>"
            )
        cancel = f"{redirect}?{urlencode({'error': 'access_denied', 'state': state})}"
        scopes = html.escape(params.get("scope", ""))
        body = (
            '<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width">'
            "<title>Slack: install app</title></head><body>"
            f"<h1>Allow the app to access your workspace?</h1><p>Scopes: {scopes}</p>"
            f"<ul>{''.join(links)}</ul>"
            f'<a id="cancel" href="{html.escape(cancel)}">Cancel</a></body></html>'
        )
        return 200, page, body.encode()

    # ------------------------------------------------------------------ oauth.v2.access

    def _client_credentials(self, params: dict[str, Any], headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if auth.startswith("Basic "):
            try:
                given = base64.b64decode(auth[len("Basic ") :]).decode()
            except ValueError:
                return False
            return given == f"{self.client_id}:{self.client_secret}"
        return (params.get("client_id"), params.get("client_secret")) == (
            self.client_id,
            self.client_secret,
        )

    def _oauth_v2_access(self, params: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        if not self._client_credentials(params, headers):
            return {"ok": False, "error": "invalid_client"}
        team_id = self._codes.pop(str(params.get("code", "")), None)
        workspace = self.workspaces.get(team_id or "")
        if workspace is None:
            return {"ok": False, "error": "invalid_code"}
        return {
            "ok": True,
            "app_id": self.app_id,
            "authed_user": {"id": "U123"},
            "scope": "commands,app_mentions:read,chat:write",
            "token_type": "bot",
            "access_token": workspace.bot_token,
            "bot_user_id": "UBOT",
            "team": {"id": workspace.team_id, "name": workspace.name},
            "enterprise": None,
            "is_enterprise_install": False,
        }
