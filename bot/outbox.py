"""Replies survive a deploy: the answer queue's durability, backed by the ``reply_outbox`` table.

Slack does not retry an event it saw acknowledged, so a mention reply that
is waiting out a Retry-After when its process stops would be lost. Here:

* the first time Slack makes a reply wait, :class:`Outbox` keeps it in the
  database, owned by this process (:mod:`bot.state.outbox`); every later
  attempt first *takes* the row (fenced), so a reply another process took
  over is never posted here;
* on SIGTERM the queue drains and :meth:`Outbox.hand_over` releases what is
  still waiting (and stores what never got that far), due when it was due;
* :class:`Resumer`, a thread in every web process, takes over rows whose
  lease ran out (their process stopped or died) and puts them back on its
  own answer queue. A row found ``sending`` may have reached Slack before
  its process died: for a thread reply it looks for the reply's message
  metadata in the thread first, and posts only if it is not there. A
  ``response_url`` cannot be read back, so that case is at least once.

Every database call goes through the :class:`~bot.state.guard.DatabaseGuard`:
with the database out of reach, replies keep working in memory as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from sqlalchemy.exc import SQLAlchemyError

from bot.answers import (
    REPLY_EVENT_TYPE,
    Answer,
    AnswerQueue,
    Delivery,
    ReplyKind,
    ReplyTarget,
    ResponseUrlDelivery,
    ResponseUrlPolicy,
)
from bot.core.blocks import SlackMessage
from bot.corrections.citing import CitingThreadDelivery, RecordCitations
from bot.state.guard import DatabaseGuard
from bot.state.models import ReplyOutbox
from bot.state.outbox import OutboxLease, OutboxStatus, OutboxStore

log = logging.getLogger(__name__)

RESPONSE_URL_LIFETIME = timedelta(minutes=30)  # Slack's: a response_url works for 30 minutes
KEEP_FINISHED = timedelta(days=2)
MAX_TAKEOVERS = 20
"""A row taken over this often keeps killing its processes, or Slack keeps refusing it: give up."""

# (target, cites) -> the delivery that posts a resumed reply; None when it cannot be sent
DeliveryFactory = Callable[[ReplyTarget, tuple[str, ...]], Delivery | None]
# (target, reply key) -> ts of the reply if it is already in the thread
FindPosted = Callable[[ReplyTarget, str], str | None]


def _columns(answer: Answer) -> dict[str, Any]:
    target = answer.target
    assert target is not None and answer.message is not None
    return {
        "reply_key": answer.key,
        "kind": target.kind.value,
        "team_id": target.team_id,
        "enterprise_id": target.enterprise_id,
        "channel_id": target.channel,
        "thread_ts": target.thread_ts,
        "response_url": target.url or None,
        "response_type": target.response_type,
        "replace_original": target.replace_original,
        "message": answer.message.payload(),
        "cites": list(answer.message.cites),
    }


def target_of(row: ReplyOutbox) -> ReplyTarget:
    return ReplyTarget(
        ReplyKind(row.kind),
        team_id=row.team_id,
        enterprise_id=row.enterprise_id,
        channel=row.channel_id,
        thread_ts=row.thread_ts,
        url=row.response_url or "",
        response_type=row.response_type,
        replace_original=row.replace_original,
    )


def message_of(row: ReplyOutbox) -> SlackMessage:
    """The stored payload as a message again (slack_sdk parses the blocks back)."""
    payload = row.message
    blocks = [b for b in Block.parse_all(payload.get("blocks") or []) if b is not None]
    return SlackMessage(
        payload.get("text", ""), blocks, tuple(row.cites or ()), payload.get("metadata")
    )


class Outbox:
    """The answer queue's :class:`~bot.answers.Durability` on the ``reply_outbox`` table."""

    def __init__(self, store: OutboxStore, guard: DatabaseGuard) -> None:
        self.store = store
        self.guard = guard

    def _now_plus(self, delay: float) -> Any:
        return self.store.clock() + timedelta(seconds=delay)

    def wait(self, answer: Answer, delay: float) -> None:
        if answer.target is None or answer.message is None:
            return
        due = self._now_plus(delay)
        if answer.lease is None:
            values = _columns(answer)
            answer.lease = self.guard.call(
                lambda _e: self.store.keep(values, due, owned=True), None, what="keeping a reply"
            )
        else:
            self.guard.call(lambda _e: self.store.wait(answer.lease, due), False, what="outbox")

    def take(self, answer: Answer) -> bool:
        if answer.lease is None:
            return True
        lease: OutboxLease = answer.lease
        # Without the database we cannot fence: post anyway rather than lose the reply.
        fallback: OutboxLease | None = lease
        taken = self.guard.call(lambda _e: self.store.take(lease), fallback, what="outbox")
        answer.lease = taken
        return taken is not None

    def finish(self, answer: Answer, error: str | None = None) -> None:
        lease: OutboxLease | None = answer.lease
        if lease is None:
            return
        status = OutboxStatus.FAILED if error else OutboxStatus.SENT
        self.guard.call(
            lambda _e: self.store.finish(lease, status, error=error), False, what="outbox"
        )

    def hand_over(self, answers: list[tuple[float, Answer]]) -> int:
        kept = sum(self._hand_over(delay, answer) for delay, answer in answers)
        if kept < len(answers):
            log.warning("stopping: %d replies could not be kept and are lost", len(answers) - kept)
        return kept

    def _hand_over(self, delay: float, answer: Answer) -> bool:
        due = self._now_plus(delay)
        lease: OutboxLease | None = answer.lease
        if lease is not None:
            return self.guard.call(lambda _e: self.store.release(lease, due), False, what="outbox")
        if answer.target is None or answer.message is None:
            return False  # never computed, or nowhere durable to send it: nothing to keep
        values = _columns(answer)
        return self.guard.call(
            lambda _e: self.store.keep(values, due, owned=False) is not None,
            False,
            what="keeping a reply",
        )


