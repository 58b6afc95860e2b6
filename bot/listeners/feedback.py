"""Feedback buttons on every answer, and the "Wrong or outdated" form.

A vote is acknowledged privately (an ephemeral "Thanks — recorded" through the
button's response_url), never posted to the channel. "Wrong or outdated" opens
the form first: Slack's trigger_id is only good for 3 seconds.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.feedback import ACTION_PREFIX, Vote
from bot.feedback.modal import CALLBACK_ID, THANKS, thanks_view, wrong_form
from bot.feedback.payload import NOTE_BLOCK, click_of, note_of
from bot.jobs import JobKind, response_url_target
from bot.listeners.replies import enqueue, job
from bot.services import Services

log = logging.getLogger(__name__)
STALE_BUTTON = "That button no longer works; ask again with `/ai-race`."
NOT_RECORDED = "Sorry, I couldn't record that just now. Please try again in a minute."


def register(app: App) -> None:
    # Opening the form calls Slack and the vote is written to the database: both run
    # lazily, after the click is acknowledged (listeners otherwise run before the response).
    app.action(re.compile(f"^{ACTION_PREFIX}:"))(ack=_acknowledge, lazy=[vote])
    app.view(CALLBACK_ID)(submit_note)


def _acknowledge(ack: Ack) -> None:
    ack()


def vote(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient
) -> None:
    ack()
    services: Services = context["services"]
    click = click_of(body, action)
    reply = STALE_BUTTON
    if click is not None:
        opened = False
        if click.vote is Vote.WRONG:
            claim = services.current.store.get(click.target.claim_id)
            try:
                form = wrong_form(click, claim.title if claim else None)
                client.views_open(trigger_id=body.get("trigger_id", ""), view=form)
                opened = True
            except SlackApiError as exc:  # e.g. expired_trigger_id: the vote still counts
                log.warning("could not open the feedback form: %s", exc.response.get("error"))
        recorded = services.record_feedback(click)
        if opened and recorded:
            return  # the form says thanks when it is sent
        reply = THANKS if recorded else NOT_RECORDED
    target = response_url_target(body.get("response_url", ""), context.team_id or "")
    enqueue(services, job(JobKind.NOTICE, target, "feedback acknowledgement", text=reply))


def submit_note(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    services: Services = context["services"]
    note, errors = note_of(body)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    if note is None or not services.record_feedback(note.click, note.text, note.source_url):
        ack(response_action="errors", errors={NOTE_BLOCK: NOT_RECORDED})
        return
    ack(response_action="update", view=thanks_view())
