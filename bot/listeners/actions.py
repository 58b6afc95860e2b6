"""Buttons on answers: Share in channel, More, Sources, topic and suggestion buttons.

Each ack queues its answer (:mod:`bot.answers`); the answer goes to the
button's ``response_url``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.core import blocks
from bot.core.blocks import SlackMessage
from bot.corrections.citing import CitationKind, SharedAnswerDelivery, recorder
from bot.listeners.replies import enqueue, to_response_url
from bot.services import Services

Compute = Callable[[Services, dict[str, Any], dict[str, Any], BoltContext], SlackMessage]


def register(app: App) -> None:
    app.action(blocks.SHARE)(_share)
    app.action(blocks.MORE)(_queued(more))
    app.action(re.compile(f"^{blocks.SOURCES}:"))(_queued(sources))
    app.action(re.compile(f"^({blocks.TOPIC}|{blocks.SUGGESTION}):"))(_queued(search_button))


def _queued(compute: Compute, response_type: str = "ephemeral") -> Callable[..., None]:
    def acknowledge(
        ack: Ack, action: dict[str, Any], body: dict[str, Any], context: BoltContext
    ) -> None:
        ack()
        services: Services = context["services"]
        delivery = to_response_url(
            services, body.get("response_url", ""), response_type=response_type
        )
        enqueue(
            services, lambda: compute(services, action, body, context), delivery, "button answer"
        )

    return acknowledge


def _share(ack: Ack, action: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    """Shared answers are posted by the bot, so the claims they cite can be corrected later."""
    ack()
    services: Services = context["services"]
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
    record = recorder(
        services.record_citations,
        context.team_id or "",
        context.enterprise_id or "",
        CitationKind.SHARED,
    )
    fallback = to_response_url(services, body.get("response_url", ""), response_type="in_channel")
    delivery = SharedAnswerDelivery(
        context.client, channel, container.get("thread_ts"), fallback, record
    )
    enqueue(services, lambda: share(services, action, body, context), delivery, "shared answer")


def _state(action: dict[str, Any]) -> dict[str, Any]:
    """Button values are JSON we wrote; anything else is treated as empty."""
    try:
        value = json.loads(action.get("value") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def share(
    services: Services, action: dict[str, Any], body: dict[str, Any], context: BoltContext
) -> SlackMessage:
    state = _state(action)
    ids = [i for i in state.get("ids", []) if isinstance(i, str)]
    return services.shared_message(str(state.get("q", "")), ids, body["user"]["id"])


def more(
    services: Services, action: dict[str, Any], body: dict[str, Any], context: BoltContext
) -> SlackMessage:
    state = _state(action)
    raw = state.get("o")
    offset = raw if isinstance(raw, int) else 0
    return services.search_message(str(state.get("q", "")), context.team_id, max(offset, 0))


def sources(
    services: Services, action: dict[str, Any], body: dict[str, Any], context: BoltContext
) -> SlackMessage:
    return services.sources_message(action.get("value", ""))


def search_button(
    services: Services, action: dict[str, Any], body: dict[str, Any], context: BoltContext
) -> SlackMessage:
    return services.search_message(action.get("value", ""), context.team_id)
