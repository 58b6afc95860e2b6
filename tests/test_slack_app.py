"""The Slack app through the real stack.

``ai-race serve`` runs under gunicorn on a loopback port; requests are signed
with Slack's algorithm; the app's Web API calls and ``response_url`` posts go
to a local mock of Slack that records them. Expected content is derived from
the claim files, not written into the test.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.core.presentation import source_label
from bot.core.store import REPO_CLAIMS, load_store
from bot.state.db import make_engine
from bot.state.misses import top_misses
from tests.support.app_server import SIGNING_SECRET, RunningApp, running_app
from tests.support.mock_slack import MockSlack
from tests.support.signing import (
    FORM,
    JSON,
    event_body,
    interactive_body,
    post,
    signed_headers,
    slash_command_body,
)

STORE = load_store(REPO_CLAIMS)


@pytest.fixture(scope="module")
def mock() -> Iterator[MockSlack]:
    with MockSlack() as server:
        yield server


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'app.sqlite3'}"


@pytest.fixture(scope="module")
def app(mock: MockSlack, database_url: str, tmp_path_factory) -> Iterator[RunningApp]:
    with running_app(mock.base_url, database_url, tmp_path_factory.mktemp("log")) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_mock(mock: MockSlack) -> None:
    mock.reset()


_counter = iter(range(1_000_000))


def command(app: RunningApp, mock: MockSlack, text: str, **fields: str) -> dict[str, Any]:
    """Send ``/ai-race <text>``; return the JSON posted to its response_url."""
    key = f"cmd{next(_counter)}"
    body = slash_command_body(text, response_url=mock.response_url(key), **fields)
    status, _, ack = post(
        app.events_url, body, signed_headers(body, SIGNING_SECRET, content_type=FORM)
    )
    assert status == 200 and ack == b"", (status, ack)
    return _response(mock, key)


def _response(mock: MockSlack, key: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        mine = [c for c in mock.calls_to("response") if c.params.get("key") == key]
        if mine:
            return mine[0].params
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no response_url post for {key}"
        mock.wait_for("response", len(mock.calls_to("response")) + 1, timeout=remaining)


def action(app: RunningApp, mock: MockSlack, action_id: str, value: str) -> dict[str, Any]:
    key = f"act{next(_counter)}"
    payload = {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "test"},
        "user": {"id": "U123", "username": "alice", "team_id": "T1"},
        "api_app_id": "A1",
        "channel": {"id": "C123", "name": "general"},
        "container": {"type": "message", "is_ephemeral": True},
        "trigger_id": "1.2.3",
        "response_url": mock.response_url(key),
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b",
                "type": "button",
                "value": value,
                "action_ts": "1.1",
            }
        ],
    }
    body = interactive_body(payload)
    status, _, _ = post(
        app.events_url, body, signed_headers(body, SIGNING_SECRET, content_type=FORM)
    )
    assert status == 200
    return _response(mock, key)


def event(
    app: RunningApp,
    event_payload: dict[str, Any],
    event_id: str,
    extra_headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str]]:
    body = event_body(event_payload, event_id=event_id)
    headers = {**signed_headers(body, SIGNING_SECRET, content_type=JSON), **(extra_headers or {})}
    status, response_headers, _ = post(app.events_url, body, headers)
    return status, response_headers


def mention(
    text: str, ts: str, thread_ts: str | None = None, channel: str = "C9"
) -> dict[str, Any]:
    """An app_mention event as Slack sends it."""
    payload = {"type": "app_mention", "user": "U123", "channel": channel, "text": text, "ts": ts}
    if thread_ts:
        payload["thread_ts"] = thread_ts
    return payload


def strings(value: Any) -> Iterator[str]:
    """Every string inside a payload (texts, fallbacks, button values)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def buttons(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]]


