"""Shared wording for answers, so the terminal and Slack say the same thing."""

from __future__ import annotations

from bot.core.schema import Claim, EvidenceLevel, Relation, Source
from bot.core.store import ClaimStore

EVIDENCE_LABEL = {
    EvidenceLevel.STRONG: "Strong evidence",
    EvidenceLevel.PARTIAL: "Partly supported",
    EvidenceLevel.OPINION: "Opinion, thinly sourced",
}
EVIDENCE_EMOJI = {
    EvidenceLevel.STRONG: ":large_green_circle:",
    EvidenceLevel.PARTIAL: ":large_yellow_circle:",
    EvidenceLevel.OPINION: ":white_circle:",
}


def source_label(source: Source) -> str:
    """ "Publisher, 2026-01-16" or "Publisher, undated": never a guessed date."""
    when = source.date.isoformat() if source.date else "undated"
    return f"{source.publisher}, {when}"


def source_title(source: Source) -> str:
    """A published headline in quotes; our description of an unseen one marked as such."""
    if source.title_is_description:
        return f"(no headline seen) {source.title[1:-1].strip()}"
    return f"“{source.title}”"


def speaker_label(claim: Claim) -> str | None:
    if claim.speaker is None:
        return None
    extra = ", ".join(p for p in (claim.speaker.role, claim.speaker.org) if p)
    return f"{claim.speaker.name} ({extra})" if extra else claim.speaker.name


def contrasting(store: ClaimStore, claim: Claim) -> list[Claim]:
    """Claims that contrast with this one, whichever side declared the link."""
    return store.related(claim, Relation.CONTRASTS)
