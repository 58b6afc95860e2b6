"""What the text after ``/ai-race`` asks for.

Subcommands are recognised only as the first word, so a query that merely
contains "topics" or "random" later on is still a query.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verb(StrEnum):
    HELP = "help"
    TOPICS = "topics"
    CLAIM = "claim"
    RANDOM = "random"
    DIGEST = "digest"
    SEARCH = "search"


@dataclass(frozen=True)
class Route:
    verb: Verb
    argument: str = ""


def route(text: str) -> Route:
    words = (text or "").strip()
    if not words:
        return Route(Verb.HELP)
    head, _, rest = words.partition(" ")
    keyword = head.lower()
    rest = rest.strip()
    if keyword in {"help", "?", "usage"} and not rest:
        return Route(Verb.HELP)
    if keyword == "topics" and not rest:
        return Route(Verb.TOPICS)
    if keyword == "random" and not rest:
        return Route(Verb.RANDOM)
    if keyword == "claim" and rest and " " not in rest:
        return Route(Verb.CLAIM, rest.lower())
    if keyword == "digest":
        return Route(Verb.DIGEST, rest)
    return Route(Verb.SEARCH, words)
