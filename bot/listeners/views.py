"""The App Home tab, published whenever someone opens it (so it is never stale).

Publishing calls Slack and reads the database, so it runs as a Bolt *lazy*
listener: the event is acknowledged first (listeners otherwise run before the
response, see bot.app) and the Home is published on Bolt's executor.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.listeners.shape import event_has
from bot.services import Services


def register(app: App) -> None:
    app.event("app_home_opened", matchers=[event_has("user")])(ack=acknowledge, lazy=[publish_home])


def acknowledge(ack: Ack) -> None:
    ack()


def publish_home(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    if event.get("tab", "home") != "home":
        return
    services: Services = context["services"]
    client.views_publish(user_id=event["user"], view=services.home())
