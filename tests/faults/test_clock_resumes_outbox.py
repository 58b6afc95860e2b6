"""The digest clock (``digest run --forever``) resumes replies a stopped web process left.

A deployment may run the clock alone for a while (web scaled down, a failed
deploy): a mention reply that was waiting out a Retry-After when its web
process stopped must still go out, once, from the clock. Real processes:
``ai-race serve`` is stopped with SIGTERM while the mock Slack makes the reply
wait; then only the clock runs. Before this the clock never looked at the
outbox and the reply stayed unsent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.state.models import ClaimCitation, ReplyOutbox
from tests.support.app_server import BOT_TOKEN, SIGNING_SECRET, running_app
from tests.support.mock_slack import MockSlack
from tests.support.polling import rows, wait_until
from tests.support.signing import JSON, event_body, post, signed_headers
from tests.support.slack_requests import mention

FAST_OUTBOX = {
    "AI_RACE_OUTBOX_LEASE_SECONDS": "1",
    "AI_RACE_OUTBOX_INTERVAL_SECONDS": "1",
    "AI_RACE_DRAIN_SECONDS": "1",
}


def _clock(mock: MockSlack, db_url: str, tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    config = tmp_path / "digest.yaml"
    config.write_text("subscriptions: []\n")
    log_path = tmp_path / "clock.log"
    env = {
        **os.environ,
        **FAST_OUTBOX,
        "DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": mock.base_url,
        "AI_RACE_DIGEST_CONFIG": str(config),
    }
    command = [sys.executable, "-m", "bot", "-v", "digest", "run", "--forever", "--interval", "1"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, log_path


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_the_digest_clock_posts_a_reply_its_web_process_left_once(
    db_url: str, db_engine: Engine, tmp_path: Path
) -> None:
    thread_ts = "1700000100.000300"
    event = mention("<@UBOT> open source models", thread_ts)
    body = event_body(event, event_id=f"EvClock{os.getpid()}")
    with MockSlack() as mock:
        mock.fail_next("chat.postMessage", status=429, retry_after=5, count=1)
        with running_app(mock.base_url, db_url, tmp_path, workers=1, **FAST_OUTBOX) as web:
            headers = signed_headers(body, SIGNING_SECRET, content_type=JSON)
            assert post(web.events_url, body, headers)[0] == 200
            mock.wait_for("chat.postMessage", 1, status=429, timeout=15)
            kept = lambda: len(rows(db_engine, ReplyOutbox)) == 1  # noqa: E731
            wait_until("the reply is kept", kept, context=web.log_path.read_text)
            web.process.send_signal(signal.SIGTERM)
            web.process.wait(timeout=15)
        assert mock.posted() == []
        clock, log = _clock(mock, db_url, tmp_path)
        try:
            mock.wait_for("chat.postMessage", 1, status=200, timeout=20)
            sent = lambda: [r.status for r in rows(db_engine, ReplyOutbox)] == ["sent"]  # noqa: E731
            wait_until("the row is sent", sent, context=log.read_text)
            clock.send_signal(signal.SIGTERM)
            assert clock.wait(timeout=15) == 0, log.read_text()
        finally:
            if clock.poll() is None:
                clock.kill()
                clock.wait()
    assert [m["thread_ts"] for m in mock.posted()] == [thread_ts]
    citations = rows(db_engine, ClaimCitation)  # recorded by the clock, as a web process would
    assert citations and {c.thread_ts for c in citations} == {thread_ts}
    assert {c.kind for c in citations} == {"thread"}
