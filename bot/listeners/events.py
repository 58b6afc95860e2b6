"""``@ai-race`` mentions: always answered in the thread, never in the channel.

The event listener only queues the answer (:mod:`bot.answers`): reading the
thread's first message, matching and posting happen on the answer queue,
where a 429 is rescheduled instead of slept on.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.answers import ReplyKind, ReplyTarget
from bot.core import blocks
from bot.core.blocks import SlackMessage
from bot.corrections.citing import CitationKind, CitingThreadDelivery, recorder
from bot.listeners.replies import enqueue
from bot.listeners.shape import event_has
from bot.services import Services

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def register(app: App) -> None:
    app.event("app_mention", matchers=[event_has("channel", "ts")])(answer_mention)


def answer_mention(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    services: Services = context["services"]
    thread_ts = event.get("thread_ts") or event["ts"]
    bot_user_id, team_id = context.bot_user_id, context.team_id
    # The reply is public: record the claims it cites, for corrections later.
    record = recorder(
        services.record_citations,
        team_id or "",
        context.enterprise_id or "",
        CitationKind.THREAD,
    )
    # A durable target: a reply Slack makes wait survives a deploy (bot.outbox).
    target = ReplyTarget(
        ReplyKind.THREAD, team_id or "", context.enterprise_id or "", event["channel"], thread_ts
    )
    enqueue(
        services,
        lambda: mention_reply(services, event, client, bot_user_id, team_id),
        CitingThreadDelivery(client, event["channel"], thread_ts, record),
        "mention reply",
        target,
    )


def mention_reply(
    services: Services,
    event: dict[str, Any],
    client: WebClient,
    bot_user_id: str | None,
    team_id: str | None,
) -> SlackMessage:
    bot_mention = f"<@{bot_user_id}>" if bot_user_id else None
    text = event.get("text", "")
    query = text.replace(bot_mention, " ") if bot_mention else _MENTION.sub(" ", text, count=1)
    if not query.strip() and event.get("thread_ts"):
        # A bare mention inside a thread looks up what the thread is about.
        try:
            replies = client.conversations_replies(
                channel=event["channel"], ts=event["thread_ts"], limit=1
            )
        except SlackApiError as exc:  # e.g. no history scope here: say so, never go silent
            if exc.response.status_code == 429 or exc.response.status_code >= 500:
                raise  # the answer queue tries again later
            reason = exc.response.get("error", "error")
            return blocks.notice_message(
                f"I couldn't read this thread's first message (Slack said `{reason}`). "
                "Mention me with a few words instead, e.g. `@ai-race open source models`."
            )
        messages = replies.get("messages") or []
        query = messages[0].get("text", "") if messages else ""
    if not query.strip():
        return blocks.help_message(services.current.store)
    return services.thread_message(query, team_id)
