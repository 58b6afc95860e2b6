"""The Slack manifest and Procfile agree with what the code registers."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.listeners import commands, shortcuts

ROOT = Path(__file__).resolve().parents[1]


def test_manifest_matches_the_listeners() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    features = manifest["features"]
    assert [c["command"] for c in features["slash_commands"]] == [commands.COMMAND]
    assert [s["callback_id"] for s in features["shortcuts"]] == [shortcuts.CALLBACK_ID]
    assert features["shortcuts"][0]["type"] == "message"
    assert features["app_home"]["home_tab_enabled"] is True
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_mention", "app_home_opened"}
    assert settings["interactivity"]["is_enabled"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "app_mentions:read", "chat:write"} <= scopes
    assert not {"channels:read", "chat:write.public", "admin"} & scopes, "least privilege"
    for url in (
        features["slash_commands"][0]["url"],
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    ):
        assert url.endswith("/slack/events")


def test_procfile_runs_web_and_clock() -> None:
    lines = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert lines["web"].strip() == "ai-race serve"
    assert lines["clock"].strip() == "ai-race digest run --forever"
