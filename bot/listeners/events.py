"""``@ai-race`` mentions: always answered in the thread, never in the channel."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core import blocks
from bot.services import Services

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def register(app: App) -> None:
    app.event("app_mention")(answer_mention)


def answer_mention(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    services: Services = context["services"]
    channel = event["channel"]
    thread_ts = event.get("thread_ts") or event["ts"]
    bot_mention = f"<@{context.bot_user_id}>" if context.bot_user_id else None
    text = event.get("text", "")
    query = text.replace(bot_mention, " ") if bot_mention else _MENTION.sub(" ", text, count=1)
    if not query.strip() and event.get("thread_ts"):
        # A bare mention inside a thread looks up what the thread is about.
        try:
            replies = client.conversations_replies(channel=channel, ts=event["thread_ts"], limit=1)
        except SlackApiError as exc:  # e.g. no history scope here: say so, never go silent
            reason = exc.response.get("error", "error")
            note = blocks.notice_message(
                f"I couldn't read this thread's first message (Slack said `{reason}`). "
                "Mention me with a few words instead, e.g. `@ai-race open source models`."
            )
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, **note.payload())
            return
        messages = replies.get("messages") or []
        query = messages[0].get("text", "") if messages else ""
    if not query.strip():
        message = blocks.help_message(services.current.store)
    else:
        message = services.thread_message(query, context.team_id)
    client.chat_postMessage(channel=channel, thread_ts=thread_ts, **message.payload())
