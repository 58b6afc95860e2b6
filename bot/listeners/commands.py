"""``/ai-race``: acknowledged at once, answered ephemerally through the answer queue."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.answers import BUSY_TEXT, Answer
from bot.core.blocks import SlackMessage
from bot.core.router import Verb, route
from bot.listeners.replies import to_response_url
from bot.services import Services

COMMAND = "/ai-race"


def register(app: App) -> None:
    app.command(COMMAND)(acknowledge)


def acknowledge(ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """An empty ack within milliseconds; the answer follows through response_url.

    When the answer queue is full the ack itself says "busy" (the asker sees
    it at once), which costs nothing and needs no further post.
    """
    services: Services = context["services"]
    delivery = to_response_url(services, command.get("response_url", ""), replace_original=None)
    job = Answer(lambda: answer(services, command, client), delivery, "/ai-race answer")
    if services.answers.submit(job):
        ack()
    else:
        services.log_busy()
        ack(text=BUSY_TEXT)


def answer(services: Services, command: dict[str, Any], client: WebClient) -> SlackMessage:
    text = command.get("text", "")
    if route(text).verb is Verb.DIGEST and services.digest is not None:
        return services.digest.handle(command, client)
    return services.command_message(text, command.get("team_id"))
