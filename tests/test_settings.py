"""``load_settings(env=…)``: every setting read in one place, every mistake one line naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.errors import EXIT_USAGE, SettingsError
from bot.settings import DEFAULT_API_URL, load_settings

TOKEN = "xoxb-1234-abcd"
SECRET = "abcdef0123456789abcdef"
SERVE = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET}


def test_defaults_and_normalisation() -> None:
    settings = load_settings(
        {**SERVE, "SLACK_API_URL": "http://127.0.0.1:9/api", "DATABASE_URL": "postgres://u@h/db"}
    )
    assert settings.api_url == "http://127.0.0.1:9/api/"
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert (settings.port, settings.web_concurrency, settings.claims_dir) == (3000, 2, None)
    assert settings.digest_config is None and settings.reload_seconds == 30
    assert TOKEN not in repr(settings) and SECRET not in repr(settings)


def test_paths_and_numbers_come_from_the_environment(tmp_path: Path) -> None:
    env = {
        "AI_RACE_CLAIMS": str(tmp_path / "claims"),
        "AI_RACE_DIGEST_CONFIG": str(tmp_path / "digest.yaml"),
        "PORT": "8080",
        "WEB_CONCURRENCY": "4",
        "AI_RACE_RELOAD_SECONDS": "5",
    }
    settings = load_settings(env, require_slack=False)
    assert settings.reload_seconds == 5
    assert settings.claims_dir == tmp_path / "claims"
    assert settings.digest_config == tmp_path / "digest.yaml"
    assert (settings.port, settings.web_concurrency, settings.bot_token) == (8080, 4, None)
    assert settings.api_url == DEFAULT_API_URL


@pytest.mark.parametrize(
    ("env", "require_slack", "expected"),
    [
        ({}, True, "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token"),
        ({**SERVE, "SLACK_BOT_TOKEN": "xoxp-user"}, True, "SLACK_BOT_TOKEN is malformed"),
        ({"SLACK_BOT_TOKEN": "xoxp-user"}, False, "SLACK_BOT_TOKEN is malformed"),
        ({"SLACK_BOT_TOKEN": TOKEN}, True, "SLACK_SIGNING_SECRET is not set"),
        ({**SERVE, "SLACK_SIGNING_SECRET": "short"}, True, "SLACK_SIGNING_SECRET is malformed"),
        ({**SERVE, "SLACK_API_URL": "ftp://x"}, True, "SLACK_API_URL is malformed"),
        ({"SLACK_API_URL": "slack.com"}, False, "SLACK_API_URL is malformed"),
        ({**SERVE, "PORT": "http"}, True, "PORT is malformed: expected a number from 1 to 65535"),
        ({"WEB_CONCURRENCY": "0"}, False, "WEB_CONCURRENCY is malformed"),
        ({"AI_RACE_RELOAD_SECONDS": "0.5"}, False, "AI_RACE_RELOAD_SECONDS is malformed"),
        ({"DATABASE_URL": "garbage"}, False, "DATABASE_URL is malformed: expected sqlite:///"),
        ({"DATABASE_URL": "mysql://x"}, False, "DATABASE_URL uses 'mysql', which is not supp"),
    ],
)
def test_each_mistake_is_one_line_naming_the_setting(
    env: dict[str, str], require_slack: bool, expected: str
) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(env, require_slack=require_slack)
    message = str(error.value)
    assert message.startswith(expected) and "\n" not in message
    assert error.value.exit_code == EXIT_USAGE
    assert "xoxp-user" not in message and "short" not in message


def test_socket_mode_needs_the_app_token_not_the_signing_secret() -> None:
    with pytest.raises(SettingsError, match="SLACK_APP_TOKEN is not set"):
        load_settings({"SLACK_BOT_TOKEN": TOKEN}, socket_mode=True)
    settings = load_settings(
        {"SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": "xapp-1-A"}, socket_mode=True
    )
    assert settings.app_token == "xapp-1-A" and settings.signing_secret is None


def test_a_token_is_demanded_only_where_it_is_needed() -> None:
    settings = load_settings({}, require_slack=False)
    with pytest.raises(SettingsError, match=r"SLACK_BOT_TOKEN is not set \(to post\)"):
        settings.require_bot_token("to post")
