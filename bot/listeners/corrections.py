"""The button under a correction: "See the claim in full", privately, to whoever clicks."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.corrections.message import SEE_CLAIM
from bot.jobs import JobKind, response_url_target
from bot.listeners.replies import enqueue, job
from bot.services import Services


def register(app: App) -> None:
    app.action(SEE_CLAIM)(see_claim)


def see_claim(ack: Ack, action: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    """The claim as it stands now (or why it cannot be shown), as a private answer."""
    ack()
    services: Services = context["services"]
    claim_id = str(action.get("value") or "")
    target = response_url_target(body.get("response_url", ""), context.team_id or "")
    enqueue(services, job(JobKind.CLAIM, target, "claim from a correction", claim_id=claim_id))
