"""``ai-race serve --socket`` drains on SIGTERM like the HTTP server, and hands over the rest.

A real Socket Mode process connects to a websocket server in this test (the
``wss`` URL comes from the mock Web API's ``apps.connections.open``), which
sends it a mention exactly as Slack does and records the envelope's ack. The
reply meets 429 with a Retry-After; SIGTERM then either waits for it (due
within the drain) or leaves it in the reply outbox for the next process.
Before this, SIGTERM killed the process at once and the reply was lost.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from bot.state.models import ReplyOutbox
from tests.support.app_server import BOT_TOKEN, running_app
from tests.support.mock_slack import MockSlack
from tests.support.polling import rows, wait_until
from tests.support.signing import event_body
from tests.support.slack_requests import mention

FAST_OUTBOX = {
    "AI_RACE_OUTBOX_LEASE_SECONDS": "1",
    "AI_RACE_OUTBOX_INTERVAL_SECONDS": "1",
}


class SocketModeSlack:
    """Slack's side of Socket Mode: hands each connection the queued envelopes, collects acks."""

    def __init__(self) -> None:
        self.outgoing: queue.Queue[dict[str, Any]] = queue.Queue()
        self.acks: queue.Queue[str] = queue.Queue()
        self.server: Server = serve(self._session, "127.0.0.1", 0)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link"

    def _session(self, ws: ServerConnection) -> None:
        ws.send(json.dumps({"type": "hello", "num_connections": 1}))
        threading.Thread(target=self._read_acks, args=(ws,), daemon=True).start()
        try:
            while True:
                try:
                    ws.send(json.dumps(self.outgoing.get(timeout=0.2)))
                except queue.Empty:
                    ws.ping()  # raises once the app has closed the connection
        except ConnectionClosed:
            return

    def _read_acks(self, ws: ServerConnection) -> None:
        try:
            for message in ws:
                self.acks.put(json.loads(message)["envelope_id"])
        except ConnectionClosed:
            return

    def mention(self, n: int) -> tuple[str, str]:
        """Send a mention; returns (envelope id, thread ts)."""
        thread_ts = f"{1700000000 + n}.000200"
        event = mention("<@UBOT> open source models", thread_ts)
        envelope = f"env-{n}-{os.getpid()}"
        body = json.loads(event_body(event, event_id=f"EvSock{n}x{os.getpid()}"))
        self.outgoing.put(
            {"envelope_id": envelope, "type": "events_api", "payload": body, "retry_attempt": 0}
        )
        return envelope, thread_ts


class SocketModeMock(MockSlack):
    """The mock Web API, answering ``apps.connections.open`` with the test's websocket URL."""

    def __init__(self, ws_url: str) -> None:
        super().__init__()
        self.ws_url = ws_url

    def _m_apps_connections_open(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        return {"ok": True, "url": self.ws_url}


@contextmanager
def socket_mode_app(
    api_url: str, db_url: str, tmp_path: Path, **env: str
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    log_path = tmp_path / f"socket-{time.monotonic_ns()}.log"
    environment = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": "xapp-1-test-token",
        "SLACK_API_URL": api_url,
        "DATABASE_URL": db_url,
        **env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "-v", "serve", "--socket"],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process, log_path
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sigterm_in_socket_mode_keeps_a_waiting_reply_for_the_next_process(
    db_url: str, db_engine: Engine, tmp_path: Path
) -> None:
    slack = SocketModeSlack()
    with SocketModeMock(slack.url) as mock:
        mock.fail_next("chat.postMessage", status=429, retry_after=5, count=1)
        env = {**FAST_OUTBOX, "AI_RACE_DRAIN_SECONDS": "1"}
        with socket_mode_app(mock.base_url, db_url, tmp_path, **env) as (process, log):
            envelope, thread_ts = slack.mention(1)
            assert slack.acks.get(timeout=30) == envelope
            mock.wait_for("chat.postMessage", 1, status=429, timeout=15)
            wait_until("the reply is in the outbox", lambda: len(rows(db_engine, ReplyOutbox)) == 1)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
            assert "1 replies kept in the outbox" in log.read_text()
        assert mock.posted() == []  # the Retry-After outlasted the drain: not posted here
        with running_app(mock.base_url, db_url, tmp_path, workers=1, **env):
            mock.wait_for("chat.postMessage", 1, status=200, timeout=20)
            wait_until(
                "the row is sent",
                lambda: [r.status for r in rows(db_engine, ReplyOutbox)] == ["sent"],
            )
        assert [m["thread_ts"] for m in mock.posted()] == [thread_ts]
    slack.server.shutdown()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sigterm_in_socket_mode_posts_a_reply_due_within_the_drain(
    db_url: str, db_engine: Engine, tmp_path: Path
) -> None:
    slack = SocketModeSlack()
    with SocketModeMock(slack.url) as mock:
        mock.fail_next("chat.postMessage", status=429, retry_after=1, count=1)
        env = {**FAST_OUTBOX, "AI_RACE_DRAIN_SECONDS": "10"}
        with socket_mode_app(mock.base_url, db_url, tmp_path, **env) as (process, log):
            envelope, thread_ts = slack.mention(2)
            assert slack.acks.get(timeout=30) == envelope
            mock.wait_for("chat.postMessage", 1, status=429, timeout=15)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
            assert "kept in the outbox" not in log.read_text()
        assert [m["thread_ts"] for m in mock.posted()] == [thread_ts]
        assert [r.status for r in rows(db_engine, ReplyOutbox)] == ["sent"]
    slack.server.shutdown()
