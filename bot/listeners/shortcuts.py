"""Message shortcut "Find related claims": the claims matching any message's text."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot.services import Services

CALLBACK_ID = "find_related_claims"


def register(app: App) -> None:
    app.message_shortcut(CALLBACK_ID)(ack=acknowledge, lazy=[answer])


def acknowledge(ack: Ack) -> None:
    ack()


def answer(shortcut: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    services: Services = context["services"]
    text = (shortcut.get("message") or {}).get("text", "")
    message = services.search_message(text, context.team_id)
    respond(response_type="ephemeral", replace_original=False, **message.payload())
