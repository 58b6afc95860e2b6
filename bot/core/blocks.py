"""Block Kit messages for every answer the bot gives, built with slack_sdk.models.

Listeners never format text themselves: they pick a function here and send
what it returns. Every message carries a plain-text fallback (notifications,
screen readers) and is fitted into Slack's limits before it leaves: at most 50
blocks, 3000 characters per section, 150 per header, and a whole payload well
under the ~12,000 characters where Slack starts refusing messages. When an
answer is too long it is shortened, never rejected, with a pointer to
``/ai-race claim <id>`` for the full text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.core.escape import echo, escape, link, neutral
from bot.core.feedback import AnswerKind, FeedbackTarget, Vote
from bot.core.feedback import action_id as feedback_action_id
from bot.core.freshness import Freshness, ago, stale_ids
from bot.core.matcher import Match, SearchResult
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

COMMAND = "/ai-race"
MAX_BLOCKS = 50
MAX_HOME_BLOCKS = 100
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
PAYLOAD_BUDGET = 11_000  # characters of JSON; Slack rejects some payloads near 12-13k
BUTTON_VALUE_LIMIT = 2000
QUERY_IN_BUTTON = 500

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")

# action_id values; listeners register handlers for these.
SHARE = "share_answer"
MORE = "more_results"
SOURCES = "show_sources"  # + ":<claim id>", unique per message
TOPIC = "search_topic"  # + ":<n>"
SUGGESTION = "search_suggestion"  # + ":<n>"


@dataclass
class SlackMessage:
    """Fallback text plus blocks; ``payload()`` is what goes to Slack."""

    text: str
    blocks: list[Block] = field(default_factory=list)
    # Claims this message shows in full; a public post of it is recorded as citing them.
    cites: tuple[str, ...] = ()
    _payload: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def payload(self) -> dict[str, Any]:
        """The message as Slack wants it, validated once and then reused.

        ``to_dict()`` runs slack_sdk's validators (section 3000, header 150, ...);
        it is the costliest step of an answer, so it runs once per message.
        """
        if self._payload is None:
            blocks = [block.to_dict() for block in self.blocks]
            self._payload = {"text": self.text, "blocks": blocks}
        return self._payload

    def size(self) -> int:
        return len(json.dumps(self.payload(), ensure_ascii=False))


def _mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=_clip(text, SECTION_LIMIT), verbatim=True)


def _clip(text: str, limit: int, pointer: str = "") -> str:
    if len(text) <= limit:
        return text
    tail = f"… {pointer}" if pointer else "…"
    return text[: limit - len(tail)].rstrip() + tail


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=_mrkdwn(text))


def _context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[_mrkdwn(t) for t in texts if t][:10])


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=_clip(text, HEADER_LIMIT), emoji=True))


def _button(text: str, action_id: str, value: dict[str, Any] | str, primary: bool = False):
    raw = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return ButtonElement(
        text=PlainTextObject(text=_clip(text, 75), emoji=True),
        action_id=action_id,
        value=raw[:BUTTON_VALUE_LIMIT],
        style="primary" if primary else None,
    )


def _evidence_line(claim: Claim) -> str:
    level = claim.evidence.level
    return f"{EVIDENCE_EMOJI[level]} *{EVIDENCE_LABEL[level]}.* {escape(claim.evidence.note)}"


def _sources_line(claim: Claim, limit: int) -> str:
    shown = [link(s.url, source_label(s)) for s in claim.sources[:limit]]
    more = len(claim.sources) - limit
    extra = f" +{more} more" if more > 0 else ""
    return "Sources: " + " · ".join(shown) + extra


def _stale_context(claim: Claim, freshness: Freshness | None) -> list[Block]:
    """One context line on an overdue claim; nothing on a fresh one.

    ``freshness`` None means "today": callers that care (tests, the digest's
    local date) pass their own.
    """
    note = (freshness or Freshness(date.today())).note(claim)
    return [_context(f":hourglass: _{note}_")] if note else []


def _pointer(claim: Claim) -> str:
    return f"(full text: `{COMMAND} claim {claim.id}`)"


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
    who = speaker_label(claim)
    heading = f"*{escape(claim.title)}*" + (f"\n_{escape(who)}_" if who else "")
    summary = _clip(escape(claim.summary), summary_limit, _pointer(claim))
    blocks: list[Block] = [
        _section(f"{heading}\n{summary}"),
        _context(_evidence_line(claim)),
        *_stale_context(claim, freshness),
        _context(_sources_line(claim, sources)),
    ]
    against = contrasting(store, claim)
    if against:
        names = "; ".join(f"*{escape(c.title)}* (`{c.id}`)" for c in against[:3])
        blocks.append(_context(f":left_right_arrow: Contrasts with {names}"))
    if match is not None:
        why = f"Why: {escape(match.reason)} · {match.confidence.value} match"
        blocks.append(_context(f"_{why}_"))
    row = [_button("Sources", f"{SOURCES}:{claim.id}", claim.id)] if buttons else []
    row += _feedback_buttons(feedback)
    if row:
        blocks.append(ActionsBlock(elements=row, block_id=f"claim:{claim.id}"[:255]))
    return blocks


def _feedback_buttons(target: FeedbackTarget | None) -> list[ButtonElement]:
    """Helpful / Not what I asked / Wrong or outdated, about one claim in one answer."""
    if target is None:
        return []
    value = target.value()
    return [_button(vote.label, feedback_action_id(vote), value) for vote in Vote]


def _claim_list(
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


def _fit(build, tiers: Sequence[dict[str, Any]]) -> SlackMessage:
    """Render with the richest settings that fit Slack's limits (else the leanest)."""
    for settings in tiers:
        candidate = build(**settings)
        if len(candidate.blocks) <= MAX_BLOCKS and candidate.size() <= PAYLOAD_BUDGET:
            break
    return candidate


