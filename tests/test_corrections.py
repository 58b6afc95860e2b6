"""Corrections reach the threads that cited a claim: once per (thread, claim, revision).

Through the real stack: answers are asked for with signed requests to the Bolt
app, the mock Slack Web API records posts and serves ``conversations.replies``
with metadata, the database is SQLite and PostgreSQL, and ``ai-race
corrections run`` runs as real processes, two at once.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from claim_factory import write_store
from sqlalchemy import Engine, func, select, update
from test_feedback import CLAIMS, ask

from bot.core.schema import Claim
from bot.core.store import load_store
from bot.corrections.citing import CitationKind, CitationSite, citations_of
from bot.corrections.ledger import CorrectionLedger
from bot.corrections.message import EVENT_TYPE, SEE_CLAIM
from bot.corrections.plan import Correction
from bot.corrections.runner import CorrectionRunner
from bot.corrections.watch import CorrectionsOnStoreChange
from bot.state.citations import citations_since, record_citations
from bot.state.housekeeping import prune_state
from bot.state.models import CorrectionDelivery, utcnow
from tests.support.app_server import BOT_TOKEN
from tests.support.bolt_inprocess import InProcessApp, inprocess_app
from tests.support.mock_slack import MockSlack
from tests.support.signing import event_body

LONG_AGO = utcnow().replace(year=2000)
NOTE = "The export study it cited was withdrawn by its authors."
REVISED = {
    **CLAIMS[0],
    "evidence": {"level": "opinion", "note": "Only a view now."},
    "reviewed": "2026-11-20",
    "changes": [{"date": "2026-11-20", "note": NOTE}],
}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockSlack]:
    with MockSlack() as server:
        yield server


@pytest.fixture
def claims_dir(tmp_path: Path) -> Path:
    return write_store(tmp_path / "claims", CLAIMS)


@pytest.fixture
def app(mock: MockSlack, db_url: str, claims_dir: Path) -> Iterator[InProcessApp]:
    mock.reset()
    with inprocess_app(mock.base_url, db_url, claims_dir) as running:
        yield running


def runner(engine: Engine, mock: MockSlack, **kwargs: Any) -> CorrectionRunner:
    kwargs.setdefault("sleep", lambda _seconds: None)
    return CorrectionRunner(
        engine, mock.web_client(retry_handlers=[]), channel_interval=0, **kwargs
    )


_events = itertools.count()


def mention(app: InProcessApp, mock: MockSlack, channel: str, thread: str, text: str) -> None:
    """An @-mention in a thread, as Slack delivers it; waits for the recorded citation."""
    before = len(citations_since(app.services.engine, LONG_AGO))
    event = {
        "type": "app_mention",
        "user": "U123",
        "text": f"<@UBOT> {text}",
        "ts": f"{thread}1",
        "thread_ts": thread,
        "channel": channel,
        "event_ts": f"{thread}1",
    }
    assert app.event(event_body(event, event_id=f"EvCorr{next(_events)}")).status == 200
    deadline = time.monotonic() + 10
    while len(citations_since(app.services.engine, LONG_AGO)) <= before:
        assert time.monotonic() < deadline, "the thread reply was not recorded"
        time.sleep(0.01)  # polling a real condition, bounded by the deadline


def corrections_posted(mock: MockSlack) -> list[dict[str, Any]]:
    return [m for m in mock.posted() if (m.get("metadata") or {}).get("event_type") == EVENT_TYPE]


def test_a_revised_claim_is_corrected_once_in_each_thread_that_cited_it(
    app: InProcessApp, mock: MockSlack, claims_dir: Path
) -> None:
    ask(app, mock, "chip exports")  # private, in C123: never corrected
    mention(app, mock, "C9", "1700000001.000100", "chip exports")
    mention(app, mock, "C9", "1700000001.000100", "chip export rules")  # same thread again
    mention(app, mock, "C9", "1700000002.000100", "chip exports")
    mention(app, mock, "C10", "1700000003.000100", "open weight models")  # not revised
    write_store(claims_dir, [REVISED])
    assert app.services.catalog.reload_if_changed() == []  # the app's store watcher, once
    engine = app.services.engine

    outcomes = runner(engine, mock).run_once(load_store(claims_dir))
    assert sorted((o.plan.thread_ts, o.status) for o in outcomes) == [
        ("1700000001.000100", "posted"),
        ("1700000002.000100", "posted"),
    ]
    posted = corrections_posted(mock)
    assert sorted((m["channel"], m["thread_ts"]) for m in posted) == [
        ("C9", "1700000001.000100"),
        ("C9", "1700000002.000100"),
    ]
    reply = posted[0]
    assert reply["text"].startswith(
        "Update: this claim was revised on 2026-11-20 — evidence now *opinion, thinly sourced* "
        f"(was *partly supported*): {NOTE}"
    )
    assert reply["metadata"]["event_payload"]["claim_id"] == "chip-exports"
    [button] = [e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert (button["action_id"], button["value"]) == (SEE_CLAIM, "chip-exports")
    assert not [m for m in mock.posted() if m["channel"] == "C123"]

    # Again, from a new process's runner: each thread now knows this revision (the
    # correction is recorded as citing it), so there is nothing more to say.
    assert runner(engine, mock).run_once(load_store(claims_dir)) == []
    assert len(corrections_posted(mock)) == 2
    kinds = sorted(c.kind for c in citations_since(engine, LONG_AGO) if c.channel_id == "C9")
    assert kinds == ["correction", "correction", "thread", "thread", "thread"]

    # The button shows the claim as it stands now, privately.
    payload = {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "test"},
        "user": {"id": "U123", "username": "alice", "team_id": "T1"},
        "api_app_id": "A1",
        "channel": {"id": "C9", "name": "general"},
        "container": {"type": "message", "channel_id": "C9", "message_ts": reply["ts"]},
        "trigger_id": "1.2.3",
        "response_url": mock.response_url("seeclaim"),
        "actions": [{**button, "block_id": "correction:chip-exports", "action_ts": "1.1"}],
    }
    assert app.interactive(payload).status == 200
    shown = [c for c in mock.wait_for("response", 2) if c.params.get("key") == "seeclaim"]
    assert shown, "no answer to the button"
    [call] = shown
    assert call.params["response_type"] == "ephemeral"
    assert CLAIMS[0]["title"] in json.dumps(call.params["blocks"])
    assert "Only a view now." in json.dumps(call.params["blocks"])


def test_a_removed_claim_is_withdrawn_without_a_button(
    app: InProcessApp, mock: MockSlack, claims_dir: Path
) -> None:
    mention(app, mock, "C9", "1700000004.000100", "chip exports")
    (claims_dir / "chip-exports.yaml").unlink()
    [outcome] = runner(app.services.engine, mock).run_once(load_store(claims_dir))
    assert (outcome.status, outcome.plan.revision) == ("posted", "withdrawn")
    [reply] = corrections_posted(mock)
    assert reply["thread_ts"] == "1700000004.000100"
    assert "`chip-exports`" in reply["text"] and "withdrawn" in reply["text"]
    assert not [b for b in reply["blocks"] if b["type"] == "actions"]


# --------------------------------------------------------------------------- faults


def cite(engine: Engine, *threads: tuple[str, str]) -> None:
    """Citations of the original chip-exports claim, as thread replies record them."""
    claim = Claim.model_validate(CLAIMS[0])
    record_citations(
        engine,
        [
            citations_of(
                [claim],
                CitationSite("T1", "", CitationKind.THREAD, channel, thread, f"{thread}9"),
            )[0]
            for channel, thread in threads
        ],
    )


@pytest.fixture
def engine(db_engine: Engine, mock: MockSlack) -> Engine:
    mock.reset()
    return db_engine


class Killed(BaseException):
    """Stands in for SIGKILL right after Slack accepted the post: nothing catches it."""


class DiesAfterPosting(CorrectionLedger):
    def mark_posted(self, held: Any, ts: str, cited: Any = None) -> bool:
        raise Killed


def ledger_rows(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(CorrectionDelivery.__table__)))


def test_a_crash_between_post_and_record_is_reconciled_not_posted_again(
    engine: Engine, mock: MockSlack, claims_dir: Path
) -> None:
    cite(engine, ("C1", "1700000010.000100"))
    write_store(claims_dir, [REVISED])
    store = load_store(claims_dir)
    doomed = runner(engine, mock)
    doomed.ledger = DiesAfterPosting(engine, "doomed", utcnow)
    with pytest.raises(Killed):
        doomed.run_once(store)
    assert len(corrections_posted(mock)) == 1
    [row] = ledger_rows(engine)
    assert row.status == "claimed"  # posted, never recorded

    # While its lease runs, another process leaves the row alone.
    assert {o.status for o in runner(engine, mock).run_once(store)} == {"busy"}
    # Once it expired, the next one looks in the thread first and records what it finds.
    later = runner(engine, mock, clock=lambda: utcnow() + timedelta(minutes=6))
    [outcome] = later.run_once(store)
    assert outcome.status == "reconciled"
    [posted] = corrections_posted(mock)
    assert outcome.ts == posted["ts"]
    [row] = ledger_rows(engine)
    assert (row.status, row.message_ts) == ("posted", posted["ts"])
    replies = mock.calls_to("conversations.replies")
    assert replies and replies[-1].params["include_all_metadata"] in (True, "true", "1")
    assert len(corrections_posted(mock)) == 1


def test_slacks_retry_after_is_waited_out_before_the_one_post(
    engine: Engine, mock: MockSlack, claims_dir: Path
) -> None:
    cite(engine, ("C1", "1700000011.000100"))
    write_store(claims_dir, [REVISED])
    mock.fail_next("chat.postMessage", status=429, retry_after=7)
    sleeps: list[float] = []
    [outcome] = runner(engine, mock, sleep=sleeps.append).run_once(load_store(claims_dir))
    assert outcome.status == "posted"
    assert 7.0 in sleeps
    assert len(mock.calls_to("chat.postMessage")) == 2 and len(corrections_posted(mock)) == 1


def _corrections_cli(
    mock: MockSlack, db_url: str, claims: Path, *args: str
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": mock.base_url,
        "AI_RACE_CLAIMS": str(claims),
    }
    command = [sys.executable, "-m", "bot", "corrections", "run", *args]
    pipe = subprocess.PIPE
    return subprocess.Popen(command, env=env, stdout=pipe, stderr=pipe, text=True)


def test_two_processes_at_once_post_each_correction_once(
    engine: Engine, mock: MockSlack, db_url: str, claims_dir: Path
) -> None:
    threads = [(f"C{n}", f"17000001{n:02d}.000100") for n in range(6)]
    cite(engine, *threads)
    write_store(claims_dir, [REVISED])
    # The first post waits out a 429: whichever process got it holds that row's lease
    # meanwhile, and the other one works through the rest at the same time.
    mock.fail_next("chat.postMessage", status=429, retry_after=1)
    processes = [_corrections_cli(mock, db_url, claims_dir) for _ in range(2)]
    results = [process.communicate(timeout=60) for process in processes]
    assert [p.returncode for p in processes] == [0, 0], results
    posted = corrections_posted(mock)
    assert sorted((m["channel"], m["thread_ts"]) for m in posted) == sorted(threads)
    assert {row.status for row in ledger_rows(engine)} == {"posted"}
    output = "".join(out for out, _ in results)
    done = [line for line in output.splitlines() if line.startswith("posted: T1/")]
    assert len(done) == len(threads)  # each one by one process or the other


def test_dry_run_prints_what_it_would_post_and_writes_nothing(
    engine: Engine, mock: MockSlack, db_url: str, claims_dir: Path
) -> None:
    cite(engine, ("C1", "1700000020.000100"))
    write_store(claims_dir, [REVISED])
    process = _corrections_cli(mock, db_url, claims_dir, "--dry-run")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "would post in T1/C1 thread 1700000020.000100 (chip-exports):" in out
    assert f"evidence now *opinion, thinly sourced* (was *partly supported*): {NOTE}" in out
    assert mock.calls_to("chat.postMessage") == []
    assert ledger_rows(engine) == []
    with engine.connect() as connection:
        count = select(func.count()).select_from(CorrectionDelivery)
        assert connection.execute(count).scalar() == 0


def test_the_clock_corrects_after_each_store_change_and_only_then(
    engine: Engine, mock: MockSlack, claims_dir: Path
) -> None:
    cite(engine, ("C1", "1700000030.000100"))
    loads: list[Path] = []

    def load(directory: Path) -> Any:
        loads.append(directory)
        return load_store(directory)

    tick = CorrectionsOnStoreChange(runner(engine, mock), claims_dir, load)
    tick()  # at start: the store as deployed, nothing changed in substance
    tick()
    assert len(loads) == 1 and corrections_posted(mock) == []
    write_store(claims_dir, [REVISED])
    tick()
    tick()
    assert len(loads) == 2 and len(corrections_posted(mock)) == 1
    # A second revision of the same claim is a new correction for the same thread.
    write_store(claims_dir, [{**REVISED, "summary": "Export rules on chips are a view now."}])
    tick()
    assert len(corrections_posted(mock)) == 1  # reviewed did not move: not signed off
    write_store(
        claims_dir,
        [
            {
                **REVISED,
                "summary": "Export rules on chips are a view now.",
                "reviewed": "2026-11-23",
                "changes": [
                    *REVISED["changes"],
                    {"date": "2026-11-23", "note": "Summary reworded."},
                ],
            }
        ],
    )
    tick()
    assert [m["text"].split(": ")[-1] for m in corrections_posted(mock)][-1].startswith(
        "Summary reworded."
    )
    assert len(corrections_posted(mock)) == 2


def test_the_clock_process_corrects_the_deployed_store_and_each_change(
    engine: Engine, mock: MockSlack, db_url: str, claims_dir: Path, tmp_path: Path
) -> None:
    cite(engine, ("C1", "1700000040.000100"))
    write_store(claims_dir, [REVISED])  # deployed while the clock was down
    config = tmp_path / "digest.yaml"
    config.write_text("subscriptions: []\n")
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": mock.base_url,
        "AI_RACE_CLAIMS": str(claims_dir),
        "AI_RACE_DIGEST_CONFIG": str(config),
    }
    command = [sys.executable, "-m", "bot", "digest", "run", "--forever", "--interval", "0.2"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        [first] = mock.wait_for("chat.postMessage", timeout=30)
        assert first.params["thread_ts"] == "1700000040.000100"
        assert NOTE in first.params["text"]
        again = {
            **REVISED,
            "evidence": {"level": "strong", "note": "A primary source now."},
            "reviewed": "2026-11-23",
            "changes": [*REVISED["changes"], {"date": "2026-11-23", "note": "Primary source."}],
        }
        write_store(claims_dir, [again])
        second = mock.wait_for("chat.postMessage", 2, timeout=30)[1]
        assert "evidence now *strong" in second.params["text"]
        assert "(was *opinion, thinly sourced*): Primary source." in second.params["text"]
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert len(corrections_posted(mock)) == 2


def test_citations_past_the_window_are_pruned_with_the_other_state(engine: Engine) -> None:
    claim = Claim.model_validate(CLAIMS[0])
    now = utcnow()
    for thread, age in (("1700000050.000100", 32), ("1700000051.000100", 29)):
        site = CitationSite("T1", "", CitationKind.THREAD, "C1", thread, thread)
        rows = citations_of([claim], site)
        record_citations(engine, rows, now=now - timedelta(days=age))
    for age in (40, 1):  # a correction row as old as its thread's citations, and a new one
        ledger = CorrectionLedger(engine, "pruner", lambda age=age: now - timedelta(days=age))
        thread = f"17000000{age:02d}.000100"
        assert ledger.acquire(Correction("T1", "", "C1", thread, "c", "r", "Update")) is not None
    pruned = prune_state(engine, now=now)
    assert pruned.citations == 1
    assert [c.thread_ts for c in citations_since(engine, LONG_AGO)] == ["1700000051.000100"]
    assert [row.thread_ts for row in ledger_rows(engine)] == ["1700000001.000100"]


def test_a_process_killed_before_recording_its_post_is_reconciled_by_the_next(
    engine: Engine, mock: MockSlack, db_url: str, claims_dir: Path
) -> None:
    cite(engine, ("C1", "1700000060.000100"))
    write_store(claims_dir, [REVISED])
    release = mock.hold_answers("chat.postMessage")  # Slack took the post; no answer yet
    first = _corrections_cli(mock, db_url, claims_dir)
    try:
        [posted] = mock.wait_for("chat.postMessage", timeout=30)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    finally:
        release.set()
    assert first.returncode == -signal.SIGKILL
    [row] = ledger_rows(engine)
    assert (row.status, row.message_ts) == ("claimed", None)  # posted, never recorded
    # The dead process's lease runs out: moved back here rather than waited for (5 min).
    with engine.begin() as connection:
        expired = {"lease_until": utcnow() - timedelta(seconds=1)}
        connection.execute(update(CorrectionDelivery).values(**expired))
    second = _corrections_cli(mock, db_url, claims_dir)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert "reconciled: T1/C1 thread 1700000060.000100 (chip-exports)" in out
    assert len(corrections_posted(mock)) == 1
    [row] = ledger_rows(engine)
    assert (row.status, row.message_ts) == ("posted", posted.response["ts"])


def test_the_clock_tries_an_unfinished_correction_again_next_tick_without_reloading(
    engine: Engine, mock: MockSlack, claims_dir: Path
) -> None:
    cite(engine, ("C1", "1700000070.000100"))
    mock.seed_message("C1", text="chip exports?", ts="1700000070.000100")  # the thread's start
    write_store(claims_dir, [REVISED])
    loads: list[Path] = []

    def load(directory: Path) -> Any:
        loads.append(directory)
        return load_store(directory)

    tick = CorrectionsOnStoreChange(runner(engine, mock), claims_dir, load)
    mock.fail_next("chat.postMessage", status=503, count=4)  # every try of this run
    tick()
    [row] = ledger_rows(engine)
    assert row.status == "unknown" and corrections_posted(mock) == []
    tick()  # the files did not change, but the thread still needs its correction
    assert len(loads) == 1 and len(corrections_posted(mock)) == 1
    tick()
    assert len(mock.calls_to("chat.postMessage", status=200)) == 1
