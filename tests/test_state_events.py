"""The processed-event ledger: one winner per Slack event id, across engines and threads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from bot.state.db import make_engine
from bot.state.events import EventLedger
from bot.state.models import ProcessedEvent


def test_first_time_is_true_once(db_engine: Engine) -> None:
    ledger = EventLedger(db_engine)
    assert ledger.first_time("Ev1") is True
    assert ledger.first_time("Ev1") is False
    assert ledger.first_time("Ev2") is True
    with pytest.raises(ValueError):
        ledger.first_time("")


def test_exactly_one_winner_across_engines_and_threads(db_url: str, db_engine: Engine) -> None:
    # Two engines stand in for two web processes; four threads each hammer the same ids.
    engines = [db_engine, make_engine(db_url)]
    ids = [f"Ev{i}" for i in range(25)]
    wins: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def worker(n: int) -> None:
        ledger = EventLedger(engines[n % 2])
        barrier.wait()
        for event_id in ids:
            if ledger.first_time(event_id):
                with lock:
                    wins.append(event_id)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    engines[1].dispose()
    assert sorted(wins) == sorted(ids)


def test_prune_removes_only_old_ids(db_engine: Engine) -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    clock = {"now": now - timedelta(days=3)}
    ledger = EventLedger(db_engine, clock=lambda: clock["now"])
    ledger.first_time("old")
    clock["now"] = now
    ledger.first_time("new")
    assert ledger.prune(timedelta(days=2)) == 1
    with db_engine.connect() as connection:
        left = connection.execute(select(ProcessedEvent.event_id)).scalars().all()
        assert left == ["new"]
        assert connection.execute(select(func.count()).select_from(ProcessedEvent)).scalar() == 1
    # A pruned id is new again: fine, Slack stopped retrying it long ago.
    assert ledger.first_time("old") is True
