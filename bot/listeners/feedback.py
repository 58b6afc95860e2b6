"""Feedback buttons on every answer, and the "Wrong or outdated" form.

A vote is acknowledged at once and handed over as a job (:mod:`bot.jobs`):
where answers run, it is recorded and thanked privately (an ephemeral
"Thanks — recorded" through the button's response_url), never posted to the
channel. "Wrong or outdated" opens the form first, showing the claim's title
as the answers' catalog has it now: Slack's trigger_id is only good for 3 seconds.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.core.feedback import ACTION_PREFIX
from bot.feedback.modal import CALLBACK_ID, NOT_RECORDED, thanks_view
from bot.feedback.payload import NOTE_BLOCK, click_json, click_of, note_of
from bot.jobs import JobKind, response_url_target
from bot.listeners.replies import enqueue, job
from bot.services import Services

STALE_BUTTON = "That button no longer works; ask again with `/ai-race`."


def register(app: App) -> None:
    app.action(re.compile(f"^{ACTION_PREFIX}:"))(vote)
    app.view(CALLBACK_ID)(submit_note)


def vote(ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext) -> None:
    ack()
    click = click_of(body, action)
    target = response_url_target(body.get("response_url", ""), context.team_id or "")
    if click is None:
        handed = job(JobKind.NOTICE, target, "feedback acknowledgement", text=STALE_BUTTON)
    else:
        trigger_id = str(body.get("trigger_id") or "")
        handed = job(JobKind.VOTE, target, "vote", click=click_json(click), trigger_id=trigger_id)
    enqueue(context["services"], handed)


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
