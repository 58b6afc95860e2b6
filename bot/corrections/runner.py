"""Post each correction once per (thread, claim, revision): the digest's discipline, reused.

What is reused rather than rewritten:

* the lease and fencing of :mod:`bot.state.leases` (via
  :mod:`bot.corrections.ledger`): one poster per row, across processes;
* the delivery protocol of :mod:`bot.digest.flow` — renew before each post,
  429 waits ``Retry-After``, a 5xx or a lost answer is looked for before any
  retry, a row taken over from a crashed poster is looked for first;
* the paced, classified single attempts of :class:`bot.digest.poster.Poster`,
  here replying in a thread, and looking for an earlier correction in the
  thread (``conversations.replies`` with its metadata) instead of the channel.

A crash between posting and recording leaves the row ``claimed``; once its
lease expires, the next run takes it over, finds the reply by its metadata
(:mod:`bot.corrections.message`) and records it instead of posting again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.core.store import ClaimStore
from bot.corrections.citing import CitationKind
from bot.corrections.ledger import CorrectionLedger, key_of
from bot.corrections.message import correction_message, correction_metadata, is_correction_for
from bot.corrections.plan import CITED_WITHIN_DAYS, Correction, plan_corrections
from bot.digest.flow import (
    Action,
    Delivery,
    FindPosted,
    Finished,
    Flow,
    MarkPosted,
    Post,
    Release,
    Renew,
    RetryPolicy,
    Sleep,
    delivery_flow,
)
from bot.digest.kinds import OutcomeStatus
from bot.digest.poster import (
    NETWORK_ERRORS,
    Ambiguous,
    AmbiguousRead,
    ChannelPacer,
    FindResult,
    Found,
    Poster,
    Rejected,
    error_code,
)
from bot.digest.runner import TokenSource
from bot.state.citations import Citation, citations_since
from bot.state.leases import Held, LeaseStatus
from bot.state.models import utcnow

log = logging.getLogger(__name__)

SETTLED = {
    LeaseStatus.POSTED: OutcomeStatus.ALREADY_POSTED,
    LeaseStatus.CLAIMED: OutcomeStatus.BUSY,
}
FINAL = frozenset(
    {
        OutcomeStatus.POSTED,
        OutcomeStatus.RECONCILED,
        OutcomeStatus.ALREADY_POSTED,
        OutcomeStatus.GAVE_UP,
        OutcomeStatus.WOULD_POST,
        OutcomeStatus.PAUSED,  # the channel or workspace refuses us: wait for a store change
    }
)
"""Outcomes that need no run before the next store change; the rest are tried next tick."""


@dataclass(frozen=True)
class CorrectionOutcome:
    plan: Correction
    status: OutcomeStatus
    ts: str | None = None
    error: str | None = None


class ThreadPoster(Poster):
    """The digest's poster, looking for an earlier correction in the thread it replies to."""

    def find_reply(self, plan: Correction, since: datetime) -> FindResult:
        """This correction in its thread since ``since`` (less a margin), as a value."""
        try:
            return Found(self._find_reply(plan, since))
        except SlackApiError as exc:
            return Rejected(error_code(exc))
        except (AmbiguousRead, *NETWORK_ERRORS) as exc:
            return Ambiguous(repr(exc))

    def _find_reply(self, plan: Correction, since: datetime) -> str | None:
        kwargs: dict[str, Any] = {
            "channel": plan.channel_id,
            "ts": plan.thread_ts,
            "oldest": f"{(since - self.reconcile_margin).timestamp():.6f}",
            "include_all_metadata": True,
            "limit": 200,
        }
        for _page in range(10):  # 2,000 replies: a thread longer than that is not looked through
            response = self._read(self.client.conversations_replies, **kwargs)
            for message in response.get("messages") or []:
                if is_correction_for(message, plan):
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor or not response.get("has_more"):
                return None
            kwargs["cursor"] = cursor
        return None


