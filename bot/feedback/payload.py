"""Reading feedback out of Slack payloads, as small pure functions (like Bolt's payload_utils).

A click becomes a :class:`Click` (which answer, which claim, which vote, who),
a form submission a :class:`Note`; anything we did not write, or that lacks
what a vote needs, becomes None or a field error, never an exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from bot.core.feedback import FeedbackTarget, Vote, vote_of
from bot.core.schema import Url
from bot.state.feedback import NOTE_MAX_CHARS, VoteKey, voter_hash

NOTE_BLOCK, NOTE_ACTION = "what_is_wrong", "note"
SOURCE_BLOCK, SOURCE_ACTION = "better_source", "url"
_url = TypeAdapter(Url)


@dataclass(frozen=True)
class Click:
    key: VoteKey
    vote: Vote
    target: FeedbackTarget


def _team(body: dict[str, Any]) -> tuple[str, str]:
    team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or ""
    enterprise = (body.get("enterprise") or {}).get("id") or ""
    return str(team), str(enterprise)


def click_of(body: dict[str, Any], action: dict[str, Any]) -> Click | None:
    """The vote a block_actions payload carries, or None when it is not one of ours."""
    vote = vote_of(str(action.get("action_id", "")))
    target = FeedbackTarget.parse(action.get("value"))
    user = (body.get("user") or {}).get("id")
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    team, enterprise = _team(body)
    if vote is None or target is None or not user or not channel or not (team or enterprise):
        return None
    key = VoteKey(
        team_id=team or enterprise,
        enterprise_id=enterprise,
        channel_id=str(channel),
        # Every message, ephemeral ones included, has a ts; without one the vote
        # still counts once per channel and claim.
        message_ts=str(container.get("message_ts") or ""),
        claim_id=target.claim_id,
        voter=voter_hash(team or enterprise, str(user)),
    )
    return Click(key, vote, target)


_CLICK: TypeAdapter[Click] = TypeAdapter(Click)


def click_json(click: Click) -> dict[str, Any]:
    """``click`` as plain JSON data: a vote is handed to the answer process in a job (bot.jobs)."""
    data: dict[str, Any] = _CLICK.dump_python(click, mode="json")
    return data


def click_from_json(data: object) -> Click:
    """The click :func:`click_json` wrote (pydantic ValidationError for anything else)."""
    return _CLICK.validate_python(data)


def metadata(click: Click) -> str:
    """The form's private_metadata: the vote it explains (no user id; Slack sends the user)."""
    key = click.key
    return json.dumps(
        {
            "t": key.team_id,
            "e": key.enterprise_id,
            "ch": key.channel_id,
            "ts": key.message_ts,
            "target": click.target.value(),
        },
        separators=(",", ":"),
    )


@dataclass(frozen=True)
class Note:
    click: Click
    text: str
    source_url: str | None


def note_of(body: dict[str, Any]) -> tuple[Note | None, dict[str, str]]:
    """A view_submission as a Note, or the field errors to show in the form.

    The person is taken from the submission (Slack's word), never from metadata.
    """
    view = body.get("view") or {}
    user = (body.get("user") or {}).get("id")
    try:
        meta = json.loads(view.get("private_metadata") or "")
        target = FeedbackTarget.parse(meta["target"])
        team, enterprise = str(meta["t"]), str(meta["e"])
        channel, message_ts = str(meta["ch"]), str(meta["ts"])
    except (ValueError, KeyError, TypeError):
        return None, {}
    if target is None or not user or not team:
        return None, {}
    values = (view.get("state") or {}).get("values") or {}
    text = ((values.get(NOTE_BLOCK) or {}).get(NOTE_ACTION) or {}).get("value") or ""
    raw_url = ((values.get(SOURCE_BLOCK) or {}).get(SOURCE_ACTION) or {}).get("value") or ""
    errors: dict[str, str] = {}
    text = text.strip()
    if not text:
        errors[NOTE_BLOCK] = "Say in a few words what is wrong or out of date."
    elif len(text) > NOTE_MAX_CHARS:
        errors[NOTE_BLOCK] = f"Please keep it under {NOTE_MAX_CHARS} characters."
    url = raw_url.strip() or None
    if url is not None:
        try:
            url = _url.validate_python(url)
        except ValidationError:
            errors[SOURCE_BLOCK] = "Give a full address starting with https:// (or leave it empty)."
    if errors:
        return None, errors
    key = VoteKey(
        team, enterprise, channel, message_ts, target.claim_id, voter_hash(team, str(user))
    )
    return Note(Click(key, Vote.WRONG, target), text, url), {}
