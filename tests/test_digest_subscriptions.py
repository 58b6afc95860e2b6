"""Subscriptions: config/digest.yaml validation (file, line, field), syncing, time zones."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.core.errors import SettingsError
from bot.core.problems import ConfigError
from bot.digest.command import resolve_default_timezone
from bot.digest.config_file import REPO_CONFIG, ConfigSubscription, load_digest_config
from bot.digest.subscriptions import (
    get_subscription,
    list_subscriptions,
    pause_subscription,
    subscribe,
    sync_config_subscriptions,
)
from tests.support.mock_slack import MockSlack

BAD_CONFIG = """\
# digest subscriptions
subscriptions:
  - channel: C0001
    team: T0001
    time: "25:00"
  - channel: C0002
    team: T0001
    time: 9:30
    timezone: Europe/Berln
  - chanel: C0003
  - channel: C0004
    team: T0001
    claims_per_digest: 0
    days: weekends
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "digest.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_problem_names_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, BAD_CONFIG)
    with pytest.raises(ConfigError) as error:
        load_digest_config(path)
    found = {(p.line, p.field): p.message for p in error.value.problems}
    assert all(p.path == str(path) for p in error.value.problems)
    assert "not a time of day" in found[(5, "subscriptions[0].time")]
    assert "quote the time" in found[(8, "subscriptions[1].time")]
    assert "unknown time zone 'Europe/Berln'" in found[(9, "subscriptions[1].timezone")]
    assert (10, "subscriptions[2].chanel") in found
    assert (10, "subscriptions[2].channel") in found  # missing: points at the entry
    assert (13, "subscriptions[3].claims_per_digest") in found
    assert (14, "subscriptions[3].days") in found
    assert str(error.value.problems[0]).startswith(f"{path}:5: subscriptions[0].time: ")


def test_duplicates_and_missing_team(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "subscriptions:\n"
        "  - channel: C0001\n"
        "  - channel: C0002\n"
        "    team: T0009\n"
        "  - channel: C0001\n"
        "    team: T0009\n"
        "  - {channel: C0002, team: T0009}\n",
    )
    with pytest.raises(ConfigError) as error:
        load_digest_config(path)
    problems = [(p.line, p.field) for p in error.value.problems]
    assert problems == [(2, "subscriptions[0].team"), (7, "subscriptions[3].channel")]

    entries = load_digest_config(
        write(tmp_path, "subscriptions:\n  - channel: C0001\n"), default_team_id="T0009"
    )
    assert [(e.team, e.channel, e.time, e.timezone) for e in entries] == [
        ("T0009", "C0001", "09:00", "UTC")
    ]
    assert load_digest_config(
        write(tmp_path, "subscriptions:\n  - channel: C0001\n"), require_team=False
    ) == [ConfigSubscription(channel="C0001")]


def test_yaml_syntax_errors_have_a_line(tmp_path: Path) -> None:
    path = write(tmp_path, "subscriptions:\n  - channel: [C1\n")
    with pytest.raises(ConfigError) as error:
        load_digest_config(path)
    (problem,) = error.value.problems
    assert problem.field == "(file)" and problem.line is not None and "YAML" in problem.message


@pytest.mark.parametrize("text", ["", "subscriptions: []\n", "subscriptions:\n", "# nothing\n"])
def test_empty_configs_declare_nothing(tmp_path: Path, text: str) -> None:
    assert load_digest_config(write(tmp_path, text)) == []


def test_the_shipped_example_is_valid_and_empty() -> None:
    assert load_digest_config(REPO_CONFIG) == []


def test_a_configured_path_that_is_missing_is_an_error_not_an_empty_config(
    tmp_path: Path,
) -> None:
    with pytest.raises(SettingsError, match=r"AI_RACE_DIGEST_CONFIG is .*which is not there"):
        load_digest_config(tmp_path / "digest.yml")
    with pytest.raises(SettingsError, match="which is a directory"):
        load_digest_config(tmp_path)


