"""Listeners run before the response (bot.app), so one that calls Slack must do it lazily.

The App Home is published through ``views.publish``; the mock Web API takes
that call but holds its answer. The ``app_home_opened`` event must still be
acknowledged at once, or Slack would retry it.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.app_server import SIGNING_SECRET, running_app
from tests.support.mock_slack import MockSlack
from tests.support.signing import JSON, event_body, post, signed_headers

ACK_BUDGET = 3.0


def test_an_event_is_acked_while_its_slack_call_hangs(tmp_path: Path) -> None:
    with MockSlack() as mock:
        db = f"sqlite:///{tmp_path / 'home.sqlite3'}"
        with running_app(mock.base_url, db, tmp_path, workers=1) as app:
            release = mock.hold_answers("views.publish")
            try:
                event = {"type": "app_home_opened", "user": "U55", "channel": "D1", "tab": "home"}
                body = event_body(event, event_id="EvHomeHeld")
                started = time.monotonic()
                status, _, _ = post(
                    app.events_url, body, signed_headers(body, SIGNING_SECRET, content_type=JSON)
                )
                elapsed = time.monotonic() - started
                assert status == 200 and elapsed < ACK_BUDGET
                # The publish was made, and is still waiting for Slack's answer.
                mock.wait_for("views.publish", 1, timeout=10)
                assert not release.is_set()
            finally:
                release.set()
