"""What a search returns: matches, the words that explain them, and why.

Kept apart from the index (bot.core.matcher) so that renderers import
results without the search machinery, and each module stays readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from bot.core.confidence import Confidence
from bot.core.schema import Claim


class FieldKind(IntEnum):
    """Where in a claim a term was found; the order is the order of strength."""

    TITLE = 0
    ALIAS = 1
    ENTITY = 2
    SPEAKER = 3
    TOPIC = 4
    SUMMARY = 5
    NOTE = 6
    SOURCE = 7


FIELD_WEIGHT = np.array([1.0, 0.97, 0.93, 0.93, 0.85, 0.6, 0.35, 0.3], dtype=np.float32)
FIELD_LABEL = {
    FieldKind.TITLE: "title",
    FieldKind.ALIAS: "alias",
    FieldKind.ENTITY: "entity",
    FieldKind.SPEAKER: "speaker",
    FieldKind.TOPIC: "topic",
    FieldKind.SUMMARY: "summary",
    FieldKind.NOTE: "evidence note",
    FieldKind.SOURCE: "source",
}
KEY_FIELDS = frozenset(
    {FieldKind.TITLE, FieldKind.ALIAS, FieldKind.ENTITY, FieldKind.SPEAKER, FieldKind.TOPIC}
)


def claim_fields(claim: Claim) -> list[tuple[FieldKind, str]]:
    """The texts of a claim that are searched, each with its field."""
    fields: list[tuple[FieldKind, str]] = [(FieldKind.TITLE, claim.title)]
    fields += [(FieldKind.ALIAS, alias) for alias in claim.aliases]
    fields += [(FieldKind.ENTITY, entity) for entity in claim.entities]
    if claim.speaker:
        parts = [claim.speaker.name, claim.speaker.role or "", claim.speaker.org or ""]
        fields += [(FieldKind.SPEAKER, part) for part in parts if part]
    fields += [(FieldKind.TOPIC, topic) for topic in claim.topics]
    fields.append((FieldKind.SUMMARY, claim.summary))
    fields.append((FieldKind.NOTE, claim.evidence.note))
    fields += [(FieldKind.SOURCE, f"{s.title} {s.publisher}") for s in claim.sources]
    return fields


@dataclass(frozen=True)
class Hit:
    """One query word explained by a claim: how, and where."""

    query_word: str
    term: str
    field: FieldKind
    kind: str  # "exact", "typo" or "joined"
    strength: float


@dataclass(frozen=True)
class Match:
    claim: Claim
    score: float  # 0..1: the calibrated probability that this is the claim meant
    coverage: float  # share of the query's information explained by words
    hits: tuple[Hit, ...]
    phrase: str | None = None  # a whole alias or title the query contains or equals
    similarity: float = 0.0  # cosine of query and claim sentence vectors
    confidence: Confidence = Confidence.WEAK
    # True when the words alone would not have answered: the meaning did.
    # The reason then leads with the similarity instead of a thin word list.
    by_meaning: bool = False

    @property
    def reason(self) -> str:
        """Why this claim matched, in one line a person can check."""
        parts: list[str] = []
        if self.by_meaning:
            parts.append(
                f'close in meaning to the title "{self.claim.title}"'
                f" (similarity {self.similarity:.2f})"
            )
        if self.phrase:
            parts.append(f'phrase "{self.phrase}"')
        by_field: dict[FieldKind, list[str]] = {}
        for hit in sorted(self.hits, key=lambda h: (h.field, -h.strength)):
            if hit.term == hit.query_word:
                shown = f'"{hit.query_word}"'
            else:
                shown = f'"{hit.query_word}" ~ {hit.term}'
            by_field.setdefault(hit.field, []).append(shown)
        for kind, shown_words in list(by_field.items())[:4]:
            parts.append(f"{FIELD_LABEL[kind]} {', '.join(shown_words[:4])}")
        return "; ".join(parts) if parts else f"similarity {self.similarity:.2f}"


@dataclass(frozen=True)
class SearchResult:
    query: str
    matches: tuple[Match, ...]
    suggestions: tuple[str, ...] = ()
    words: tuple[str, ...] = field(default=(), repr=False)

    @property
    def found(self) -> bool:
        return bool(self.matches)
