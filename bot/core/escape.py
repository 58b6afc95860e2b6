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
from urllib.parse import unquote, urlsplit

_TOKEN = re.compile(r"<([@#!])?([^<>|]*)(?:\|([^<>]*))?>")
_BROADCAST = {"channel", "here", "everyone"}
# Slack's emoji shortcodes (":fire:", ":+1:", ":skin-tone-2:"): at least one
# letter or "+", so times such as "10:30:00" are left alone.
_EMOJI = re.compile(r":(?=[a-z0-9_+'-]*[a-z+])[a-z0-9_+'-]+:", re.IGNORECASE)
_BARE_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>]+", re.IGNORECASE)
_URL_LIKE = re.compile(r"^(?:https?://|www\.|mailto:|tel:)", re.IGNORECASE)
_SLUG_SEPARATORS = re.compile(r"[-_+.,]+")
_PAGE_SUFFIX = re.compile(r"\.(?:s?html?|php|aspx?|amp)$", re.IGNORECASE)
_SLUG_NOISE = re.compile(r"^(?:[0-9]+|[0-9a-f]{6,}|[a-z]?[0-9][a-z0-9]*)$", re.IGNORECASE)


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


def url_words(url: str) -> str:
    """The headline words of a pasted link: its longest slug, or nothing.

    A news article's path usually ends in its headline
    (``/2026/01/20/deepmind-ceo-china-ai-catching-up.html``); the host, dates,
    numeric ids and hashes say nothing about the topic and would count as
    unexplained words. A bare site (``https://example.com``) reads as nothing.
    """
    if url.lower().startswith(("mailto:", "tel:")):
        return ""
    try:
        path = urlsplit(url if "://" in url else f"https://{url}").path
    except ValueError:  # a malformed link is noise, not an error
        return ""
    best: list[str] = []
    for segment in unquote(path).split("/"):
        parts = [
            part
            for part in _SLUG_SEPARATORS.split(_PAGE_SUFFIX.sub("", segment))
            if part and not _SLUG_NOISE.match(part)
        ]
        if len(parts) >= 2 and len(parts) > len(best):
            best = parts
    return " ".join(best)


def _searchable(match: re.Match[str]) -> str:
    sigil, target, label = match.group(1), match.group(2), match.group(3)
    if sigil in {"!", "#"}:  # broadcasts and channel names say nothing about a topic
        return " "
    if sigil == "@":  # a person's display name may be what the query is about
        return f" {label} " if label else " "
    if target.lower().startswith(("mailto:", "tel:")):  # an address is nobody's topic
        return " "
    if label and not _URL_LIKE.match(label):  # <url|label>: the poster's words, then the headline's
        return f" {label} {url_words(target)} "
    return f" {url_words(target)} "


def readable(text: str) -> str:
    """Slack markup -> plain words a person would have typed."""
    return html.unescape(_TOKEN.sub(_readable, text))


def searchable(text: str) -> str:
    """Slack markup -> the words worth matching on.

    ``<@U1|bob>`` becomes ``bob``, ``<https://x/a-headline|label>`` becomes
    ``label a headline`` (what the poster called it, then the words of its
    slug: both say what the link is about), a pasted link without a label
    becomes the words of its slug; ``<!channel>``,
    ``<!here>``, ``<#C1|general>`` and emoji shortcodes (``:fire:``) disappear.
    ``*bold*``, ``_italic_`` and ``~strike~`` marks are punctuation to the
    word splitter already. Links typed outside Slack (the command line, a
    digest preview) get the same treatment as Slack's ``<url>`` tokens.
    """
    text = html.unescape(_TOKEN.sub(_searchable, text))
    text = _BARE_URL.sub(lambda m: f" {url_words(m.group(0))} ", text)
    return _EMOJI.sub(" ", text)


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
