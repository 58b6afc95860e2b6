"""Buttons on answers: Share in channel, More, Sources, topic and suggestion buttons."""

from __future__ import annotations

import json
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot.core import blocks
from bot.services import Services


def register(app: App) -> None:
    app.action(blocks.SHARE)(ack=acknowledge, lazy=[share])
    app.action(blocks.MORE)(ack=acknowledge, lazy=[more])
    app.action(re.compile(f"^{blocks.SOURCES}:"))(ack=acknowledge, lazy=[sources])
    app.action(re.compile(f"^({blocks.TOPIC}|{blocks.SUGGESTION}):"))(
        ack=acknowledge, lazy=[search_button]
    )


def acknowledge(ack: Ack) -> None:
    ack()


def _state(action: dict[str, Any]) -> dict[str, Any]:
    """Button values are JSON we wrote; anything else is treated as empty."""
    try:
        value = json.loads(action.get("value") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def share(
    action: dict[str, Any], body: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    services: Services = context["services"]
    state = _state(action)
    ids = [i for i in state.get("ids", []) if isinstance(i, str)]
    message = services.shared_message(str(state.get("q", "")), ids, body["user"]["id"])
    respond(response_type="in_channel", replace_original=False, **message.payload())


def more(action: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    services: Services = context["services"]
    state = _state(action)
    offset = state.get("o") if isinstance(state.get("o"), int) else 0
    message = services.search_message(str(state.get("q", "")), context.team_id, max(offset, 0))
    respond(response_type="ephemeral", replace_original=False, **message.payload())


def sources(action: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    services: Services = context["services"]
    message = services.sources_message(action.get("value", ""))
    respond(response_type="ephemeral", replace_original=False, **message.payload())


def search_button(action: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    services: Services = context["services"]
    message = services.search_message(action.get("value", ""), context.team_id)
    respond(response_type="ephemeral", replace_original=False, **message.payload())
