"""The reply outbox's fencing on SQLite and PostgreSQL: one owner at a time, late owners ignored.

Each "process" here is an :class:`OutboxStore` with its own owner name and an
injected clock, so leases expire without waiting.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.state.models import ReplyOutbox
from bot.state.outbox import OutboxStatus, OutboxStore

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _store(engine: Engine, clock: Clock, name: str) -> OutboxStore:
    store = OutboxStore(engine, lease=LEASE, clock=clock)
    store._name = name  # one store per simulated process
    return store


def _values(key: str = "k1") -> dict[str, object]:
    return {
        "reply_key": key,
        "kind": "thread",
        "team_id": "T1",
        "channel_id": "C1",
        "thread_ts": "1.1",
        "message": {"text": "hello", "blocks": []},
        "cites": ["a-claim"],
    }


def _row(engine: Engine, row_id: int) -> ReplyOutbox:
    with Session(engine) as session:
        row = session.scalars(select(ReplyOutbox).where(ReplyOutbox.id == row_id)).one()
        session.expunge(row)
        return row


def test_a_kept_reply_is_its_owners_until_the_lease_runs_out(db_engine: Engine) -> None:
    clock = Clock()
    a, b = _store(db_engine, clock, "a"), _store(db_engine, clock, "b")
    lease = a.keep(_values(), T0 + timedelta(seconds=20), owned=True)
    assert b.due() == []  # due for its owner at +20 s; for others only at +20 s + lease
    clock.now = T0 + timedelta(seconds=21)
    assert b.due() == []
    taken = a.take(lease)
    assert taken is not None and _row(db_engine, lease.row_id).status == OutboxStatus.SENDING
    assert a.finish(taken, OutboxStatus.SENT, message_ts="9.9")
    row = _row(db_engine, lease.row_id)
    assert (row.status, row.message_ts, row.response_url) == ("sent", "9.9", None)
    clock.now = T0 + timedelta(hours=1)
    assert b.due() == []  # finished rows are never resumed


def test_a_stopped_owner_is_taken_over_and_its_late_updates_change_nothing(
    db_engine: Engine,
) -> None:
    clock = Clock()
    a, b = _store(db_engine, clock, "a"), _store(db_engine, clock, "b")
    lease = a.keep(_values(), T0 + timedelta(seconds=5), owned=True)
    sending = a.take(lease)
    assert sending is not None
    clock.now = T0 + LEASE + timedelta(seconds=1)  # a died while posting
    [row] = b.due()
    theirs = b.take_over(row)
    assert theirs is not None and theirs.previous is OutboxStatus.SENDING
    # a wakes up late: none of its fenced updates apply any more.
    assert not a.finish(sending, OutboxStatus.FAILED, error="late")
    assert a.take(sending) is None
    assert not a.wait(sending, clock.now)
    ours = b.take(theirs)
    assert ours is not None and b.finish(ours, OutboxStatus.SENT)
    assert _row(db_engine, lease.row_id).status == OutboxStatus.SENT


def test_released_replies_are_due_for_anyone_at_their_due_time(db_engine: Engine) -> None:
    clock = Clock()
    a, b = _store(db_engine, clock, "a"), _store(db_engine, clock, "b")
    lease = a.keep(_values(), T0 + timedelta(seconds=60), owned=True)
    assert a.release(lease, T0 + timedelta(seconds=3))
    kept = a.keep(_values("k2"), T0 + timedelta(seconds=3), owned=False)  # stored while stopping
    assert _row(db_engine, kept.row_id).owner is None
    assert b.due() == []
    clock.now = T0 + timedelta(seconds=3)
    assert sorted(r.reply_key for r in b.due()) == ["k1", "k2"]


def test_many_processes_taking_over_one_reply_give_it_to_exactly_one(db_engine: Engine) -> None:
    clock = Clock()
    owner = _store(db_engine, clock, "gone")
    lease = owner.keep(_values(), T0, owned=False)
    clock.now = T0 + timedelta(seconds=1)
    stores = [_store(db_engine, clock, f"p{n}") for n in range(8)]
    rows = [s.due()[0] for s in stores]  # every process read the row before any took it
    start = threading.Barrier(len(stores))
    won: list[str] = []

    def race(store: OutboxStore, row: ReplyOutbox) -> None:
        start.wait()
        if store.take_over(row) is not None:
            won.append(store.owner)

    threads = [threading.Thread(target=race, args=pair) for pair in zip(stores, rows, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert _row(db_engine, lease.row_id).owner == won[0]


def test_finished_rows_are_pruned_after_a_while(db_engine: Engine) -> None:
    clock = Clock()
    a = _store(db_engine, clock, "a")
    done = a.take(a.keep(_values("old"), T0, owned=True))
    assert done is not None and a.finish(done, OutboxStatus.SENT)
    a.keep(_values("waiting"), T0, owned=True)
    clock.now = T0 + timedelta(days=3)
    assert a.prune(timedelta(days=2)) == 1
    with Session(db_engine) as session:
        assert session.scalars(select(ReplyOutbox.reply_key)).all() == ["waiting"]
