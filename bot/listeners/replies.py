"""Hand answer jobs over from an ack, and say "busy" when the answers are full."""

from __future__ import annotations

from bot.answers import BUSY_TEXT, ReplyKind, ReplyTarget
from bot.jobs import AnswerJob, JobKind, response_url_target
from bot.services import Services

BUSY_RESERVE = 50
"""Room beyond the queue's capacity for "busy" notices: they cost one small post each."""


def enqueue(services: Services, job: AnswerJob) -> bool:
    """Hand ``job`` over; when the answers are full queue a "busy" notice instead, return False.

    The notice goes where the answer would have gone (a shared answer's goes
    privately to its ``response_url``), and is not kept across a deploy.
    """
    if services.jobs.submit(job):
        return True
    services.log_busy()
    busy = AnswerJob(
        JobKind.NOTICE, _busy_target(job.target), {"text": BUSY_TEXT}, "busy notice", False
    )
    services.jobs.submit(busy, reserve=BUSY_RESERVE)
    return False


def _busy_target(target: ReplyTarget) -> ReplyTarget:
    if target.kind is ReplyKind.SHARED:
        return response_url_target(target.url, target.team_id)
    return target


def job(kind: JobKind, target: ReplyTarget, label: str, **args: object) -> AnswerJob:
    """An :class:`AnswerJob` from keyword arguments (each must be plain JSON data)."""
    return AnswerJob(kind, target, dict(args), label)
