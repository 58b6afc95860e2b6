"""What a correction looks like in Slack, and how a later run recognises one already posted.

Each correction carries message metadata (``event_type`` ``ai_race_correction``
with the thread, claim and revision): after a crash between posting and
recording, the next owner of the ledger row reads the thread
(``conversations.replies``) and finds it there instead of posting again.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.core.blocks import SlackMessage
from bot.corrections.plan import WITHDRAWN, Correction

EVENT_TYPE = "ai_race_correction"
SEE_CLAIM = "correction_see_claim"
"""The button under a correction: shows the claim in full to whoever clicks it."""


def correction_message(plan: Correction) -> SlackMessage:
    """The update line, and a button to see the claim (none for a withdrawn claim)."""
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(text=plan.text))]
    if plan.revision != WITHDRAWN:
        button = ButtonElement(
            text=PlainTextObject(text="See the claim in full"),
            action_id=SEE_CLAIM,
            value=plan.claim_id,
        )
        blocks.append(ActionsBlock(block_id=f"correction:{plan.claim_id}", elements=[button]))
    return SlackMessage(plan.text, blocks)


def correction_metadata(plan: Correction) -> dict[str, Any]:
    return {
        "event_type": EVENT_TYPE,
        "event_payload": {
            "thread_ts": plan.thread_ts,
            "claim_id": plan.claim_id,
            "revision": plan.revision,
        },
    }


def is_correction_for(message: dict[str, Any], plan: Correction) -> bool:
    """True when ``message`` (from ``conversations.replies``) is this very correction."""
    meta = message.get("metadata") or {}
    return meta.get("event_type") == EVENT_TYPE and meta.get("event_payload") == {
        "thread_ts": plan.thread_ts,
        "claim_id": plan.claim_id,
        "revision": plan.revision,
    }


__all__ = [
    "EVENT_TYPE",
    "SEE_CLAIM",
    "correction_message",
    "correction_metadata",
    "is_correction_for",
]
