"""Answers run on their own bounded pool, so an ack never waits for answer work.

Bolt runs ack functions *and* lazy listeners on one executor. When replies
were rate-limited, slack_sdk's retry handler slept inside those threads and
the next slash commands could not be acknowledged within Slack's 3 seconds.
Here the ack only enqueues an :class:`Answer`; a few worker threads compute
and deliver it. A delivery that meets 429 (or a 5xx) raises
:class:`RetryLater`, and the answer goes back on the queue with a due time —
no thread sleeps. The queue is bounded: when it is full the caller says
"busy, try again" at once instead of letting the request time out.

Deliveries only go where Slack would send us: ``response_url`` must be on
``https://hooks.slack.com/`` (or on the host of ``SLACK_API_URL`` when set,
for tests and emulators); anything else is dropped with a warning.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.core.blocks import SlackMessage

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 4
"""Answers are CPU-bound: more runnable threads would only take GIL time from request threads."""
DEFAULT_CAPACITY = 200
MAX_ATTEMPTS = 6
"""A reply still refused after this many tries is given up (logged): Slack keeps refusing it."""
SERVER_ERROR_BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0)
SLACK_HOOKS = "hooks.slack.com"
BUSY_TEXT = "I'm busy answering others right now; please try again in a minute."


class RetryLater(Exception):
    """Slack asked us to wait (429 Retry-After) or failed transiently (5xx); try again later."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(f"{reason}; retrying in {delay:g} s")
        self.delay = delay


class Delivery(Protocol):
    """Sends one finished message; raises :class:`RetryLater` when it should be tried again."""

    def send(self, message: SlackMessage) -> None: ...


def _retry_after(headers: Any, default: float = 1.0) -> float:
    values = (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
    value = values[0] if isinstance(values, list) else values
    try:
        return max(float(str(value)), 0.0)
    except (TypeError, ValueError):
        return default


class ResponseUrlPolicy:
    """Which ``response_url`` hosts we post to: Slack's hooks host, or the configured API host."""

    def __init__(self, api_url: str | None = None) -> None:
        self.hosts = {SLACK_HOOKS}
        self.extra_origin: tuple[str, str] | None = None
        if api_url:
            parts = urlsplit(api_url)
            if parts.hostname and parts.hostname != "slack.com":
                self.extra_origin = (parts.scheme, parts.netloc)

    def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname in self.hosts and parts.port is None:
            return True
        return self.extra_origin is not None and (parts.scheme, parts.netloc) == self.extra_origin


@dataclass
class ResponseUrlDelivery:
    """POST to a command's or action's ``response_url`` (valid 30 minutes, 5 posts)."""

    url: str
    policy: ResponseUrlPolicy
    response_type: str = "ephemeral"
    replace_original: bool | None = None

    def send(self, message: SlackMessage) -> None:
        if not self.policy.allows(self.url):
            log.warning("not posting to a response_url outside Slack (host %s)", _host(self.url))
            return
        body: dict[str, Any] = {"response_type": self.response_type, **message.payload()}
        if self.replace_original is not None:
            body["replace_original"] = self.replace_original
        # No rate-limit retry handler: a 429 is rescheduled by the queue, not slept on here.
        response = WebhookClient(self.url, timeout=10, retry_handlers=[]).send_dict(body)
        if response.status_code == 429:
            raise RetryLater(_retry_after(response.headers), "response_url rate-limited")
        if response.status_code >= 500:
            raise RetryLater(
                SERVER_ERROR_BACKOFF[0], f"response_url answered {response.status_code}"
            )
        if response.status_code != 200:
            log.warning("response_url refused the answer: HTTP %s", response.status_code)


@dataclass
class ThreadDelivery:
    """``chat.postMessage`` into a thread (mentions)."""

    client: WebClient
    channel: str
    thread_ts: str

    def send(self, message: SlackMessage) -> None:
        self.client.chat_postMessage(
            channel=self.channel, thread_ts=self.thread_ts, **message.payload()
        )


@dataclass
class Answer:
    """What to say (computed once, on a worker) and where to send it."""

    compute: Callable[[], SlackMessage]
    delivery: Delivery
    label: str = "answer"
    attempts: int = 0
    message: SlackMessage | None = None

    def run(self) -> None:
        """Compute (first time only) and deliver; a 429 anywhere becomes :class:`RetryLater`."""
        self.attempts += 1
        try:
            if self.message is None:
                self.message = self.compute()
            self.delivery.send(self.message)
        except SlackApiError as exc:
            status = exc.response.status_code
            if status == 429:
                raise RetryLater(_retry_after(exc.response.headers), "Slack rate-limited") from exc
            if status >= 500:
                raise RetryLater(_backoff(self.attempts), f"Slack answered {status}") from exc
            raise


def _backoff(attempt: int) -> float:
    return SERVER_ERROR_BACKOFF[min(attempt, len(SERVER_ERROR_BACKOFF)) - 1]


def _host(url: str) -> str:
    return urlsplit(url).hostname or "?"


@dataclass(order=True)
class _Entry:
    due: float
    seq: int
    answer: Answer = field(compare=False)


class AnswerQueue:
    """A bounded queue of answers with due times, worked by a few threads.

    Threads start on first use in each process, so a queue built before
    gunicorn forks its workers works in every worker.
    """

    def __init__(
        self,
        workers: int = DEFAULT_WORKERS,
        capacity: int = DEFAULT_CAPACITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.workers = workers
        self.capacity = capacity
        self.clock = clock
        self._heap: list[_Entry] = []
        self._running = 0  # answers a worker is busy with; they count towards capacity
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._pid: int | None = None
        self._stopping = False

    def submit(self, answer: Answer, *, reserve: int = 0) -> bool:
        """Queue ``answer`` to run now; False (and nothing queued) when the queue is full.

        ``reserve`` lets a tiny "busy" notice in beyond ``capacity``.
        """
        with self._cond:
            if self._pid != os.getpid():
                self._start()
            if len(self._heap) + self._running >= self.capacity + reserve:
                return False
            heapq.heappush(self._heap, _Entry(self.clock(), next(self._seq), answer))
            self._cond.notify()
            return True

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._running

    def _start(self) -> None:
        # After fork() the parent's threads are gone and its lock state is stale: start anew.
        self._pid = os.getpid()
        self._running = 0
        for n in range(self.workers):
            threading.Thread(target=self._work, name=f"answers-{n}", daemon=True).start()

    def _next(self) -> Answer | None:
        with self._cond:
            while not self._stopping:
                now = self.clock()
                if self._heap and self._heap[0].due <= now:
                    self._running += 1
                    return heapq.heappop(self._heap).answer
                self._cond.wait(timeout=(self._heap[0].due - now) if self._heap else None)
            return None

    def _work(self) -> None:
        while (answer := self._next()) is not None:
            delay: float | None = None
            try:
                answer.run()
            except RetryLater as retry:
                delay = retry.delay
                if answer.attempts >= MAX_ATTEMPTS:
                    log.warning(
                        "gave up on a %s after %d tries: %s", answer.label, answer.attempts, retry
                    )
                    delay = None
            except Exception as exc:
                log.error("could not deliver a %s: %r", answer.label, exc)
            with self._cond:
                self._running -= 1
                if delay is not None:
                    heapq.heappush(
                        self._heap, _Entry(self.clock() + delay, next(self._seq), answer)
                    )
                self._cond.notify()
