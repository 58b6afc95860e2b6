"""Acks never wait for answers: rate-limited replies are rescheduled, a full queue says "busy".

``ai-race serve`` runs as a real gunicorn process (one worker, so every
request meets the same threads) against the mock Slack Web API, which
answers the first mention replies with 429 and ``Retry-After: 20``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.answers import BUSY_TEXT
from tests.support.app_server import SIGNING_SECRET, RunningApp, running_app
from tests.support.mock_slack import MockSlack
from tests.support.signing import FORM, JSON, event_body, post, signed_headers, slash_command_body

ACK_BUDGET = 3.0  # Slack's: an ack later than this is "operation_timeout" for the user
_ids = itertools.count()


@pytest.fixture(scope="module")
def mock() -> Iterator[MockSlack]:
    with MockSlack() as server:
        yield server


@pytest.fixture(scope="module")
def shared_app(mock: MockSlack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with _start(mock, tmp_path_factory.mktemp("answers")) as app:
        yield app


@pytest.fixture(autouse=True)
def fresh_mock(mock: MockSlack) -> None:
    mock.reset()


def _start(mock: MockSlack, tmp_path: Path, **env: str):  # type: ignore[no-untyped-def]
    return running_app(
        mock.base_url, f"sqlite:///{tmp_path / 'q.sqlite3'}", tmp_path, workers=1, **env
    )


def _mention(app: RunningApp, text: str = "<@UBOT> open source models") -> None:
    n = next(_ids)
    event = {"type": "app_mention", "user": "U123", "channel": "C9", "text": text, "ts": f"{n}.1"}
    body = event_body(event, event_id=f"EvQ{n}")
    status, _, _ = post(
        app.events_url, body, signed_headers(body, SIGNING_SECRET, content_type=JSON)
    )
    assert status == 200


def _command(
    app: RunningApp, response_url: str, text: str = "distillation"
) -> tuple[int, bytes, float]:
    body = slash_command_body(text, response_url=response_url)
    started = time.monotonic()
    status, _, ack = post(
        app.events_url, body, signed_headers(body, SIGNING_SECRET, content_type=FORM)
    )
    return status, ack, time.monotonic() - started


def _wait_for_log(app: RunningApp, needle: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while needle not in app.log():
        assert time.monotonic() < deadline, f"{needle!r} not logged:\n{app.log()[-2000:]}"
        time.sleep(0.05)  # polling a log file, bounded by the deadline


def test_commands_are_acked_and_answered_while_replies_are_rate_limited(
    mock: MockSlack, shared_app: RunningApp
) -> None:
    app = shared_app
    mock.fail_next("chat.postMessage", status=429, retry_after=20, count=8)
    for _ in range(8):
        _mention(app)
    mock.wait_for("chat.postMessage", 8, status=429, timeout=10)

    urls = [mock.response_url(f"k{n}") for n in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda url: _command(app, url), urls))
    assert [(status, ack) for status, ack, _ in results] == [(200, b"")] * 10
    assert max(elapsed for _, _, elapsed in results) < ACK_BUDGET
    answered = mock.wait_for("response", 10, timeout=10)
    assert {c.params["key"] for c in answered} == {f"k{n}" for n in range(10)}
    # The 8 replies wait for their Retry-After on the queue, not in a thread.
    assert len(mock.calls_to("chat.postMessage")) == 8


def test_a_full_queue_answers_busy_at_once(mock: MockSlack, tmp_path: Path) -> None:
    with _start(mock, tmp_path, AI_RACE_ANSWER_QUEUE="3") as app:
        mock.fail_next("chat.postMessage", status=429, retry_after=20, count=3)
        for _ in range(3):
            _mention(app)
        mock.wait_for("chat.postMessage", 3, status=429, timeout=10)

        status, ack, elapsed = _command(app, mock.response_url("busy"))
        assert status == 200 and elapsed < ACK_BUDGET
        assert BUSY_TEXT.encode() in ack
        _mention(app)  # a mention cannot be told in the ack: a short notice goes to the thread
        posted = mock.wait_for("chat.postMessage", 1, status=200, timeout=10)
        assert BUSY_TEXT in posted[-1].params["text"]
        assert not mock.calls_to("response")


def test_response_url_outside_slack_is_never_posted_to(
    mock: MockSlack, shared_app: RunningApp
) -> None:
    app = shared_app
    with MockSlack() as elsewhere:
        status, ack, _ = _command(app, elsewhere.response_url("stolen"))
        assert (status, ack) == (200, b"")
        _wait_for_log(app, "not posting to a response_url outside Slack")
        status, _, _ = _command(app, mock.response_url("ok"))
        mock.wait_for("response", 1, timeout=10)
        assert not elsewhere.calls
