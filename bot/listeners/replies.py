"""Hand answers to the answer queue from an ack, and say "busy" when it is full."""

from __future__ import annotations

from collections.abc import Callable

from slack_sdk import WebClient

from bot.answers import (
    BUSY_TEXT,
    Answer,
    Delivery,
    ReplyTarget,
    ResponseUrlDelivery,
    ThreadDelivery,
)
from bot.core import blocks
from bot.core.blocks import SlackMessage
from bot.services import Services

BUSY_RESERVE = 50
"""Room beyond the queue's capacity for "busy" notices: they cost one small post each."""


def enqueue(
    services: Services,
    compute: Callable[[], SlackMessage],
    delivery: Delivery,
    label: str,
    target: ReplyTarget | None = None,
) -> bool:
    """Queue an answer; when the queue is full queue a "busy" notice instead and return False.

    ``target`` makes a thread reply durable (a response_url delivery names its own).
    """
    if services.answers.submit(Answer(compute, delivery, label, target=target)):
        return True
    services.log_busy()
    busy = blocks.notice_message(BUSY_TEXT)
    services.answers.submit(Answer(lambda: busy, delivery, "busy notice"), reserve=BUSY_RESERVE)
    return False


def to_response_url(
    services: Services,
    url: str,
    *,
    response_type: str = "ephemeral",
    replace_original: bool | None = False,
) -> ResponseUrlDelivery:
    return ResponseUrlDelivery(url, services.response_urls, response_type, replace_original)


def to_thread(client: WebClient, channel: str, thread_ts: str) -> ThreadDelivery:
    return ThreadDelivery(client, channel, thread_ts)
