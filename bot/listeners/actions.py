"""Buttons on answers: Share in channel, More, Sources, topic and suggestion buttons.

Each ack hands its answer over as a job (:mod:`bot.jobs`); the answer goes to
the button's ``response_url``, or for a share into the channel.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.answers import ReplyKind, ReplyTarget
from bot.core import blocks
from bot.jobs import AnswerJob, JobKind, response_url_target
from bot.listeners.replies import enqueue, job

# (action, its response_url target) -> the job answering the click
ToJob = Callable[[dict[str, Any], ReplyTarget], AnswerJob]


def register(app: App) -> None:
    app.action(blocks.SHARE)(_share)
    app.action(blocks.MORE)(_queued(more))
    app.action(re.compile(f"^{blocks.SOURCES}:"))(_queued(sources))
    app.action(re.compile(f"^({blocks.TOPIC}|{blocks.SUGGESTION}):"))(_queued(search_button))


def _queued(to_job: ToJob) -> Callable[..., None]:
    def acknowledge(
        ack: Ack, action: dict[str, Any], body: dict[str, Any], context: BoltContext
    ) -> None:
        ack()
        target = response_url_target(body.get("response_url", ""), context.team_id or "")
        enqueue(context["services"], to_job(action, target))

    return acknowledge


def _share(ack: Ack, action: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    """Shared answers are posted by the bot, so the claims they cite can be corrected later."""
    ack()
    container = body.get("container") or {}
    target = ReplyTarget(
        ReplyKind.SHARED,
        context.team_id or "",
        context.enterprise_id or "",
        channel=container.get("channel_id") or (body.get("channel") or {}).get("id") or "",
        thread_ts=container.get("thread_ts") or "",
        url=body.get("response_url", ""),
    )
    state = _state(action)
    ids = [i for i in state.get("ids", []) if isinstance(i, str)]
    user_id = str((body.get("user") or {}).get("id") or "")
    query = str(state.get("q", ""))
    enqueue(
        context["services"],
        job(JobKind.SHARE, target, "shared answer", query=query, ids=ids, user_id=user_id),
    )


def _state(action: dict[str, Any]) -> dict[str, Any]:
    """Button values are JSON we wrote; anything else is treated as empty."""
    try:
        value = json.loads(action.get("value") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def more(action: dict[str, Any], target: ReplyTarget) -> AnswerJob:
    state = _state(action)
    raw = state.get("o")
    offset = max(raw, 0) if isinstance(raw, int) else 0
    query = str(state.get("q", ""))
    return job(JobKind.SEARCH, target, "button answer", query=query, offset=offset)


def sources(action: dict[str, Any], target: ReplyTarget) -> AnswerJob:
    return job(JobKind.SOURCES, target, "button answer", claim_id=str(action.get("value", "")))


def search_button(action: dict[str, Any], target: ReplyTarget) -> AnswerJob:
    return job(JobKind.SEARCH, target, "button answer", query=str(action.get("value", "")))
