"""Replies to someone who asked: matches, no match, help, topics and notices.

A private answer carries the buttons only its asker may use (Share, More,
Sources); a public one (shared, or in a thread) carries only feedback, which
anyone may give.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from slack_sdk.models.blocks import ActionsBlock, Block

from bot.core.blocks.claims import claim_list
from bot.core.blocks.kit import (
    BUTTONS_PER_ROW,
    COMMAND,
    MAX_BLOCKS,
    MORE,
    QUERY_IN_BUTTON,
    SECTION_LIMIT,
    SHARE,
    SUGGESTION,
    TOPIC,
    SlackMessage,
    button,
    clip,
    context,
    fit,
    section,
)
from bot.core.escape import echo, escape, neutral
from bot.core.feedback import AnswerKind
from bot.core.freshness import Freshness
from bot.core.matcher import SearchResult
from bot.core.schema import Claim
from bot.core.store import ClaimStore

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")

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
    intro = f"Results for *“{query}”*" if offset == 0 else f"More results for *“{query}”*"
    state = {
        "q": neutral(result.query)[:QUERY_IN_BUTTON],
        "ids": [m.claim.id for m in result.matches],
    }
    row = [button("Share in channel", SHARE, state, primary=True)]
    if has_more:
        row.append(button("More", MORE, {"q": state["q"], "o": offset + len(result.matches)}))
    titles = "; ".join(m.claim.title for m in result.matches)

    def build(sources: int, summary_limit: int) -> SlackMessage:
        blocks: list[Block] = [section(intro)]
        blocks += claim_list(
            store,
            [(m.claim, m) for m in result.matches],
            sources,
            summary_limit,
            buttons=True,
            freshness=freshness,
            feedback=(neutral(result.query), AnswerKind.PRIVATE),
        )
        blocks.append(ActionsBlock(elements=row, block_id="answer_actions"))
        return SlackMessage(f"AI race claims for “{query}”: {escape(titles)}", blocks)

    return fit(build, _ANSWER_TIERS)


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
    kind = AnswerKind.SHARED if shared_by else AnswerKind.THREAD
    footer = f"`{COMMAND} {echo(query, 80)}` · ask privately with `{COMMAND}`"
    if shared_by and _USER_ID.fullmatch(shared_by):
        footer = f"Shared by <@{shared_by}> · {footer}"
    titles = "; ".join(c.title for c in claims)
    text = f"AI race claims for “{echo(query)}”: {escape(titles)}"

    def build(sources: int, summary_limit: int) -> SlackMessage:
        blocks: list[Block] = [section(f"AI race claims for *“{echo(query)}”*")]
        blocks += claim_list(
            store,
            [(c, reasons.get(c.id)) for c in claims],
            sources,
            summary_limit,
            buttons=False,
            freshness=freshness,
            feedback=(neutral(query), kind),
        )
        blocks.append(context(footer))
        return SlackMessage(text, blocks, cites=tuple(c.id for c in claims))

    return fit(build, _ANSWER_TIERS)


def no_match_message(store: ClaimStore, result: SearchResult) -> SlackMessage:
    query = echo(result.query)
    shown = f"“{query}”" if query else "that"
    blocks: list[Block] = [
        section(
            f":mag: I couldn't find a claim that confidently matches *{shown}*. "
            "Rather than guess, here are topics and names the store knows:"
        )
    ]
    if result.suggestions:
        buttons = [
            button(s, f"{SUGGESTION}:{i}", s[:QUERY_IN_BUTTON])
            for i, s in enumerate(result.suggestions[:5])
        ]
        blocks.append(ActionsBlock(elements=buttons, block_id="suggestions"))
    blocks.append(context(f"Try `{COMMAND} topics` for everything, or `{COMMAND} help` for usage."))
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
        section(
            f"*AI Race Bot* answers with short, sourced claims about the US–China AI race "
            f"({len(store)} claims). Answers here are only visible to you until you share them."
        ),
        section("\n".join(lines)),
        context("Each answer shows its evidence level, its sources and why it matched."),
    ]
    return SlackMessage(f"AI Race Bot: try {COMMAND} distillation, or {COMMAND} topics", blocks)


def topics_message(store: ClaimStore) -> SlackMessage:
    """Every topic as a button, in as many full rows as the message's block limit allows."""
    topics = store.topic_counts()
    blocks: list[Block] = [section(f"*Topics* in the claim store ({len(store)} claims):")]
    buttons = [
        button(f"{topic} ({count})", f"{TOPIC}:{i}", topic[:QUERY_IN_BUTTON])
        for i, (topic, count) in enumerate(topics)
    ]
    rows = MAX_BLOCKS - 2  # the intro, and room for the "more topics" line
    for start in range(0, min(len(buttons), rows * BUTTONS_PER_ROW), BUTTONS_PER_ROW):
        blocks.append(ActionsBlock(elements=buttons[start : start + BUTTONS_PER_ROW]))
    if len(buttons) > rows * BUTTONS_PER_ROW:
        blocks.append(context("More topics: `ai-race topics` lists them all."))
    text = "Topics: " + ", ".join(f"{t} ({n})" for t, n in topics[:40])
    return SlackMessage(escape(clip(text, SECTION_LIMIT)), blocks)


def unknown_claim_message(store: ClaimStore, claim_id: str, result: SearchResult) -> SlackMessage:
    near = ", ".join(f"`{m.claim.id}`" for m in result.matches[:3])
    hint = f" Did you mean {near}?" if near else f" Try `{COMMAND} topics`."
    text = f"There is no claim with id “{echo(claim_id, 80)}”.{hint}"
    return SlackMessage(text, [section(text)])


def notice_message(text: str) -> SlackMessage:
    """A one-line reply (errors the user can act on, confirmations)."""
    return SlackMessage(text, [section(text)])
