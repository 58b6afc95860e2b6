"""Proves tests/support/mock_slack.py behaves like the Slack Web API for a real slack_sdk client."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier

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


@pytest.fixture
def slack() -> Iterator[MockSlack]:
    with MockSlack() as mock:
        yield mock


@pytest.fixture
def client(slack: MockSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.base_url)


def test_auth_test_and_call_recording(slack: MockSlack, client: WebClient) -> None:
    resp = client.auth_test()
    assert resp["user_id"] == "UBOT" and resp["team_id"] == "T1" and resp["bot_id"] == "B1"
    (call,) = slack.calls_to("auth.test")
    assert call.status == 200
    assert call.headers["authorization"] == "Bearer xoxb-test"


def test_post_and_history_metadata_round_trip(slack: MockSlack, client: WebClient) -> None:
    metadata = {"event_type": "ai_race_digest", "event_payload": {"digest_date": "2026-11-24"}}
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    first = client.chat_postMessage(channel="C1", text="one", blocks=blocks, metadata=metadata)
    second = client.chat_postMessage(channel="C1", text="two")
    client.chat_postMessage(channel="C1", text="reply", thread_ts=first["ts"])
    client.chat_postMessage(channel="C2", text="elsewhere")

    assert float(second["ts"]) > float(first["ts"])
    assert first["channel"] == "C1"
    assert first["message"]["metadata"] == metadata
    assert first["message"]["blocks"] == blocks
    call = slack.calls_to("chat.postMessage")[0]
    assert call.params["metadata"] == metadata and call.params["blocks"] == blocks

    history = client.conversations_history(channel="C1", include_all_metadata=True)
    # Newest first, thread replies excluded (as Slack does), metadata present.
    assert [m["text"] for m in history["messages"]] == ["two", "one"]
    assert history["messages"][1]["metadata"] == metadata

    # Without include_all_metadata Slack omits metadata; so does the mock.
    plain = client.conversations_history(channel="C1")
    assert all("metadata" not in m for m in plain["messages"])

    # oldest is exclusive; limit + cursor paginate.
    newer = client.conversations_history(channel="C1", oldest=first["ts"])
    assert [m["text"] for m in newer["messages"]] == ["two"]
    page = client.conversations_history(channel="C1", limit=1)
    assert page["has_more"] and [m["text"] for m in page["messages"]] == ["two"]
    cursor = page["response_metadata"]["next_cursor"]
    rest = client.conversations_history(channel="C1", limit=1, cursor=cursor)
    assert [m["text"] for m in rest["messages"]] == ["one"] and not rest["has_more"]

    thread = client.conversations_replies(channel="C1", ts=first["ts"])
    assert [m["text"] for m in thread["messages"]] == ["one", "reply"]
    assert [p["text"] for p in slack.posted("C1")] == ["one", "two", "reply"]
    assert len(slack.posted()) == 4


def test_form_encoded_json_fields_are_decoded(slack: MockSlack, client: WebClient) -> None:
    blocks = [{"type": "divider"}]
    client.api_call(
        "chat.postMessage",
        data={"channel": "C1", "text": "t", "blocks": json.dumps(blocks)},
    )
    assert slack.calls_to("chat.postMessage")[0].params["blocks"] == blocks
    assert slack.posted("C1")[0]["blocks"] == blocks


def test_429_surfaces_without_retry_handler(slack: MockSlack, client: WebClient) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="C1", text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.response["error"] == "ratelimited"
    assert slack.posted() == []  # a 429 is not a delivery
    client.chat_postMessage(channel="C1", text="x")  # the failure was one-shot
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 200]


def test_429_is_retried_by_rate_limit_handler(slack: MockSlack) -> None:
    client = WebClient(
        token="xoxb-test",
        base_url=slack.base_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    resp = client.chat_postMessage(channel="C1", text="x")  # the handler sleeps ~1-2 s
    assert resp["ok"]
    calls = slack.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 1.0
    assert len(slack.posted("C1")) == 1


def test_500_injection(slack: MockSlack, client: WebClient) -> None:
    slack.fail_next("views.publish", status=500, count=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as info:
            client.views_publish(user_id="U123", view={"type": "home", "blocks": []})
        assert info.value.response.status_code == 500
        assert info.value.response["error"] == "internal_error"
        assert "retry-after" not in {k.lower() for k in info.value.response.headers}
    resp = client.views_publish(user_id="U123", view={"type": "home", "blocks": []})
    assert resp["view"]["type"] == "home"


@pytest.mark.parametrize("token", ["bogus", "xoxb-revoked"])
def test_invalid_token_gets_invalid_auth(slack: MockSlack, token: str) -> None:
    slack.invalid_tokens.add("xoxb-revoked")
    client = WebClient(token=token, base_url=slack.base_url)
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="C1", text="x")
    assert info.value.response.status_code == 200  # Slack answers auth errors with HTTP 200
    assert info.value.response["error"] == "invalid_auth"
    assert slack.posted() == []


def test_channel_error(slack: MockSlack, client: WebClient) -> None:
    slack.error_for_channel("CGONE", "channel_not_found")
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="CGONE", text="x")
    assert info.value.response["error"] == "channel_not_found"
    assert client.chat_postMessage(channel="C1", text="x")["ok"]


def test_per_channel_interval() -> None:
    with MockSlack(per_channel_interval=1.5) as slack:
        client = WebClient(token="xoxb-test", base_url=slack.base_url)
        client.chat_postMessage(channel="C1", text="first")
        with pytest.raises(SlackApiError) as info:
            client.chat_postMessage(channel="C1", text="too soon")
        assert info.value.response.status_code == 429
        assert info.value.response.headers["retry-after"] == "2"  # ceil(~1.5 s remaining)
        client.chat_postMessage(channel="C2", text="other channel is fine")
        assert [p["text"] for p in slack.posted()] == ["first", "other channel is fine"]


def test_workspace_limit_and_fraction() -> None:
    with MockSlack(workspace_limit_per_minute=3) as slack:
        client = WebClient(token="xoxb-test", base_url=slack.base_url)
        for i in range(3):
            client.chat_postMessage(channel=f"C{i}", text="x")
        with pytest.raises(SlackApiError) as info:
            client.chat_postMessage(channel="C9", text="x")
        assert info.value.response.status_code == 429
        assert int(info.value.response.headers["retry-after"]) >= 59

    def statuses(seed: int) -> list[int]:
        with MockSlack(ratelimit_fraction=0.5, seed=seed) as slack:
            client = WebClient(token="xoxb-test", base_url=slack.base_url)
            for _ in range(20):
                with contextlib.suppress(SlackApiError):
                    client.chat_postMessage(channel="C1", text="x")
            return [c.status for c in slack.calls_to("chat.postMessage")]

    first = statuses(7)
    assert first == statuses(7)  # deterministic for a seed
    assert 429 in first and 200 in first


def test_users_replies_and_canned_methods(slack: MockSlack, client: WebClient) -> None:
    assert client.users_info(user="U123")["user"]["tz"] == "America/New_York"
    slack.add_user("U9", name="bo", tz="Asia/Shanghai")
    assert client.users_info(user="U9")["user"]["tz_offset"] == 8 * 3600
    with pytest.raises(SlackApiError) as info:
        client.users_info(user="UNOPE")
    assert info.value.response["error"] == "user_not_found"

    slack.replies[("C1", "1.000001")] = [{"ts": "1.000001", "text": "parent"}]
    assert client.conversations_replies(channel="C1", ts="1.000001")["messages"][0]["text"] == (
        "parent"
    )
    with pytest.raises(SlackApiError) as info:
        client.conversations_replies(channel="C1", ts="9.000000")
    assert info.value.response["error"] == "thread_not_found"

    assert client.chat_postEphemeral(channel="C1", user="U123", text="x")["message_ts"]
    assert client.chat_update(channel="C1", ts="1.000001", text="y")["ts"] == "1.000001"
    assert client.views_open(trigger_id="t", view={"type": "modal"})["view"]["type"] == "modal"
    assert client.conversations_info(channel="C1")["channel"]["id"] == "C1"
    assert client.reactions_add(channel="C1", timestamp="1.000001", name="eyes")["ok"]
    assert client.api_call("team.info")["ok"]


def test_seed_message_and_reset(slack: MockSlack, client: WebClient) -> None:
    marker = {"event_type": "ai_race_digest", "event_payload": {"run_id": "r1"}}
    slack.seed_message("C1", text="from before the crash", metadata=marker)
    history = client.conversations_history(channel="C1", include_all_metadata=True)
    assert history["messages"][0]["metadata"] == marker
    assert slack.posted() == []
    slack.fail_next("auth.test")
    slack.reset()
    assert slack.calls == []
    assert client.auth_test()["ok"]  # queued failure was cleared
    assert client.conversations_history(channel="C1")["messages"] == []


def test_response_url_records_json(slack: MockSlack) -> None:
    resp = WebhookClient(slack.response_url("abc")).send(text="done", response_type="ephemeral")
    assert resp.status_code == 200 and resp.body == "ok"
    (call,) = slack.calls_to("response")
    assert call.params == {"text": "done", "response_type": "ephemeral", "key": "abc"}
    slack.fail_next("response", status=500)
    assert WebhookClient(slack.response_url()).send(text="x").status_code == 500


def test_wait_for_across_threads(slack: MockSlack, client: WebClient) -> None:
    def later() -> None:
        time.sleep(0.05)
        for _ in range(3):
            client.chat_postMessage(channel="C1", text="x")

    thread = threading.Thread(target=later)
    start = time.monotonic()
    thread.start()
    calls = slack.wait_for("chat.postMessage", count=3, timeout=5)
    thread.join()
    assert len(calls) == 3 and time.monotonic() - start < 2


def test_wait_for_timeout_message(slack: MockSlack, client: WebClient) -> None:
    client.auth_test()
    start = time.monotonic()
    with pytest.raises(AssertionError) as info:
        slack.wait_for("chat.postMessage", count=1, timeout=0.2)
    assert 0.2 <= time.monotonic() - start < 1
    message = str(info.value)
    assert "'chat.postMessage'" in message and "got 0" in message and "auth.test -> 200" in message


def test_signing_helpers(slack: MockSlack) -> None:
    secret = "shh"
    verifier = SignatureVerifier(secret)
    body = slash_command_body("is china ahead?", response_url=slack.response_url())
    headers = signed_headers(body, secret, content_type=FORM)
    assert verifier.is_valid_request(body, headers)
    form = parse_qs(body)
    assert form["command"] == ["/ai-race"] and form["text"] == ["is china ahead?"]
    assert form["response_url"] == [slack.response_url()]

    old = signed_headers(body, secret, timestamp=int(time.time()) - 301, content_type=FORM)
    assert not verifier.is_valid_request(body, old)

    payload = {"type": "block_actions", "actions": [{"action_id": "a"}]}
    assert json.loads(parse_qs(interactive_body(payload))["payload"][0]) == payload

    envelope = json.loads(event_body({"type": "app_mention", "text": "hi"}, event_time=5))
    assert envelope["type"] == "event_callback" and envelope["event_time"] == 5
    assert envelope["authorizations"][0]["user_id"] == "UBOT"

    # post() returns 4xx/5xx instead of raising; exercise it against the mock itself.
    status, _, data = post(slack.root_url + "/nope", "{}", {"content-type": JSON})
    assert status == 404 and json.loads(data)["error"] == "unknown_method"
    status, resp_headers, data = post(slack.response_url("k"), "{}", {"content-type": JSON})
    assert (status, data) == (200, b"ok") and resp_headers["content-type"].startswith("text/plain")


def test_concurrent_posts_are_all_recorded(slack: MockSlack, client: WebClient) -> None:
    def worker(n: int) -> None:
        for i in range(10):
            client.chat_postMessage(channel=f"C{n}", text=str(i))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    posted = slack.posted()
    assert len(posted) == len(slack.calls_to("chat.postMessage", status=200)) == 80
    assert len({p["ts"] for p in posted}) == 80
    assert [p["text"] for p in slack.posted("C3")] == [str(i) for i in range(10)]