_ANSWER_TIERS = (
    {"sources": 3, "summary_limit": 1200},
    {"sources": 2, "summary_limit": 500},
    {"sources": 1, "summary_limit": 250},
)


def answer_message(
    store: ClaimStore,
    result: SearchResult,
    *,
    offset: int = 0,
    has_more: bool = False,
    freshness: Freshness | None = None,
) -> SlackMessage:
    """The reply to a query: the matches, or a friendly no-match with suggestions."""
    if not result.matches:
        return no_match_message(store, result)
    query = echo(result.query)

    def build(sources: int, summary_limit: int) -> SlackMessage:
        intro = f"Results for *“{query}”*" if offset == 0 else f"More results for *“{query}”*"
        blocks: list[Block] = [_section(intro)]
        items = [(m.claim, m) for m in result.matches]
        blocks += _claim_list(
            store,
            items,
            sources,
            summary_limit,
            buttons=True,
            freshness=freshness,
            feedback=(neutral(result.query), AnswerKind.PRIVATE),
        )
        query_state = neutral(result.query)[:QUERY_IN_BUTTON]
        state = {"q": query_state, "ids": [m.claim.id for m in result.matches]}
        row = [_button("Share in channel", SHARE, state, primary=True)]
        if has_more:
            row.append(_button("More", MORE, {"q": state["q"], "o": offset + len(result.matches)}))
        blocks.append(ActionsBlock(elements=row, block_id="answer_actions"))
        titles = "; ".join(m.claim.title for m in result.matches)
        return SlackMessage(f"AI race claims for “{query}”: {escape(titles)}", blocks)

    return _fit(build, _ANSWER_TIERS)


