"""The HTTP server answers in a separate, lower-priority process (bot.answer_process).

A real ``ai-race serve`` (one gunicorn worker) against the mock Slack Web
API: master -> worker -> answer supervisor -> answer process. Killing the
answer process with SIGKILL must never hang an ack, and the next answer
process must take over the answers.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from bot.answer_process import NICE, _Reports
from bot.answers import BUSY_TEXT, Answer
from bot.core.blocks import notice_message
from tests.support.app_server import SIGNING_SECRET, RunningApp, children, running_app
from tests.support.mock_slack import MockSlack
from tests.support.polling import wait_until
from tests.support.signing import FORM, post, signed_headers, slash_command_body

ACK_BUDGET = 3.0  # Slack's: an ack later than this is "operation_timeout" for the user

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")


def _command(app: RunningApp, response_url: str) -> tuple[int, bytes, float]:
    body = slash_command_body("distillation", response_url=response_url)
    started = time.monotonic()
    status, _, ack = post(
        app.events_url, body, signed_headers(body, SIGNING_SECRET, content_type=FORM)
    )
    return status, ack, time.monotonic() - started


def _answers_health(app: RunningApp) -> str:
    with urllib.request.urlopen(f"{app.url}/healthz", timeout=5) as response:
        return str(json.load(response)["answers"])


def _answer_process(app: RunningApp) -> tuple[int, int, list[int]]:
    """(worker, supervisor, [answer process]) below the gunicorn master."""
    [worker] = children(app.process.pid)
    [supervisor] = children(worker)
    return worker, supervisor, children(supervisor)


def test_answers_run_in_a_lower_priority_process_that_is_replaced_when_killed(
    tmp_path: Path,
) -> None:
    database = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    with MockSlack() as mock, running_app(mock.base_url, database, tmp_path, workers=1) as app:
        assert _command(app, mock.response_url("before"))[:2] == (200, b"")
        mock.wait_for("response", 1, timeout=10)
        worker, supervisor, [answering] = _answer_process(app)
        # The kernel prefers the worker's acks to the answer work, and gives them its core at once.
        assert os.getpriority(os.PRIO_PROCESS, answering) == (
            os.getpriority(os.PRIO_PROCESS, worker) + NICE
        )
        assert os.sched_getscheduler(answering) == os.SCHED_IDLE
        assert os.sched_getscheduler(worker) == os.SCHED_OTHER

        os.kill(answering, signal.SIGKILL)
        status, ack, elapsed = _command(app, mock.response_url("during"))
        assert status == 200 and elapsed < ACK_BUDGET  # acked at once: answered, or "busy"
        assert ack == b"" or BUSY_TEXT.encode() in ack

        wait_until(
            "another answer process is running",
            lambda: children(supervisor) not in ([], [answering]) and _answers_health(app) == "ok",
            context=app.log,
        )
        status, ack, elapsed = _command(app, mock.response_url("after"))
        assert (status, ack) == (200, b"") and elapsed < ACK_BUDGET
        wait_until(
            "the command after the restart is answered",
            lambda: "after" in {c.params["key"] for c in mock.calls_to("response")},
            context=app.log,
        )
        assert f"answer process {answering} exited" in app.log()
        assert "Traceback" not in app.log()


def _answer(key: str) -> Answer:
    return Answer(lambda: notice_message("done"), delivery=None, key=key)  # type: ignore[arg-type]


def test_done_reports_reach_the_worker_in_batches() -> None:
    """Three answers finished together are one line, not three wake-ups of the worker."""
    worker_end, answer_end = socket.socketpair()
    with worker_end, answer_end:
        reports = _Reports(answer_end, every=60.0)
        for key in ("a", "b", "c"):
            reports.done(_answer(key))
        worker_end.setblocking(False)
        with pytest.raises(BlockingIOError):
            worker_end.recv(4096)  # still gathering: nothing sent yet
        reports.close()  # stopping: what is left goes at once
        worker_end.settimeout(5)
        assert worker_end.recv(4096) == b'{"done": ["a", "b", "c"]}\n'


def test_answers_reported_done_free_the_workers_queue(tmp_path: Path) -> None:
    """With room for one answer, each next command is accepted once the last one is done."""
    database = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    keys = (f"one-at-a-time-{n}" for n in itertools.count())
    with (
        MockSlack() as mock,
        running_app(mock.base_url, database, tmp_path, workers=1, AI_RACE_ANSWER_QUEUE="1") as app,
    ):
        for _ in range(3):
            key = ""

            def accepted() -> bool:
                nonlocal key
                key = next(keys)
                status, ack, _ = _command(app, mock.response_url(key))
                assert status == 200
                return ack == b""  # "busy" until the worker hears the last answer is done

            wait_until("a command is accepted", accepted, context=app.log)
            mock.response_to(key)
