"""``/ai-race``: acknowledged at once, answered ephemerally through the answer jobs."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.answers import BUSY_TEXT
from bot.jobs import JobKind, response_url_target
from bot.listeners.replies import job
from bot.services import Services

COMMAND = "/ai-race"
COMMAND_FIELDS = ("text", "team_id", "channel_id", "user_id")
"""What the answer reads from a slash command (never its token or the whole body)."""


def register(app: App) -> None:
    app.command(COMMAND)(acknowledge)


def acknowledge(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
    """An empty ack within milliseconds; the answer follows through response_url.

    When the answers are full the ack itself says "busy" (the asker sees it
    at once), which costs nothing and needs no further post.
    """
    services: Services = context["services"]
    target = response_url_target(
        command.get("response_url", ""), command.get("team_id", ""), replace_original=None
    )
    fields = {name: str(command.get(name) or "") for name in COMMAND_FIELDS}
    if services.jobs.submit(job(JobKind.COMMAND, target, "/ai-race answer", **fields)):
        ack()
    else:
        services.log_busy()
        ack(text=BUSY_TEXT)
