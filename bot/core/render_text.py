"""Answers for a terminal and for machines (``ai-race ask`` and ``--json``)."""

from __future__ import annotations

import textwrap
from datetime import date
from typing import Any

from bot.core.freshness import Freshness
from bot.core.matcher import Match, SearchResult
from bot.core.presentation import (
    EVIDENCE_LABEL,
    contrasting,
    source_label,
    source_title,
    speaker_label,
)
from bot.core.schema import Claim, Relation
from bot.core.store import ClaimStore

WIDTH = 88  # when the width of the terminal is unknown (a pipe, a file)


def _wrap(text: str, indent: str, width: int = WIDTH) -> str:
    return textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent)


def claim_text(
    store: ClaimStore,
    claim: Claim,
    *,
    match: Match | None = None,
    rank: int = 1,
    freshness: Freshness | None = None,
    width: int = WIDTH,
) -> str:
    """One claim as a person reads it: what, who, how well supported, where from.

    Each source says what it shows (a counterpoint is often the most useful
    evidence); context claims follow as "See also". Prose is wrapped to
    ``width``; headlines and URLs are never broken.
    """
    score = f"  [{match.confidence.value} match]" if match else ""
    heading = textwrap.fill(f"{rank}. {claim.title}{score}", width, subsequent_indent="   ")
    lines = [heading, f"   id: {claim.id}"]
    speaker = speaker_label(claim)
    if speaker:
        lines.append(f"   Who: {speaker}")
    lines.append(_wrap(claim.summary, "   ", width))
    evidence = f"Evidence: {EVIDENCE_LABEL[claim.evidence.level]}. {claim.evidence.note}"
    lines.append(_wrap(evidence, "   ", width))
    stale = (freshness or Freshness(date.today())).note(claim)
    if stale:
        lines.append(f"   {stale}")
    lines.append("   Sources:")
    for source in claim.sources:
        lines.append(f"     - {source_label(source)} ({source.kind.value}): {source_title(source)}")
        lines.append(f"       {source.url}")
        lines.append(_wrap(f"shows: {source.supports}", "       ", width))
    for other in contrasting(store, claim):
        lines.append(_wrap(f"Contrasts with: {other.title} ({other.id})", "   ", width))
    context = store.related(claim, Relation.CONTEXT)
    if context:
        names = "; ".join(f"{other.title} ({other.id})" for other in context)
        lines.append(_wrap(f"See also: {names}", "   ", width))
    if match is not None:
        lines.append(_wrap(f"Why it matched: {match.reason}", "   ", width))
    return "\n".join(lines)


def compact_text(result: SearchResult, width: int = WIDTH) -> str:
    """``--compact``: one line per match — rank, confidence, id, title — cut to fit ``width``."""
    if not result.matches:
        hint = ", ".join(result.suggestions)
        return textwrap.shorten(
            f'No confident match for "{result.query.strip()}". Try: {hint}', width, placeholder="…"
        )
    return "\n".join(
        textwrap.shorten(
            f"{rank}. {m.confidence.value:<6}  {m.claim.id}  {m.claim.title}",
            width,
            placeholder="…",
        )
        for rank, m in enumerate(result.matches, 1)
    )


def result_text(
    store: ClaimStore,
    result: SearchResult,
    *,
    freshness: Freshness | None = None,
    width: int = WIDTH,
) -> str:
    if not result.matches:
        hint = ", ".join(result.suggestions)
        return _wrap(
            f'No confident match for "{result.query.strip()[:200]}". Try: {hint}', "", width
        )
    return "\n\n".join(
        claim_text(store, m.claim, match=m, rank=i, freshness=freshness, width=width)
        for i, m in enumerate(result.matches, 1)
    )


def claim_json(store: ClaimStore, claim: Claim) -> dict[str, Any]:
    data = claim.model_dump(mode="json", exclude_none=True)
    data["contrasts"] = [c.id for c in contrasting(store, claim)]
    return data


def result_json(store: ClaimStore, result: SearchResult) -> dict[str, Any]:
    """The ``--json`` format: query, matches best first (empty when unsure), suggestions."""
    return {
        "query": result.query,
        "matches": [
            {
                "id": m.claim.id,
                "score": m.score,
                "reason": m.reason,
                "title": m.claim.title,
                "evidence": m.claim.evidence.level.value,
                "coverage": m.coverage,
                "confidence": m.confidence.value,
                "similarity": m.similarity,
                "claim": claim_json(store, m.claim),
            }
            for m in result.matches
        ],
        "suggestions": list(result.suggestions),
    }
