"""``digest run --forever`` leaves within 15 s of SIGTERM even when PostgreSQL hangs.

The clock process reaches PostgreSQL through :class:`TcpProxy`. Once it is
running, the proxy is partitioned and the test waits until the runner has
sent a query that the partition holds back (it is now blocked on a
half-open connection), then sends SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url

from bot.state.db import normalize_database_url
from tests.support.mock_slack import MockSlack
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
SIGTERM_BUDGET = 15.0


@pytest.fixture
def proxied(db_url: str, db_engine: Engine) -> Iterator[tuple[TcpProxy, str]]:
    url = make_url(normalize_database_url(db_url))  # db_engine: the schema is migrated
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)


def _wait_for_text(path: Path, needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while needle not in path.read_text(errors="replace"):
        assert time.monotonic() < deadline, path.read_text(errors="replace")
        time.sleep(0.05)  # polling the process's log file, bounded by the deadline


def test_sigterm_while_the_database_hangs(proxied: tuple[TcpProxy, str], tmp_path: Path) -> None:
    proxy, url = proxied
    config = tmp_path / "digest.yaml"
    config.write_text("subscriptions: []\n")
    log_path = tmp_path / "clock.log"
    with MockSlack() as slack, log_path.open("wb") as log:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SLACK_BOT_TOKEN": "xoxb-1-clock",
            "SLACK_API_URL": slack.base_url,
            "AI_RACE_DIGEST_CONFIG": str(config),
        }
        command = [
            sys.executable,
            "-m",
            "bot",
            "-v",
            "digest",
            "run",
            "--forever",
            "--interval",
            "0.2",
        ]
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for_text(log_path, "digest clock started", timeout=30)
            proxy.partition()
            proxy.wait_until_held(timeout=10)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=SIGTERM_BUDGET + 5)
            took = time.monotonic() - started
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            proxy.heal()
    output = log_path.read_text(errors="replace")
    assert took < SIGTERM_BUDGET, output
    assert "still busy" in output and "SIGTERM" in output
    assert "Traceback" not in output
