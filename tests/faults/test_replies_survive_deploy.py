"""Mention replies survive a deploy (SIGTERM) and a crash (SIGKILL), and are posted once.

Real ``ai-race serve`` processes share one database; the mock Slack Web API
answers the replies 429 with a Retry-After. Before this, SIGTERM during the
wait lost every reply, and Slack does not retry an event it saw acknowledged.
Short outbox settings (lease and poll 1 s, drain 1 s) keep each test to seconds.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.state.models import ReplyOutbox
from tests.support.app_server import SIGNING_SECRET, RunningApp, children, running_app
from tests.support.mock_slack import MockSlack
from tests.support.polling import rows, wait_until
from tests.support.signing import FORM, JSON, event_body, post, signed_headers, slash_command_body
from tests.support.slack_requests import mention

FAST_OUTBOX = {
    "AI_RACE_OUTBOX_LEASE_SECONDS": "1",
    "AI_RACE_OUTBOX_INTERVAL_SECONDS": "1",
    "AI_RACE_DRAIN_SECONDS": "1",
}
_ids = itertools.count()


def _server(mock: MockSlack, db_url: str, tmp_path: Path, workers: int = 1):  # type: ignore[no-untyped-def]
    return running_app(mock.base_url, db_url, tmp_path, workers=workers, **FAST_OUTBOX)


def _mention(app: RunningApp, channel: str = "C9") -> str:
    n = next(_ids)
    thread_ts = f"{1700000000 + n}.000100"
    event = mention("<@UBOT> open source models", thread_ts, channel=channel)
    body = event_body(event, event_id=f"EvOut{n}x{os.getpid()}")
    status, _, _ = post(
        app.events_url, body, signed_headers(body, SIGNING_SECRET, content_type=JSON)
    )
    assert status == 200
    return thread_ts


def _command(app: RunningApp, response_url: str) -> None:
    body = slash_command_body("distillation", response_url=response_url)
    status, _, _ = post(
        app.events_url, body, signed_headers(body, SIGNING_SECRET, content_type=FORM)
    )
    assert status == 200


def _stop(app: RunningApp, sig: int = signal.SIGTERM) -> None:
    app.process.send_signal(sig)
    app.process.wait(timeout=15)


def _threads_posted(mock: MockSlack) -> list[str]:
    return [m["thread_ts"] for m in mock.posted()]


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_replies_waiting_for_retry_after_survive_sigterm_and_go_out_once(
    db_url: str, db_engine: Engine, tmp_path: Path
) -> None:
    with MockSlack() as mock:
        mock.fail_next("chat.postMessage", status=429, retry_after=4, count=4)
        mock.fail_next("response", status=429, retry_after=4, count=1)
        with _server(mock, db_url, tmp_path) as first:
            threads = [_mention(first) for _ in range(4)]
            _command(first, mock.response_url("slash"))  # a slash command's answer waits too
            mock.wait_for("chat.postMessage", 4, status=429, timeout=15)
            wait_until(
                "all 5 replies are in the outbox", lambda: len(rows(db_engine, ReplyOutbox)) == 5
            )
            _stop(first)
            assert "5 replies kept in the outbox" in first.log()
        # The first process posted nothing: the deploy cut it short.
        assert mock.posted() == [] and not mock.calls_to("response", status=200)
        with _server(mock, db_url, tmp_path):
            mock.wait_for("chat.postMessage", 4, status=200, timeout=20)
            wait_until(
                "every row is sent",
                lambda: {r.status for r in rows(db_engine, ReplyOutbox)} == {"sent"},
            )
        assert sorted(_threads_posted(mock)) == sorted(threads)
        assert [c.params["key"] for c in mock.calls_to("response", status=200)] == ["slash"]
        for message in mock.posted():
            assert message["metadata"]["event_type"] == "ai_race_reply"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sigterm_drains_replies_due_within_the_drain_timeout(
    db_url: str, db_engine: Engine, tmp_path: Path
) -> None:
    with MockSlack() as mock:
        mock.fail_next("chat.postMessage", status=429, retry_after=1, count=1)
        env = {**FAST_OUTBOX, "AI_RACE_DRAIN_SECONDS": "10"}
        with running_app(mock.base_url, db_url, tmp_path, workers=1, **env) as app:
            thread = _mention(app)
            mock.wait_for("chat.postMessage", 1, status=429, timeout=15)
            _stop(app)  # the reply is due in 1 s, well within the drain: posted before exit
            assert "kept in the outbox" not in app.log()
        assert _threads_posted(mock) == [thread]
        assert [r.status for r in rows(db_engine, ReplyOutbox)] == ["sent"]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_processes_resuming_one_outbox_post_each_reply_once(
    db_url: str, db_engine: Engine, tmp_path: Path
) -> None:
    with MockSlack() as mock:
        mock.fail_next("chat.postMessage", status=429, retry_after=5, count=10)
        with _server(mock, db_url, tmp_path) as first:
            threads = [_mention(first, channel=f"C{n}") for n in range(10)]
            mock.wait_for("chat.postMessage", 10, status=429, timeout=15)
            wait_until(
                "all 10 replies are in the outbox", lambda: len(rows(db_engine, ReplyOutbox)) == 10
            )
            _stop(first)
        # Three resumers (two workers of one server, one of another) race for the same rows.
        with contextlib.ExitStack() as stack:
            stack.enter_context(_server(mock, db_url, tmp_path, workers=2))
            stack.enter_context(_server(mock, db_url, tmp_path))
            wait_until(
                "every row is sent",
                lambda: {r.status for r in rows(db_engine, ReplyOutbox)} == {"sent"},
            )
        assert sorted(_threads_posted(mock)) == sorted(threads)


def _descendants(pid: int) -> list[int]:
    """Workers, their answer supervisors and answer processes (bot.answer_process)."""
    return [d for c in children(pid) for d in (c, *_descendants(c))]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_crash_between_post_and_record_does_not_post_twice(
    db_url: str, db_engine: Engine, tmp_path: Path
) -> None:
    with MockSlack() as mock:
        mock.fail_next("chat.postMessage", status=429, retry_after=1, count=1)
        release = mock.hold_answers("chat.postMessage")  # Slack takes the post, never answers
        with _server(mock, db_url, tmp_path) as first:
            thread = _mention(first)
            mock.wait_for("chat.postMessage", 1, status=200, timeout=15)
            [row] = rows(db_engine, ReplyOutbox)
            assert row.status == "sending"
            # The whole server crashes: every process of it, the answer processes too.
            processes = _descendants(first.process.pid)
            first.process.send_signal(signal.SIGKILL)  # the master first: no worker respawns
            for pid in processes:
                os.kill(pid, signal.SIGKILL)
            first.process.wait(timeout=15)
        release.set()
        with _server(mock, db_url, tmp_path) as second:
            wait_until(
                "the row is settled", lambda: rows(db_engine, ReplyOutbox)[0].status == "sent"
            )
            assert "already in its thread" in second.log()
        assert _threads_posted(mock) == [thread]
        assert len(mock.calls_to("chat.postMessage", status=200)) == 1
        assert rows(db_engine, ReplyOutbox)[0].message_ts == mock.posted()[0]["ts"]
