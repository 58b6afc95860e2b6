"""Idle and stalled connections cannot keep real requests from being acknowledged.

A hundred connections that send nothing and a dozen that send half a
request and stop are opened against ``ai-race serve`` first; twenty signed
slash commands sent after them must all be acknowledged within 3 seconds.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from tests.support.app_server import SIGNING_SECRET, RunningApp, running_app
from tests.support.mock_slack import MockSlack
from tests.support.signing import FORM, post, signed_headers, slash_command_body

ACK_BUDGET = 3.0


@pytest.fixture
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningApp, MockSlack]]:
    workdir = tmp_path_factory.mktemp("slow")
    with (
        MockSlack() as mock,
        running_app(
            mock.base_url, f"sqlite:///{workdir / 's.sqlite3'}", workdir, workers=1
        ) as running,
    ):
        yield running, mock


def _command(app: RunningApp, mock: MockSlack, n: int) -> tuple[int, float]:
    body = slash_command_body("distillation", response_url=mock.response_url(f"slow{n}"))
    started = time.monotonic()
    status, _, _ = post(
        app.events_url, body, signed_headers(body, SIGNING_SECRET, content_type=FORM), timeout=10
    )
    return status, time.monotonic() - started


def test_idle_and_stalled_clients_do_not_lock_out_commands(
    app: tuple[RunningApp, MockSlack],
) -> None:
    running, mock = app
    parts = urlsplit(running.url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    with contextlib.ExitStack() as stack:
        for _ in range(100):
            stack.enter_context(socket.create_connection(address, timeout=5))
        for _ in range(12):
            stalled = stack.enter_context(socket.create_connection(address, timeout=5))
            stalled.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Le")
        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(lambda n: _command(running, mock, n), range(20)))
    assert [status for status, _ in results] == [200] * 20
    assert max(elapsed for _, elapsed in results) < ACK_BUDGET, results
    mock.wait_for("response", 20, timeout=15)
    assert "Traceback" not in running.log()
