"""The clock process (``digest run --forever``) through a database that fails under it.

It reaches PostgreSQL through :class:`TcpProxy`. Two faults, each against a
real process and real signals:

* the database goes away (connections cut, new ones hang) and comes back: the
  runner logs one line per kind of failure, no traceback, and delivers within
  30 s of the database's return;
* a connection goes half-open mid-query: SIGTERM still ends the process
  within 15 s.

Both are fast: the first sets short libpq timeouts in ``DATABASE_URL`` (a
client setting in the URL wins over the app's defaults), the second a short
``--stop-grace`` (shorter than those defaults, so the query is still stuck
when the grace ends); every wait polls the process's log or the mock Slack with
a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url

from bot.digest.cli import SHUTDOWN_GRACE_S
from bot.digest.subscriptions import subscribe
from bot.state.db import PG_CLIENT_TIMEOUTS, normalize_database_url, postgres_timeouts
from tests.support.mock_slack import MockSlack
from tests.support.tcp_proxy import TcpProxy

on_postgresql = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
SIGTERM_BUDGET = 15.0
RECOVERY_BUDGET = 30.0
# libpq settings for the test only: give up connecting after 1 s, notice a silent peer in ~3 s.
SHORT_TIMEOUTS = {
    "connect_timeout": "1",
    "keepalives_idle": "1",
    "keepalives_interval": "1",
    "keepalives_count": "2",
    "tcp_user_timeout": "2000",
}


@pytest.fixture
def proxied(db_url: str, db_engine: Engine) -> Iterator[tuple[TcpProxy, str]]:
    url = make_url(normalize_database_url(db_url))  # db_engine: the schema is migrated
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)


def with_short_timeouts(url: str) -> str:
    return make_url(url).update_query_dict(SHORT_TIMEOUTS).render_as_string(False)


def _wait_for(check: object, what: str, timeout: float, log_path: Path) -> float:
    """Poll ``check()`` until true; the seconds it took (fails with the log after ``timeout``)."""
    started = time.monotonic()
    while not check():  # type: ignore[operator]
        assert time.monotonic() - started < timeout, f"no {what}:\n" + log_path.read_text(
            errors="replace"
        )
        time.sleep(0.05)  # polling a log file or the mock, bounded by the deadline
    return time.monotonic() - started


class Clock:
    """``ai-race -v digest run --forever`` as a real process, its output in a log file."""

    def __init__(self, url: str, slack: MockSlack, tmp_path: Path, *extra: str) -> None:
        config = tmp_path / "digest.yaml"
        config.write_text("subscriptions: []\n")
        self.log_path = tmp_path / "clock.log"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SLACK_BOT_TOKEN": "xoxb-1-clock",
            "SLACK_API_URL": slack.base_url,
            "AI_RACE_DIGEST_CONFIG": str(config),
        }
        command = [sys.executable, "-m", "bot", "-v", "digest", "run", "--forever"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*command, "--interval", "0.2", *extra],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float) -> float:
        return _wait_for(lambda: needle in self.log(), repr(needle), timeout, self.log_path)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@on_postgresql
def test_the_runner_recovers_soon_after_the_database_returns(
    proxied: tuple[TcpProxy, str], db_engine: Engine, tmp_path: Path
) -> None:
    proxy, url = proxied
    with MockSlack() as slack:
        clock = Clock(with_short_timeouts(url), slack, tmp_path)
        try:
            clock.wait_for("digest clock started", timeout=30)
            proxy.partition()  # new connections hang ...
            proxy.cut()  # ... and the pooled ones are gone
            clock.wait_for("digest run failed", timeout=15)
            # While it is down, a channel subscribes (straight to PostgreSQL, not via the proxy).
            subscribe(db_engine, "T1", "CBACK", time="00:00", days="daily", now=_YESTERDAY)
            proxy.heal()
            healed = time.monotonic()
            _wait_for(lambda: slack.posted("CBACK"), "digest", RECOVERY_BUDGET, clock.log_path)
            took = time.monotonic() - healed
            clock.wait_for("digest runs work again", timeout=5)
        finally:
            clock.stop()
            proxy.heal()
    output = clock.log()
    assert took < RECOVERY_BUDGET, output
    failures = [line for line in output.splitlines() if "digest run failed" in line]
    kinds = [line.split("digest run failed: ")[1].split(":")[0] for line in failures]
    assert len(kinds) == len(set(kinds)), output  # one line per kind of failure, not per run
    assert "Traceback" not in output


_YESTERDAY = datetime.fromtimestamp(time.time() - 86_400, UTC)


@on_postgresql
def test_sigterm_while_the_database_hangs(proxied: tuple[TcpProxy, str], tmp_path: Path) -> None:
    proxy, url = proxied  # the app's own timeouts: the stuck query outlasts the grace
    with MockSlack() as slack:
        clock = Clock(url, slack, tmp_path, "--stop-grace", "2")
        try:
            clock.wait_for("digest clock started", timeout=30)
            proxy.partition()
            proxy.wait_until_held(timeout=10)  # a query is stuck on the half-open connection
            started = time.monotonic()
            clock.process.send_signal(signal.SIGTERM)
            clock.process.wait(timeout=SIGTERM_BUDGET + 5)
            took = time.monotonic() - started
        finally:
            clock.stop()
            proxy.heal()
    output = clock.log()
    assert took < SIGTERM_BUDGET, output
    assert "still busy 2 s after SIGTERM" in output
    assert "Traceback" not in output


def test_the_default_grace_is_inside_the_sigterm_budget() -> None:
    """The test above shortens the grace to stay fast; the default must keep the promise too."""
    assert SHUTDOWN_GRACE_S + 1 < SIGTERM_BUDGET


def test_a_timeout_in_database_url_wins_over_the_default() -> None:
    """What lets an operator (and the tests above) tune libpq's timeouts without code."""
    tuned = postgres_timeouts(make_url("postgresql://db/app?connect_timeout=1"))
    assert "connect_timeout" not in tuned  # psycopg takes the URL's 1 s
    assert tuned["keepalives_idle"] == PG_CLIENT_TIMEOUTS["keepalives_idle"]
    assert postgres_timeouts(make_url("postgresql://db/app"))["connect_timeout"] == 5
