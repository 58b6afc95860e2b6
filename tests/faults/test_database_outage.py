"""Answers keep working while PostgreSQL is cut off; /healthz says "degraded"; it comes back.

The app reaches PostgreSQL through :class:`TcpProxy`; ``partition()`` makes
every pooled connection half-open (nothing answers, nothing is closed), the
worst case for a client. Search needs no database, so commands and mentions
must still be acknowledged within Slack's 3 seconds and answered; event
de-duplication and miss logging are skipped with one warning.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import pytest
from sqlalchemy import make_url

from bot.state.db import normalize_database_url
from tests.support.app_server import SIGNING_SECRET, RunningApp, running_app
from tests.support.mock_slack import MockSlack
from tests.support.signing import FORM, JSON, event_body, post, signed_headers, slash_command_body
from tests.support.tcp_proxy import TcpProxy

ACK_BUDGET = 3.0
pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@pytest.fixture
def proxied(db_url: str) -> Iterator[tuple[TcpProxy, str]]:
    url = make_url(normalize_database_url(db_url))
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)


def _health(app: RunningApp) -> dict[str, object]:
    with urllib.request.urlopen(f"{app.url}/healthz", timeout=ACK_BUDGET) as response:
        assert response.status == 200
        return dict(json.load(response))


def _wait_health(app: RunningApp, database: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (state := _health(app)["database"]) != database:
        assert time.monotonic() < deadline, f"database still {state!r} after {timeout} s"
        time.sleep(0.2)  # polling /healthz, bounded by the deadline


def _timed_post(app: RunningApp, body: str, content_type: str) -> tuple[int, float]:
    started = time.monotonic()
    status, _, _ = post(
        app.events_url, body, signed_headers(body, SIGNING_SECRET, content_type=content_type)
    )
    return status, time.monotonic() - started


def test_answers_survive_a_database_partition(
    proxied: tuple[TcpProxy, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    proxy, url = proxied
    with (
        MockSlack() as mock,
        running_app(mock.base_url, url, tmp_path_factory.mktemp("outage"), workers=1) as app,
    ):
        assert _health(app)["database"] == "ok"
        proxy.partition()

        mention = {
            "type": "app_mention",
            "user": "U1",
            "channel": "C9",
            "text": "<@UBOT> distillation",
            "ts": "5.1",
        }
        status, elapsed = _timed_post(app, event_body(mention, event_id="EvOutage1"), JSON)
        assert status == 200 and elapsed < ACK_BUDGET
        for n, text in enumerate(["distillation", "zzqx wholly unknown words here"]):
            body = slash_command_body(text, response_url=mock.response_url(f"out{n}"))
            status, elapsed = _timed_post(app, body, FORM)
            assert status == 200 and elapsed < ACK_BUDGET

        mock.wait_for("chat.postMessage", 1, status=200, timeout=10)
        answered = mock.wait_for("response", 2, timeout=10)
        assert {c.params["key"] for c in answered} == {"out0", "out1"}
        assert _health(app)["database"] == "degraded"
        # Once per process, not per request: the web worker (event de-duplication) and
        # its answer process (miss logging, bot.answer_process) each say it once.
        assert app.log().count("database unavailable") == 2

        proxy.heal()
        _wait_health(app, "ok", timeout=30)
        assert "database reachable again" in app.log()
        assert "Traceback" not in app.log()
