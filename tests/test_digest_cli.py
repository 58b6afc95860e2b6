"""``ai-race digest run|list`` and ``ai-race report misses`` against the mock Web API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from claim_factory import claim_data, write_store
from sqlalchemy import Engine

from bot.cli import build_parser
from bot.digest.subscriptions import subscribe
from bot.state.misses import record_miss
from tests.support.mock_slack import MockSlack

TOKEN = "xoxb-secret-token-123"
EARLIER = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # subscribed days before the runs below


def cli(*argv: str) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


@pytest.fixture
def slack() -> Iterator[MockSlack]:
    with MockSlack(team_id="T1") as mock:
        yield mock


@pytest.fixture
def env(
    db_url: str,
    db_engine: Engine,
    slack: MockSlack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    store = write_store(
        tmp_path / "claims",
        [
            claim_data(f"cli-claim-{i}", f"CLI claim {i} title", f"A CLI test claim number {i}.")
            for i in range(4)
        ],
    )
    config = tmp_path / "digest.yaml"
    config.write_text("subscriptions: []\n")
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", slack.base_url)
    monkeypatch.setenv("AI_RACE_CLAIMS", str(store))
    monkeypatch.setenv("AI_RACE_DIGEST_CONFIG", str(config))
    return config


def test_run_without_a_token_is_a_one_line_error(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    assert cli("digest", "run") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SLACK_BOT_TOKEN" in err


def test_dry_run_needs_no_token_and_posts_nothing(
    env: Path,
    db_engine: Engine,
    slack: MockSlack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    subscribe(db_engine, "T1", "C1", time="09:00", timezone="UTC", now=EARLIER)
    assert cli("digest", "run", "--dry-run", "--at", "2026-11-24T09:30:00Z") == 0
    out = capsys.readouterr().out
    assert "would post to T1/C1 2026-11-24: cli-claim-0" in out
    assert "AI race digest for Tuesday 24 November 2026" in out
    assert slack.calls == []


def test_run_syncs_the_config_and_posts_with_the_real_renderer(
    env: Path, slack: MockSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    env.write_text(
        "subscriptions:\n"
        "  - channel: CCONF1\n"  # no team: taken from auth.test
        '    time: "08:00"\n'
        "    timezone: Europe/Berlin\n"
        "    claims_per_digest: 2\n"
    )
    # The entry counts from when it is synced: at 06:59 UTC, before its 08:00 Berlin slot.
    assert cli("digest", "run", "--at", "2026-11-24T06:59:00+00:00") == 0
    assert "nothing due" in capsys.readouterr().out
    assert cli("digest", "run", "--at", "2026-11-24T07:30:00+00:00") == 0
    out = capsys.readouterr().out
    assert "posted: T1/CCONF1 2026-11-24" in out
    assert len(slack.calls_to("auth.test")) == 2  # once per run
    (post,) = slack.calls_to("chat.postMessage")
    assert post.params["blocks"][0]["type"] == "header"
    assert "24 November 2026" in post.params["blocks"][0]["text"]["text"]
    assert post.params["metadata"]["event_payload"]["local_date"] == "2026-11-24"

    assert cli("digest", "run", "--at", "2026-11-24T07:31:00+00:00") == 0
    assert "already_posted: T1/CCONF1" in capsys.readouterr().out
    assert len(slack.calls_to("chat.postMessage")) == 1

    assert cli("digest", "list") == 0
    listing = capsys.readouterr().out
    assert "CCONF1" in listing and "08:00" in listing and "config" in listing
    assert TOKEN not in out + listing


def test_run_exits_non_zero_when_a_channel_was_not_delivered(
    env: Path, db_engine: Engine, slack: MockSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    for channel in ("C1", "C2"):
        subscribe(db_engine, "T1", channel, time="09:00", timezone="UTC", now=EARLIER)
    slack.error_for_channel("C2", "not_in_channel")
    assert cli("digest", "run", "--at", "2026-11-24T09:30:00Z") == 1  # cron and schedulers alert
    out = capsys.readouterr().out
    assert "posted: T1/C1 2026-11-24" in out
    assert "paused: T1/C2 2026-11-24 error=not_in_channel" in out
    assert len(slack.posted("C1")) == 1
    # The next run has nothing left undelivered: C1 is out, C2 waits for `digest on`.
    assert cli("digest", "run", "--at", "2026-11-24T09:31:00Z") == 0


def test_bad_config_is_reported_with_file_line_and_field(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env.write_text("subscriptions:\n  - channel: C1\n    team: T1\n    days: sometimes\n")
    assert cli("digest", "run", "--dry-run") == 1
    err = capsys.readouterr().err
    assert f"{env}:4: subscriptions[0].days: " in err


def test_report_misses(env: Path, db_engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    when = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    for text in ("Gallium exports", "gallium  EXPORTS", "rare earths"):
        record_miss(db_engine, "T1", text, now=when)
    record_miss(db_engine, "T1", "old question", now=datetime(2025, 1, 1, tzinfo=UTC))
    assert cli("report", "misses", "--since", "2026-01-01") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["COUNT", "LAST", "ASKED", "(UTC)", "QUERY"]
    assert lines[1].split()[0] == "2" and lines[1].endswith("gallium exports")
    assert lines[2].endswith("rare earths") and len(lines) == 3
    assert cli("report", "misses", "--limit", "1") == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_bad_at_value_is_a_usage_error(env: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli("digest", "run", "--at", "tomorrow")
    assert exit_.value.code == 2
