"""Settings from the environment, checked before anything starts.

A missing or malformed setting stops start-up with one line naming it and
saying where to find the right value; the value itself is never printed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from bot.install.scopes import DEFAULT_SCOPES
from bot.state.db import database_url_from_env

DEFAULT_SLACK_URL = "https://slack.com/"
DEFAULT_API_URL = DEFAULT_SLACK_URL + "api/"


class SettingsError(Exception):
    """One line, naming the setting; safe to print (never contains a secret)."""


@dataclass(frozen=True)
class OAuthConfig:
    """Multi-workspace ("Add to Slack") credentials, with Bolt's variable names."""

    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    slack_url: str  # ``SLACK_BASE_URL``: slack.com, or a stand-in for tests and emulators

    @property
    def authorize_url(self) -> str:
        return self.slack_url + "oauth/v2/authorize"

    def __repr__(self) -> str:
        return f"OAuthConfig(scopes={self.scopes!r}, slack_url={self.slack_url!r})"


@dataclass(frozen=True)
class Settings:
    bot_token: str | None  # None in multi-workspace mode: each team's token is in the database
    signing_secret: str
    app_token: str | None
    port: int
    api_url: str
    database_url: str
    claims_dir: Path | None
    answer_queue: int = 200
    oauth: OAuthConfig | None = None

    @property
    def multi_workspace(self) -> bool:
        return self.oauth is not None

    def __repr__(self) -> str:  # never let a token reach a log line through repr()
        return (
            f"Settings(port={self.port}, api_url={self.api_url!r}, claims_dir={self.claims_dir}, "
            f"multi_workspace={self.multi_workspace})"
        )


def _required(env: Mapping[str, str], name: str, hint: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is not set: {hint}")
    return value


def _token(env: Mapping[str, str], name: str, prefix: str, hint: str) -> str:
    value = _required(env, name, hint)
    if not re.fullmatch(rf"{prefix}-[A-Za-z0-9-]+", value):
        raise SettingsError(f"{name} is malformed: expected a token starting with '{prefix}-'")
    return value


def _http_url(env: Mapping[str, str], name: str, default: str) -> str:
    """An http(s) URL ending in ``/`` (so relative paths join onto it)."""
    url = env.get(name, "").strip() or default
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(f"{name} is malformed: expected an http(s) URL")
    return url if url.endswith("/") else url + "/"


def _oauth(env: Mapping[str, str], slack_url: str) -> OAuthConfig | None:
    """Multi-workspace mode is on exactly when ``SLACK_CLIENT_ID`` is set."""
    client_id = env.get("SLACK_CLIENT_ID", "").strip()
    if not client_id:
        return None
    if not re.fullmatch(r"[0-9]+\.[0-9]+", client_id):
        raise SettingsError(
            "SLACK_CLIENT_ID is malformed: expected digits.digits (Basic Information page)"
        )
    secret = _required(
        env, "SLACK_CLIENT_SECRET", "copy the Client Secret from your app's Basic Information page"
    )
    raw_scopes = env.get("SLACK_SCOPES", "").strip()
    scopes = tuple(s.strip() for s in raw_scopes.split(",") if s.strip()) or DEFAULT_SCOPES
    if any(not re.fullmatch(r"[a-z_.:]+", s) for s in scopes):
        raise SettingsError("SLACK_SCOPES is malformed: expected comma-separated scope names")
    return OAuthConfig(client_id, secret, scopes, slack_url)


def load_settings(
    env: Mapping[str, str] | None = None, *, socket_mode: bool = False, port: int | None = None
) -> Settings:
    env = os.environ if env is None else env
    slack_url = _http_url(env, "SLACK_BASE_URL", DEFAULT_SLACK_URL)
    oauth = _oauth(env, slack_url)
    if oauth is not None and socket_mode:
        raise SettingsError(
            "SLACK_CLIENT_ID is set: installing with 'Add to Slack' needs HTTP mode; "
            "run without --socket"
        )
    bot_token = None  # multi-workspace mode ignores SLACK_BOT_TOKEN: tokens come from installs
    if oauth is None:
        bot_token = _token(
            env,
            "SLACK_BOT_TOKEN",
            "xoxb",
            "copy the Bot User OAuth Token (xoxb-...) from your app's OAuth & Permissions page"
            " (or set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET to let any workspace install it)",
        )
    app_token = None
    if socket_mode:
        app_token = _token(
            env,
            "SLACK_APP_TOKEN",
            "xapp",
            "create an app-level token with connections:write (Basic Information page)",
        )
        signing_secret = env.get("SLACK_SIGNING_SECRET", "").strip()
    else:
        signing_secret = _required(
            env,
            "SLACK_SIGNING_SECRET",
            "copy the Signing Secret from your app's Basic Information page",
        )
        if not re.fullmatch(r"[A-Za-z0-9]{16,128}", signing_secret):
            raise SettingsError("SLACK_SIGNING_SECRET is malformed: expected 16-128 letters/digits")
    if port is None:
        raw_port = env.get("PORT", "3000").strip() or "3000"
        if not raw_port.isdigit() or not 1 <= int(raw_port) <= 65535:
            raise SettingsError("PORT is malformed: expected a number from 1 to 65535")
        port = int(raw_port)
    api_url = _http_url(env, "SLACK_API_URL", slack_url + "api/")
    claims = env.get("AI_RACE_CLAIMS", "").strip()
    raw_queue = env.get("AI_RACE_ANSWER_QUEUE", "200").strip() or "200"
    if not raw_queue.isdigit() or int(raw_queue) < 1:
        raise SettingsError("AI_RACE_ANSWER_QUEUE is malformed: expected a positive number")
    return Settings(
        bot_token=bot_token,
        signing_secret=signing_secret,
        app_token=app_token,
        port=port,
        api_url=api_url,
        database_url=database_url_from_env(dict(env)),
        claims_dir=Path(claims) if claims else None,
        answer_queue=int(raw_queue),
        oauth=oauth,
    )
