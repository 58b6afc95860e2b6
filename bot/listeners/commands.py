"""``/ai-race``: acknowledged at once, answered ephemerally through the answer queue."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.answers import BUSY_TEXT, Answer
from bot.core.blocks import SlackMessage, notice_message
from bot.core.router import Verb, route
from bot.listeners.replies import to_response_url
from bot.services import Services

COMMAND = "/ai-race"
DIGEST_TIMEOUT = 10.0  # users.info and a few small queries; far less unless something is down
DATABASE_DOWN = (
    "Digest settings are unavailable right now (the database cannot be reached). "
    "Searching still works; please try the digest command again in a few minutes."
)


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
        digest = services.digest
        return services.db.call(
            lambda _engine: digest.handle(command, client),
            notice_message(DATABASE_DOWN),
            what="digest command",
            timeout=DIGEST_TIMEOUT,
        )
    return services.command_message(text, command.get("team_id"))
