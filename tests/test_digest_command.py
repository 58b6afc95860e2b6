"""``/ai-race digest …``: the parser's good and bad inputs, and the commands end to end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from claim_factory import claim_data
from sqlalchemy import Engine, select

from bot.core.compact import ClaimStore
from bot.core.schema import Claim
from bot.digest.command import (
    DigestCommand,
    DigestCommandError,
    handle_digest_command,
    parse_digest_command,
)
from bot.digest.runner import plain_render
from bot.digest.subscriptions import get_subscription, sync_config_subscriptions
from bot.state.models import DigestDelivery
from tests.support.mock_slack import MockSlack

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("on", DigestCommand("on")),
        ("on 9:00", DigestCommand("on", time="09:00")),
        (
            "on 09:00 Europe/Berlin weekdays",
            DigestCommand("on", time="09:00", timezone="Europe/Berlin", days="weekdays"),
        ),
        (
            "on daily UTC 7:30",
            DigestCommand("on", time="07:30", timezone="UTC", days="daily"),
        ),
        ("ON europe/berlin Daily", DigestCommand("on", timezone="Europe/Berlin", days="daily")),
        ("on utc", DigestCommand("on", timezone="UTC")),
        ("on America/New_York", DigestCommand("on", timezone="America/New_York")),
        (
            "on claims=5 topics=chips,export_controls",
            DigestCommand("on", claims_per_digest=5, topics=("chips", "export controls")),
        ),
        ("on topics=all", DigestCommand("on", clear_topics=True)),
        ("off", DigestCommand("off")),
        ("status", DigestCommand("status")),
        ("preview", DigestCommand("preview")),
        ("", DigestCommand("status")),
        ("digest   off ", DigestCommand("off")),
    ],
)
def test_parser_accepts(text: str, expected: DigestCommand) -> None:
    assert parse_digest_command(text) == expected


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("on 25:00", ["`25:00`", "not a time of day", "/ai-race digest on 09:00"]),
        ("on 9:75 UTC", ["`9:75`", "HH:MM"]),
        ("on 24:00", ["`24:00`"]),
        ("on Europe/Berln", ["time zone `Europe/Berln`", "Europe/Berlin", "Example"]),
        ("on 09:00 Mars/Olympus_Mons", ["`Mars/Olympus_Mons`"]),
        ("on banana", ["`banana`"]),
        ("on 9:00 10:00", ["`10:00`", "second time"]),
        ("on daily weekdays", ["`weekdays`", "second time"]),
        ("on claims=0", ["`claims=0`", "1 to 10"]),
        ("on claims=many", ["`claims=many`"]),
        ("on topics=", ["`topics=`"]),
        ("off please", ["`off` takes no options", "`please`"]),
        ("subscribe", ["`subscribe`", "Usage"]),
    ],
)
def test_parser_rejects_with_a_helpful_message(text: str, names: list[str]) -> None:
    with pytest.raises(DigestCommandError) as error:
        parse_digest_command(text)
    for part in names:
        assert part in str(error.value)


# --------------------------------------------------------------------------- end to end

CLAIMS = tuple(
    Claim.model_validate(
        claim_data(
            f"claim-{i}",
            f"Preview claim {i} title",
            f"A summary long enough for claim {i}.",
            added=str(date(2026, 1, 1) + timedelta(days=i)),
            reviewed=str(date(2026, 1, 1) + timedelta(days=i)),
        )
    )
    for i in range(4)
)


@pytest.fixture
def slack() -> Iterator[MockSlack]:
    with MockSlack(team_id="T1") as mock:
        mock.add_user("UTOKYO", tz="Asia/Tokyo")
        yield mock


def run(engine: Engine, slack: MockSlack, text: str, user: str = "UTOKYO", **kw: Any) -> str:
    reply = handle_digest_command(
        text,
        engine=engine,
        team_id="T1",
        channel_id="C1",
        user_id=user,
        client=slack.web_client(),
        store_provider=lambda: ClaimStore.from_claims(Path("."), CLAIMS),
        render=plain_render,
        now=NOW,
        **kw,
    )
    return reply.text


def test_on_defaults_to_the_users_slack_time_zone(db_engine: Engine, slack: MockSlack) -> None:
    reply = run(db_engine, slack, "on")
    assert [c.params["user"] for c in slack.calls_to("users.info")] == ["UTOKYO"]
    sub = get_subscription(db_engine, "T1", "C1")
    assert sub is not None
    assert (sub.time, sub.timezone, sub.days, sub.claims_per_digest) == (
        "09:00",
        "Asia/Tokyo",
        "weekdays",
        3,
    )
    assert sub.created_by == "UTOKYO" and sub.source == "slack"
    # Tuesday 19:00 in Tokyo: the first digest is Wednesday 09:00 JST.
    assert "09:00 Asia/Tokyo" in reply and "Wed 25 Nov, 09:00 JST" in reply


def test_unknown_user_falls_back_to_utc(db_engine: Engine, slack: MockSlack) -> None:
    run(db_engine, slack, "on", user="UNOBODY")
    sub = get_subscription(db_engine, "T1", "C1")
    assert sub is not None and sub.timezone == "UTC"


def test_on_again_changes_only_what_is_given(db_engine: Engine, slack: MockSlack) -> None:
    run(db_engine, slack, "on 08:15 Europe/Berlin daily claims=2 topics=chips")
    assert slack.calls_to("users.info") == []  # an explicit zone needs no lookup
    run(db_engine, slack, "on 10:00")
    sub = get_subscription(db_engine, "T1", "C1")
    assert sub is not None
    assert (sub.time, sub.timezone, sub.days, sub.claims_per_digest, sub.topics) == (
        "10:00",
        "Europe/Berlin",
        "daily",
        2,
        ["chips"],
    )
    run(db_engine, slack, "on topics=all")
    sub = get_subscription(db_engine, "T1", "C1")
    assert sub is not None and sub.topics is None


def test_status_off_and_bad_input(db_engine: Engine, slack: MockSlack) -> None:
    assert "no daily digest" in run(db_engine, slack, "status")
    run(db_engine, slack, "on 07:00 America/New_York")
    status = run(db_engine, slack, "status")
    assert "07:00 America/New_York, weekdays" in status
    assert "Next digest: Tue 24 Nov 2026, 07:00 EST" in status
    assert "No digest delivered yet" in status

    assert "`25:00`" in run(db_engine, slack, "on 25:00")
    sub = get_subscription(db_engine, "T1", "C1")
    assert sub is not None and sub.time == "07:00"  # a bad command changes nothing

    assert "turned off" in run(db_engine, slack, "off")
    assert get_subscription(db_engine, "T1", "C1") is None
    assert "no daily digest" in run(db_engine, slack, "off")


def test_off_on_a_config_subscription_pauses_it(db_engine: Engine, slack: MockSlack) -> None:
    from bot.digest.config_file import ConfigSubscription

    sync_config_subscriptions(db_engine, [ConfigSubscription(team="T1", channel="C1")])
    assert "paused" in run(db_engine, slack, "off")
    sub = get_subscription(db_engine, "T1", "C1")
    assert sub is not None and sub.paused_reason == "off"
    assert "/ai-race digest off" in run(db_engine, slack, "status")
    run(db_engine, slack, "on")
    sub = get_subscription(db_engine, "T1", "C1")
    assert sub is not None and sub.paused_reason is None


def test_preview_shows_the_next_digest_without_posting(db_engine: Engine, slack: MockSlack) -> None:
    text = run(db_engine, slack, "preview")
    assert "Preview claim 3 title" in text and "Preview claim 1 title" in text
    assert "Preview claim 0 title" not in text  # three claims, newest first
    assert slack.calls_to("chat.postMessage") == []
    with db_engine.connect() as connection:
        assert connection.execute(select(DigestDelivery.id)).all() == []