def test_sync_is_declarative_and_keeps_pauses(db_engine: Engine) -> None:
    subscribe(db_engine, "T1", "CSLACK", timezone="Asia/Tokyo")
    subscribe(db_engine, "T1", "CBOTH", timezone="Asia/Tokyo")
    first = [
        ConfigSubscription(team="T1", channel="CBOTH", time="07:00", timezone="Europe/Berlin"),
        ConfigSubscription(team="T1", channel="CCONF", days="daily", topics=["Chips"]),
    ]
    result = sync_config_subscriptions(db_engine, first)
    assert (result.created, result.updated, result.removed) == (1, 1, 0)
    both = get_subscription(db_engine, "T1", "CBOTH")
    assert both is not None and (both.source, both.time, both.timezone) == (
        "config",
        "07:00",
        "Europe/Berlin",
    )
    conf = get_subscription(db_engine, "T1", "CCONF")
    assert conf is not None and conf.topics == ["chips"]

    pause_subscription(db_engine, "T1", "CCONF", "not_in_channel")
    again = sync_config_subscriptions(db_engine, first)
    assert (again.created, again.updated, again.removed) == (0, 0, 0)
    conf = get_subscription(db_engine, "T1", "CCONF")
    assert conf is not None and conf.paused_reason == "not_in_channel"

    gone = sync_config_subscriptions(db_engine, first[1:])
    assert gone.removed == 1
    assert [s.channel_id for s in list_subscriptions(db_engine)] == ["CCONF", "CSLACK"]
    assert [s.channel_id for s in list_subscriptions(db_engine, active_only=True)] == ["CSLACK"]


def _sync_together(engine: Engine, entries: list[ConfigSubscription], runners: int) -> list[str]:
    """``runners`` threads released by one barrier, each syncing ``entries``; their errors."""
    barrier = threading.Barrier(runners)
    errors: list[str] = []

    def start() -> None:
        barrier.wait(timeout=10)
        try:
            sync_config_subscriptions(engine, entries)
        except Exception as exc:  # collected: an exception in a thread fails nothing
            errors.append(repr(exc))

    threads = [threading.Thread(target=start) for _ in range(runners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


def test_runners_starting_together_sync_the_config_without_conflict(db_engine: Engine) -> None:
    """Four runners start at once and all sync the same digest.yaml: one row each, no error.

    Each round declares new channels, so every runner reads "absent" and
    inserts: the read-then-insert race that raised IntegrityError before.
    """
    for round_ in range(5):
        entries = [ConfigSubscription(team="T1", channel=f"C{round_}X{i}") for i in range(8)]
        assert _sync_together(db_engine, entries, runners=4) == []
        channels = [s.channel_id for s in list_subscriptions(db_engine)]
        assert channels == [e.channel for e in entries]


def test_subscribe_validates(db_engine: Engine) -> None:
    with pytest.raises(ValueError, match="time zone"):
        subscribe(db_engine, "T1", "C1", timezone="Nowhere/Land")
    with pytest.raises(ValueError, match="days"):
        subscribe(db_engine, "T1", "C1", days="weekends")
    with pytest.raises(ValueError, match="claims"):
        subscribe(db_engine, "T1", "C1", claims_per_digest=50)
    assert list_subscriptions(db_engine) == []


@pytest.fixture
def slack() -> Iterator[MockSlack]:
    with MockSlack() as mock:
        mock.add_user("UBER", tz="Europe/Berlin")
        mock.users["UODD"] = {**mock.users["UBER"], "tz": "Not/AZone"}
        yield mock


def test_default_time_zone_comes_from_users_info(slack: MockSlack) -> None:
    client = slack.web_client()
    assert resolve_default_timezone(client, "UBER") == "Europe/Berlin"
    assert resolve_default_timezone(client, "UMISSING") == "UTC"
    assert resolve_default_timezone(client, "UODD") == "UTC"
    assert resolve_default_timezone(None, "UBER") == "UTC"
    slack.fail_next("users.info", status=500)
    assert resolve_default_timezone(client, "UBER") == "UTC"
