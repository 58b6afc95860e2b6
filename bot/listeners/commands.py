"""``/ai-race``: acknowledged at once, answered ephemerally right after."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.core.router import Verb, route
from bot.services import Services

COMMAND = "/ai-race"


def register(app: App) -> None:
    app.command(COMMAND)(ack=acknowledge, lazy=[answer])


def acknowledge(ack: Ack) -> None:
    """An empty ack within milliseconds; the answer follows through response_url."""
    ack()


def answer(
    command: dict[str, Any], respond: Respond, context: BoltContext, client: WebClient
) -> None:
    services: Services = context["services"]
    text = command.get("text", "")
    if route(text).verb is Verb.DIGEST and services.digest is not None:
        message = services.digest.handle(command, client)
    else:
        message = services.command_message(text, command.get("team_id"))
    respond(response_type="ephemeral", **message.payload())