def assert_within_limits(payload: dict[str, Any]) -> None:
    assert payload["text"], "a plain-text fallback is always sent"
    assert len(payload["blocks"]) <= 50
    assert len(json.dumps(payload)) < 12_000
    for block in payload["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150


# --------------------------------------------------------------------------- health


def test_healthz_reports_claims(app: RunningApp) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{app.url}/healthz") as response:
        assert response.status == 200
        assert json.load(response) == {"ok": True, "claims": len(STORE), "database": "ok"}
    # Started with -v: one line says where it listens, in which mode, with how many claims;
    # Bolt is built without its "token will be unused" warning and Alembic stays quiet.
    log = app.log()
    assert f"ai-race serve: listening on {app.url}/slack/events (HTTP, 2 workers" in log
    assert f"), {len(STORE)} claims" in log
    assert "will be unused" not in log and "alembic" not in log


# ------------------------------------------------------------------- slash command


def test_query_answers_ephemerally_with_sourced_claims(app: RunningApp, mock: MockSlack) -> None:
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


def test_contrasting_claim_is_named(app: RunningApp, mock: MockSlack) -> None:
    payload = command(app, mock, "hassabis")
    contrast = [t for t in strings(payload["blocks"]) if "Contrasts with" in t]
    assert contrast and "`seedance-audio-video`" in contrast[0]


@pytest.mark.parametrize("text", ["", "help"])
def test_help(app: RunningApp, mock: MockSlack, text: str) -> None:
    payload = command(app, mock, text)
    joined = "\n".join(strings(payload["blocks"]))
    for usage in ("/ai-race topics", "/ai-race claim <id>", "/ai-race random", "digest on"):
        assert usage in joined


def test_topics_are_buttons_with_counts(app: RunningApp, mock: MockSlack) -> None:
    payload = command(app, mock, "topics")
    labels = [b["text"]["text"] for b in buttons(payload)]
    assert labels == [f"{topic} ({count})" for topic, count in STORE.topic_counts()]


def test_claim_in_full(app: RunningApp, mock: MockSlack) -> None:
    claim = STORE.get("huang-deepseek")
    assert claim is not None
    payload = command(app, mock, "claim huang-deepseek")
    assert payload["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": claim.title, "emoji": True},
    }
    joined = "\n".join(strings(payload["blocks"]))
    for source in claim.sources:
        assert source.url in joined
    assert_within_limits(payload)


def test_unknown_claim_id_suggests_near_ids(app: RunningApp, mock: MockSlack) -> None:
    payload = command(app, mock, "claim huang-deepsek")
    assert "no claim with id “huang-deepsek”" in payload["text"]
    assert "`huang-deepseek`" in payload["text"]


def test_random_claim(app: RunningApp, mock: MockSlack) -> None:
    payload = command(app, mock, "random")
    assert payload["blocks"][0]["type"] == "header"
    assert payload["blocks"][0]["text"]["text"] in {c.title for c in STORE.claims}


def test_no_match_is_friendly_and_recorded(
    app: RunningApp, mock: MockSlack, database_url: str
) -> None:
    payload = command(app, mock, "lunch menu for friday", team_id="TMISS")
    assert "couldn't find a claim" in payload["blocks"][0]["text"]["text"]
    assert buttons(payload), "suggestions are offered as buttons"
    assert "Traceback" not in json.dumps(payload)
    misses = top_misses(make_engine(database_url))
    assert misses[0][:2] == ("lunch menu for friday", 1)


# ------------------------------------------------------------------------ buttons


def test_share_posts_the_same_answer_visibly(app: RunningApp, mock: MockSlack) -> None:
    private = command(app, mock, "open source")
    share = next(b for b in buttons(private) if b["action_id"] == "share_answer")
    shared = action(app, mock, "share_answer", share["value"])
    assert shared["response_type"] == "in_channel"
    assert shared["replace_original"] is False
    # No private buttons (Share, More, Sources): only feedback, which anyone may give.
    assert {b["action_id"].partition(":")[0] for b in buttons(shared)} == {"feedback"}
    assert any(t.startswith("Shared by <@U123>") for t in strings(shared["blocks"]))
    private_titles = [
        b["text"]["text"].split("\n")[0] for b in private["blocks"][1:] if b["type"] == "section"
    ]
    shared_titles = [
        b["text"]["text"].split("\n")[0] for b in shared["blocks"][1:] if b["type"] == "section"
    ]
    assert shared_titles == private_titles


def test_more_pages_through_results(app: RunningApp, mock: MockSlack) -> None:
    first = command(app, mock, "china open source models video")
    more = next((b for b in buttons(first) if b["action_id"] == "more_results"), None)
    assert more is not None, "this broad query has more than three matches"
    page = action(app, mock, "more_results", more["value"])
    assert page["blocks"][0]["text"]["text"].startswith("More results for")
    first_ids = {
        b["block_id"] for b in first["blocks"] if b.get("block_id", "").startswith("claim:")
    }
    next_ids = {b["block_id"] for b in page["blocks"] if b.get("block_id", "").startswith("claim:")}
    assert next_ids and not first_ids & next_ids


