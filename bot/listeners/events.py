"""``@ai-race`` mentions: always answered in the thread, never in the channel.

The event listener only hands the answer over (:mod:`bot.jobs`): reading the
thread's first message, matching and posting happen where answers run
(:mod:`bot.runner`), where a 429 is rescheduled instead of slept on.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from bot.jobs import JobKind, thread_target
from bot.listeners.replies import enqueue, job
from bot.listeners.shape import event_has


def register(app: App) -> None:
    app.event("app_mention", matchers=[event_has("channel", "ts")])(answer_mention)


def answer_mention(event: dict[str, Any], context: BoltContext) -> None:
    thread_ts = event.get("thread_ts") or event["ts"]
    # A durable target: a reply Slack makes wait survives a deploy (bot.outbox).
    target = thread_target(
        context.team_id or "", context.enterprise_id or "", event["channel"], thread_ts
    )
    mention = job(
        JobKind.MENTION,
        target,
        "mention reply",
        text=str(event.get("text") or ""),
        thread_ts=str(event.get("thread_ts") or ""),
        bot_user_id=context.bot_user_id or "",
    )
    enqueue(context["services"], mention)
