"""A loopback HTTP server that mimics the Slack Web API, for tests and benchmarks.

Why a real server rather than `unittest.mock` on `WebClient`:

* The app under test (and slack-bolt, which builds a fresh `WebClient` per request copying
  `base_url` and `retry_handlers` from `app.client`) then runs its real HTTP code path: JSON vs
  form encoding, the `Authorization` header, `retry_handlers`, `SlackApiError` on 4xx/5xx.
* Rate limiting is an HTTP-level behaviour (status 429 + `Retry-After` header). Only a server can
  exercise `RateLimitErrorRetryHandler` and our own back-off logic faithfully.
* The pattern is the one slack-bolt and python-slack-sdk use for their own test suites
  (`tests/mock_web_api_server/`), but on an ephemeral port so parallel test runs don't collide,
  with per-test failure injection instead of magic tokens, and with a small in-memory message
  store so `conversations.history` can be used to test crash reconciliation via message metadata.

Usage::

    with MockSlack() as slack:
        client = WebClient(token="xoxb-test", base_url=slack.base_url)
        client.chat_postMessage(channel="C1", text="hi")
        assert slack.calls_to("chat.postMessage")[0].params["text"] == "hi"

Everything is thread-safe: the app under test calls in from several threads, and the server
itself answers each connection on its own thread.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from zoneinfo import ZoneInfo

from tests.support.mock_slack_oauth import OAuthMixin, Workspace

__all__ = ["Call", "MockSlack", "Workspace", "make_user"]

# Form fields that Slack (and slack_sdk, when it form-encodes) carry as JSON strings. Decoding them
# in `Call.params` lets tests assert on structure instead of on serialised text.
_JSON_FIELDS = frozenset(
    {"blocks", "attachments", "metadata", "view", "unfurls", "user_auth_blocks", "elements"}
)
# What Slack accepts as a token shape: bot/user/config tokens (xoxb-, xoxp-, xoxe-...) and
# app-level tokens (xapp-). Anything else is answered with `invalid_auth`.
_TOKEN_RE = re.compile(r"^(xox[a-z]|xapp)-\S+$")
_TRUE_STRINGS = frozenset({"1", "true", "True", "yes"})
_DEFAULT_ERROR_FOR_STATUS = {
    429: "ratelimited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


@dataclass(frozen=True)
class Call:
    """One request the mock received, recorded before the response is written.

    Recording before answering means that once the client call returns, the `Call` is already
    visible in `MockSlack.calls` — tests never need to wait for the request they just made.
    """

    method: str
    """Web API method ("chat.postMessage"), "response" for response_url posts, else the path."""
    params: dict[str, Any]
    """Query string + body (JSON or form); JSON strings in form fields (blocks...) decoded."""
    headers: dict[str, str]
    """Request headers with lower-case names."""
    status: int
    """HTTP status the mock answered with (a 200 may still carry `"ok": false`)."""
    at: float
    """`time.monotonic()` when the request was handled; lets benchmarks measure spacing."""
    response: dict[str, Any] | None = field(default=None, compare=False)
    """The JSON body the mock answered with (None for plain-text answers)."""


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: int | None
    error: str


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value in _TRUE_STRINGS
    return bool(value)


def _ts_key(ts: Any) -> Decimal:
    """Compare Slack timestamps exactly: floats lose the microsecond digits near 1.7e9."""
    try:
        return Decimal(str(ts))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def _decode_json_fields(params: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON_FIELDS & params.keys():
        value = params[key]
        if isinstance(value, str) and value[:1] in ("[", "{"):
            # Malformed JSON is left as sent, so a test can assert on the raw string.
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
    return params


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type:
        decoded = json.loads(text)
        return decoded if isinstance(decoded, dict) else {"_json": decoded}
    if "x-www-form-urlencoded" in content_type or not content_type:
        return dict(parse_qsl(text, keep_blank_values=True))
    try:  # unknown content type: try JSON, then form
        decoded = json.loads(text)
        return decoded if isinstance(decoded, dict) else {"_json": decoded}
    except ValueError:
        return dict(parse_qsl(text, keep_blank_values=True))


def make_user(
    user_id: str, *, name: str = "alice", tz: str = "America/New_York", team_id: str = "T1"
) -> dict[str, Any]:
    """A Slack-shaped `users.info` user; `tz_offset` is computed for *now* like Slack does."""
    offset = datetime.now(ZoneInfo(tz)).utcoffset()
    tz_offset = int(offset.total_seconds()) if offset is not None else 0
    return {
        "id": user_id,
        "team_id": team_id,
        "name": name,
        "real_name": name.title(),
        "deleted": False,
        "is_bot": False,
        "tz": tz,
        "tz_label": datetime.now(ZoneInfo(tz)).tzname() or tz,
        "tz_offset": tz_offset,
        "profile": {"display_name": name, "real_name": name.title()},
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a hung client must never keep the test process alive
    allow_reuse_address = True
    request_queue_size = 128  # benchmarks open many concurrent connections; default 5 drops them

    def __init__(self, mock: MockSlack) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mock = mock


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection, like slack_sdk's urllib client

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request stderr logging; `MockSlack.calls` is the log."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, out_headers, body = self.server.mock._dispatch(
            self.command, self.path, headers, raw
        )
        self.server.mock._hold_answer(self.path, status)
        self.send_response(status)
        for name, value in out_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class MockSlack(OAuthMixin):
    """A fake Slack Web API on 127.0.0.1:<ephemeral port>; see the module docstring for why.

    Configuration attributes (`users`, `replies`, `invalid_tokens`) are plain containers: set
    them up before driving traffic (or while holding `mock.lock`), since request threads read
    them.
    """

    def __init__(
        self,
        *,
        bot_user_id: str = "UBOT",
        team_id: str = "T1",
        per_channel_interval: float | None = None,
        workspace_limit_per_minute: int | None = None,
        ratelimit_fraction: float = 0.0,
        seed: int = 0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """Configure the fake workspace.

        per_channel_interval: seconds Slack wants between posts to one channel (~1 s for
            chat.postMessage); a post sooner than that after the previous *accepted* post to the
            same channel gets 429 + Retry-After. None disables.
        workspace_limit_per_minute: more accepted posts than this in any rolling 60 s window get
            429. None disables.
        ratelimit_fraction: that fraction of chat.postMessage calls get 429 Retry-After 1, drawn
            from `random.Random(seed)` so benchmark runs are reproducible.
        wall_clock: source of message `ts` values. Real Slack ts are epoch seconds, and apps pass
            `oldest=<start of today>` to conversations.history, so ts must track the clock the
            app uses; inject a fake clock here if the app under test uses one.
        """
        if not 0.0 <= ratelimit_fraction <= 1.0:
            raise ValueError("ratelimit_fraction must be within [0, 1]")
        self.bot_user_id = bot_user_id
        self.team_id = team_id
        self.bot_id = "B1"
        self.per_channel_interval = per_channel_interval
        self.workspace_limit_per_minute = workspace_limit_per_minute
        self.ratelimit_fraction = ratelimit_fraction
        self.seed = seed
        self._wall_clock = wall_clock

        self._cond = threading.Condition(threading.RLock())
        self.lock = self._cond  # usable as `with mock.lock:` to mutate config atomically

        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {"U123": make_user("U123", team_id=team_id)}
        self.replies: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.invalid_tokens: set[str] = set()
        """Well-formed tokens that should nevertheless get `invalid_auth` (revoked tokens)."""

        self._failures: dict[str, deque[_Failure]] = {}
        self._channel_errors: dict[str, str] = {}
        self._history: dict[str, list[dict[str, Any]]] = {}
        self._posted: list[dict[str, Any]] = []
        self._last_post_at: dict[str, float] = {}
        self._window: deque[float] = deque()
        self._rng = random.Random(seed)
        self._last_ts_us = 0
        self._view_seq = 0

        self._held: dict[str, threading.Event] = {}

        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._init_oauth()
        self._request_token: str | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> MockSlack:
        """Bind an ephemeral loopback port and serve from a daemon thread; returns self."""
        if self._server is not None:
            raise RuntimeError("MockSlack already started")
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # shutdown() waits up to one poll interval
            name=f"MockSlack:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> MockSlack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("MockSlack not started")
        return int(self._server.server_address[1])

    @property
    def root_url(self) -> str:
        """`http://127.0.0.1:<port>` with no trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Give this to `WebClient(base_url=...)`; it ends in `/api/` like slack.com's."""
        return f"{self.root_url}/api/"

    def response_url(self, key: str = "r1") -> str:
        """A fake `response_url` to put in command/action payloads; POSTs are recorded."""
        return f"{self.root_url}/response/{key}"

    def web_client(self, token: str = "xoxb-test", **kwargs: Any) -> Any:
        """A `slack_sdk.WebClient` pointed at this mock (imported lazily)."""
        from slack_sdk import WebClient

        return WebClient(token=token, base_url=self.base_url, **kwargs)

    # ------------------------------------------------------------------ inspection

    def calls_to(self, method: str, *, status: int | None = None) -> list[Call]:
        """Calls to `method` ("chat.postMessage", or "response"), in arrival order.

        `status` filters by the HTTP status answered, e.g. 200 to skip 429'd attempts.
        """
        with self._cond:
            return [
                c
                for c in self.calls
                if c.method == method and (status is None or c.status == status)
            ]

    def wait_for(
        self, method: str, count: int = 1, timeout: float = 5.0, *, status: int | None = None
    ) -> list[Call]:
        """Block until at least `count` calls to `method` arrived; return all of them so far.

        Uses the Condition notified on every request, so it wakes immediately rather than
        sleep-polling. Raises AssertionError listing the calls seen if `timeout` elapses, so a
        failing test says what the app did instead.
        """

        def matching() -> list[Call]:
            return [
                c
                for c in self.calls
                if c.method == method and (status is None or c.status == status)
            ]

        with self._cond:
            if self._cond.wait_for(lambda: len(matching()) >= count, timeout=timeout):
                return matching()
            seen = "\n".join(
                f"  {c.method} -> {c.status} {json.dumps(c.params, default=str)[:200]}"
                for c in self.calls[-50:]
            )
            what = f"{count} call(s) to {method!r}" + (
                f" with status {status}" if status is not None else ""
            )
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; got {len(matching())}. "
                f"Calls seen ({len(self.calls)} total, last 50 shown):\n{seen or '  (none)'}"
            )

    def response_to(self, key: str, timeout: float = 10.0) -> dict[str, Any]:
        """The first JSON posted to ``response_url(key)``, waiting for it (bounded).

        Answers arrive from the app's answer queue after the ack, in any order
        relative to other keys, so a test waits for its own key rather than a count.
        """

        def mine() -> list[Call]:
            return [c for c in self.calls if c.method == "response" and c.params.get("key") == key]

        with self._cond:
            if self._cond.wait_for(mine, timeout=timeout):
                return mine()[0].params
        raise AssertionError(f"no response_url post for {key!r} within {timeout}s")

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Accepted chat.postMessage messages (each with "channel"), in acceptance order.

        Only these count as "delivered": 429'd or error-answered posts are not here.
        """
        with self._cond:
            return [dict(m) for m in self._posted if channel is None or m["channel"] == channel]

    # ------------------------------------------------------------------ configuration

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        error: str | None = None,
        count: int = 1,
    ) -> None:
        """Answer the next `count` calls to `method` with HTTP `status`.

        429 carries `Retry-After: <retry_after>` (omitted if None) and
        `{"ok": false, "error": "ratelimited"}`; other statuses carry `{"ok": false, "error":
        error}`. `error` defaults by status (429 ratelimited, 500 internal_error, 503
        service_unavailable). `method="response"` fails response_url posts (plain-text body).
        Queued failures are consumed before any other check (auth excepted).
        """
        failure = _Failure(
            status=status,
            retry_after=retry_after,
            error=error or _DEFAULT_ERROR_FOR_STATUS.get(status, "fatal_error"),
        )
        with self._cond:
            queue = self._failures.setdefault(method, deque())
            queue.extend([failure] * count)

    def hold_answers(self, method: str) -> threading.Event:
        """Accept calls to `method` (recorded, messages stored) but hold each HTTP answer.

        The answer is written once the returned event is set (or after 30 s): "Slack got the
        post, the app never heard back" — for crash-between-post-and-record tests. Only
        successful calls are held; a queued failure is answered at once.
        """
        release = threading.Event()
        with self._cond:
            self._held["/api/" + method] = release
        return release

    def _hold_answer(self, path: str, status: int) -> None:
        with self._cond:
            release = self._held.get(urlsplit(path).path) if status == 200 else None
        if release is not None:
            release.wait(timeout=30)

    def error_for_channel(self, channel: str, error: str) -> None:
        """chat.postMessage to `channel` answers HTTP 200 `{"ok": false, "error": error}`.

        E.g. channel_not_found, not_in_channel, is_archived. Persists until `reset()`.
        """
        with self._cond:
            self._channel_errors[channel] = error

    def clear_channel_error(self, channel: str) -> None:
        with self._cond:
            self._channel_errors.pop(channel, None)

    def add_user(
        self, user_id: str, *, name: str = "alice", tz: str = "America/New_York"
    ) -> dict[str, Any]:
        """Register a user for users.info, with tz_offset computed from the IANA zone."""
        user = make_user(user_id, name=name, tz=tz, team_id=self.team_id)
        with self._cond:
            self.users[user_id] = user
        return user

    def seed_message(
        self,
        channel: str,
        *,
        text: str = "",
        metadata: dict[str, Any] | None = None,
        ts: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Put a bot message in channel history without a Call or a `posted()` entry.

        For reconciliation tests: "a previous process posted this before it crashed".
        """
        with self._cond:
            message = self._new_message(text=text, ts=ts or self._next_ts(), **fields)
            if metadata is not None:
                message["metadata"] = metadata
            self._history.setdefault(channel, []).append(message)
            return dict(message)

    def reset(self) -> None:
        """Forget calls, queued failures, channel errors, stored messages and rate-limit state.

        Keeps `users`, `replies` and `invalid_tokens` (they are fixtures, not state), and keeps
        ts increasing so messages from before and after a reset never share a ts.
        """
        with self._cond:
            self.calls.clear()
            for release in self._held.values():
                release.set()
            self._held.clear()
            self._failures.clear()
            self._channel_errors.clear()
            self._history.clear()
            self._posted.clear()
            self._last_post_at.clear()
            self._window.clear()
            self._rng = random.Random(self.seed)

    # ------------------------------------------------------------------ request handling

    def _dispatch(
        self, verb: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Decide the answer and record the Call atomically, then let the handler write it."""
        split = urlsplit(path)
        params: dict[str, Any] = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            params.update(_parse_body(raw, headers.get("content-type", "")))
        except ValueError:
            params["_raw_body"] = raw.decode("utf-8", errors="replace")
        _decode_json_fields(params)

        with self._cond:
            now = time.monotonic()
            if split.path.startswith("/api/"):
                method = split.path[len("/api/") :]
                status, extra_headers, payload = self._api(method, params, headers, now)
                body = json.dumps(payload).encode()
                out_headers = {"Content-Type": "application/json; charset=utf-8", **extra_headers}
                response: dict[str, Any] | None = payload
            elif split.path == "/oauth/v2/authorize" and verb == "GET":
                method = "oauth/v2/authorize"
                status, out_headers, body = self._authorize_page(params)
                response = None
            elif split.path.startswith("/response/") and verb == "POST":
                method = "response"
                params["key"] = unquote(split.path[len("/response/") :])
                status, out_headers, body = self._response_url(now)
                response = None
            else:
                method = split.path
                status, response = 404, {"ok": False, "error": "unknown_method"}
                out_headers = {"Content-Type": "application/json; charset=utf-8"}
                body = json.dumps(response).encode()
            self.calls.append(Call(method, params, headers, status, now, response))
            self._cond.notify_all()
        return status, out_headers, body

    def _pop_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        return queue.popleft() if queue else None

    def _response_url(self, now: float) -> tuple[int, dict[str, str], bytes]:
        failure = self._pop_failure("response")
        text_plain = {"Content-Type": "text/plain; charset=utf-8"}
        if failure is not None:
            extra = (
                {"Retry-After": str(failure.retry_after)}
                if failure.status == 429 and (failure.retry_after is not None)
                else {}
            )
            return failure.status, {**text_plain, **extra}, failure.error.encode()
        return 200, text_plain, b"ok"

    @staticmethod
    def token_of(params: dict[str, Any], headers: dict[str, str]) -> str | None:
        """The token a request carried (Bearer header, else Slack's `token` form field)."""
        auth = headers.get("authorization", "")
        token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else None
        if token is None and isinstance(params.get("token"), str):
            token = params["token"]
        return token

    def _authorized(self, params: dict[str, Any], headers: dict[str, str]) -> bool:
        token = self.token_of(params, headers)
        return bool(token) and bool(_TOKEN_RE.match(token)) and token not in self.invalid_tokens

    def _api(
        self, method: str, params: dict[str, Any], headers: dict[str, str], now: float
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        if method == "oauth.v2.access":  # client credentials, not a token
            return 200, {}, self._oauth_v2_access(params, headers)
        if not self._authorized(params, headers):
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        self._request_token = self.token_of(params, headers)  # under the lock: for auth.test
        failure = self._pop_failure(method)
        if failure is not None:
            return self._failure_response(failure)
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {}, {"ok": True}
        result = handler(params, now)
        if isinstance(result, tuple):
            return result
        return 200, {}, result

    @staticmethod
    def _failure_response(failure: _Failure) -> tuple[int, dict[str, str], dict[str, Any]]:
        extra: dict[str, str] = {}
        if failure.status == 429 and failure.retry_after is not None:
            extra["Retry-After"] = str(failure.retry_after)
        return failure.status, extra, {"ok": False, "error": failure.error}

    @staticmethod
    def _ratelimited(retry_after: int) -> tuple[int, dict[str, str], dict[str, Any]]:
        return 429, {"Retry-After": str(retry_after)}, {"ok": False, "error": "ratelimited"}

    def _next_ts(self) -> str:
        us = max(int(self._wall_clock() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _new_message(self, *, text: str, ts: str, **fields: Any) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": "A1",
            "team": self.team_id,
            "text": text,
            "ts": ts,
        }
        message.update({k: v for k, v in fields.items() if v is not None})
        return message

    # --- methods: each returns a JSON dict (HTTP 200) or a (status, headers, dict) tuple ------

    def _m_auth_test(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        workspace = self.workspace_for_token(self._request_token)
        return {
            "ok": True,
            "url": "https://ai-race-test.slack.com/",
            "team": workspace.name if workspace else "AI Race Test",
            "user": "ai-race-bot",
            "team_id": workspace.team_id if workspace else self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(
        self, params: dict[str, Any], now: float
    ) -> dict[str, Any] | tuple[int, dict[str, str], dict[str, Any]]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self._channel_errors:
            return {"ok": False, "error": self._channel_errors[channel]}
        if not any(params.get(k) for k in ("text", "blocks", "attachments", "markdown_text")):
            return {"ok": False, "error": "no_text"}

        # Rate limits, in the order: random draw (always drawn, so the sequence of draws does not
        # depend on the other limits), per-channel spacing, rolling workspace window.
        if self.ratelimit_fraction and self._rng.random() < self.ratelimit_fraction:
            return self._ratelimited(1)
        last = self._last_post_at.get(channel)
        if self.per_channel_interval is not None and last is not None:
            remaining = self.per_channel_interval - (now - last)
            if remaining > 0:
                return self._ratelimited(max(1, math.ceil(remaining)))
        if self.workspace_limit_per_minute is not None:
            while self._window and self._window[0] <= now - 60.0:
                self._window.popleft()
            if len(self._window) >= self.workspace_limit_per_minute:
                return self._ratelimited(max(1, math.ceil(self._window[0] + 60.0 - now)))

        self._last_post_at[channel] = now
        self._window.append(now)
        message = self._new_message(
            text=params.get("text") or "",
            ts=self._next_ts(),
            blocks=params.get("blocks"),
            attachments=params.get("attachments"),
            metadata=params.get("metadata"),
            thread_ts=params.get("thread_ts"),
            reply_broadcast=_truthy(params["reply_broadcast"])
            if "reply_broadcast" in params
            else None,
        )
        self._history.setdefault(channel, []).append(message)
        self._posted.append({"channel": channel, **message})
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": dict(message)}

    def _m_chat_postEphemeral(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("user"):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_chat_update(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        # Lenient on purpose: updating a ts the mock never stored (e.g. from a payload fixture)
        # still answers ok; a stored message is updated so history reflects the edit.
        channel, ts = params.get("channel"), params.get("ts")
        if not channel or not ts:
            return {"ok": False, "error": "message_not_found"}
        for message in self._history.get(channel, []):
            if message["ts"] == ts:
                for key in ("text", "blocks", "attachments", "metadata"):
                    if key in params:
                        message[key] = params[key]
        echo = {k: params[k] for k in ("text", "blocks", "metadata") if k in params}
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": params.get("text", ""),
            "message": {"type": "message", "user": self.bot_user_id, **echo},
        }

    def _view(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        view = dict(view) if isinstance(view, dict) else {}
        self._view_seq += 1
        view.setdefault("id", params.get("view_id") or f"V{self._view_seq:08d}")
        view.setdefault("team_id", self.team_id)
        view.setdefault("hash", f"{self._view_seq}.hash")
        view.setdefault("blocks", [])
        return {"ok": True, "view": view}

    def _m_views_publish(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        return self._view(params)

    def _m_views_open(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        return self._view(params)

    def _m_views_update(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        return self._view(params)

    def _m_users_info(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        user = self.users.get(params.get("user", ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": {"id": params["user"], **user}}

    def _strip_metadata(
        self, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        # Real Slack only returns `metadata` when include_all_metadata=true; mirroring that
        # catches an app that forgets the flag and then never finds its own markers.
        keep = _truthy(params.get("include_all_metadata", False))
        out = []
        for message in messages:
            copy = dict(message)
            if not keep:
                copy.pop("metadata", None)
            out.append(copy)
        return out

    def _m_conversations_history(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        inclusive = _truthy(params.get("inclusive", False))
        oldest = _ts_key(params["oldest"]) if params.get("oldest") else None
        latest = _ts_key(params["latest"]) if params.get("latest") else None
        cursor = params.get("cursor")
        if cursor:
            try:
                latest = _ts_key(base64.b64decode(cursor).decode().removeprefix("before:"))
                inclusive = False
            except ValueError:
                return {"ok": False, "error": "invalid_cursor"}
        try:
            limit = max(1, min(int(params.get("limit") or 100), 1000))
        except ValueError:
            limit = 100

        def visible(m: dict[str, Any]) -> bool:
            # History holds top-level messages; thread replies only if broadcast.
            in_thread = m.get("thread_ts") not in (None, m["ts"])
            if in_thread and not m.get("reply_broadcast"):
                return False
            key = _ts_key(m["ts"])
            if oldest is not None and (key < oldest or (key == oldest and not inclusive)):
                return False
            return not (latest is not None and (key > latest or (key == latest and not inclusive)))

        messages = sorted(
            (m for m in self._history.get(channel, []) if visible(m)),
            key=lambda m: _ts_key(m["ts"]),
            reverse=True,
        )
        page, has_more = messages[:limit], len(messages) > limit
        next_cursor = (
            base64.b64encode(f"before:{page[-1]['ts']}".encode()).decode() if has_more else ""
        )
        return {
            "ok": True,
            "messages": self._strip_metadata(page, params),
            "has_more": has_more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _m_conversations_replies(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        channel, thread_ts = params.get("channel", ""), params.get("ts", "")
        messages = [dict(m) for m in self.replies.get((channel, thread_ts), [])]
        seen = {m.get("ts") for m in messages}
        for m in self._history.get(channel, []):
            if (m["ts"] == thread_ts or m.get("thread_ts") == thread_ts) and m["ts"] not in seen:
                messages.append(m)
        if not messages:
            return {"ok": False, "error": "thread_not_found"}
        if all("ts" in m for m in messages):
            messages.sort(key=lambda m: _ts_key(m["ts"]))
        return {
            "ok": True,
            "messages": self._strip_metadata(messages, params),
            "has_more": False,
            "response_metadata": {"next_cursor": ""},
        }

    def _m_conversations_info(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": f"channel-{channel.lower()}",
                "is_channel": True,
                "is_group": False,
                "is_im": False,
                "is_private": False,
                "is_archived": False,
                "is_member": True,
                "created": 1_600_000_000,
                "context_team_id": self.team_id,
            },
        }

    def _m_reactions_add(self, params: dict[str, Any], now: float) -> dict[str, Any]:
        return {"ok": True}