def test_sources_button_lists_every_source(app: RunningApp, mock: MockSlack) -> None:
    claim = STORE.get("tiktok-creation-engine")
    assert claim is not None
    payload = action(app, mock, f"show_sources:{claim.id}", claim.id)
    joined = "\n".join(strings(payload["blocks"]))
    assert all(source.url in joined and source.supports in joined for source in claim.sources)


def test_topic_button_searches_the_topic(app: RunningApp, mock: MockSlack) -> None:
    payload = action(app, mock, "search_topic:0", "distillation")
    assert payload["blocks"][1]["text"]["text"].startswith(
        "*" + STORE.get("distillation-efficiency").title
    )


# ----------------------------------------------------------------------- mentions


def test_mention_at_top_level_replies_in_a_new_thread(app: RunningApp, mock: MockSlack) -> None:
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


def test_mention_inside_a_thread_replies_in_that_thread(app: RunningApp, mock: MockSlack) -> None:
    event(
        app,
        mention("<@UBOT> tiktok", "1700000002.000200", "1700000000.000001"),
        "EvThread",
    )
    call = mock.wait_for("chat.postMessage")[0]
    assert call.params["thread_ts"] == "1700000000.000001"


def test_bare_mention_in_a_thread_looks_up_the_parent(app: RunningApp, mock: MockSlack) -> None:
    mock.replies[("C9", "1700000000.000500")] = [
        {
            "type": "message",
            "user": "U7",
            "ts": "1700000000.000500",
            "text": "Jensen Huang keeps crediting DeepSeek for helping the American startups",
        }
    ]
    event(
        app,
        mention("<@UBOT>", "1700000003.000300", "1700000000.000500"),
        "EvBare",
    )
    call = mock.wait_for("chat.postMessage")[0]
    replies = mock.calls_to("conversations.replies")
    assert replies and replies[0].params["ts"] == "1700000000.000500"
    assert STORE.get("huang-deepseek").title in call.params["text"]
    assert call.params["thread_ts"] == "1700000000.000500"


def test_retried_event_is_answered_once(app: RunningApp, mock: MockSlack) -> None:
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


def test_mention_survives_a_rate_limited_post(app: RunningApp, mock: MockSlack) -> None:
    mock.fail_next("chat.postMessage", status=429, retry_after=1)
    event(
        app,
        mention("<@UBOT> sora 2", "1700000005.000500"),
        "EvLimited",
    )
    calls = mock.wait_for("chat.postMessage", 2, timeout=10)
    assert [c.status for c in calls] == [429, 200]
    assert len(mock.posted("C9")) == 1


# ----------------------------------------------------------------- shortcut, home


def test_message_shortcut_finds_related_claims(app: RunningApp, mock: MockSlack) -> None:
    key = f"sc{next(_counter)}"
    payload = {
        "type": "message_action",
        "callback_id": "find_related_claims",
        "trigger_id": "1.2",
        "team": {"id": "T1"},
        "user": {"id": "U123"},
        "channel": {"id": "C123"},
        "message": {
            "type": "message",
            "ts": "1.2",
            "text": "Chinese open models now top the open leaderboards and downloads",
        },
        "response_url": mock.response_url(key),
        "message_ts": "1.2",
    }
    body = interactive_body(payload)
    status, _, _ = post(
        app.events_url, body, signed_headers(body, SIGNING_SECRET, content_type=FORM)
    )
    assert status == 200
    answer = _response(mock, key)
    assert answer["response_type"] == "ephemeral"
    assert answer["blocks"][1]["text"]["text"].startswith(
        "*" + STORE.get("open-source-leaderboards").title
    )


def test_app_home_is_published(app: RunningApp, mock: MockSlack) -> None:
    event(app, {"type": "app_home_opened", "user": "U55", "channel": "D1", "tab": "home"}, "EvHome")
    call = mock.wait_for("views.publish")[0]
    assert call.params["user_id"] == "U55"
    view = call.params["view"]
    assert view["type"] == "home"
    joined = "\n".join(strings(view["blocks"]))
    topic, count = STORE.topic_counts()[0]
    assert f"{topic} ({count})" in joined
    assert STORE.recent(1)[0].title in joined


