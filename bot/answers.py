"""Answers run on their own bounded pool, so an ack never waits for answer work.

Bolt runs ack functions *and* lazy listeners on one executor. When replies
were rate-limited, slack_sdk's retry handler slept inside those threads and
the next slash commands could not be acknowledged within Slack's 3 seconds.
Here the ack only enqueues an :class:`Answer`; a few worker threads compute
and deliver it. A delivery that meets 429 (or a 5xx) raises
:class:`RetryLater`, and the answer goes back on the queue with a due time —
no thread sleeps. The queue is bounded: when it is full the caller says
"busy, try again" at once instead of letting the request time out.

Over HTTP this queue runs in each web worker's answer process
(:mod:`bot.answer_process`), fed with :class:`~bot.jobs.AnswerJob` lines; in
Socket Mode and the digest clock, in the process itself (:mod:`bot.runner`).

A reply that has a :class:`ReplyTarget` (a thread, a ``response_url``) is
*durable* once Slack first makes it wait: the queue hands it to its
:class:`Durability` (the database outbox, :mod:`bot.outbox`), which fences
every later attempt so that a reply resumed by another process after a
deploy or a crash is posted once. On SIGTERM, :meth:`AnswerQueue.drain`
finishes what it can within a deadline and hands the rest back to the
outbox for the next process.

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
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.core.blocks import SlackMessage

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 2
"""Answers are CPU-bound: a second thread overlaps one answer's post with another's matching;
more would only contend for the GIL (and, in Socket Mode, take it from acks: BENCHMARKS.md)."""
DEFAULT_CAPACITY = 200
MAX_ATTEMPTS = 6
"""A reply still refused after this many tries is given up (logged): Slack keeps refusing it."""
SERVER_ERROR_BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0)
SLACK_HOOKS = "hooks.slack.com"
BUSY_TEXT = "I'm busy answering others right now; please try again in a minute."
REPLY_EVENT_TYPE = "ai_race_reply"
"""Message metadata on thread replies: lets a process that resumes a reply see if it is out."""


class ReplyKind(StrEnum):
    THREAD = "thread"
    RESPONSE_URL = "response_url"
    SHARED = "shared"
    """Posted in ``channel`` by the bot ("Share in channel"); ``url`` is the fallback."""
    HOME = "home"
    """``user``'s App Home tab (``views.publish``); never kept for a later process."""


@dataclass(frozen=True)
class ReplyTarget:
    """Where a reply goes, in words a database row can keep (never a token)."""

    kind: ReplyKind
    team_id: str = ""
    enterprise_id: str = ""
    channel: str = ""
    thread_ts: str = ""
    url: str = ""
    response_type: str = "ephemeral"
    replace_original: bool | None = None
    user: str = ""  # HOME: whose App Home


def reply_metadata(key: str) -> dict[str, Any]:
    return {"event_type": REPLY_EVENT_TYPE, "event_payload": {"reply": key}}


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

    @property
    def target(self) -> ReplyTarget:
        return ReplyTarget(
            ReplyKind.RESPONSE_URL,
            url=self.url,
            response_type=self.response_type,
            replace_original=self.replace_original,
        )

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
    """What to say (computed once, on a worker) and where to send it.

    ``target`` makes the answer durable (see the module docstring); ``key``
    names it in the outbox and, for a thread, in the message's metadata.
    ``lease`` is the outbox's hold on it, once it is there.
    """

    compute: Callable[[], SlackMessage]
    delivery: Delivery
    label: str = "answer"
    attempts: int = 0
    message: SlackMessage | None = None
    target: ReplyTarget | None = None
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    lease: Any = None

    def __post_init__(self) -> None:
        if self.target is None:
            self.target = getattr(self.delivery, "target", None)

    def run(self) -> None:
        """Compute (first time only) and deliver; a 429 anywhere becomes :class:`RetryLater`."""
        self.attempts += 1
        try:
            if self.message is None:
                message = self.compute()
                if self.target is not None and self.target.kind is ReplyKind.THREAD:
                    message = replace(message, metadata=reply_metadata(self.key))
                self.message = message
            if self.message.text or self.message.blocks:  # empty: nothing to say (bot.runner)
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


