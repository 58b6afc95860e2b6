"""Settings from the environment: read here and nowhere else, checked before anything starts.

Every process and command (``serve``, the ``clock`` process's ``digest run``,
``ask``, ``report misses``) calls :func:`load_settings` once; nothing else in
``bot/`` reads ``os.environ`` for configuration. A missing or malformed
setting stops start-up with one line naming it and saying where to find the
right value (:class:`~bot.core.errors.SettingsError`); the value itself is
never printed.

Slack settings are required for ``serve`` (``require_slack=True``) and
optional elsewhere — but a value that is present is checked either way, so a
malformed ``SLACK_API_URL`` fails ``digest run`` exactly as it fails ``serve``.
Multi-workspace mode ("Add to Slack") is on exactly when ``SLACK_CLIENT_ID``
is set; then tokens come from installations, not ``SLACK_BOT_TOKEN``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from bot.core.errors import SettingsError
from bot.install.scopes import DEFAULT_SCOPES
from bot.state.db import database_url_from_env

DEFAULT_SLACK_URL = "https://slack.com/"
DEFAULT_API_URL = DEFAULT_SLACK_URL + "api/"
DEFAULT_PORT = 3000
DEFAULT_WEB_CONCURRENCY = 2
DEFAULT_ANSWER_QUEUE = 200
DEFAULT_MISS_RETENTION_DAYS = 90
DEFAULT_DRAIN_SECONDS = 5
DEFAULT_OUTBOX_LEASE_SECONDS = 30
DEFAULT_OUTBOX_INTERVAL_SECONDS = 2
DEFAULT_RELOAD_SECONDS = 30
SUPPORTED_DATABASES = ("sqlite", "postgresql")

_BOT_TOKEN_HINT = (
    "copy the Bot User OAuth Token (xoxb-...) from your app's OAuth & Permissions page"
)
_APP_TOKEN_HINT = "create an app-level token with connections:write (Basic Information page)"
_SECRET_HINT = "copy the Signing Secret from your app's Basic Information page"
_INSTALL_HINT = " (or set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET to let any workspace install it)"


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
    signing_secret: str | None
    app_token: str | None
    port: int
    api_url: str
    database_url: str
    claims_dir: Path | None
    digest_config: Path | None = None  # None: the repository's config/digest.yaml
    web_concurrency: int = DEFAULT_WEB_CONCURRENCY
    answer_queue: int = DEFAULT_ANSWER_QUEUE  # answers waiting for a thread (bot.answers)
    miss_retention_days: int = DEFAULT_MISS_RETENTION_DAYS  # bot.state.housekeeping
    drain_seconds: int = DEFAULT_DRAIN_SECONDS  # SIGTERM: finishing answers (bot.answers)
    outbox_lease_seconds: int = DEFAULT_OUTBOX_LEASE_SECONDS  # bot.outbox
    outbox_interval_seconds: int = DEFAULT_OUTBOX_INTERVAL_SECONDS  # bot.outbox
    reload_seconds: int = DEFAULT_RELOAD_SECONDS  # how often claim files are checked for changes
    oauth: OAuthConfig | None = None

    @property
    def miss_retention(self) -> timedelta:
        return timedelta(days=self.miss_retention_days)

    @property
    def multi_workspace(self) -> bool:
        return self.oauth is not None

    def __repr__(self) -> str:  # never let a token reach a log line through repr()
        return (
            f"Settings(port={self.port}, api_url={self.api_url!r}, claims_dir={self.claims_dir}, "
            f"multi_workspace={self.multi_workspace})"
        )

    def require_bot_token(self, why: str = "") -> str:
        """The bot token, or a SettingsError saying what it is needed for."""
        if not self.bot_token:
            reason = f" ({why})" if why else ""
            raise SettingsError(f"SLACK_BOT_TOKEN is not set{reason}: {_BOT_TOKEN_HINT}")
        return self.bot_token


def _value(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def _required(env: Mapping[str, str], name: str, hint: str) -> str:
    value = _value(env, name)
    if not value:
        raise SettingsError(f"{name} is not set: {hint}")
    return value


def _token(value: str, name: str, prefix: str) -> str:
    if not re.fullmatch(rf"{prefix}-[A-Za-z0-9-]+", value):
        raise SettingsError(f"{name} is malformed: expected a token starting with '{prefix}-'")
    return value


def _optional_token(env: Mapping[str, str], name: str, prefix: str) -> str | None:
    value = _value(env, name)
    return _token(value, name, prefix) if value else None


def _signing_secret(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9]{16,128}", value):
        raise SettingsError(
            "SLACK_SIGNING_SECRET is malformed: expected 16-128 letters/digits "
            "(the Signing Secret, not the Verification Token)"
        )
    return value


def _number(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = _value(env, name) or str(default)
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SettingsError(f"{name} is malformed: expected a number from {low} to {high}")
    return int(raw)


def _http_url(env: Mapping[str, str], name: str, default: str) -> str:
    """An http(s) URL ending in ``/`` (so relative paths join onto it)."""
    url = _value(env, name) or default
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(f"{name} is malformed: expected an http(s) URL")
    return url if url.endswith("/") else url + "/"


def _database_url(env: Mapping[str, str]) -> str:
    url = database_url_from_env(dict(env))
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise SettingsError(
            "DATABASE_URL is malformed: expected sqlite:///path/to/file.sqlite3 "
            "or postgresql://user:password@host/database"
        ) from None
    if backend not in SUPPORTED_DATABASES:
        raise SettingsError(
            f"DATABASE_URL uses {backend!r}, which is not supported: "
            "use sqlite:///path/to/file.sqlite3 or postgresql://user:password@host/database"
        )
    return url


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = _value(env, name)
    return Path(value) if value else None


def _oauth(env: Mapping[str, str], slack_url: str) -> OAuthConfig | None:
    """Multi-workspace mode is on exactly when ``SLACK_CLIENT_ID`` is set."""
    client_id = _value(env, "SLACK_CLIENT_ID")
    if not client_id:
        return None
    if not re.fullmatch(r"[0-9]+\.[0-9]+", client_id):
        raise SettingsError(
            "SLACK_CLIENT_ID is malformed: expected digits.digits (Basic Information page)"
        )
    secret = _required(
        env, "SLACK_CLIENT_SECRET", "copy the Client Secret from your app's Basic Information page"
    )
    raw_scopes = _value(env, "SLACK_SCOPES")
    scopes = tuple(s.strip() for s in raw_scopes.split(",") if s.strip()) or DEFAULT_SCOPES
    if any(not re.fullmatch(r"[a-z_.:]+", s) for s in scopes):
        raise SettingsError("SLACK_SCOPES is malformed: expected comma-separated scope names")
    return OAuthConfig(client_id, secret, scopes, slack_url)


def _bot_token(env: Mapping[str, str], required: bool) -> str | None:
    if not required:
        return _optional_token(env, "SLACK_BOT_TOKEN", "xoxb")
    value = _required(env, "SLACK_BOT_TOKEN", _BOT_TOKEN_HINT + _INSTALL_HINT)
    return _token(value, "SLACK_BOT_TOKEN", "xoxb")


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    socket_mode: bool = False,
    port: int | None = None,
    require_slack: bool = True,
) -> Settings:
    """Every setting, checked; ``require_slack`` demands the credentials ``serve`` needs."""
    env = os.environ if env is None else env
    slack_url = _http_url(env, "SLACK_BASE_URL", DEFAULT_SLACK_URL)
    oauth = _oauth(env, slack_url)
    if oauth is not None and socket_mode:
        raise SettingsError(
            "SLACK_CLIENT_ID is set: installing with 'Add to Slack' needs HTTP mode; "
            "run without --socket"
        )
    # Multi-workspace mode ignores SLACK_BOT_TOKEN: tokens come from installations.
    bot_token = None if oauth is not None else _bot_token(env, require_slack)
    app_token = _optional_token(env, "SLACK_APP_TOKEN", "xapp")
    if socket_mode and app_token is None:
        raise SettingsError(f"SLACK_APP_TOKEN is not set: {_APP_TOKEN_HINT}")
    signing_secret = _value(env, "SLACK_SIGNING_SECRET") or None
    if require_slack and not socket_mode and signing_secret is None:
        raise SettingsError(f"SLACK_SIGNING_SECRET is not set: {_SECRET_HINT}")
    if signing_secret is not None and not socket_mode:
        _signing_secret(signing_secret)
    return Settings(
        bot_token=bot_token,
        signing_secret=signing_secret,
        app_token=app_token,
        port=port if port is not None else _number(env, "PORT", DEFAULT_PORT, 1, 65535),
        api_url=_http_url(env, "SLACK_API_URL", slack_url + "api/"),
        database_url=_database_url(env),
        claims_dir=_path(env, "AI_RACE_CLAIMS"),
        digest_config=_path(env, "AI_RACE_DIGEST_CONFIG"),
        web_concurrency=_number(env, "WEB_CONCURRENCY", DEFAULT_WEB_CONCURRENCY, 1, 64),
        answer_queue=_number(env, "AI_RACE_ANSWER_QUEUE", DEFAULT_ANSWER_QUEUE, 1, 100_000),
        miss_retention_days=_number(
            env, "AI_RACE_MISS_RETENTION_DAYS", DEFAULT_MISS_RETENTION_DAYS, 1, 36_500
        ),
        drain_seconds=_number(env, "AI_RACE_DRAIN_SECONDS", DEFAULT_DRAIN_SECONDS, 0, 60),
        outbox_lease_seconds=_number(
            env, "AI_RACE_OUTBOX_LEASE_SECONDS", DEFAULT_OUTBOX_LEASE_SECONDS, 1, 3600
        ),
        outbox_interval_seconds=_number(
            env, "AI_RACE_OUTBOX_INTERVAL_SECONDS", DEFAULT_OUTBOX_INTERVAL_SECONDS, 1, 300
        ),
        reload_seconds=_number(env, "AI_RACE_RELOAD_SECONDS", DEFAULT_RELOAD_SECONDS, 1, 3600),
        oauth=oauth,
    )


__all__ = ["DEFAULT_API_URL", "OAuthConfig", "Settings", "SettingsError", "load_settings"]
