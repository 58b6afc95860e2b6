"""Slack listeners, one module per surface, as in Slack's bolt-python starter template."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners import (
    actions,
    commands,
    corrections,
    events,
    feedback,
    install,
    shortcuts,
    views,
)


def register_listeners(app: App) -> None:
    for module in (commands, events, shortcuts, actions, corrections, feedback, views, install):
        module.register(app)