class Durability(Protocol):
    """Keeps answers that have to wait, so another process can finish them (see bot.outbox).

    Each method is called on an answer-queue thread, never on a request thread.
    """

    def wait(self, answer: Answer, delay: float) -> None:
        """Slack said "later": keep ``answer`` (again) as ours, due in ``delay`` seconds."""

    def take(self, answer: Answer) -> bool:
        """About to post ``answer``: False if another process has taken it over."""

    def finish(self, answer: Answer, error: str | None = None) -> None:
        """Posted (``error`` None) or given up."""

    def hand_over(self, answers: list[tuple[float, Answer]]) -> int:
        """Stopping: leave these (seconds until due, answer) to the next process; how many kept."""


class InMemory:
    """No database: a waiting answer lives only as long as this process."""

    def wait(self, answer: Answer, delay: float) -> None:
        return None

    def take(self, answer: Answer) -> bool:
        return True

    def finish(self, answer: Answer, error: str | None = None) -> None:
        return None

    def hand_over(self, answers: list[tuple[float, Answer]]) -> int:
        return 0


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
        durability: Durability | None = None,
        finished: Callable[[Answer], None] | None = None,
    ) -> None:
        self.workers = workers
        # Told of each answer the queue is through with: sent, given up or handed over.
        self.finished = finished
        self.capacity = capacity
        self.clock = clock
        self.durability: Durability = durability or InMemory()
        self._heap: list[_Entry] = []
        self._running = 0  # answers a worker is busy with; they count towards capacity
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._pid: int | None = None
        self._stopping = False
        self._deadline: float | None = None  # while draining: run only what is due before this

    def submit(self, answer: Answer, *, reserve: int = 0) -> bool:
        """Queue ``answer`` to run now; False (and nothing queued) when the queue is full.

        ``reserve`` lets a tiny "busy" notice in beyond ``capacity``.
        """
        with self._cond:
            if self._pid != os.getpid():
                self._start()
            if self._deadline is not None or self._stopping:
                return False
            if len(self._heap) + self._running >= self.capacity + reserve:
                return False
            heapq.heappush(self._heap, _Entry(self.clock(), next(self._seq), answer))
            self._cond.notify()
            return True

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._running

    def drain(self, timeout: float) -> int:
        """Stop taking answers; finish those due within ``timeout``; hand the rest over.

        Called when the process is asked to stop (SIGTERM). Answers still
        waiting at the deadline (a Retry-After longer than the drain, say) go
        to the durability layer for the next process; an answer still being
        posted at the deadline keeps its ``sending`` row, which the next
        process checks before posting. Returns how many were handed over.
        """
        with self._cond:
            if self._pid != os.getpid():
                return 0  # no thread ever started here: nothing was queued
            self._deadline = self.clock() + timeout
            self._cond.notify_all()
            while not self._drained() and self.clock() < self._deadline:
                self._cond.wait(timeout=max(self._deadline - self.clock(), 0.0))
            self._stopping = True
            now = self.clock()
            left = [(max(e.due - now, 0.0), e.answer) for e in sorted(self._heap)]
            self._heap.clear()
            self._cond.notify_all()
        kept = self.durability.hand_over(left) if left else 0
        for _, answer in left:
            self._finished(answer)
        if left:
            log.info("stopping: %d replies kept in the outbox for the next process", kept)
        return kept

    def _drained(self) -> bool:
        assert self._deadline is not None
        return self._running == 0 and all(e.due > self._deadline for e in self._heap)

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
            delay = self._attempt(answer)
            with self._cond:
                self._running -= 1
                again = delay is not None and not self._stopping
                if again:
                    assert delay is not None
                    heapq.heappush(
                        self._heap, _Entry(self.clock() + delay, next(self._seq), answer)
                    )
                self._cond.notify_all()
            if not again:
                self._finished(answer)

    def _finished(self, answer: Answer) -> None:
        if self.finished is not None:
            try:
                self.finished(answer)
            except Exception:  # a report that cannot be sent must not stop the worker
                log.exception("could not report a finished %s", answer.label)

    def _attempt(self, answer: Answer) -> float | None:
        """Run ``answer`` once; the delay before the next try, or None when it is done."""
        if not self.durability.take(answer):
            log.info("a %s was taken over by another process; not posting it here", answer.label)
            return None
        try:
            answer.run()
        except RetryLater as retry:
            if answer.attempts >= MAX_ATTEMPTS:
                log.warning(
                    "gave up on a %s after %d tries: %s", answer.label, answer.attempts, retry
                )
                self.durability.finish(answer, str(retry))
                return None
            self.durability.wait(answer, retry.delay)
            return retry.delay
        except Exception as exc:
            log.error("could not deliver a %s: %r", answer.label, exc)
            self.durability.finish(answer, repr(exc))
            return None
        self.durability.finish(answer)
        return None
