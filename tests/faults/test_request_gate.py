"""What Slack would never send gets a 4xx from the running server, cheaply, and is not logged.

Each request goes to ``ai-race serve`` (gunicorn) over a real socket. The
marker string inside every body must never reach the server's log, even with
``-v`` (the test server runs verbose).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest

from bot.gate import MAX_BODY_BYTES
from tests.support.app_server import SIGNING_SECRET, RunningApp, running_app
from tests.support.mock_slack import MockSlack
from tests.support.signing import FORM, JSON, post, signed_headers

MARKER = "BODY-MARKER-7f3a"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    workdir = tmp_path_factory.mktemp("gate")
    with (
        MockSlack() as mock,
        running_app(
            mock.base_url, f"sqlite:///{workdir / 'gate.sqlite3'}", workdir, workers=1
        ) as running,
    ):
        yield running


def _signed_bytes(body: bytes, content_type: str) -> dict[str, str]:
    """Sign raw bytes the way Slack does (the helper signs text, which cannot hold bad UTF-8)."""
    import hashlib
    import hmac

    ts = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {
        "content-type": content_type,
        "x-slack-request-timestamp": ts,
        "x-slack-signature": "v0=" + digest.hexdigest(),
    }


def _raw_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def test_oversized_body_is_refused_before_it_is_read(app: RunningApp) -> None:
    """Headers announce 100 MB and no body follows: the answer must come without waiting for it."""
    parts = urlsplit(app.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\n\r\n" + b"{" * 1000
        )
        received = b""
        while b"}" not in received:  # the JSON error body ends the answer
            chunk = sock.recv(4096)
            assert chunk, received
            received += chunk
        reply = received.decode()
    assert reply.startswith("HTTP/1.1 413"), reply
    assert str(MAX_BODY_BYTES) in reply


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"type": "event_callback", "x": "' + MARKER.encode() + b'"', JSON),  # bad JSON
        (b'{"x": "' + MARKER.encode() + b'\xff\xfe"}', JSON),  # bad UTF-8
        (b"payload=%7Bnot-json&m=" + MARKER.encode(), FORM),
    ],
)
def test_unsigned_junk_gets_401_and_is_not_logged(
    app: RunningApp, body: bytes, content_type: str
) -> None:
    status, answer = _raw_post(app.events_url, body, {"content-type": content_type})
    assert status == 401, answer
    assert MARKER not in app.log() and "Traceback" not in app.log()


def test_forged_signature_gets_401_and_is_not_logged(app: RunningApp) -> None:
    body = json.dumps({"type": "event_callback", "m": MARKER})
    headers = signed_headers(body, "a-different-secret-0000", content_type=JSON)
    status, _, _ = post(app.events_url, body, headers)
    assert status == 401
    assert MARKER not in app.log()


@pytest.mark.parametrize("timestamp", ["soon", "-5", "1e9", ""])
def test_malformed_timestamp_gets_4xx(app: RunningApp, timestamp: str) -> None:
    body = json.dumps({"type": "event_callback", "m": MARKER})
    headers = {**signed_headers(body, SIGNING_SECRET, content_type=JSON)}
    headers["x-slack-request-timestamp"] = timestamp
    status, _, answer = post(app.events_url, body, headers)
    assert status in (400, 401), answer
    assert "Traceback" not in app.log()


UNTYPED_VIEW = {"type": "view_submission", "view": {"callback_id": MARKER}}


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b'{"type": "event_callback", "m": "' + MARKER.encode() + b'"', JSON, "not valid JSON"),
        (b'{"m": "' + MARKER.encode() + b'\xff"}', JSON, "not UTF-8"),
        (b'["' + MARKER.encode() + b'"]', JSON, "must be an object"),
        (b"payload=%7Bnot-json&m=" + MARKER.encode(), FORM, "not valid JSON"),
        # Slack's views always carry a type; Bolt's own matchers index it unguarded.
        (
            b"payload=" + quote(json.dumps(UNTYPED_VIEW)).encode(),
            FORM,
            "view must be an object with a type",
        ),
    ],
)
def test_signed_but_malformed_gets_400_with_the_reason(
    app: RunningApp, body: bytes, content_type: str, reason: str
) -> None:
    status, answer = _raw_post(app.events_url, body, _signed_bytes(body, content_type))
    assert status == 400, answer
    assert reason in json.loads(answer)["error"]
    assert MARKER not in app.log() and "Traceback" not in app.log()


def test_a_genuine_url_verification_still_passes(app: RunningApp) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "t"})
    status, _, answer = post(
        app.events_url, body, signed_headers(body, SIGNING_SECRET, content_type=JSON)
    )
    assert status == 200 and b"c-123" in answer
