"""Message shortcut "Find related claims": the claims matching any message's text."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.jobs import JobKind, response_url_target
from bot.listeners.replies import enqueue, job
from bot.services import Services

CALLBACK_ID = "find_related_claims"


def register(app: App) -> None:
    app.message_shortcut(CALLBACK_ID)(acknowledge)


def acknowledge(ack: Ack, shortcut: dict[str, Any], context: BoltContext) -> None:
    """Ack at once; the matches follow privately through the shortcut's response_url."""
    ack()
    services: Services = context["services"]
    text = (shortcut.get("message") or {}).get("text", "")
    target = response_url_target(shortcut.get("response_url", ""), context.team_id or "")
    enqueue(services, job(JobKind.SEARCH, target, "shortcut answer", query=text, offset=0))