class Resumer:
    """Takes over replies whose process stopped, and queues them here (a thread per process)."""

    def __init__(
        self,
        outbox: Outbox,
        queue: AnswerQueue,
        deliveries: DeliveryFactory,
        find_posted: FindPosted,
        *,
        interval: float = 2.0,
    ) -> None:
        self.outbox = outbox
        self.store = outbox.store
        self.queue = queue
        self.deliveries = deliveries
        self.find_posted = find_posted
        self.interval = interval

    def start(self) -> threading.Event:
        stop = threading.Event()
        threading.Thread(target=self.run, args=(stop,), name="outbox", daemon=True).start()
        return stop

    def run(self, stop: threading.Event) -> None:
        self.outbox.guard.call(lambda _e: self.store.prune(KEEP_FINISHED), 0, what="outbox")
        while not stop.is_set():
            none: list[ReplyOutbox] = []
            rows = self.outbox.guard.call(lambda _e: self.store.due(), none, what="outbox")
            for row in rows:
                try:  # not through the guard: a thread check calls Slack, which may be slow
                    self.resume(row)
                except SQLAlchemyError as exc:
                    log.warning("could not resume a reply: %s", type(exc).__name__)
                    break
            stop.wait(self.interval)

    def resume(self, row: ReplyOutbox) -> None:
        """Take ``row`` over and queue it; or finish it, if it cannot or need not be sent."""
        lease = self.store.take_over(row)
        if lease is None:
            return  # another process was faster
        target = target_of(row)
        delivery = self.deliveries(target, tuple(row.cites or ()))
        why_not = self._why_not(row, target, delivery)
        if why_not is not None:
            log.warning("not resuming a reply: %s", why_not)
            self.store.finish(lease, OutboxStatus.FAILED, error=why_not)
            return
        if lease.previous is OutboxStatus.SENDING and not self._unsent(lease, target, row):
            return
        assert delivery is not None
        message = message_of(row)
        answer = Answer(
            lambda: message,
            delivery,
            "resumed reply",
            message=message,
            target=target,
            key=row.reply_key,
            lease=lease,
        )
        if not self.queue.submit(answer):
            self.store.release(lease, self.store.clock() + timedelta(seconds=self.interval))

    def _why_not(
        self, row: ReplyOutbox, target: ReplyTarget, delivery: Delivery | None
    ) -> str | None:
        if row.attempts >= MAX_TAKEOVERS:
            return f"taken over {row.attempts} times"
        if delivery is None:
            return f"no token for team {target.team_id or '?'}"
        expired = row.created_at + RESPONSE_URL_LIFETIME <= self.store.clock()
        if target.kind is ReplyKind.RESPONSE_URL and expired:
            return "its response_url has expired (30 minutes)"
        return None

    def _unsent(self, lease: OutboxLease, target: ReplyTarget, row: ReplyOutbox) -> bool:
        """A reply whose sender died mid-post: True if it must be posted (again)."""
        if target.kind is ReplyKind.RESPONSE_URL:
            log.warning("resending a response_url reply that may have arrived (no way to check)")
            return True
        try:
            ts = self.find_posted(target, row.reply_key)
        except SlackApiError as exc:
            reason = exc.response.get("error")
            log.warning("could not check a thread for a resumed reply: %s", reason)
            self.store.release(lease, self.store.clock() + timedelta(seconds=self.interval))
            return False
        if ts is None:
            return True
        log.info("a resumed reply was already in its thread (ts %s): not posting it again", ts)
        self.store.finish(lease, OutboxStatus.SENT, message_ts=ts)
        return False


def deliveries(
    client_for: Callable[[str], WebClient | None],
    policy: ResponseUrlPolicy,
    record: Callable[[str, str], RecordCitations],
) -> DeliveryFactory:
    """How resumed replies are posted: as the listeners post them, with the team's token."""

    def build(target: ReplyTarget, cites: tuple[str, ...]) -> Delivery | None:
        if target.kind is ReplyKind.RESPONSE_URL:
            return ResponseUrlDelivery(
                target.url, policy, target.response_type, target.replace_original
            )
        client = client_for(target.team_id)
        if client is None:
            return None
        citing = record(target.team_id, target.enterprise_id)
        return CitingThreadDelivery(client, target.channel, target.thread_ts, citing)

    return build


def thread_reply_ts(client: WebClient, target: ReplyTarget, key: str) -> str | None:
    """The ts of our reply with this key in the thread, found by its message metadata."""
    cursor = None
    while True:
        page = client.conversations_replies(
            channel=target.channel,
            ts=target.thread_ts,
            include_all_metadata=True,
            limit=200,
            cursor=cursor,
        )
        for message in page.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == REPLY_EVENT_TYPE and payload.get("reply") == key:
                return str(message.get("ts"))
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None


__all__ = ["Outbox", "Resumer", "deliveries", "message_of", "target_of", "thread_reply_ts"]