def public_answer_message(
    store: ClaimStore,
    query: str,
    claims: Sequence[Claim],
    *,
    shared_by: str | None = None,
    matches: SearchResult | None = None,
    freshness: Freshness | None = None,
) -> SlackMessage:
    """An answer everyone in the conversation sees: no private buttons.

    Used when someone shares their private answer ("Shared by @user") and for
    replies in threads, where the reason for each match is still shown.
    """
    reasons = {m.claim.id: m for m in matches.matches} if matches else {}

    def build(sources: int, summary_limit: int) -> SlackMessage:
        blocks: list[Block] = [_section(f"AI race claims for *“{echo(query)}”*")]
        items = [(c, reasons.get(c.id)) for c in claims]
        kind = AnswerKind.SHARED if shared_by else AnswerKind.THREAD
        blocks += _claim_list(
            store,
            items,
            sources,
            summary_limit,
            buttons=False,
            freshness=freshness,
            feedback=(neutral(query), kind),
        )
        footer = f"`{COMMAND} {echo(query, 80)}` · ask privately with `{COMMAND}`"
        if shared_by and _USER_ID.fullmatch(shared_by):
            footer = f"Shared by <@{shared_by}> · {footer}"
        blocks.append(_context(footer))
        titles = "; ".join(c.title for c in claims)
        text = f"AI race claims for “{echo(query)}”: {escape(titles)}"
        return SlackMessage(text, blocks, cites=tuple(c.id for c in claims))

    return _fit(build, _ANSWER_TIERS)


def no_match_message(store: ClaimStore, result: SearchResult) -> SlackMessage:
    query = echo(result.query)
    shown = f"“{query}”" if query else "that"
    blocks: list[Block] = [
        _section(
            f":mag: I couldn't find a claim that confidently matches *{shown}*. "
            "Rather than guess, here are topics and names the store knows:"
        )
    ]
    if result.suggestions:
        buttons = [
            _button(s, f"{SUGGESTION}:{i}", s[:QUERY_IN_BUTTON])
            for i, s in enumerate(result.suggestions[:5])
        ]
        blocks.append(ActionsBlock(elements=buttons, block_id="suggestions"))
    blocks.append(
        _context(f"Try `{COMMAND} topics` for everything, or `{COMMAND} help` for usage.")
    )
    hint = ", ".join(result.suggestions)
    return SlackMessage(f"No confident match for “{query}”. Try: {escape(hint)}", blocks)


def help_message(store: ClaimStore) -> SlackMessage:
    lines = [
        f"*`{COMMAND} <words>`* · claims matching your words: names, topics, a pasted headline",
        f"*`{COMMAND} topics`* · every topic with its number of claims",
        f"*`{COMMAND} claim <id>`* · one claim in full, with every source",
        f"*`{COMMAND} random`* · a claim picked at random",
        f"*`{COMMAND} digest on [HH:MM] [Time/Zone] [weekdays|daily]`* · a daily digest here "
        f"(also `digest off`, `digest status`, `digest preview`)",
        "*Mention `@ai-race`* in a thread with words, or alone to look up the thread's "
        "first message",
    ]
    blocks: list[Block] = [
        _section(
            f"*AI Race Bot* answers with short, sourced claims about the US–China AI race "
            f"({len(store)} claims). Answers here are only visible to you until you share them."
        ),
        _section("\n".join(lines)),
        _context("Each answer shows its evidence level, its sources and why it matched."),
    ]
    return SlackMessage(f"AI Race Bot: try {COMMAND} distillation, or {COMMAND} topics", blocks)


def topics_message(store: ClaimStore) -> SlackMessage:
    topics = store.topic_counts()
    blocks: list[Block] = [_section(f"*Topics* in the claim store ({len(store)} claims):")]
    buttons = [
        _button(f"{topic} ({count})", f"{TOPIC}:{i}", topic[:QUERY_IN_BUTTON])
        for i, (topic, count) in enumerate(topics)
    ]
    for start in range(0, min(len(buttons), 25 * 40), 25):
        blocks.append(ActionsBlock(elements=buttons[start : start + 25]))
        if len(blocks) >= MAX_BLOCKS - 1:
            break
    if len(topics) > 25 * (len(blocks) - 1):
        blocks.append(_context("More topics: `ai-race topics` lists them all."))
    text = "Topics: " + ", ".join(f"{t} ({n})" for t, n in topics[:40])
    return SlackMessage(escape(_clip(text, 3000)), blocks)