# --------------------------------------------------------------------- security


def test_bad_signature_is_rejected_and_nothing_is_posted(app: RunningApp, mock: MockSlack) -> None:
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


def _assert_no_pings(payload: dict[str, Any]) -> None:
    for text in strings(payload):
        for token in ("<!channel>", "<!here>", "<!everyone>", "<#C42", "<@U999>"):
            assert token not in text, (token, text)


def test_mentions_in_queries_are_escaped_everywhere(app: RunningApp, mock: MockSlack) -> None:
    # As Slack sends it: real tokens raw, typed angle brackets and ampersands escaped.
    query = "<!channel> <@U999> <#C42|general> open source &amp; &lt;b&gt;models&lt;/b&gt;"
    private = command(app, mock, query)
    _assert_no_pings(private)
    assert "@channel" in private["blocks"][0]["text"]["text"]
    assert "&lt;b&gt;" in private["blocks"][0]["text"]["text"]
    share = next(b for b in buttons(private) if b["action_id"] == "share_answer")
    shared = action(app, mock, "share_answer", share["value"])
    _assert_no_pings({k: v for k, v in shared.items()})
    missing = command(app, mock, "<!here> <!everyone> lunch")
    _assert_no_pings(missing)
    event(
        app,
        mention("<@UBOT> <!channel> deepseek", "1700000006.000600"),
        "EvEsc",
    )
    _assert_no_pings(mock.wait_for("chat.postMessage")[0].params)


def test_ten_kilobyte_query_gets_a_polite_bounded_answer(app: RunningApp, mock: MockSlack) -> None:
    payload = command(app, mock, ("open source models " * 600)[:10_240])
    assert_within_limits(payload)
    shown = payload["blocks"][0]["text"]["text"]
    assert len(shown) < 400, "the echoed query is shortened"


# ------------------------------------------------------------------------- digest


def test_digest_subscription_lifecycle_from_slack(
    app: RunningApp, mock: MockSlack, database_url: str
) -> None:
    channel = "CDIGEST1"
    on = command(app, mock, "digest on", channel_id=channel, user_id="U123")
    # No time zone given: the subscriber's own (users.info) is used; default 09:00 weekdays.
    assert mock.calls_to("users.info")[0].params["user"] == "U123"
    tz = mock.users["U123"]["tz"]
    assert f"at 09:00 {tz} on weekdays" in on["text"]
    changed = command(app, mock, "digest on 07:45 Europe/Berlin daily", channel_id=channel)
    assert "07:45 Europe/Berlin every day" in changed["text"]
    status = command(app, mock, "digest status", channel_id=channel)
    assert "07:45" in status["text"] and "Europe/Berlin" in status["text"]
    preview = command(app, mock, "digest preview", channel_id=channel)
    assert preview["blocks"][0]["type"] == "header"
    assert preview["blocks"][0]["text"]["text"].startswith("AI race digest")
    assert not mock.calls_to("chat.postMessage"), "a preview is only shown to the asker"
    off = command(app, mock, "digest off", channel_id=channel)
    assert "turned off" in off["text"]
    assert "no daily digest" in command(app, mock, "digest status", channel_id=channel)["text"]


def test_digest_bad_input_is_explained_and_inert(app: RunningApp, mock: MockSlack) -> None:
    late = command(app, mock, "digest on 25:00", channel_id="CDIGEST2")
    assert "`25:00` is not a time of day" in late["text"]
    zone = command(app, mock, "digest on <!channel>", channel_id="CDIGEST2")
    _assert_no_pings(zone)
    assert "&lt;!channel&gt;" in zone["text"]


def test_bare_mention_in_unreadable_thread_says_why(app: RunningApp, mock: MockSlack) -> None:
    # No replies are registered for this thread: the mock answers thread_not_found.
    event(
        app,
        mention("<@UBOT>", "1700000007.000700", "1700000000.000900"),
        "EvUnreadable",
    )
    call = mock.wait_for("chat.postMessage")[0]
    assert call.params["thread_ts"] == "1700000000.000900"
    assert "couldn't read this thread's first message" in call.params["text"]
    assert "thread_not_found" in call.params["text"]
