"""Message shortcut "Find related claims": the claims matching any message's text."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.listeners.replies import enqueue, to_response_url
from bot.services import Services

CALLBACK_ID = "find_related_claims"


def register(app: App) -> None:
    app.message_shortcut(CALLBACK_ID)(acknowledge)


def acknowledge(ack: Ack, shortcut: dict[str, Any], context: BoltContext) -> None:
    """Ack at once; the matches follow privately through the shortcut's response_url."""
    ack()
    services: Services = context["services"]
    text = (shortcut.get("message") or {}).get("text", "")
    team_id = context.team_id
    delivery = to_response_url(services, shortcut.get("response_url", ""))
    enqueue(services, lambda: services.search_message(text, team_id), delivery, "shortcut answer")
