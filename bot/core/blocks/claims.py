"""One claim as Slack shows it: in a list of answers, in full, and its sources.

Every surface (answers, threads, the digest) builds a claim from these pieces,
so a claim reads the same wherever it appears.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, DividerBlock

from bot.core.blocks.kit import (
    BLOCK_ID_LIMIT,
    COMMAND,
    SECTION_LIMIT,
    SHARE,
    SOURCES,
    Rendered,
    SlackMessage,
    button,
    clip,
    context,
    fit,
    header,
    section,
)
from bot.core.escape import escape, link
from bot.core.feedback import AnswerKind, FeedbackTarget, Vote
from bot.core.feedback import action_id as feedback_action_id
from bot.core.freshness import Freshness
from bot.core.matcher import Match
from bot.core.presentation import (
    EVIDENCE_EMOJI,
    EVIDENCE_LABEL,
    contrasting,
    source_label,
    source_title,
    speaker_label,
)
from bot.core.schema import Claim, Relation, Source
from bot.core.store import ClaimStore

_RELATED_HEADINGS = (
    (Relation.CONTRASTS, "Contrasts with"),
    (Relation.SUPPORTS, "Supports / supported by"),
    (Relation.CONTEXT, "Context"),
)


def evidence_line(claim: Claim) -> str:
    level = claim.evidence.level
    return f"{EVIDENCE_EMOJI[level]} *{EVIDENCE_LABEL[level]}.* {escape(claim.evidence.note)}"


def _sources_line(claim: Claim, limit: int) -> str:
    shown = [link(s.url, source_label(s)) for s in claim.sources[:limit]]
    more = len(claim.sources) - limit
    extra = f" +{more} more" if more > 0 else ""
    return "Sources: " + " · ".join(shown) + extra


def stale_context(claim: Claim, freshness: Freshness | None) -> list[Block]:
    """One context line on an overdue claim; nothing on a fresh one.

    ``freshness`` None means "today": callers that care (tests, the digest's
    local date) pass their own.
    """
    note = (freshness or Freshness(date.today())).note(claim)
    return [context(f":hourglass: _{note}_")] if note else []


def pointer(claim: Claim) -> str:
    return f"(full text: `{COMMAND} claim {claim.id}`)"


def claim_row(claim: Claim) -> str:
    """The block_id of a claim's button row (feedback handlers read the claim from it)."""
    return f"claim:{claim.id}"[:BLOCK_ID_LIMIT]


def feedback_buttons(target: FeedbackTarget | None) -> list[ButtonElement]:
    """Helpful / Not what I asked / Wrong or outdated, about one claim in one answer."""
    if target is None:
        return []
    value = target.value()
    return [button(vote.label, feedback_action_id(vote), value) for vote in Vote]


PIECES_KEPT = 128
"""Claims whose own pieces stay rendered (~9 KB each, the claim included): the latest asked."""


@dataclass(frozen=True)
class _PiecesKey:
    """A claim and the tier it is shown at; equal only if the claim's content is equal.

    Claims are materialised afresh for every answer (bot.core.compact) and are not
    hashable (lists inside), so the key hashes the id and compares the whole claim:
    an edited claim with the same id is rendered anew, never served stale.
    """

    claim_id: str
    sources: int
    summary_limit: int
    claim: Claim = field(hash=False)


@lru_cache(maxsize=PIECES_KEPT)
def _claim_pieces(key: _PiecesKey) -> tuple[Rendered, Rendered, Rendered]:
    """Title and summary, evidence, sources of one claim: the same in every answer showing it."""
    claim = key.claim
    who = speaker_label(claim)
    heading = f"*{escape(claim.title)}*" + (f"\n_{escape(who)}_" if who else "")
    summary = clip(escape(claim.summary), key.summary_limit, pointer(claim))
    return (
        Rendered(section(f"{heading}\n{summary}")),
        Rendered(context(evidence_line(claim))),
        Rendered(context(_sources_line(claim, key.sources))),
    )


