"""What an ack hands over: an answer to compute, as plain data that can cross a process.

Answers used to be closures over the Bolt request (its client, its payload).
A closure cannot leave the web worker, and answering inside the web worker
took the GIL from the request threads that send acks (BENCHMARKS.md, issue
11). An :class:`AnswerJob` says *what* to answer (a :class:`JobKind` and its
few arguments: query text, user, offsets, claim ids) and *where*
(a :class:`~bot.answers.ReplyTarget`: a thread, a ``response_url``, a shared
post), and nothing else: no token (the answer process looks the team's token
up itself, :mod:`bot.runner`), no request body. It travels as one JSON line
(:meth:`AnswerJob.dumps`), so a job is never logged or pickled by accident.

Whoever runs jobs is an :class:`Answers`: in process (Socket Mode, tests) or
the separate answer process of the HTTP server (:mod:`bot.answer_process`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from pydantic import TypeAdapter

from bot.answers import ReplyKind, ReplyTarget


class JobKind(StrEnum):
    """The answers the listeners hand over; each names the arguments it reads."""

    COMMAND = "command"  # /ai-race: text, team_id, channel_id, user_id
    SEARCH = "search"  # query, offset (More, topic and suggestion buttons, shortcut)
    SOURCES = "sources"  # claim_id
    CLAIM = "claim"  # claim_id (the button under a correction)
    SHARE = "share"  # query, ids, user_id
    MENTION = "mention"  # text, channel, thread_ts (the event's own, if any), bot_user_id
    NOTICE = "notice"  # text: a fixed message (a feedback thanks, "busy")
    HOME = "home"  # (none: the target names the user) the App Home tab
    VOTE = "vote"  # click (bot.feedback.payload.Click as JSON), trigger_id


@dataclass(frozen=True)
class AnswerJob:
    """One answer to compute and deliver. ``durable`` replies survive a deploy (bot.outbox)."""

    kind: JobKind
    target: ReplyTarget
    args: dict[str, Any] = field(default_factory=dict)
    label: str = "answer"
    durable: bool = True
    key: str = field(default_factory=lambda: uuid.uuid4().hex)

    def dumps(self) -> bytes:
        """One line of JSON (no newline inside: JSON escapes it)."""
        return _ADAPTER.dump_json(self) + b"\n"

    @staticmethod
    def loads(line: bytes) -> AnswerJob:
        return _ADAPTER.validate_json(line)


_ADAPTER = TypeAdapter(AnswerJob)


class Answers(Protocol):
    """Takes jobs from acks; bounded, so a full one makes the ack say "busy" at once."""

    def submit(self, job: AnswerJob, *, reserve: int = 0) -> bool:
        """Accept ``job`` (True) or refuse it now (False); never blocks on answer work.

        ``reserve`` lets a tiny "busy" notice in beyond the capacity.
        """

    def pending(self) -> int:
        """Jobs accepted and not yet done (waiting for a Retry-After included)."""

    def drain(self, timeout: float) -> int:
        """Stopping: finish what is due within ``timeout``, leave the rest to the outbox."""

    def up(self) -> bool:
        """False while nothing can answer (the answer process is being restarted)."""

    def claims(self) -> int:
        """How many claims the answers are given from now (``/healthz``)."""


def thread_target(team_id: str, enterprise_id: str, channel: str, thread_ts: str) -> ReplyTarget:
    return ReplyTarget(ReplyKind.THREAD, team_id, enterprise_id, channel, thread_ts)


def home_target(team_id: str, enterprise_id: str, user: str) -> ReplyTarget:
    return ReplyTarget(ReplyKind.HOME, team_id, enterprise_id, user=user)


def response_url_target(
    url: str,
    team_id: str = "",
    *,
    response_type: str = "ephemeral",
    replace_original: bool | None = False,
) -> ReplyTarget:
    return ReplyTarget(
        ReplyKind.RESPONSE_URL,
        team_id,
        url=url,
        response_type=response_type,
        replace_original=replace_original,
    )
