"""``/ai-race digest …`` from Slack: subscriptions managed in the channel they are for."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.models.blocks import Block
from sqlalchemy import Engine

from bot.core.blocks import SlackMessage, digest_message, notice_message
from bot.core.catalog import CatalogHolder
from bot.core.escape import escape
from bot.core.router import route
from bot.digest.command import handle_digest_command


class DigestCommands:
    """Bridges the slash command to the digest subsystem, rendering with the core."""

    def __init__(self, engine: Engine, catalog: CatalogHolder) -> None:
        self.engine = engine
        self.catalog = catalog

    def handle(self, command: dict[str, Any], client: WebClient) -> SlackMessage:
        reply = handle_digest_command(
            route(command.get("text", "")).argument,
            engine=self.engine,
            team_id=command.get("team_id", ""),
            channel_id=command.get("channel_id", ""),
            user_id=command.get("user_id"),
            client=client,
            store_provider=lambda: self.catalog.current.store,
            render=digest_message,
        )
        if reply.blocks:  # a preview, rendered (and escaped) by the core
            return SlackMessage(reply.text, Block.parse_all(reply.blocks))
        # Replies quote what the user typed; escaping keeps any <!channel> inert.
        return notice_message(escape(reply.text))
