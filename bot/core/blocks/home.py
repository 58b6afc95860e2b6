"""The App Home tab: what the bot does, how to use it, what needs review, topics, recent."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from slack_sdk.models.blocks import Block, DividerBlock
from slack_sdk.models.views import View

from bot.core.blocks.kit import COMMAND, MAX_HOME_BLOCKS, header, section
from bot.core.escape import escape
from bot.core.freshness import Freshness, ago, stale_ids
from bot.core.presentation import EVIDENCE_LABEL
from bot.core.store import ClaimStore

NEEDS_REVIEW_SHOWN = 10

_INTRO = (
    "Short, sourced claims about the US–China AI race: who said what, where, how "
    "well it is supported, and what contradicts it."
)
_HOW_TO = (
    f"*How to use it*\n• `{COMMAND} open source models` in any channel (only you see "
    f"the answer until you share it)\n• Mention `@ai-race` in a thread, alone to look up "
    f"the thread's first message\n• Message menu → *Find related claims*\n"
    f"• `{COMMAND} digest on 09:00` for a daily digest in a channel"
)


def _reported_lines(store: ClaimStore, reported: Mapping[str, int]) -> list[str]:
    """Claims people said are wrong or outdated, the most reported first."""
    lines = []
    for claim_id, people in sorted(reported.items(), key=lambda item: (-item[1], item[0])):
        claim = store.get(claim_id)
        if claim is not None:
            who = "person" if people == 1 else "people"
            lines.append(
                f"• *{escape(claim.title)}* · `{claim.id}` · reported wrong or outdated "
                f"by {people} {who}"
            )
    return lines


def _needs_review(
    store: ClaimStore, freshness: Freshness, reported: Mapping[str, int]
) -> list[Block]:
    """Claims people should not lean on until an author has looked again.

    Reported ones first (people said "Wrong or outdated" since the last review:
    the most direct signal), then stale ones, the longest unreviewed first.
    Stale ones are found from the store's columns; only those shown are read.
    """
    lines = _reported_lines(store, reported)
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
    return [section("*Needs review*\n" + "\n".join(lines)), DividerBlock()]


def home_view(
    store: ClaimStore,
    recent: int = 5,
    *,
    freshness: Freshness | None = None,
    reported: Mapping[str, int] | None = None,
) -> View:
    """The App Home tab, within the view's block limit.

    ``reported`` maps claim ids to the number of people who said "Wrong or
    outdated" since the claim's last review.
    """
    blocks: list[Block] = [header("AI Race Bot"), section(_INTRO), section(_HOW_TO), DividerBlock()]
    blocks += _needs_review(store, freshness or Freshness(date.today()), reported or {})
    topic_text = " · ".join(f"{escape(t)} ({n})" for t, n in store.topic_counts())
    blocks.append(section(f"*Topics* ({len(store)} claims)\n{topic_text}"))
    blocks.append(DividerBlock())
    lines = [
        f"• *{escape(c.title)}* · `{c.id}` · {EVIDENCE_LABEL[c.evidence.level].lower()}"
        f" · {'reviewed' if c.reviewed > c.added else 'added'} {c.last_touched.isoformat()}"
        for c in store.recent(recent)
    ]
    blocks.append(section("*Recently added or reviewed*\n" + "\n".join(lines)))
    return View(type="home", blocks=blocks[:MAX_HOME_BLOCKS])
