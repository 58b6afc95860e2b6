"""The message type, Slack's limits and the small builders every surface shares.

Limits come from slack_sdk's models (the same numbers its ``to_dict()``
validators enforce), so a change there cannot leave a re-typed copy behind.
Slack documents one limit slack_sdk has no constant for, 50 blocks per
message; it is named here once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

COMMAND = "/ai-race"

MAX_BLOCKS = 50  # per message (chat.postMessage, response_url); slack_sdk has no constant
MAX_HOME_BLOCKS = View.blocks_max_length
SECTION_LIMIT = SectionBlock.text_max_length
HEADER_LIMIT = HeaderBlock.text_max_length
BUTTON_TEXT_LIMIT = ButtonElement.text_max_length
BUTTON_VALUE_LIMIT = ButtonElement.value_max_length
BLOCK_ID_LIMIT = Block.block_id_max_length
BUTTONS_PER_ROW = ActionsBlock.elements_max_length
CONTEXT_ELEMENTS = ContextBlock.elements_max_length
PAYLOAD_BUDGET = 11_000  # characters of JSON; Slack rejects some payloads near 12-13k
QUERY_IN_BUTTON = 500

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
    # Slack message metadata (chat.postMessage only): how a resumed reply is found again.
    metadata: dict[str, Any] | None = None
    _payload: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def payload(self) -> dict[str, Any]:
        """The message as Slack wants it, validated once and then reused.

        ``to_dict()`` runs slack_sdk's validators (section, header, button limits);
        it is the costliest step of an answer, so it runs once per message.
        """
        if self._payload is None:
            blocks = [block.to_dict() for block in self.blocks]
            self._payload = {"text": self.text, "blocks": blocks}
            if self.metadata is not None:
                self._payload["metadata"] = self.metadata
        return self._payload

    def size(self) -> int:
        return len(json.dumps(self.payload(), ensure_ascii=False))


class Rendered(Block):
    """A block turned into Slack's JSON once, then reused as it is in every message.

    Why: slack_sdk's ``to_dict()`` validates and walks every nested object each
    time it runs, which made rendering the costliest step of an answer after the
    search (BENCHMARKS.md, issue 11). A piece that reads the same in every answer
    (a claim's title and summary, evidence, sources: :mod:`bot.core.blocks.claims`)
    is validated and serialised once. The dict is shared between messages, so
    nothing may change it after it is built; every payload is only serialised.
    """

    def __init__(self, block: Block) -> None:
        rendered = block.to_dict()
        super().__init__(type=rendered["type"], block_id=rendered.get("block_id"))
        self._rendered = rendered

    def to_dict(self, *args: Any) -> dict[str, Any]:
        return self._rendered


def clip(text: str, limit: int, pointer: str = "") -> str:
    """``text`` cut to ``limit`` characters, ending in "…" and an optional pointer."""
    if len(text) <= limit:
        return text
    tail = f"… {pointer}" if pointer else "…"
    return text[: limit - len(tail)].rstrip() + tail


def mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, SECTION_LIMIT), verbatim=True)


def section(text: str) -> SectionBlock:
    return SectionBlock(text=mrkdwn(text))


def context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[mrkdwn(t) for t in texts if t][:CONTEXT_ELEMENTS])


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=clip(text, HEADER_LIMIT), emoji=True))


def button(
    text: str, action_id: str, value: dict[str, Any] | str, primary: bool = False
) -> ButtonElement:
    """A button whose value (JSON for a dict) is cut to Slack's limit rather than refused."""
    raw = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return ButtonElement(
        text=PlainTextObject(text=clip(text, BUTTON_TEXT_LIMIT), emoji=True),
        action_id=action_id,
        value=raw[:BUTTON_VALUE_LIMIT],
        style="primary" if primary else None,
    )


def fit(build: Callable[..., SlackMessage], tiers: Sequence[dict[str, Any]]) -> SlackMessage:
    """Render with the richest settings that fit Slack's limits (else the leanest)."""
    for settings in tiers:
        candidate = build(**settings)
        if len(candidate.blocks) <= MAX_BLOCKS and candidate.size() <= PAYLOAD_BUDGET:
            break
    return candidate
