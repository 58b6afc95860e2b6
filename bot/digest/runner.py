"""Deliver due digests exactly once per (team, channel, local date).

The runner only decides and orchestrates: :mod:`~bot.digest.ledger` keeps the
``digest_deliveries`` row as fenced SQL on a *lease*; :mod:`~bot.digest.poster`
makes one paced Slack call at a time and answers with a value;
:mod:`~bot.digest.flow` is the protocol for one leased row as a generator of
actions (httpx's ``auth_flow`` pattern); :mod:`~bot.digest.clock` keeps the
clock process up; :mod:`~bot.digest.ports` names what the runner is given.

How exactly-once is achieved:

1. **Lease before posting.** Exactly one runner wins the ledger row's unique
   key; it holds the row under a lease (``lease_until``, ``claimed_by``).
2. **Fencing.** ``attempts`` is bumped on every acquisition and every later
   update is conditional on it, so a runner that lost its lease cannot
   overwrite the new owner's outcome. The lease is renewed right before each
   post attempt and each Retry-After sleep; a runner that cannot renew does
   not post.
3. **Look before posting.** A row taken over from a runner that crashed
   (``claimed``) or lost Slack's answer (``unknown``) may have been posted,
   and so may a day with no row at all (the database was lost or restored
   from a backup): before the day's first post the owner reads the channel
   history (``include_all_metadata``, since the local day began) for a
   message with ``event_type=ai_race_digest`` and that local date, and
   records it instead of posting again. That is one ``conversations.history``
   call per channel and day: the answer is remembered in the ledger row, so
   only a takeover looks again. A ``failed`` row (Slack definitely rejected
   the post) is retried without looking.
4. **No catch-up.** Only today's local date is ever due
   (:func:`bot.digest.schedule.local_date_due`), so downtime yields at most
   one digest per channel, today's; and a slot that passed before the
   subscription was made or changed is not due either (the rule ``digest on``
   and ``digest status`` announce).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.core.schema import Claim
from bot.digest.clock import first_line, run_forever
from bot.digest.flow import (
    CHANNEL_ERRORS,
    TEAM_ERRORS,
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
from bot.digest.kinds import DeliveryStatus, OutcomeStatus
from bot.digest.ledger import DeliveryLedger, Lease, LedgerKey, load_rotation_history
from bot.digest.outcomes import Outcome, RunReport
from bot.digest.ports import (
    Cited,
    HasClaims,
    Renderer,
    StoreProvider,
    TokenSource,
    plain_render,
    preview_pick,
    rendered,
)
from bot.digest.poster import (
    EVENT_TYPE,
    ChannelPacer,
    FindResult,
    Poster,
    PostResult,
    client_without_retries,
    digest_metadata,
)
from bot.digest.rotation import Rotatable, choose_claims
from bot.digest.schedule import local_date_due, local_day_start
from bot.digest.subscriptions import list_subscriptions, schedule_anchor
from bot.state.housekeeping import DEFAULT_MISS_RETENTION
from bot.state.models import DigestDelivery, DigestSubscription, utcnow
from bot.state.workspaces import TokenLoss

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Due:
    sub: DigestSubscription
    local_date: date

    @property
    def key(self) -> LedgerKey:
        return (self.sub.team_id, self.sub.channel_id, self.local_date)

    def outcome(self, status: OutcomeStatus, **fields: Any) -> Outcome:
        return Outcome(self.sub.team_id, self.sub.channel_id, self.local_date, status, **fields)


@dataclass
class _Run:
    """What one run's workers share: the store, the ledger rows read up front, dead teams."""

    run_id: str
    dry_run: bool
    store: HasClaims
    store_claims: Sequence[Rotatable]
    existing: dict[LedgerKey, DigestDelivery]
    dead_teams: dict[str, str] = field(default_factory=dict)
    outages: set[str] = field(default_factory=set)  # failure kinds logged in this run
    lock: threading.Lock = field(default_factory=threading.Lock)

    def first_outage(self, kind: str) -> bool:
        """True once per kind a run: 50 channels cut off by one outage make one log line."""
        with self.lock:
            first = kind not in self.outages
            self.outages.add(kind)
        return first


