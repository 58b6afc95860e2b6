"""The App Home tab, published whenever someone opens it (so it is never stale).

Publishing reads the claim catalog and the database and calls Slack, so the
event is acknowledged and the Home handed over as a job (:mod:`bot.jobs`):
it is built where answers run, from the catalog they keep fresh, never in a
web worker (which holds no claim watcher of its own).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from bot.jobs import AnswerJob, JobKind, home_target
from bot.listeners.shape import event_has
from bot.services import Services


def register(app: App) -> None:
    app.event("app_home_opened", matchers=[event_has("user")])(publish_home)


def publish_home(event: dict[str, Any], context: BoltContext) -> None:
    if event.get("tab", "home") != "home":
        return
    services: Services = context["services"]
    target = home_target(context.team_id or "", context.enterprise_id or "", event["user"])
    # Not durable, and no "busy" notice when the answers are full: a Home left
    # unpublished keeps its last version and is published again when next opened.
    if not services.jobs.submit(AnswerJob(JobKind.HOME, target, label="App Home", durable=False)):
        services.log_busy()