def _claim_blocks(
    store: ClaimStore,
    claim: Claim,
    *,
    match: Match | None,
    sources: int,
    summary_limit: int,
    buttons: bool,
    freshness: Freshness | None = None,
    feedback: FeedbackTarget | None = None,
) -> list[Block]:
    text, evidence, sources_line = _claim_pieces(
        _PiecesKey(claim.id, sources, summary_limit, claim)
    )
    blocks: list[Block] = [text, evidence, *stale_context(claim, freshness), sources_line]
    against = contrasting(store, claim)
    if against:
        names = "; ".join(f"*{escape(c.title)}* (`{c.id}`)" for c in against[:3])
        blocks.append(context(f":left_right_arrow: Contrasts with {names}"))
    if match is not None:
        why = f"Why: {escape(match.reason)} · {match.confidence.value} match"
        blocks.append(context(f"_{why}_"))
    row = [button("Sources", f"{SOURCES}:{claim.id}", claim.id)] if buttons else []
    row += feedback_buttons(feedback)
    if row:
        blocks.append(ActionsBlock(elements=row, block_id=claim_row(claim)))
    return blocks


def claim_list(
    store: ClaimStore,
    items: Sequence[tuple[Claim, Match | None]],
    sources: int,
    summary_limit: int,
    *,
    buttons: bool,
    freshness: Freshness | None = None,
    feedback: tuple[str, AnswerKind] | None = None,
) -> list[Block]:
    """Several claims, divided, each with its match reason when there is one.

    ``feedback`` (the question and where the answer is shown) adds the feedback
    buttons under every claim.
    """
    blocks: list[Block] = []
    for i, (claim, match) in enumerate(items):
        if i:
            blocks.append(DividerBlock())
        blocks += _claim_blocks(
            store,
            claim,
            match=match,
            sources=sources,
            summary_limit=summary_limit,
            buttons=buttons,
            freshness=freshness,
            feedback=FeedbackTarget(claim.id, feedback[0], feedback[1]) if feedback else None,
        )
    return blocks


def _related_section(store: ClaimStore, claim: Claim) -> list[Block]:
    """Claims linked to this one, under one heading per relation (nothing if none)."""
    related = []
    for relation, label in _RELATED_HEADINGS:
        others = store.related(claim, relation)
        if others:
            names = "; ".join(f"{escape(o.title)} (`{o.id}`)" for o in others[:5])
            related.append(f"*{label}:* {names}")
    return [section("\n".join(related))] if related else []


def claim_message(
    store: ClaimStore,
    claim: Claim,
    *,
    buttons: bool = True,
    freshness: Freshness | None = None,
) -> SlackMessage:
    """One claim in full: every source with what it supports, and related claims."""
    who = speaker_label(claim)
    body = escape(claim.summary)
    if who:
        body = f"_{escape(who)}_\n{body}"
    footer = (
        f"`{claim.id}` · topics: {escape(', '.join(claim.topics))} · added "
        f"{claim.added.isoformat()} · reviewed {claim.reviewed.isoformat()}"
    )

    def build(note_limit: int) -> SlackMessage:
        lines = [source_line(source, note_limit) for source in claim.sources]
        blocks: list[Block] = [
            header(claim.title),
            section(body),
            context(evidence_line(claim)),
            *stale_context(claim, freshness),
            section("*Sources*\n" + "\n".join(lines)),
            *_related_section(store, claim),
            context(footer),
        ]
        if buttons:
            share = {"q": claim.id, "ids": [claim.id]}
            blocks.append(ActionsBlock(elements=[button("Share in channel", SHARE, share)]))
        return SlackMessage(f"{escape(claim.title)}: {escape(claim.summary)}", blocks)

    return fit(build, ({"note_limit": 300}, {"note_limit": 120}, {"note_limit": 60}))


def source_line(source: Source, note_limit: int = SECTION_LIMIT) -> str:
    """One source: link, kind, headline (or our marked description) and what it supports."""
    title = escape(source_title(source))
    title = f"_{title}_" if source.title_is_description else title
    supports = clip(escape(source.supports), note_limit)
    return f"• {link(source.url, source_label(source))} ({source.kind.value}) {title}: {supports}"


def sources_message(claim: Claim) -> SlackMessage:
    lines = [source_line(s) for s in claim.sources]
    blocks: list[Block] = [
        section(f"*Sources for “{escape(claim.title)}”*\n" + "\n".join(lines)),
        context(evidence_line(claim)),
    ]
    text = f"Sources for {claim.title}: " + ", ".join(s.url for s in claim.sources)
    return SlackMessage(escape(text), blocks)