@dataclass(frozen=True)
class _Message:
    """Everything one post needs, fixed before the flow starts."""

    sub: DigestSubscription
    day: date
    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any]
    poster: Poster  # speaks with the subscription's workspace token
    claims: Sequence[Claim] = ()


class DigestRunner:
    """Posts every due digest once; see the module docstring for the guarantees."""

    def __init__(
        self,
        engine: Engine,
        store_provider: StoreProvider,
        client: WebClient,
        render: Renderer,
        runner_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        *,
        sleep: Callable[[float], None] = time.sleep,
        lease: timedelta = timedelta(minutes=5),
        max_workers: int = 8,
        max_attempts: int = 6,
        max_rate_limit_retries: int = 8,
        max_server_retries: int = 3,
        backoff: float = 1.0,
        channel_interval: float = 1.0,
        reconcile_margin: timedelta = timedelta(minutes=15),
        tokens: TokenSource | None = None,
        cited: Cited | None = None,
    ) -> None:
        """``tokens``: None posts with ``client``'s own token (one workspace); else each
        subscription's team token is looked up there, and a refused one is forgotten."""
        self.engine = engine
        self.tokens = tokens
        self.cited = cited
        self.store_provider = store_provider
        self.render = render
        self.runner_id = runner_id or f"runner-{uuid.uuid4().hex[:12]}"
        self.clock = clock
        self.sleep = sleep
        self.max_workers = max(1, max_workers)
        self.max_attempts = max_attempts
        self.ledger = DeliveryLedger(
            engine, self.runner_id, clock, lease=lease, max_attempts=max_attempts
        )
        self.poster = Poster(
            client,
            ChannelPacer(channel_interval, sleep),
            sleep,
            max_rate_limit_retries=max_rate_limit_retries,
            reconcile_margin=reconcile_margin,
        )
        self.policy = RetryPolicy.build(max_rate_limit_retries, max_server_retries, backoff)

    @property
    def client(self) -> WebClient:
        return self.poster.client

    # ------------------------------------------------------------------ runs

    def run_once(
        self,
        now: datetime | None = None,
        dry_run: bool = False,
        subscriptions: Sequence[DigestSubscription] | None = None,
    ) -> RunReport:
        """Deliver (or, with ``dry_run``, only render) every digest due at ``now``.

        ``subscriptions`` replaces the table's (a dry run's planned config sync).
        """
        now = now or self.clock()
        report = RunReport(run_id=uuid.uuid4().hex[:12], now=now, dry_run=dry_run)
        if subscriptions is None:
            subscriptions = list_subscriptions(self.engine, active_only=True)
        due = self._due(now, subscriptions)
        if not due:
            return report
        # Rotation reads ids, topics and dates only; just the picked claims are
        # materialised, so a 100,000-claim store costs no 100,000 objects here.
        store = self.store_provider()
        existing = self.ledger.existing([item.local_date for item in due])
        run = _Run(report.run_id, dry_run, store, store.rows(), existing)
        report.outcomes = self._map(lambda item: self._work(item, run), due)
        if report.outcomes:
            log.info("digest run %s at %s: %s", report.run_id, now.isoformat(), report.counts())
        return report

    def _work(self, item: _Due, run: _Run) -> Outcome:
        """One channel's delivery; its failure is its own outcome, never the others'."""
        sub = item.sub
        with run.lock:
            dead = run.dead_teams.get(sub.team_id)
        if dead and not run.dry_run:
            self.ledger.pause(sub, dead)
            return item.outcome(OutcomeStatus.PAUSED, error=dead)
        try:
            outcome = self._deliver(item, run)
        except Exception as exc:  # one channel's outage or bug must not stop the others
            where = f"digest for {sub.team_id}/{sub.channel_id} failed"
            if isinstance(exc, SQLAlchemyError | OSError):  # an outage: one line, no traceback
                kind = type(exc).__name__
                if run.first_outage(kind):
                    log.error("%s: %s: %s (and so may others)", where, kind, first_line(exc))
            else:
                log.exception(where)
            return item.outcome(OutcomeStatus.ERROR, error=repr(exc))
        if outcome.status == OutcomeStatus.PAUSED and outcome.error in TEAM_ERRORS:
            with run.lock:
                first = sub.team_id not in run.dead_teams
                run.dead_teams[sub.team_id] = outcome.error
            if first and self.tokens is not None:  # same as an uninstall
                self.tokens.forget(sub.team_id, TokenLoss(outcome.error))
        return outcome

    def _map(self, work: Callable[[_Due], Outcome], due: list[_Due]) -> list[Outcome]:
        if self.max_workers == 1 or len(due) == 1:
            return [work(item) for item in due]
        pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="digest")
        try:
            futures = [pool.submit(work, item) for item in due]
            return [future.result() for future in futures]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def run_forever(
        self,
        interval: float = 60.0,
        stop_event: threading.Event | None = None,
        miss_retention: timedelta = DEFAULT_MISS_RETENTION,
        after_run: Callable[[], None] | None = None,
    ) -> None:
        """Run every ``interval`` seconds until ``stop_event`` is set (:mod:`bot.digest.clock`).

        ``after_run`` follows each run (corrections after a store change); it must not raise.
        """
        run_forever(
            self.run_once,
            self.engine,
            interval=interval,
            stop_event=stop_event,
            miss_retention=miss_retention,
            after_run=after_run,
        )

    # ------------------------------------------------------------------ decisions

    def _due(self, now: datetime, subscriptions: Sequence[DigestSubscription]) -> list[_Due]:
        due = []
        for sub in subscriptions:
            if sub.paused_reason:
                continue
            try:
                local = local_date_due(sub, now, since=schedule_anchor(sub))
            except ValueError as exc:
                log.error(
                    "digest for %s/%s has a bad schedule: %s", sub.team_id, sub.channel_id, exc
                )
                continue
            if local is not None:
                due.append(_Due(sub, local))
        return due

    def _settled(self, existing: DigestDelivery | None) -> tuple[OutcomeStatus, Any] | None:
        """An outcome decided from the ledger row alone (no need to render or lease)."""
        if existing is None:
            return None
        if existing.status == DeliveryStatus.POSTED:
            return OutcomeStatus.ALREADY_POSTED, existing.message_ts
        if existing.status == DeliveryStatus.CLAIMED and existing.lease_until > self.clock():
            return OutcomeStatus.BUSY, None
        if existing.attempts >= self.max_attempts:
            return OutcomeStatus.GAVE_UP, existing.error
        return None

    def _deliver(self, item: _Due, run: _Run) -> Outcome:
        existing = run.existing.get(item.key)
        settled = self._settled(existing)
        if settled is not None:
            status, value = settled
            if status == OutcomeStatus.ALREADY_POSTED:
                return item.outcome(status, message_ts=value)
            return item.outcome(status, error=value)
        sub, day = item.sub, item.local_date
        history = self.ledger.history(sub.team_id, sub.channel_id)
        pick = choose_claims(
            run.store_claims, sub.claims_per_digest, history, topics=sub.topics, today=day
        )
        outcome = item.outcome(OutcomeStatus.BUSY, claim_ids=pick.claim_ids)
        if not pick.claims and existing is None:
            outcome.status = OutcomeStatus.EMPTY  # skip rather than post an empty digest
            return outcome
        claims = run.store.get_many(pick.claim_ids)
        text, blocks = rendered(self.render(claims, day, sub.timezone))
        if run.dry_run:
            outcome.status, outcome.text, outcome.blocks = OutcomeStatus.WOULD_POST, text, blocks
            return outcome
        poster = self._poster_for(sub.team_id)
        if poster is None:  # not installed (any more) in that workspace
            self.ledger.pause(sub, TokenLoss.NOT_INSTALLED)
            outcome.status, outcome.error = OutcomeStatus.PAUSED, TokenLoss.NOT_INSTALLED.value
            return outcome
        lease = self.ledger.acquire(sub, day, pick, run.run_id)
        if lease is None:
            return outcome  # busy: someone else holds the row
        delivery = Delivery(
            lease.previous_status,
            lease.previous_claim_ids,
            lease.previous_cycles,
            tuple(pick.claim_ids),
            tuple(pick.cycles),
        )
        message = _Message(sub, day, text, blocks, digest_metadata(day, run.run_id), poster, claims)
        finished = self._drive(delivery_flow(delivery, self.policy), lease, message)
        outcome.status, outcome.message_ts, outcome.error = (
            finished.status,
            finished.ts,
            finished.error,
        )
        if finished.claim_ids is not None:
            outcome.claim_ids = list(finished.claim_ids)
        return outcome

    def _poster_for(self, team_id: str) -> Poster | None:
        if self.tokens is None:
            return self.poster
        token = self.tokens.token(team_id)
        return self.poster.for_token(token) if token else None

    # ------------------------------------------------------------------ actions

    def _drive(self, flow: Flow, lease: Lease, message: _Message) -> Finished:
        """Run the flow to its end, performing each action it yields."""
        answer: Any = None
        try:
            while True:
                answer = self._perform(flow.send(answer), lease, message)
        except StopIteration as stop:
            return stop.value

    def _perform(self, action: Action, lease: Lease, message: _Message) -> Any:
        sub = message.sub
        if isinstance(action, Renew):
            return self._renew(lease, timedelta(seconds=action.extra))
        if isinstance(action, Post):
            return self._post(message)
        if isinstance(action, Sleep):
            self.sleep(action.seconds)
            return None
        if isinstance(action, FindPosted):
            return self._find_posted(message)
        if isinstance(action, MarkPosted):
            return self._mark_posted(lease, message, action)
        if isinstance(action, Release):
            self._release(lease, sub, action)
            return None
        raise TypeError(f"unknown digest action {action!r}")

    def _renew(self, lease: Lease, extra: timedelta) -> bool:
        return self.ledger.renew(lease, extra)

    def _post(self, message: _Message) -> PostResult:
        channel = message.sub.channel_id
        result = message.poster.post(channel, message.text, message.blocks, message.metadata)
        log.debug("post to %s: %r", channel, result)
        return result

    def _find_posted(self, message: _Message) -> FindResult:
        """The day's digest in the channel's history, read since the local day began."""
        channel = message.sub.channel_id
        log.info("checking %s's history for the %s digest", channel, message.day)
        since = local_day_start(message.sub, message.day)
        return message.poster.find_posted(channel, message.day, since)

    def _mark_posted(self, lease: Lease, message: _Message, action: MarkPosted) -> bool:
        sub = message.sub
        marked = self.ledger.mark_posted(
            lease, sub, message.day, action.ts, action.claim_ids, action.cycles
        )
        if marked and self.cited is not None:  # public now: recorded for corrections
            claims = [c for c in message.claims if c.id in action.claim_ids]
            self.cited(sub.team_id, sub.channel_id, action.ts, claims)
        return marked

    def _release(self, lease: Lease, sub: DigestSubscription, action: Release) -> None:
        self.ledger.release(lease, action.status, action.error, pause=action.pause, sub=sub)
        where = f"digest for {sub.team_id}/{sub.channel_id}"
        if action.pause is not None:
            log.warning("%s paused: Slack said %s", where, action.pause)
        else:
            log.error("%s left %s: %s", where, action.status, action.error)


__all__ = [
    "CHANNEL_ERRORS",
    "EVENT_TYPE",
    "Cited",
    "DigestRunner",
    "Outcome",
    "Renderer",
    "RunReport",
    "StoreProvider",
    "TokenSource",
    "client_without_retries",
    "load_rotation_history",
    "plain_render",
    "preview_pick",
    "rendered",
]
