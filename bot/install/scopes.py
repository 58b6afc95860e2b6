"""The bot scopes we ask for, each with the reason shown on the install page.

The same list as ``oauth_config.scopes.bot`` in ``manifest.yml`` (a test
keeps them equal): it is the default of ``SLACK_SCOPES``, and a person
deciding whether to trust the app reads these reasons before clicking.
"""

from __future__ import annotations

SCOPE_REASONS: dict[str, str] = {
    "commands": "adds the /ai-race command and the “Find related claims” message shortcut",
    "app_mentions:read": "lets the bot see messages that mention @ai-race, and only those",
    "chat:write": "posts answers in the thread where it was asked, and digests you subscribe to",
    "channels:history": "reads a thread's first message when you mention the bot with no words "
    "(public channels)",
    "groups:history": "the same in private channels, only where someone invited the bot",
    "users:read": "reads your time zone so a digest arrives at 09:00 your time",
}

DEFAULT_SCOPES: tuple[str, ...] = tuple(SCOPE_REASONS)
