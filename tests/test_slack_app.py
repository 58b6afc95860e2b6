"""The Slack app end to end: ``ai-race serve`` under gunicorn on a loopback port.

Only what needs the real server is here: its start line and health check, one
answer through HTTP and the answer queue, signature checks at the door, and a
retried event arriving on two workers at once. Listeners and rendering are
tested in-process, much faster, in ``tests/test_slack_listeners.py``.
Requests are signed with Slack's algorithm; the app's Web API calls and
``response_url`` posts go to a local mock of Slack that records them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from bot.core.presentation import source_label
from bot.core.store import REPO_CLAIMS, load_store
from tests.support.app_server import SIGNING_SECRET, RunningApp, running_app
from tests.support.mock_slack import MockSlack
from tests.support.signing import FORM, post, signed_headers, slash_command_body
from tests.support.slack_requests import (
    HttpTarget,
    assert_within_limits,
    buttons,
    command,
    event,
    mention,
    strings,
)

STORE = load_store(REPO_CLAIMS)


@pytest.fixture(scope="module")
def server(mock: MockSlack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'app.sqlite3'}"
    with running_app(mock.base_url, database_url, tmp_path_factory.mktemp("log")) as running:
        yield running


@pytest.fixture
def app(server: RunningApp, mock: MockSlack) -> HttpTarget:
    mock.reset()
    return HttpTarget(server.events_url)


def test_healthz_reports_claims(server: RunningApp) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{server.url}/healthz") as response:
        assert response.status == 200
        health = json.load(response)
        assert health == {"ok": True, "claims": len(STORE), "database": "ok", "answers": "ok"}
    # Started with -v: one line says where it listens, in which mode, with how many claims;
    # Bolt is built without its "token will be unused" warning and Alembic stays quiet.
    log = server.log()
    assert f"ai-race serve: listening on {server.url}/slack/events (HTTP, 2 workers" in log
    assert f"), {len(STORE)} claims" in log
    assert "will be unused" not in log and "alembic" not in log


def test_query_answers_ephemerally_with_sourced_claims(app: HttpTarget, mock: MockSlack) -> None:
    payload = command(app, mock, "distillation")
    assert payload["response_type"] == "ephemeral"
    assert_within_limits(payload)
    claim = STORE.get("distillation-efficiency")
    assert claim is not None
    texts = list(strings(payload["blocks"]))
    assert payload["blocks"][0]["text"]["text"] == "Results for *“distillation”*"
    assert payload["blocks"][1]["text"]["text"].startswith(f"*{claim.title}*")
    for source in claim.sources[:3]:
        assert any(f"<{source.url}|{source_label(source)}>" in t for t in texts)
    assert any(t.startswith("_Why: ") for t in texts)
    labels = [b["text"]["text"] for b in buttons(payload)]
    assert "Share in channel" in labels and "Sources" in labels
    assert claim.title in payload["text"]


def test_mention_at_top_level_replies_in_a_new_thread(app: HttpTarget, mock: MockSlack) -> None:
    status, _ = event(
        app,
        mention("<@UBOT> open source models", "1700000001.000100"),
        "EvTop",
    )
    assert status == 200
    call = mock.wait_for("chat.postMessage")[0]
    assert call.params["channel"] == "C9"
    assert call.params["thread_ts"] == "1700000001.000100"
    assert "open-source" in call.params["text"].lower()
    kinds = {b["action_id"].partition(":")[0] for b in buttons(call.params)}
    assert kinds == {"feedback"}, "thread answers have no private-answer buttons"


def test_retried_event_is_answered_once(app: HttpTarget, mock: MockSlack) -> None:
    payload = mention("<@UBOT> hassabis", "1700000004.000400")
    results: list[tuple[int, dict[str, str]]] = []
    # The original and a retry arrive together, on whichever workers take them.
    threads = [
        threading.Thread(target=lambda h=h: results.append(event(app, payload, "EvRetry", h)))
        for h in ({}, {"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"})
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in results] == [200, 200]
    dropped = [h for _, h in results if h.get("x-slack-no-retry") == "1"]
    assert len(dropped) == 1, "exactly one delivery is dropped at the door"
    mock.wait_for("chat.postMessage")
    # A third, later retry is dropped too, and the answer count stays at one.
    status, headers = event(app, payload, "EvRetry", {"x-slack-retry-num": "2"})
    assert status == 200 and headers.get("x-slack-no-retry") == "1"
    assert len(mock.calls_to("chat.postMessage")) == 1


def test_bad_signature_is_rejected_and_nothing_is_posted(app: HttpTarget, mock: MockSlack) -> None:
    body = slash_command_body("distillation", response_url=mock.response_url("forged"))
    headers = signed_headers(body, "not-the-secret-at-all-1234", content_type=FORM)
    status, _, _ = post(app.events_url, body, headers)
    assert status == 401
    stale = signed_headers(
        body, SIGNING_SECRET, content_type=FORM, timestamp=int(time.time()) - 400
    )
    assert post(app.events_url, body, stale)[0] == 401
    # A correctly signed request afterwards is answered, and it is the only response.
    command(app, mock, "tiktok")
    assert [c.params["key"] for c in mock.calls_to("response")] != ["forged"]
    assert all(c.params["key"] != "forged" for c in mock.calls_to("response"))
