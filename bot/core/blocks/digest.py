"""The daily digest as posted to a channel."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from slack_sdk.models.blocks import ActionsBlock, Block, DividerBlock

from bot.core.blocks.claims import claim_row, feedback_buttons, pointer, stale_context
from bot.core.blocks.kit import COMMAND, SlackMessage, clip, context, fit, header, section
from bot.core.escape import escape, link
from bot.core.feedback import AnswerKind, FeedbackTarget
from bot.core.freshness import Freshness
from bot.core.presentation import EVIDENCE_EMOJI, EVIDENCE_LABEL, source_label
from bot.core.schema import Claim


def _digest_claim(claim: Claim, summary_limit: int, freshness: Freshness) -> list[Block]:
    """Title and short summary, evidence and first source, feedback buttons."""
    first = claim.sources[0]
    level = claim.evidence.level
    summary = clip(escape(claim.summary), summary_limit, pointer(claim))
    feedback = FeedbackTarget(claim.id, "", AnswerKind.DIGEST)
    return [
        section(f"*{escape(claim.title)}*\n{summary}"),
        context(
            f"{EVIDENCE_EMOJI[level]} {EVIDENCE_LABEL[level]}"
            f" · {link(first.url, source_label(first))} · `{COMMAND} claim {claim.id}`"
        ),
        *stale_context(claim, freshness),
        ActionsBlock(elements=feedback_buttons(feedback), block_id=claim_row(claim)),
    ]


def digest_message(claims: Sequence[Claim], local_date: date, timezone: str) -> SlackMessage:
    """The daily digest: a dated header, short claims, and an invitation to discuss.

    The rotation sends fresh claims first; a stale one that still goes out says so,
    judged on the digest's own local date.
    """
    freshness = Freshness(local_date)
    day = f"{local_date:%A} {local_date.day} {local_date:%B %Y}"
    titles = "; ".join(c.title for c in claims)
    text = escape(f"AI race digest for {day}: {titles}")

    def build(summary_limit: int) -> SlackMessage:
        blocks: list[Block] = [header(f"AI race digest · {day}")]
        for claim in claims:
            blocks += _digest_claim(claim, summary_limit, freshness)
        blocks.append(DividerBlock())
        blocks.append(
            context(f":thread: Discuss in this thread · digest for {escape(timezone)} time")
        )
        return SlackMessage(text, blocks, cites=tuple(c.id for c in claims))

    return fit(build, ({"summary_limit": 400}, {"summary_limit": 200}, {"summary_limit": 100}))