class CorrectionRunner:
    """Plans corrections from the citations of the last 30 days and posts each once."""

    def __init__(
        self,
        engine: Engine,
        client: WebClient,
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        lease: timedelta = timedelta(minutes=5),
        max_attempts: int = 6,
        policy: RetryPolicy | None = None,
        channel_interval: float = 1.0,
        tokens: TokenSource | None = None,
    ) -> None:
        """``tokens``: None posts with ``client``'s token; else each team's installed token."""
        self.engine = engine
        self.clock = clock
        self.sleep = sleep
        self.tokens = tokens
        self.ledger = CorrectionLedger(
            engine,
            owner or f"corrections-{uuid.uuid4().hex[:12]}",
            clock,
            lease=lease,
            max_attempts=max_attempts,
        )
        self.poster = ThreadPoster(client, ChannelPacer(channel_interval, sleep), sleep)
        self.policy = policy or RetryPolicy()

    def plan(self, store: ClaimStore) -> list[Correction]:
        since = self.clock() - timedelta(days=CITED_WITHIN_DAYS)
        return plan_corrections(citations_since(self.engine, since), store)

    def run_once(
        self, store: ClaimStore, *, dry_run: bool = False, ledger: bool = True
    ) -> list[CorrectionOutcome]:
        """Every correction ``store`` calls for; with ``dry_run`` none is posted or recorded.

        ``ledger=False``: the ledger table is not there yet (a dry run on a
        database not migrated since this version), so nothing is settled.
        """
        plans = self.plan(store)
        settled = self.ledger.settled(plans) if plans and ledger else {}
        outcomes = []
        for plan in plans:
            status = settled.get(key_of(plan))
            if status is not None:
                outcome = SETTLED.get(LeaseStatus(status), OutcomeStatus.GAVE_UP)
                outcomes.append(CorrectionOutcome(plan, outcome))
            elif dry_run:
                outcomes.append(CorrectionOutcome(plan, OutcomeStatus.WOULD_POST))
            else:
                outcomes.append(self._deliver_safely(plan))
        return outcomes

    def _deliver_safely(self, plan: Correction) -> CorrectionOutcome:
        where = f"{plan.team_id}/{plan.channel_id} thread {plan.thread_ts} ({plan.claim_id})"
        try:
            return self._deliver(plan)
        except (SQLAlchemyError, OSError) as exc:  # an outage: one line, no traceback
            log.error("correction in %s failed: %s", where, type(exc).__name__)
            return CorrectionOutcome(plan, OutcomeStatus.ERROR, error=repr(exc))
        except Exception as exc:  # one thread's bug must not stop the others
            log.exception("correction in %s failed", where)
            return CorrectionOutcome(plan, OutcomeStatus.ERROR, error=repr(exc))

    def _poster_for(self, team_id: str) -> ThreadPoster | None:
        if self.tokens is None:
            return self.poster
        token = self.tokens.token(team_id)
        poster = self.poster.for_token(token) if token else None
        assert poster is None or isinstance(poster, ThreadPoster)
        return poster

    def _deliver(self, plan: Correction) -> CorrectionOutcome:
        poster = self._poster_for(plan.team_id)
        if poster is None:  # not installed (any more) in that workspace
            return CorrectionOutcome(plan, OutcomeStatus.PAUSED, error="not_installed")
        held = self.ledger.acquire(plan)
        if held is None:
            return CorrectionOutcome(plan, OutcomeStatus.BUSY)
        one = (plan.claim_id,)
        delivery = Delivery(held.previous_status, one, (0,), one, (0,))
        perform = _Performer(self, plan, held, poster)
        finished = perform.drive(delivery_flow(delivery, self.policy))
        return CorrectionOutcome(plan, finished.status, finished.ts, finished.error)


@dataclass
class _Performer:
    """Does what the delivery flow asks, for one leased correction."""

    runner: CorrectionRunner
    plan: Correction
    held: Held
    poster: ThreadPoster

    def drive(self, flow: Flow) -> Finished:
        answer: Any = None
        try:
            while True:
                answer = self.perform(flow.send(answer))
        except StopIteration as stop:
            return stop.value

    def perform(self, action: Action) -> Any:
        ledger, plan = self.runner.ledger, self.plan
        if isinstance(action, Renew):
            return ledger.renew(self.held, timedelta(seconds=action.extra))
        if isinstance(action, Post):
            payload = correction_message(plan).payload()
            metadata = correction_metadata(plan)
            return self.poster.post(
                plan.channel_id, payload["text"], payload["blocks"], metadata, plan.thread_ts
            )
        if isinstance(action, Sleep):
            self.runner.sleep(action.seconds)
            return None
        if isinstance(action, FindPosted):
            return self.poster.find_reply(plan, self.held.claimed_at)
        if isinstance(action, MarkPosted):
            return ledger.mark_posted(self.held, action.ts, correction_citation(plan, action.ts))
        if isinstance(action, Release):
            ledger.release(self.held, LeaseStatus(action.status), action.error)
            log.warning(
                "correction in %s/%s left %s: %s",
                plan.channel_id,
                plan.thread_ts,
                action.status,
                action.error,
            )
            return None
        raise TypeError(f"unknown correction action {action!r}")


def correction_citation(plan: Correction, ts: str) -> Citation | None:
    """A posted correction cites the revision it announced (nothing for a withdrawn claim)."""
    if plan.reviewed is None:
        return None
    return Citation(
        plan.team_id,
        plan.enterprise_id,
        plan.channel_id,
        plan.thread_ts,
        ts,
        plan.claim_id,
        plan.revision,
        plan.reviewed,
        CitationKind.CORRECTION.value,
        plan.evidence,
    )


def all_final(outcomes: Sequence[CorrectionOutcome]) -> bool:
    return all(outcome.status in FINAL for outcome in outcomes)


__all__ = ["CorrectionOutcome", "CorrectionRunner", "ThreadPoster", "all_final"]
