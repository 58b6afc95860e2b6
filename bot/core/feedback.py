"""Feedback buttons on answers, as data: the votes, the kinds of answer, the button values.

Pure and Slack-free like the rest of the core: :mod:`bot.core.blocks` draws the
buttons from these, and the listeners read clicks back with the same
functions, so what a button carries and how it is read cannot drift apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum

from bot.core.schema import SLUG_PATTERN

ACTION_PREFIX = "feedback"
QUERY_IN_FEEDBACK = 150  # characters of the question kept per button (9 buttons per answer)
_SLUG = re.compile(SLUG_PATTERN)


class Vote(StrEnum):
    HELPFUL = "helpful"
    NOT_ASKED = "not_asked"
    WRONG = "wrong"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Vote.HELPFUL: "Helpful",
    Vote.NOT_ASKED: "Not what I asked",
    Vote.WRONG: "Wrong or outdated",
}


class AnswerKind(StrEnum):
    """Where the answer was shown; only the public kinds are ever cited in threads."""

    PRIVATE = "private"
    SHARED = "shared"
    THREAD = "thread"
    DIGEST = "digest"


_KINDS = frozenset(kind.value for kind in AnswerKind)


def action_id(vote: Vote) -> str:
    return f"{ACTION_PREFIX}:{vote.value}"


def vote_of(action_id: str) -> Vote | None:
    """The vote a button's action_id stands for, or None for anything else."""
    prefix, _, value = action_id.partition(":")
    if prefix != ACTION_PREFIX:
        return None
    try:
        return Vote(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class FeedbackTarget:
    """What a feedback button is about: one claim in one answer to one question."""

    claim_id: str
    query: str
    kind: AnswerKind

    def value(self) -> str:
        data = {"c": self.claim_id, "q": self.query[:QUERY_IN_FEEDBACK], "k": self.kind.value}
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def parse(cls, raw: str | None) -> FeedbackTarget | None:
        """A button value we wrote, or None for anything forged, truncated or stale."""
        try:
            data = json.loads(raw or "")
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        claim_id, query, kind = data.get("c"), data.get("q", ""), data.get("k")
        if not isinstance(claim_id, str) or not _SLUG.fullmatch(claim_id):
            return None
        if not isinstance(query, str) or kind not in _KINDS:
            return None
        return cls(claim_id, " ".join(query.split())[:QUERY_IN_FEEDBACK], AnswerKind(kind))
