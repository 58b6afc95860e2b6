"""Block Kit messages for every answer the bot gives, built with slack_sdk.models.

Listeners never format text themselves: they pick a function here and send
what it returns. Every message carries a plain-text fallback (notifications,
screen readers) and is fitted into Slack's limits before it leaves (see
:mod:`bot.core.blocks.kit`): at most 50 blocks, slack_sdk's own limits per
section, header and button, and a whole payload well under the ~12,000
characters where Slack starts refusing messages. When an answer is too long it
is shortened, never rejected, with a pointer to ``/ai-race claim <id>`` for the
full text.

One module per surface, so each reads on its own:

- ``kit``: the message type, Slack's limits, and the small block builders;
- ``claims``: one claim (in an answer, in full, its sources);
- ``answers``: replies to a query, help, topics, notices;
- ``digest``: the daily digest;
- ``home``: the App Home tab.
"""

from bot.core.blocks.answers import (
    answer_message,
    help_message,
    no_match_message,
    notice_message,
    public_answer_message,
    topics_message,
    unknown_claim_message,
)
from bot.core.blocks.claims import claim_message, sources_message
from bot.core.blocks.digest import digest_message
from bot.core.blocks.home import NEEDS_REVIEW_SHOWN, home_view
from bot.core.blocks.kit import (
    COMMAND,
    MAX_BLOCKS,
    MAX_HOME_BLOCKS,
    MORE,
    SHARE,
    SOURCES,
    SUGGESTION,
    TOPIC,
    SlackMessage,
)

__all__ = [
    "COMMAND",
    "MAX_BLOCKS",
    "MAX_HOME_BLOCKS",
    "MORE",
    "NEEDS_REVIEW_SHOWN",
    "SHARE",
    "SOURCES",
    "SUGGESTION",
    "TOPIC",
    "SlackMessage",
    "answer_message",
    "claim_message",
    "digest_message",
    "help_message",
    "home_view",
    "no_match_message",
    "notice_message",
    "public_answer_message",
    "sources_message",
    "topics_message",
    "unknown_claim_message",
]
