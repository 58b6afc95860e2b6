"""The "Wrong or outdated" form and its thank-you, as Block Kit views (slack_sdk models)."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    UrlInputElement,
)
from slack_sdk.models.views import View

from bot.core.escape import escape
from bot.feedback.payload import (
    NOTE_ACTION,
    NOTE_BLOCK,
    SOURCE_ACTION,
    SOURCE_BLOCK,
    Click,
    metadata,
)
from bot.state.feedback import NOTE_MAX_CHARS

CALLBACK_ID = "feedback_wrong"
THANKS = "Thanks — recorded"
NOT_RECORDED = "Sorry, I couldn't record that just now. Please try again in a minute."


def _plain(text: str) -> PlainTextObject:
    return PlainTextObject(text=text, emoji=True)


def wrong_form(click: Click, claim_title: str | None) -> View:
    """Asks what is wrong (required) and for a better source (optional)."""
    about = escape(claim_title) if claim_title else f"`{click.target.claim_id}`"
    return View(
        type="modal",
        callback_id=CALLBACK_ID,
        title=_plain("Wrong or outdated"),
        submit=_plain("Send"),
        close=_plain("Cancel"),
        private_metadata=metadata(click),
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=f"*{about}*", verbatim=True)),
            InputBlock(
                block_id=NOTE_BLOCK,
                label=_plain("What is wrong or out of date?"),
                element=PlainTextInputElement(
                    action_id=NOTE_ACTION, multiline=True, max_length=NOTE_MAX_CHARS
                ),
            ),
            InputBlock(
                block_id=SOURCE_BLOCK,
                label=_plain("A source that shows it"),
                optional=True,
                element=UrlInputElement(action_id=SOURCE_ACTION),
            ),
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text="Claim authors see your note, never your name.", verbatim=True
                    )
                ]
            ),
        ],
    )


def thanks_view() -> View:
    return View(
        type="modal",
        title=_plain("Wrong or outdated"),
        close=_plain("Close"),
        blocks=[SectionBlock(text=MarkdownTextObject(text=f"{THANKS}. A claim author will look."))],
    )
