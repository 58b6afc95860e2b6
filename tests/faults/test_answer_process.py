"""The HTTP server answers in a separate, lower-priority process (bot.answer_process).

A real ``ai-race serve`` (one gunicorn worker) against the mock Slack Web
API: master -> worker -> answer supervisor -> answer process. Killing the
answer process with SIGKILL must never hang an ack, and the next answer
process must take over the answers.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from bot.answer_process import NICE
from bot.answers import BUSY_TEXT
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
        # The kernel prefers the worker's acks to the answer work.
        assert os.getpriority(os.PRIO_PROCESS, answering) == (
            os.getpriority(os.PRIO_PROCESS, worker) + NICE
        )

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
