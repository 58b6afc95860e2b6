"""One Slack call at a time for the digest, each answered with a value, never a callback.

:meth:`Poster.post` makes *one* paced ``chat.postMessage`` attempt and
classifies the answer; :meth:`Poster.find_posted` reads the channel history
for a digest that may already be there. Deciding what to do next (retry,
back off, reconcile, give up) is :mod:`bot.digest.flow`'s job, so this
module knows nothing about the ledger::

    PostResult
     ├── Posted(ts)            Slack accepted it
     ├── RateLimited(delay)    429: definitely not posted, wait ``Retry-After``
     ├── Rejected(code)        any other 4xx/``ok: false``: definitely not posted
     ├── Unreached(error)      connection refused: never reached Slack
     └── Ambiguous(error)      5xx, timeout, reset: it *may* have been posted

Retries are ours alone: :func:`client_without_retries` strips slack_sdk's
retry handlers, because its connection-error handler would silently re-send
a post whose first attempt may have reached Slack, and its rate-limit handler
would double-count with ours.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from http.client import HTTPException
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

EVENT_TYPE = "ai_race_digest"
NETWORK_ERRORS = (URLError, OSError, HTTPException)


@dataclass(frozen=True)
class Posted:
    ts: str


@dataclass(frozen=True)
class RateLimited:
    delay: float


@dataclass(frozen=True)
class Rejected:
    code: str


@dataclass(frozen=True)
class Unreached:
    error: str


@dataclass(frozen=True)
class Ambiguous:
    error: str


@dataclass(frozen=True)
class Found:
    """The answer of a history check: the digest's ts, or None when it is not there."""

    ts: str | None


PostResult = Posted | RateLimited | Rejected | Unreached | Ambiguous
FindResult = Found | Rejected | Ambiguous


class AmbiguousRead(Exception):
    """A history read got a 5xx: we cannot tell whether the digest is there."""


class ChannelPacer:
    """At least ``interval`` seconds between posts to the same channel, across threads and runs.

    The gap is counted from when the previous call *returned*: Slack stamps a
    post somewhere between our send and its answer, so counting from the send
    lets network jitter squeeze two posts closer than Slack allows.
    """

    def __init__(self, interval: float, sleep: Callable[[float], None]) -> None:
        self.interval = interval
        self.sleep = sleep
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def wait(self, channel: str) -> None:
        """Sleep until ``channel`` may be posted to again."""
        with self._lock:
            ready = self._next.get(channel, 0.0)
        delay = ready - time.monotonic()
        if delay > 0:
            self.sleep(delay)

    def sent(self, channel: str) -> None:
        """Record that a call to ``channel`` just returned (whatever its outcome)."""
        with self._lock:
            self._next[channel] = time.monotonic() + self.interval


def retry_after(error: SlackApiError) -> float:
    """Seconds Slack asked us to wait (``Retry-After``), 1 s when it did not say."""
    headers = getattr(error.response, "headers", None) or {}
    for key, value in headers.items():
        if key.lower() == "retry-after":
            with contextlib.suppress(TypeError, ValueError):
                return max(0.0, float(value if not isinstance(value, list) else value[0]))
    return 1.0


def error_code(error: SlackApiError) -> str:
    data = getattr(error.response, "data", None)
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return data["error"]
    return "unknown_error"


def http_status(error: SlackApiError) -> int:
    return int(getattr(error.response, "status_code", 200) or 200)


def rate_limited(error: SlackApiError) -> bool:
    return http_status(error) == 429 or error_code(error) == "ratelimited"


def connection_refused(error: BaseException) -> bool:
    reason = getattr(error, "reason", None)
    return isinstance(error, ConnectionRefusedError) or isinstance(reason, ConnectionRefusedError)


def client_without_retries(client: WebClient) -> WebClient:
    """``client`` itself if it has no retry handlers, else a shallow copy without them."""
    if not client.retry_handlers:
        return client
    clone = copy.copy(client)
    clone.retry_handlers = []
    log.debug("digest: dropped %d slack_sdk retry handler(s)", len(client.retry_handlers))
    return clone


