"""Signed Slack requests to the app, over HTTP or in-process, and what tests read back.

The same helpers drive the gunicorn server (:class:`HttpTarget`) and the Bolt
app in-process (:class:`tests.support.bolt_inprocess.InProcessApp`): both take
a body and its content type, sign it as Slack does and return the status,
lower-cased headers and body of the ack. Answers are read from the mock
Slack's ``response_url`` log (:meth:`MockSlack.response_to`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from tests.support import signing
from tests.support.app_server import SIGNING_SECRET
from tests.support.mock_slack import MockSlack
from tests.support.signing import FORM, JSON

Ack = tuple[int, dict[str, str], bytes]
_keys = itertools.count()


class SlackTarget(Protocol):
    """Anything that takes a Slack request body and answers with its ack."""

    def send(self, body: str, content_type: str, extra: Mapping[str, str] | None = None) -> Ack: ...


@dataclass
class HttpTarget:
    """The app behind a URL (``ai-race serve`` under gunicorn)."""

    events_url: str

    def send(self, body: str, content_type: str, extra: Mapping[str, str] | None = None) -> Ack:
        headers = {
            **signing.signed_headers(body, SIGNING_SECRET, content_type=content_type),
            **(extra or {}),
        }
        return signing.post(self.events_url, body, headers)


def key(prefix: str) -> str:
    """A ``response_url`` key no other request in this test run uses."""
    return f"{prefix}{next(_keys)}"


def command(target: SlackTarget, mock: MockSlack, text: str, **fields: str) -> dict[str, Any]:
    """Send ``/ai-race <text>``; check the ack is empty; return the JSON posted to response_url."""
    mine = key("cmd")
    body = signing.slash_command_body(text, response_url=mock.response_url(mine), **fields)
    status, _, ack = target.send(body, FORM)
    assert status == 200 and ack == b"", (status, ack)
    return mock.response_to(mine)


def block_action(
    action_id: str,
    value: str,
    response_url: str,
    *,
    block_id: str = "b",
    user: str = "U123",
    message_ts: str | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` payload for one button click, as Slack sends it."""
    container: dict[str, Any] = {"type": "message", "is_ephemeral": True}
    if message_ts:
        container |= {"message_ts": message_ts, "channel_id": "C123"}
    return {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": "T1"},
        "api_app_id": "A1",
        "channel": {"id": "C123", "name": "general"},
        "container": container,
        "trigger_id": "1.2.3",
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "type": "button",
                "value": value,
                "action_ts": "1.1",
            }
        ],
    }


def action(target: SlackTarget, mock: MockSlack, action_id: str, value: str) -> dict[str, Any]:
    """Click a button; return what the app posted to the click's response_url."""
    mine = key("act")
    payload = block_action(action_id, value, mock.response_url(mine))
    assert target.send(signing.interactive_body(payload), FORM)[0] == 200
    return mock.response_to(mine)


def event(
    target: SlackTarget,
    payload: dict[str, Any],
    event_id: str,
    extra_headers: Mapping[str, str] | None = None,
) -> tuple[int, dict[str, str]]:
    """Deliver an Events API event; return the ack's status and headers."""
    status, headers, _ = target.send(
        signing.event_body(payload, event_id=event_id), JSON, extra_headers or {}
    )
    return status, headers


def mention(
    text: str, ts: str, thread_ts: str | None = None, channel: str = "C9"
) -> dict[str, Any]:
    """An app_mention event as Slack sends it."""
    payload = {"type": "app_mention", "user": "U123", "channel": channel, "text": text, "ts": ts}
    if thread_ts:
        payload["thread_ts"] = thread_ts
    return payload


def reply_to_mention(
    target: SlackTarget, mock: MockSlack, text: str, ts: str, thread_ts: str | None = None
) -> dict[str, Any]:
    """Mention the bot (event id from ``ts``); return the first message it then posted."""
    status, _ = event(target, mention(text, ts, thread_ts), f"Ev{ts}")
    assert status == 200
    return mock.wait_for("chat.postMessage")[0].params


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
    """Slack's documented limits, written out here independently of the code's constants."""
    assert payload["text"], "a plain-text fallback is always sent"
    assert len(payload["blocks"]) <= 50
    assert len(json.dumps(payload)) < 12_000
    for block in payload["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
