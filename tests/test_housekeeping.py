"""Old event ids and missed queries are pruned by the web process and by ``digest run``."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from bot.cli import main
from bot.state.db import make_engine, migrate
from bot.state.events import EventLedger
from bot.state.misses import record_miss
from bot.state.models import ProcessedEvent, QueryMiss, utcnow
from tests.support.app_server import running_app
from tests.support.mock_slack import MockSlack


def _seed(engine: Engine) -> None:
    now = utcnow()
    for age, name in ((timedelta(days=3), "old"), (timedelta(minutes=1), "new")):
        EventLedger(engine, clock=lambda age=age: now - age).first_time(f"Ev-{name}")
    record_miss(engine, "T1", "asked long ago", now=now - timedelta(days=31))
    record_miss(engine, "T1", "asked last week", now=now - timedelta(days=7))


def _left(engine: Engine) -> tuple[list[str], list[str]]:
    with engine.connect() as connection:
        events = connection.scalars(
            select(ProcessedEvent.event_id).order_by(ProcessedEvent.event_id)
        )
        misses = connection.scalars(select(QueryMiss.query).order_by(QueryMiss.query))
        return list(events), list(misses)


def test_digest_run_prunes_by_retention(
    db_url: str, db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(db_engine)
    config = tmp_path / "digest.yaml"
    config.write_text("subscriptions: []\n")
    with MockSlack() as slack:
        for name, value in {
            "DATABASE_URL": db_url,
            "SLACK_BOT_TOKEN": "xoxb-1-prune",
            "SLACK_API_URL": slack.base_url,
            "AI_RACE_DIGEST_CONFIG": str(config),
            "AI_RACE_MISS_RETENTION_DAYS": "30",
        }.items():
            monkeypatch.setenv(name, value)
        assert main(["digest", "run"]) == 0
    assert _left(db_engine) == (["Ev-new"], ["asked last week"])


def test_bad_retention_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-prune")
    monkeypatch.setenv("AI_RACE_MISS_RETENTION_DAYS", "forever")
    assert main(["digest", "run"]) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "AI_RACE_MISS_RETENTION_DAYS is malformed" in err


def test_the_web_process_prunes_at_start_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'web.sqlite3'}"
    engine = make_engine(url)
    migrate(engine)
    _seed(engine)
    with (
        MockSlack() as slack,
        running_app(slack.base_url, url, tmp_path, workers=1, AI_RACE_MISS_RETENTION_DAYS="30"),
    ):
        deadline = time.monotonic() + 10
        while _left(engine) != (["Ev-new"], ["asked last week"]):
            assert time.monotonic() < deadline, _left(engine)
            time.sleep(0.05)  # waiting on the server's start-up pruning, bounded
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(QueryMiss)) == 1
    engine.dispose()
