"""The App Home tab, published whenever someone opens it (so it is never stale)."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.services import Services


def register(app: App) -> None:
    app.event("app_home_opened")(publish_home)


def publish_home(event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    if event.get("tab", "home") != "home":
        return
    services: Services = context["services"]
    client.views_publish(user_id=event["user"], view=services.home())
