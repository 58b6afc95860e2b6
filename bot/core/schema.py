"""The claim schema: one YAML file per claim, validated strictly.

Field names follow schema.org ClaimReview where that is natural (``title`` is
``claimReviewed``, ``sources`` are ``citation``, ``speaker`` is
``itemReviewed.author``) so an export stays a mapping, not a rewrite.
Unknown keys are rejected: a typo such as ``sumary`` must fail loudly rather
than silently drop text from the bot's answers.

Checks that compare dates (``reviewed`` before ``added``, a date after today)
are not made here but by the store (:mod:`bot.core.store`), which knows today
and reports each at the line of the field to fix. Made here, the first failed
comparison would stand in for the whole claim, and a future ``added`` would
read as "'reviewed' is earlier than 'added'" at line 1.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
TITLE_MAX = 75  # ClaimReview's claimReviewed is meant to be under 75 characters.
ONE_LINE_MAX = 300

_http_url = TypeAdapter(HttpUrl)
# A sentence ends at . ! or ? followed by white space and a capital letter or digit.
# Abbreviations such as "U.S." would count as a break, so claims write "US".
_SENTENCE_BREAK = re.compile(r"[.!?][\"')\]]?\s+(?=[A-Z0-9\"'(])")


def _check_url(value: str) -> str:
    """Accept only absolute http(s) URLs, but keep the author's spelling.

    pydantic's ``HttpUrl`` normalises (adds a trailing slash, lower-cases the
    host); a source link must stay exactly as it was seen.
    """
    _http_url.validate_python(value)
    return value


def _check_one_line(value: str) -> str:
    if "\n" in value.strip():
        raise ValueError("must be a single line")
    return value.strip()


Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=80)]
Url = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_check_url)]
OneLine = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=ONE_LINE_MAX),
    AfterValidator(_check_one_line),
]
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9 .+-]*$", max_length=40),
]
Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class Strict(BaseModel):
    """Base for every schema object: unknown keys are errors, strings are not coerced."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class EvidenceLevel(StrEnum):
    """How well the claim is supported, in words a reader understands at a glance."""

    STRONG = "strong"  # first-hand sources establish the core of the claim
    PARTIAL = "partial"  # parts are established, the framing or a key step is not
    OPINION = "opinion"  # a view or thesis; sources show it was said, not that it is true


class SourceKind(StrEnum):
    PRIMARY = "primary"
    COMMENTARY = "commentary"


class Relation(StrEnum):
    SUPPORTS = "supports"
    CONTRASTS = "contrasts"
    CONTEXT = "context"


class Speaker(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    role: Annotated[str, StringConstraints(min_length=1, max_length=80)] | None = None
    org: Annotated[str, StringConstraints(min_length=1, max_length=80)] | None = None


class Evidence(Strict):
    level: EvidenceLevel
    note: OneLine


class Source(Strict):
    """A page that was read. ``title`` is the page's headline as published, or, in
    [square brackets], our description of a page whose headline was not seen
    (or was only rebuilt from its web address): readers must be able to tell the two apart.
    """

    url: Url
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    publisher: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    date: dt.date | None = None
    kind: SourceKind
    supports: OneLine

    @property
    def title_is_description(self) -> bool:
        """True when ``title`` is our [bracketed] description, not a published headline."""
        return self.title.startswith("[") and self.title.endswith("]")


class Related(Strict):
    id: Slug
    relation: Relation


class Change(Strict):
    """One substantive revision of the claim, in our words; the newest note is what
    corrections posted in threads that cited the claim quote."""

    date: dt.date
    note: OneLine


REVIEW_EVERY_MAX = 3650  # days; a claim that needs no review for ten years needs none at all


class Claim(Strict):
    id: Slug
    title: Annotated[str, StringConstraints(min_length=5, max_length=TITLE_MAX)]
    summary: Annotated[str, StringConstraints(min_length=20, max_length=1200)]
    speaker: Speaker | None = None
    topics: list[Tag] = Field(min_length=1, max_length=12)
    entities: list[Phrase] = Field(default_factory=list, max_length=30)
    aliases: list[Phrase] = Field(default_factory=list, max_length=60)
    evidence: Evidence
    sources: list[Source] = Field(min_length=1, max_length=20)
    related: list[Related] = Field(default_factory=list, max_length=20)
    added: dt.date
    reviewed: dt.date
    # Days between reviews for this claim (default: config/freshness.yaml).
    review_every: int | None = Field(default=None, ge=1, le=REVIEW_EVERY_MAX)
    changes: list[Change] = Field(default_factory=list, max_length=50)

    @field_validator("summary")
    @classmethod
    def _one_to_three_sentences(cls, value: str) -> str:
        sentences = len(_SENTENCE_BREAK.findall(value.strip())) + 1
        if sentences > 3:
            raise ValueError(f"must be 1 to 3 sentences, found {sentences}")
        return " ".join(value.split())

    @field_validator("changes")
    @classmethod
    def _changes_between_added_and_reviewed(
        cls, value: list[Change], info: ValidationInfo
    ) -> list[Change]:
        """A revision is a review: it cannot predate the claim or postdate its last review."""
        added, reviewed = info.data.get("added"), info.data.get("reviewed")
        if added is None or reviewed is None:  # already reported as missing or invalid
            return value
        for change in value:
            if not added <= change.date <= reviewed:
                raise ValueError(
                    f"change dated {change.date.isoformat()} is outside 'added' to 'reviewed' "
                    f"({added.isoformat()} to {reviewed.isoformat()})"
                )
        return value

    @field_validator("title")
    @classmethod
    def _single_line_title(cls, value: str) -> str:
        return _check_one_line(value)

    @field_validator("related")
    @classmethod
    def _not_related_to_itself(cls, value: list[Related], info: ValidationInfo) -> list[Related]:
        for i, link in enumerate(value):
            if link.id == info.data.get("id"):
                raise ValueError(f"related[{i}] links the claim to itself; remove that entry")
        return value

    @property
    def latest_change(self) -> Change | None:
        """The newest entry of ``changes`` (the list may be in any order)."""
        return max(self.changes, key=lambda change: change.date, default=None)

    @property
    def last_touched(self) -> dt.date:
        """The newer of added/reviewed: what the digest treats as fresh."""
        return max(self.added, self.reviewed)

    def related_ids(self, relation: Relation) -> list[str]:
        return [link.id for link in self.related if link.relation is relation]
