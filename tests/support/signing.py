"""Build Slack-signed HTTP requests for a *running* app on a loopback port.

bolt-python's own tests call `app.dispatch(BoltRequest(...))` in-process. We also want to test the
real HTTP entry point (adapter, routing, 3 s ack budget, headers), so these helpers produce the
exact bytes and headers Slack sends, signed with `slack_sdk`'s own `SignatureVerifier` so a
signature mismatch in a test means our app is wrong, not the helper.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

__all__ = [
    "FORM",
    "JSON",
    "event_body",
    "interactive_body",
    "post",
    "signed_headers",
    "slash_command_body",
]

FORM = "application/x-www-form-urlencoded"
"""Content type Slack uses for slash commands and interactivity payloads."""
JSON = "application/json"
"""Content type Slack uses for Events API deliveries."""


def signed_headers(
    body: str, secret: str, *, timestamp: int | None = None, content_type: str
) -> dict[str, str]:
    """Headers Slack would send with `body`: content type, timestamp and v0 HMAC signature.

    `timestamp` defaults to now; pass an old one (e.g. now - 301) to test replay rejection.
    """
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "content-type": content_type,
        "x-slack-request-timestamp": ts,
        "x-slack-signature": signature,
    }


def slash_command_body(
    text: str,
    *,
    command: str = "/ai-race",
    user_id: str = "U123",
    user_name: str = "alice",
    channel_id: str = "C123",
    team_id: str = "T1",
    response_url: str,
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
    api_app_id: str = "A1",
) -> str:
    """The urlencoded form body of a slash command, with the fields Slack sends."""
    return urlencode(
        {
            "token": "verification-token-unused",
            "team_id": team_id,
            "team_domain": "ai-race-test",
            "channel_id": channel_id,
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def interactive_body(payload: dict[str, Any]) -> str:
    """`payload=<urlencoded JSON>`, as Slack posts block actions, shortcuts and view submissions."""
    return urlencode({"payload": json.dumps(payload)})


def event_body(
    event: dict[str, Any],
    *,
    event_id: str = "Ev123",
    team_id: str = "T1",
    api_app_id: str = "A1",
    event_time: int | None = None,
    bot_user_id: str = "UBOT",
) -> str:
    """A JSON `event_callback` envelope around `event`.

    Includes `authorizations` because bolt reads the bot user id from it (self-event filtering)
    and `event_id`, which is what the app's idempotency ledger keys on.
    """
    return json.dumps(
        {
            "token": "verification-token-unused",
            "team_id": team_id,
            "api_app_id": api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()) if event_time is None else event_time,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team_id,
                    "user_id": bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{event_id}",
        }
    )


def post(
    url: str, body: str, headers: dict[str, str], timeout: float = 10
) -> tuple[int, dict[str, str], bytes]:
    """POST `body` with urllib; returns (status, lower-cased headers, body) even for 4xx/5xx.

    Does not raise on HTTP errors because tests assert on 401/404 as often as on 200.
    """
    request = urllib.request.Request(url, data=body.encode("utf-8"), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as error:
        with error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()
