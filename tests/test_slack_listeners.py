"""The Slack listeners and what they render, with the Bolt app in-process.

As bolt-python's own ``tests/scenario_tests`` do it: every request is signed
with Slack's algorithm and handed to ``app.dispatch(BoltRequest(...))``; the
app's Web API calls and ``response_url`` posts go to the local mock Slack,
which records them. The same requests over HTTP to gunicorn are in
``tests/test_slack_app.py``. Expected content is derived from the claim
files, not written into the test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.store import REPO_CLAIMS, load_store
from bot.state.db import make_engine
from bot.state.misses import top_misses
from tests.support.bolt_inprocess import InProcessApp, inprocess_app
from tests.support.mock_slack import MockSlack
from tests.support.slack_requests import (
    action,
    assert_within_limits,
    block_action,
    buttons,
    command,
    event,
    key,
    mention,
    reply_to_mention,
    strings,
)

STORE = load_store(REPO_CLAIMS)


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'app.sqlite3'}"


@pytest.fixture(scope="module")
def running(mock: MockSlack, database_url: str) -> Iterator[InProcessApp]:
    with inprocess_app(mock.base_url, database_url, Path(REPO_CLAIMS)) as app:
        yield app


@pytest.fixture
def app(running: InProcessApp, mock: MockSlack) -> InProcessApp:
    mock.reset()
    return running


def test_contrasting_claim_is_named(app: InProcessApp, mock: MockSlack) -> None:
    payload = command(app, mock, "hassabis")
    contrast = [t for t in strings(payload["blocks"]) if "Contrasts with" in t]
    assert contrast and "`seedance-audio-video`" in contrast[0]


@pytest.mark.parametrize("text", ["", "help"])
def test_help(app: InProcessApp, mock: MockSlack, text: str) -> None:
    payload = command(app, mock, text)
    joined = "\n".join(strings(payload["blocks"]))
    for usage in ("/ai-race topics", "/ai-race claim <id>", "/ai-race random", "digest on"):
        assert usage in joined


def test_topics_are_buttons_with_counts(app: InProcessApp, mock: MockSlack) -> None:
    payload = command(app, mock, "topics")
    labels = [b["text"]["text"] for b in buttons(payload)]
    assert labels == [f"{topic} ({count})" for topic, count in STORE.topic_counts()]


def test_claim_in_full(app: InProcessApp, mock: MockSlack) -> None:
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


def test_unknown_claim_id_suggests_near_ids(app: InProcessApp, mock: MockSlack) -> None:
    payload = command(app, mock, "claim huang-deepsek")
    assert "no claim with id “huang-deepsek”" in payload["text"]
    assert "`huang-deepseek`" in payload["text"]


def test_random_claim(app: InProcessApp, mock: MockSlack) -> None:
    payload = command(app, mock, "random")
    assert payload["blocks"][0]["type"] == "header"
    assert payload["blocks"][0]["text"]["text"] in {c.title for c in STORE.claims}


def test_no_match_is_friendly_and_recorded(
    app: InProcessApp, mock: MockSlack, database_url: str
) -> None:
    payload = command(app, mock, "lunch menu for friday", team_id="TMISS")
    assert "couldn't find a claim" in payload["blocks"][0]["text"]["text"]
    assert buttons(payload), "suggestions are offered as buttons"
    assert "Traceback" not in json.dumps(payload)
    misses = top_misses(make_engine(database_url))
    assert misses[0][:2] == ("lunch menu for friday", 1)


def share_in_channel(app: InProcessApp, mock: MockSlack, value: str) -> dict[str, Any]:
    """Click "Share in channel": the bot posts the answer itself, so Slack returns its ts
    (where a correction of its claims would reply later)."""
    payload = block_action("share_answer", value, mock.response_url(key("share")))
    assert app.interactive(payload).status == 200
    [posted] = mock.wait_for("chat.postMessage")
    assert posted.params["channel"] == "C123"
    return posted.params


def test_share_posts_the_same_answer_visibly(app: InProcessApp, mock: MockSlack) -> None:
    private = command(app, mock, "open source")
    share = next(b for b in buttons(private) if b["action_id"] == "share_answer")
    shared = share_in_channel(app, mock, share["value"])
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


def test_more_pages_through_results(app: InProcessApp, mock: MockSlack) -> None:
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


def test_sources_button_lists_every_source(app: InProcessApp, mock: MockSlack) -> None:
    claim = STORE.get("tiktok-creation-engine")
    assert claim is not None
    payload = action(app, mock, f"show_sources:{claim.id}", claim.id)
    joined = "\n".join(strings(payload["blocks"]))
    assert all(source.url in joined and source.supports in joined for source in claim.sources)


def test_topic_button_searches_the_topic(app: InProcessApp, mock: MockSlack) -> None:
    payload = action(app, mock, "search_topic:0", "distillation")
    assert payload["blocks"][1]["text"]["text"].startswith(
        "*" + STORE.get("distillation-efficiency").title
    )


def test_mention_inside_a_thread_replies_in_that_thread(app: InProcessApp, mock: MockSlack) -> None:
    reply = reply_to_mention(app, mock, "<@UBOT> tiktok", "1700000002.000200", "1700000000.000001")
    assert reply["thread_ts"] == "1700000000.000001"


def test_bare_mention_in_a_thread_looks_up_the_parent(app: InProcessApp, mock: MockSlack) -> None:
    mock.replies[("C9", "1700000000.000500")] = [
        {
            "type": "message",
            "user": "U7",
            "ts": "1700000000.000500",
            "text": "Jensen Huang keeps crediting DeepSeek for helping the American startups",
        }
    ]
    reply = reply_to_mention(app, mock, "<@UBOT>", "1700000003.000300", "1700000000.000500")
    replies = mock.calls_to("conversations.replies")
    assert replies and replies[0].params["ts"] == "1700000000.000500"
    assert STORE.get("huang-deepseek").title in reply["text"]
    assert reply["thread_ts"] == "1700000000.000500"


def test_mention_survives_a_rate_limited_post(app: InProcessApp, mock: MockSlack) -> None:
    mock.fail_next("chat.postMessage", status=429, retry_after=1)
    event(
        app,
        mention("<@UBOT> sora 2", "1700000005.000500"),
        "EvLimited",
    )
    calls = mock.wait_for("chat.postMessage", 2, timeout=10)
    assert [c.status for c in calls] == [429, 200]
    assert len(mock.posted("C9")) == 1


def test_message_shortcut_finds_related_claims(app: InProcessApp, mock: MockSlack) -> None:
    mine = key("sc")
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
        "response_url": mock.response_url(mine),
        "message_ts": "1.2",
    }
    assert app.interactive(payload).status == 200
    answer = mock.response_to(mine)
    assert answer["response_type"] == "ephemeral"
    assert answer["blocks"][1]["text"]["text"].startswith(
        "*" + STORE.get("open-source-leaderboards").title
    )


def test_app_home_is_published(app: InProcessApp, mock: MockSlack) -> None:
    event(app, {"type": "app_home_opened", "user": "U55", "channel": "D1", "tab": "home"}, "EvHome")
    call = mock.wait_for("views.publish")[0]
    assert call.params["user_id"] == "U55"
    view = call.params["view"]
    assert view["type"] == "home"
    joined = "\n".join(strings(view["blocks"]))
    topic, count = STORE.topic_counts()[0]
    assert f"{topic} ({count})" in joined
    assert STORE.recent(1)[0].title in joined


def _assert_no_pings(payload: dict[str, Any]) -> None:
    for text in strings(payload):
        for token in ("<!channel>", "<!here>", "<!everyone>", "<#C42", "<@U999>"):
            assert token not in text, (token, text)


def test_mentions_in_queries_are_escaped_everywhere(app: InProcessApp, mock: MockSlack) -> None:
    # As Slack sends it: real tokens raw, typed angle brackets and ampersands escaped.
    query = "<!channel> <@U999> <#C42|general> open source &amp; &lt;b&gt;models&lt;/b&gt;"
    private = command(app, mock, query)
    _assert_no_pings(private)
    assert "@channel" in private["blocks"][0]["text"]["text"]
    assert "&lt;b&gt;" in private["blocks"][0]["text"]["text"]
    share = next(b for b in buttons(private) if b["action_id"] == "share_answer")
    _assert_no_pings(share_in_channel(app, mock, share["value"]))
    missing = command(app, mock, "<!here> <!everyone> lunch")
    _assert_no_pings(missing)
    mock.reset()  # the mention's reply is then the first post
    _assert_no_pings(
        reply_to_mention(app, mock, "<@UBOT> <!channel> deepseek", "1700000006.000600")
    )


def test_ten_kilobyte_query_gets_a_polite_bounded_answer(
    app: InProcessApp, mock: MockSlack
) -> None:
    payload = command(app, mock, ("open source models " * 600)[:10_240])
    assert_within_limits(payload)
    shown = payload["blocks"][0]["text"]["text"]
    assert len(shown) < 400, "the echoed query is shortened"


def test_digest_subscription_lifecycle_from_slack(
    app: InProcessApp, mock: MockSlack, database_url: str
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


def test_digest_bad_input_is_explained_and_inert(app: InProcessApp, mock: MockSlack) -> None:
    late = command(app, mock, "digest on 25:00", channel_id="CDIGEST2")
    assert "`25:00` is not a time of day" in late["text"]
    zone = command(app, mock, "digest on <!channel>", channel_id="CDIGEST2")
    _assert_no_pings(zone)
    assert "&lt;!channel&gt;" in zone["text"]


def test_bare_mention_in_unreadable_thread_says_why(app: InProcessApp, mock: MockSlack) -> None:
    # No replies are registered for this thread: the mock answers thread_not_found.
    reply = reply_to_mention(app, mock, "<@UBOT>", "1700000007.000700", "1700000000.000900")
    assert reply["thread_ts"] == "1700000000.000900"
    assert "couldn't read this thread's first message" in reply["text"]
    assert "thread_not_found" in reply["text"]


@pytest.mark.parametrize(
    ("payload", "ts"),
    [
        ({"type": "app_mention", "user": "U1", "text": "<@UBOT> tiktok", "ts": "1.1"}, "1.000801"),
        ({"type": "app_home_opened", "channel": "D1", "tab": "home"}, "1.000802"),
    ],
)
def test_a_signed_event_without_its_key_fields_gets_4xx_not_500(
    app: InProcessApp, mock: MockSlack, payload: dict[str, Any], ts: str
) -> None:
    status, _ = event(app, payload, key("EvShape"))
    assert 400 <= status < 500
    # A well-formed event afterwards is still answered, and it is the only post.
    reply_to_mention(app, mock, "<@UBOT> tiktok", ts)
    assert not mock.calls_to("views.publish")
    assert [c.params["channel"] for c in mock.calls_to("chat.postMessage")] == ["C9"]