def claim_message(
    store: ClaimStore,
    claim: Claim,
    *,
    buttons: bool = True,
    freshness: Freshness | None = None,
) -> SlackMessage:
    """One claim in full: every source with what it supports, and related claims."""

    def build(note_limit: int) -> SlackMessage:
        blocks: list[Block] = [_header(claim.title)]
        who = speaker_label(claim)
        body = escape(claim.summary)
        if who:
            body = f"_{escape(who)}_\n{body}"
        blocks.append(_section(body))
        blocks.append(_context(_evidence_line(claim)))
        blocks += _stale_context(claim, freshness)
        lines = [_source_line(source, note_limit) for source in claim.sources]
        blocks.append(_section("*Sources*\n" + "\n".join(lines)))
        related = []
        for relation, label in (
            (Relation.CONTRASTS, "Contrasts with"),
            (Relation.SUPPORTS, "Supports / supported by"),
            (Relation.CONTEXT, "Context"),
        ):
            others = store.related(claim, relation)
            if others:
                names = "; ".join(f"{escape(o.title)} (`{o.id}`)" for o in others[:5])
                related.append(f"*{label}:* {names}")
        if related:
            blocks.append(_section("\n".join(related)))
        topics = ", ".join(claim.topics)
        blocks.append(
            _context(
                f"`{claim.id}` · topics: {escape(topics)} · added {claim.added.isoformat()}"
                f" · reviewed {claim.reviewed.isoformat()}"
            )
        )
        if buttons:
            share = {"q": claim.id, "ids": [claim.id]}
            blocks.append(ActionsBlock(elements=[_button("Share in channel", SHARE, share)]))
        return SlackMessage(f"{escape(claim.title)}: {escape(claim.summary)}", blocks)

    return _fit(build, ({"note_limit": 300}, {"note_limit": 120}, {"note_limit": 60}))


def _source_line(source: Source, note_limit: int = SECTION_LIMIT) -> str:
    """One source: link, kind, headline (or our marked description) and what it supports."""
    title = escape(source_title(source))
    title = f"_{title}_" if source.title_is_description else title
    supports = _clip(escape(source.supports), note_limit)
    return f"• {link(source.url, source_label(source))} ({source.kind.value}) {title}: {supports}"


def sources_message(claim: Claim) -> SlackMessage:
    lines = [_source_line(s) for s in claim.sources]
    blocks: list[Block] = [
        _section(f"*Sources for “{escape(claim.title)}”*\n" + "\n".join(lines)),
        _context(_evidence_line(claim)),
    ]
    text = f"Sources for {claim.title}: " + ", ".join(s.url for s in claim.sources)
    return SlackMessage(escape(text), blocks)


def unknown_claim_message(store: ClaimStore, claim_id: str, result: SearchResult) -> SlackMessage:
    near = ", ".join(f"`{m.claim.id}`" for m in result.matches[:3])
    hint = f" Did you mean {near}?" if near else f" Try `{COMMAND} topics`."
    text = f"There is no claim with id “{echo(claim_id, 80)}”.{hint}"
    return SlackMessage(text, [_section(text)])


def notice_message(text: str) -> SlackMessage:
    """A one-line reply (errors the user can act on, confirmations)."""
    return SlackMessage(text, [_section(text)])


def digest_message(claims: Sequence[Claim], local_date: date, timezone: str) -> SlackMessage:
    """The daily digest: a dated header, short claims, and an invitation to discuss.

    The rotation sends fresh claims first; a stale one that still goes out says so,
    judged on the digest's own local date.
    """
    freshness = Freshness(local_date)
    day = f"{local_date:%A} {local_date.day} {local_date:%B %Y}"

    def build(summary_limit: int) -> SlackMessage:
        blocks: list[Block] = [_header(f"AI race digest · {day}")]
        for claim in claims:
            first = claim.sources[0]
            blocks.append(
                _section(
                    f"*{escape(claim.title)}*\n"
                    f"{_clip(escape(claim.summary), summary_limit, _pointer(claim))}"
                )
            )
            blocks.append(
                _context(
                    f"{EVIDENCE_EMOJI[claim.evidence.level]} {EVIDENCE_LABEL[claim.evidence.level]}"
                    f" · {link(first.url, source_label(first))} · `{COMMAND} claim {claim.id}`"
                )
            )
            blocks += _stale_context(claim, freshness)
            feedback = FeedbackTarget(claim.id, "", AnswerKind.DIGEST)
            blocks.append(
                ActionsBlock(elements=_feedback_buttons(feedback), block_id=f"claim:{claim.id}")
            )
        blocks.append(DividerBlock())
        blocks.append(
            _context(f":thread: Discuss in this thread · digest for {escape(timezone)} time")
        )
        titles = "; ".join(c.title for c in claims)
        text = escape(f"AI race digest for {day}: {titles}")
        return SlackMessage(text, blocks, cites=tuple(c.id for c in claims))

    return _fit(build, ({"summary_limit": 400}, {"summary_limit": 200}, {"summary_limit": 100}))


