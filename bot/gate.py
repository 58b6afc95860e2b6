"""The door in front of Bolt: size, signature and shape checked on the raw bytes.

Bolt's WSGI adapter reads the whole body, decodes it as UTF-8 and parses it
*before* its signature middleware runs, so an unsigned 100 MB body is held in
memory, and bad UTF-8 or bad JSON ends in a 500 with a traceback. Slack's own
requests are small, UTF-8, and signed, so everything else is refused here,
cheaply and in this order, each with a 4xx and one plain reason:

1. ``Content-Length`` missing or over :data:`MAX_BODY_BYTES` → 411 / 413,
   before a byte of the body is read;
2. timestamp or signature header missing, malformed, or more than five
   minutes off → 400 / 401;
3. the v0 HMAC over the *raw bytes* does not match → 401;
4. signed but not UTF-8, or not the JSON / form Slack sends (an interactive
   ``payload`` must be an object, and a ``view`` in it must carry its ``type``)
   → 400.

What passes is handed to Bolt unchanged (Bolt checks the signature again, which
costs microseconds). Request bodies are never logged: a rejected one may be
anyone's, and an accepted one carries a ``response_url`` that works as a
credential for thirty minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 512 * 1024
"""Slack's largest payloads (a message shortcut on a long message with blocks) are tens of kB."""
MAX_CLOCK_SKEW_SECONDS = 5 * 60
"""Slack's rule: a request whose timestamp is over five minutes away may be a replay."""

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True)
class Rejection:
    """Why a request is refused: the HTTP status and one line for the caller."""

    status: int
    reason: str

    @property
    def status_line(self) -> str:
        phrases = {400: "Bad Request", 401: "Unauthorized", 411: "Length Required"}
        return f"{self.status} {phrases.get(self.status, 'Payload Too Large')}"


def content_length(environ: dict[str, Any]) -> int | Rejection:
    """The declared body size, or why it cannot be accepted (nothing is read yet)."""
    raw = str(environ.get("CONTENT_LENGTH") or "").strip()
    if not raw.isdigit():
        return Rejection(411, "a Content-Length header is required")
    length = int(raw)
    if length > MAX_BODY_BYTES:
        return Rejection(413, f"body over {MAX_BODY_BYTES} bytes; Slack never sends that")
    return length


def check_signature(
    secret: bytes, raw: bytes, timestamp: str | None, signature: str | None, now: float
) -> Rejection | None:
    """Slack's v0 signature over the raw bytes (slack_sdk's verifier wants valid UTF-8 first)."""
    if not timestamp or not signature:
        return Rejection(401, "missing X-Slack-Request-Timestamp or X-Slack-Signature")
    if not timestamp.isdigit():
        return Rejection(400, "X-Slack-Request-Timestamp must be a number of seconds")
    if abs(now - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        return Rejection(401, "request timestamp is more than five minutes away")
    expected = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256)
    if not hmac.compare_digest("v0=" + expected.hexdigest(), signature):
        return Rejection(401, "invalid signature")
    return None


def check_shape(raw: bytes, content_type: str) -> Rejection | None:
    """Signed, but is it what Slack sends? UTF-8 JSON, or a form whose ``payload`` is JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Rejection(400, "body is not UTF-8")
    try:
        if content_type.startswith("application/json"):
            if not isinstance(json.loads(text), dict):
                return Rejection(400, "JSON body must be an object")
            return None
        payload = parse_qs(text, keep_blank_values=True).get("payload")
        if payload is not None:
            return check_payload(json.loads(payload[0]))
    except ValueError:
        return Rejection(400, "body is not valid JSON")
    return None


def check_payload(payload: Any) -> Rejection | None:
    """An interactive payload as Slack sends it: an object, and any ``view`` in it typed.

    Bolt's built-in matchers read ``body["view"]["type"]`` unguarded for every
    ``view_submission``, so a signed payload without it would end in a 500.
    """
    if not isinstance(payload, dict):
        return Rejection(400, "payload must be a JSON object")
    view = payload.get("view")
    if view is not None and not (isinstance(view, dict) and isinstance(view.get("type"), str)):
        return Rejection(400, "view must be an object with a type")
    return None


class SlackRequestGate:
    """WSGI middleware for ``POST /slack/events``; see the module docstring."""

    def __init__(
        self, app: WsgiApp, signing_secret: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.app = app
        self.secret = signing_secret.encode()
        self.clock = clock

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        length = content_length(environ)
        if isinstance(length, Rejection):
            return self._refuse(length, start_response)
        raw = _read_exactly(environ["wsgi.input"], length)
        rejection = check_signature(
            self.secret,
            raw,
            environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
            environ.get("HTTP_X_SLACK_SIGNATURE"),
            self.clock(),
        ) or check_shape(raw, str(environ.get("CONTENT_TYPE") or ""))
        if rejection is not None:
            return self._refuse(rejection, start_response)
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        return self.app(environ, start_response)

    @staticmethod
    def _refuse(rejection: Rejection, start_response: StartResponse) -> Iterable[bytes]:
        # The reason only: never the body, the headers or the caller's address.
        log.info("refused a request to /slack/events: %s", rejection.reason)
        body = json.dumps({"error": rejection.reason}).encode()
        start_response(
            rejection.status_line,
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]


def _read_exactly(stream: Any, length: int) -> bytes:
    """Read ``length`` bytes (WSGI streams may return short reads); fewer if the client left."""
    chunks: list[bytes] = []
    remaining = length
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