def digest_metadata(day: date, run_id: str) -> dict[str, Any]:
    """The message metadata by which a later run recognises this digest in the history."""
    return {
        "event_type": EVENT_TYPE,
        "event_payload": {"local_date": day.isoformat(), "run_id": run_id},
    }


class Poster:
    """Paced single attempts at ``chat.postMessage`` and history reads, as values."""

    def __init__(
        self,
        client: WebClient,
        pacer: ChannelPacer,
        sleep: Callable[[float], None],
        *,
        max_rate_limit_retries: int = 8,
        reconcile_margin: timedelta = timedelta(minutes=15),
    ) -> None:
        self.client = client_without_retries(client)
        self.pacer = pacer
        self.sleep = sleep
        self.max_rate_limit_retries = max_rate_limit_retries
        self.reconcile_margin = reconcile_margin

    def for_token(self, token: str | None) -> Poster:
        """This poster speaking with one workspace's ``token``; pacing stays shared."""
        if token is None or token == self.client.token:
            return self
        clone = copy.copy(self)
        clone.client = copy.copy(self.client)
        clone.client.token = token
        return clone

    def post(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]],
        metadata: dict[str, Any],
        thread_ts: str | None = None,
    ) -> PostResult:
        """One attempt, after the channel's pacing gap; never raises for Slack or the network.

        ``thread_ts``: a reply in that thread (corrections use this poster too).
        """
        self.pacer.wait(channel)
        try:
            try:
                response = self.client.chat_postMessage(
                    channel=channel,
                    thread_ts=thread_ts,
                    text=text,
                    blocks=blocks or None,
                    metadata=metadata,
                    unfurl_links=False,
                    unfurl_media=False,
                )
            finally:
                self.pacer.sent(channel)
        except SlackApiError as exc:
            if rate_limited(exc):
                return RateLimited(retry_after(exc))
            if http_status(exc) < 500:
                return Rejected(error_code(exc))
            return Ambiguous(repr(exc))
        except NETWORK_ERRORS as exc:
            return Unreached(repr(exc)) if connection_refused(exc) else Ambiguous(repr(exc))
        return Posted(str(response["ts"]))

    def find_posted(self, channel: str, day: date, since: datetime) -> FindResult:
        """Our digest for ``day`` in the channel since ``since`` (less a margin), as a value."""
        try:
            return Found(self._find(channel, day, since))
        except SlackApiError as exc:
            return Rejected(error_code(exc))
        except (AmbiguousRead, *NETWORK_ERRORS) as exc:
            return Ambiguous(repr(exc))

    def _find(self, channel: str, day: date, since: datetime) -> str | None:
        oldest = f"{(since - self.reconcile_margin).timestamp():.6f}"
        cursor: str | None = None
        for _page in range(10):
            kwargs: dict[str, Any] = {
                "channel": channel,
                "oldest": oldest,
                "include_all_metadata": True,
                "limit": 200,
            }
            if cursor:
                kwargs["cursor"] = cursor
            response = self._read(self.client.conversations_history, **kwargs)
            for message in response.get("messages") or []:
                meta = message.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == EVENT_TYPE and payload.get("local_date") == str(day):
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor or not response.get("has_more"):
                return None
        return None

    def _read(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        """A read-only API call with our own 429 handling (Retry-After, bounded)."""
        for attempt in range(self.max_rate_limit_retries + 1):
            try:
                return method(**kwargs)
            except SlackApiError as exc:
                if not rate_limited(exc) or attempt == self.max_rate_limit_retries:
                    if http_status(exc) >= 500:
                        raise AmbiguousRead(error_code(exc)) from exc
                    raise
                self.sleep(retry_after(exc))
        raise AssertionError("unreachable")


__all__ = [
    "EVENT_TYPE",
    "Ambiguous",
    "AmbiguousRead",
    "ChannelPacer",
    "FindResult",
    "Found",
    "PostResult",
    "Posted",
    "Poster",
    "RateLimited",
    "Rejected",
    "Unreached",
    "client_without_retries",
    "digest_metadata",
]