NEEDS_REVIEW_SHOWN = 10


def _needs_review(
    store: ClaimStore, freshness: Freshness, reported: Mapping[str, int]
) -> list[Block]:
    """Claims people should not lean on until an author has looked again.

    Reported ones first (people said "Wrong or outdated" since the last review:
    the most direct signal), then stale ones, the longest unreviewed first.
    Stale ones are found from the store's columns; only those shown are read.
    """
    lines = []
    for claim_id, people in sorted(reported.items(), key=lambda item: (-item[1], item[0])):
        claim = store.get(claim_id)
        if claim is not None:
            who = "person" if people == 1 else "people"
            lines.append(
                f"• *{escape(claim.title)}* · `{claim.id}` · reported wrong or outdated "
                f"by {people} {who}"
            )
    stale = [
        i for i in stale_ids(store, freshness.today, freshness.review_every) if i not in reported
    ]
    total = len(lines) + len(stale)
    for claim in store.get_many(stale[: max(NEEDS_REVIEW_SHOWN - len(lines), 0)]):
        lines.append(
            f"• *{escape(claim.title)}* · `{claim.id}` · "
            f"last reviewed {ago(claim.reviewed, freshness.today)}"
        )
    if not lines:
        return []
    lines = lines[:NEEDS_REVIEW_SHOWN]
    if total > len(lines):
        lines.append(f"…and {total - len(lines)} more: `ai-race claims stale` lists the stale ones")
    return [_section("*Needs review*\n" + "\n".join(lines)), DividerBlock()]


def home_view(
    store: ClaimStore,
    recent: int = 5,
    *,
    freshness: Freshness | None = None,
    reported: Mapping[str, int] | None = None,
) -> View:
    """The App Home tab: what the bot does, how to use it, what needs review, topics, recent.

    ``reported`` maps claim ids to the number of people who said "Wrong or
    outdated" since the claim's last review.
    """
    blocks: list[Block] = [
        _header("AI Race Bot"),
        _section(
            "Short, sourced claims about the US–China AI race: who said what, where, how "
            "well it is supported, and what contradicts it."
        ),
        _section(
            f"*How to use it*\n• `{COMMAND} open source models` in any channel (only you see "
            f"the answer until you share it)\n• Mention `@ai-race` in a thread, alone to look up "
            f"the thread's first message\n• Message menu → *Find related claims*\n"
            f"• `{COMMAND} digest on 09:00` for a daily digest in a channel"
        ),
        DividerBlock(),
    ]
    blocks += _needs_review(store, freshness or Freshness(date.today()), reported or {})
    topics = store.topic_counts()
    topic_text = " · ".join(f"{escape(t)} ({n})" for t, n in topics)
    blocks.append(_section(f"*Topics* ({len(store)} claims)\n{topic_text}"))
    blocks.append(DividerBlock())
    lines = [
        f"• *{escape(c.title)}* · `{c.id}` · {EVIDENCE_LABEL[c.evidence.level].lower()}"
        f" · {'reviewed' if c.reviewed > c.added else 'added'} {c.last_touched.isoformat()}"
        for c in store.recent(recent)
    ]
    blocks.append(_section("*Recently added or reviewed*\n" + "\n".join(lines)))
    return View(type="home", blocks=blocks[:MAX_HOME_BLOCKS])
