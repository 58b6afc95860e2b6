"""Which mode the settings choose, and how they say what is wrong (never the secret)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.install.scopes import DEFAULT_SCOPES, SCOPE_REASONS
from bot.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[1]
SINGLE = {"SLACK_BOT_TOKEN": "xoxb-1-abc", "SLACK_SIGNING_SECRET": "abcdef0123456789abcdef"}
MULTI = {
    "SLACK_CLIENT_ID": "1234.5678",
    "SLACK_CLIENT_SECRET": "the-client-secret-value",
    "SLACK_SIGNING_SECRET": "abcdef0123456789abcdef",
}


def test_a_bot_token_without_client_id_is_single_workspace_mode_as_before() -> None:
    settings = load_settings(SINGLE)
    assert settings.bot_token == "xoxb-1-abc" and settings.oauth is None
    assert settings.api_url == "https://slack.com/api/"


def test_a_client_id_turns_on_add_to_slack_with_the_manifest_scopes() -> None:
    settings = load_settings(MULTI)
    assert settings.multi_workspace and settings.bot_token is None
    assert settings.oauth is not None
    assert settings.oauth.scopes == DEFAULT_SCOPES
    assert settings.oauth.authorize_url == "https://slack.com/oauth/v2/authorize"
    assert "the-client-secret-value" not in repr(settings) + repr(settings.oauth)


def test_the_slack_base_url_moves_authorize_and_the_web_api_together() -> None:
    settings = load_settings({**MULTI, "SLACK_BASE_URL": "http://127.0.0.1:9/"})
    assert settings.oauth is not None
    assert settings.oauth.authorize_url == "http://127.0.0.1:9/oauth/v2/authorize"
    assert settings.api_url == "http://127.0.0.1:9/api/"


def test_scopes_can_be_narrowed() -> None:
    settings = load_settings({**MULTI, "SLACK_SCOPES": "commands, chat:write"})
    assert settings.oauth is not None and settings.oauth.scopes == ("commands", "chat:write")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({**MULTI, "SLACK_CLIENT_SECRET": ""}, "SLACK_CLIENT_SECRET is not set"),
        ({**MULTI, "SLACK_CLIENT_ID": "abc"}, "SLACK_CLIENT_ID is malformed"),
        ({**MULTI, "SLACK_SCOPES": "chat:write;drop"}, "SLACK_SCOPES is malformed"),
        ({**MULTI, "SLACK_BASE_URL": "slack.com"}, "SLACK_BASE_URL is malformed"),
        ({"SLACK_SIGNING_SECRET": "abcdef0123456789abcdef"}, "SLACK_BOT_TOKEN is not set"),
    ],
)
def test_problems_name_the_setting_and_never_the_secret(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert str(caught.value).startswith(message)
    assert "the-client-secret-value" not in str(caught.value)


def test_add_to_slack_needs_http_mode() -> None:
    with pytest.raises(SettingsError, match="needs HTTP mode"):
        load_settings(MULTI, socket_mode=True)


def test_the_install_page_explains_exactly_the_manifest_scopes() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert list(SCOPE_REASONS) == manifest["oauth_config"]["scopes"]["bot"]
