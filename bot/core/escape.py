"""Making text safe to echo into Slack messages.

Slack decodes only ``&amp; &lt; &gt;`` and treats ``<...>`` as mentions and
links. User text is first turned into readable words (``<!channel>`` becomes
the literal ``@channel``, ``<@U1|bob>`` becomes ``@bob``), then unescaped and
re-escaped exactly once, so nothing a user types can ping a channel, mention
someone or forge a link. We never send ``link_names`` or ``parse=full``, so a
plain ``@channel`` stays plain text.
"""

from __future__ import annotations

import html
import re

_TOKEN = re.compile(r"<([@#!])?([^<>|]*)(?:\|([^<>]*))?>")
_BROADCAST = {"channel", "here", "everyone"}


def _readable(match: re.Match[str]) -> str:
    sigil, target, label = match.group(1), match.group(2), match.group(3)
    if sigil == "!":
        name = target.split("^", 1)[0]
        if name in _BROADCAST:
            return f"@{name}"
        if name == "subteam":
            return label or "@group"
        return label or name
    if sigil == "@":
        return f"@{label}" if label else f"@{target}"
    if sigil == "#":
        return f"#{label}" if label else f"#{target}"
    return label or target


def _searchable(match: re.Match[str]) -> str:
    sigil, target, label = match.group(1), match.group(2), match.group(3)
    if sigil in {"!", "#"}:  # broadcasts and channel names say nothing about a topic
        return " "
    if sigil == "@":  # a person's display name may be what the query is about
        return f" {label} " if label else " "
    return f" {label or target} "


def readable(text: str) -> str:
    """Slack markup -> plain words a person would have typed."""
    return html.unescape(_TOKEN.sub(_readable, text))


def searchable(text: str) -> str:
    """Slack markup -> the words worth matching on.

    ``<@U1|bob>`` becomes ``bob``, ``<https://x|label>`` becomes ``label``;
    ``<!channel>``, ``<!here>`` and ``<#C1|general>`` disappear.
    """
    return html.unescape(_TOKEN.sub(_searchable, text))


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def neutral(text: str) -> str:
    """Slack-formatted text with every mention and link token turned into plain words.

    Used for text we store and get back later (button values), so that even
    data at rest holds no token that could ping anyone if it were ever shown.
    """
    return escape(readable(text))


def echo(text: str, limit: int = 150) -> str:
    """User text, readable and escaped, shortened for display."""
    plain = " ".join(readable(text).split())
    if len(plain) > limit:
        plain = plain[: limit - 1].rstrip() + "…"
    return escape(plain)


def link(url: str, label: str) -> str:
    """A mrkdwn link whose label cannot break out of the link syntax."""
    safe_label = escape(label).replace("|", "¦")
    return f"<{escape(url)}|{safe_label}>"
