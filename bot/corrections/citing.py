"""Posting an answer in a thread, and remembering which claims it cited there.

Only public posts are recorded (private answers are nobody else's business and
can never be corrected in place). The record is written after Slack accepted
the post, with the message ts Slack returned; a failure to record is logged
and never turns into a second post.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient

from bot.core.blocks import SlackMessage

log = logging.getLogger(__name__)

# (channel, thread_ts, message_ts, claim ids) -> None
RecordCitations = Callable[[str, str, str, tuple[str, ...]], None]


@dataclass
class CitingThreadDelivery:
    """``chat.postMessage`` into a thread, then a record of the claims it cited."""

    client: WebClient
    channel: str
    thread_ts: str
    record: RecordCitations

    def send(self, message: SlackMessage) -> None:
        response = self.client.chat_postMessage(
            channel=self.channel, thread_ts=self.thread_ts, **message.payload()
        )
        message_ts = response.get("ts")
        if not message.cites or not message_ts:
            return
        try:
            self.record(self.channel, self.thread_ts, str(message_ts), message.cites)
        except Exception:  # the answer is out; a lost record only means no correction later
            log.exception("could not record the claims cited in a thread reply")
