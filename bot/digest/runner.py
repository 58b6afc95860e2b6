"""Deliver due digests exactly once per (team, channel, local date).

How exactly-once is achieved (the ledger is ``digest_deliveries``):

1. **Claim before posting.** A runner first inserts the ledger row for
   (team, channel, local_date) with ``INSERT … ON CONFLICT DO NOTHING``; the
   unique key lets exactly one runner win, on SQLite and PostgreSQL, across
   threads, processes and machines. The row carries a lease
   (``lease_until``) and the owner (``claimed_by``).
2. **Fencing.** ``attempts`` is bumped on every claim/takeover and every later
   update is conditional on the value the runner saw, so a runner that lost
   its lease cannot overwrite the new owner's outcome. The lease is renewed
   (fenced) right before each post attempt and each Retry-After sleep; a
   runner that cannot renew does not post.
3. **Takeover with reconciliation.** A row left ``claimed`` with an expired
   lease (runner crashed) or ``unknown`` (Slack's answer was lost: 5xx,
   timeout, reset connection) may have been posted. The next runner takes it
   over and first reads the channel history (``include_all_metadata``) for a
   message with ``event_type=ai_race_digest`` and that local date; if found,
   it records that ts instead of posting again. Only a ``failed`` row
   (Slack definitely rejected the post) is retried without looking.
4. **No catch-up.** Only today's local date is ever due
   (:func:`bot.digest.schedule.local_date_due`), so downtime yields at most
   one digest per channel, today's.

Retries are ours alone: the runner uses a copy of the given ``WebClient``
with *no* slack_sdk retry handlers, because the SDK's connection-error retry
would silently re-send a post whose first attempt may have reached Slack,
and its rate-limit handler would double-count with ours. 429 → sleep
``Retry-After`` and retry (bounded); 5xx/connection trouble → back off,
reconcile, retry (bounded), else leave ``unknown`` for the next run; channel
errors → pause that subscription and carry on with the others.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.client import HTTPException
from typing import Any, Protocol
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot.core.schema import Claim
from bot.digest.rotation import RotationPick, SentRecord, choose_claims
from bot.digest.schedule import local_date_due
from bot.digest.subscriptions import open_session
from bot.state.events import EventLedger
from bot.state.models import DigestDelivery, DigestSentClaim, DigestSubscription, utcnow

log = logging.getLogger(__name__)

EVENT_TYPE = "ai_race_digest"
CHANNEL_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "account_inactive",
        "invalid_auth",
        "token_revoked",
    }
)
# Errors that concern the token, not the channel: the rest of that team's
# channels are paused without another call.
TEAM_ERRORS = frozenset({"account_inactive", "invalid_auth", "token_revoked"})

# (claims, local date, time-zone name) -> (fallback text, blocks); an object with
# ``payload() -> {"text", "blocks"}`` (bot.core.blocks.SlackMessage) is accepted too.
Renderer = Callable[[Sequence[Claim], date, str], Any]


class _HasClaims(Protocol):
    @property
    def claims(self) -> tuple[Claim, ...]: ...


StoreProvider = Callable[[], _HasClaims]


@dataclass
class Outcome:
    """What happened to one due subscription in one run.

    ``status``: posted | reconciled | would_post | already_posted | busy | empty |
    paused | failed | unknown | gave_up | lost_lease | error.
    """

    team_id: str
    channel_id: str
    local_date: date
    status: str
    message_ts: str | None = None
    claim_ids: list[str] = field(default_factory=list)
    error: str | None = None
    text: str | None = None
    blocks: list[dict[str, Any]] | None = None


@dataclass
class RunReport:
    run_id: str
    now: datetime
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for outcome in self.outcomes:
            out[outcome.status] = out.get(outcome.status, 0) + 1
        return dict(sorted(out.items()))

    @property
    def delivered(self) -> int:
        return self.count("posted") + self.count("reconciled")


@dataclass(frozen=True)
class _Claim:
    """A ledger row this runner owns, with the fencing token and what was there before."""

    row_id: int
    attempt: int
    claimed_at: datetime
    previous_status: str | None
    previous_claim_ids: tuple[str, ...]
    previous_cycles: tuple[int, ...]


@dataclass(frozen=True)
class _Due:
    sub: DigestSubscription
    local_date: date


class _Ambiguous(Exception):
    """The post may or may not have reached Slack (5xx, timeout, reset connection)."""


class _ChannelPacer:
    """At least ``interval`` seconds between posts to the same channel, across threads and runs.

    The gap is counted from when the previous call *returned*: Slack stamps a
    post somewhere between our send and its answer, so counting from the send
    lets network jitter squeeze two posts closer than Slack allows.
    """

    def __init__(self, interval: float, sleep: Callable[[float], None]) -> None:
        self.interval = interval
        self.sleep = sleep
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def wait(self, channel: str) -> None:
        """Sleep until ``channel`` may be posted to again."""
        with self._lock:
            ready = self._next.get(channel, 0.0)
        delay = ready - time.monotonic()
        if delay > 0:
            self.sleep(delay)

    def sent(self, channel: str) -> None:
        """Record that a call to ``channel`` just returned (whatever its outcome)."""
        with self._lock:
            self._next[channel] = time.monotonic() + self.interval


def _retry_after(error: SlackApiError) -> float:
    headers = getattr(error.response, "headers", None) or {}
    for key, value in headers.items():
        if key.lower() == "retry-after":
            with contextlib.suppress(TypeError, ValueError):
                return max(0.0, float(value if not isinstance(value, list) else value[0]))
    return 1.0


def _error_code(error: SlackApiError) -> str:
    data = getattr(error.response, "data", None)
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return data["error"]
    return "unknown_error"


def _status_code(error: SlackApiError) -> int:
    return int(getattr(error.response, "status_code", 200) or 200)


def _connection_refused(error: BaseException) -> bool:
    reason = getattr(error, "reason", None)
    return isinstance(error, ConnectionRefusedError) or isinstance(reason, ConnectionRefusedError)


def rendered(result: Any) -> tuple[str, list[dict[str, Any]]]:
    """``(text, blocks)`` from a renderer's result: a tuple, or a message with ``payload()``.

    ``bot.core.blocks.digest_message`` returns a ``SlackMessage``; accepting
    both lets either be injected without an adapter at every call site.
    """
    if hasattr(result, "payload"):
        payload = result.payload()
        return str(payload["text"]), list(payload.get("blocks") or [])
    text, blocks = result
    return str(text), list(blocks or [])


def client_without_retries(client: WebClient) -> WebClient:
    """``client`` itself if it has no retry handlers, else a shallow copy without them."""
    if not client.retry_handlers:
        return client
    clone = copy.copy(client)
    clone.retry_handlers = []
    log.debug("digest runner: dropped %d slack_sdk retry handler(s)", len(client.retry_handlers))
    return clone


def load_rotation_history(
    connection: Connection, team_id: str, channel_id: str
) -> list[SentRecord]:
    """The channel's records of the current cycle and of its last digest (all rotation needs)."""
    where = and_(DigestSentClaim.team_id == team_id, DigestSentClaim.channel_id == channel_id)
    max_cycle = select(func.max(DigestSentClaim.cycle)).where(where).scalar_subquery()
    last_date = select(func.max(DigestSentClaim.local_date)).where(where).scalar_subquery()
    stmt = select(
        DigestSentClaim.claim_id, DigestSentClaim.cycle, DigestSentClaim.local_date
    ).where(where, or_(DigestSentClaim.cycle == max_cycle, DigestSentClaim.local_date == last_date))
    return [SentRecord(r.claim_id, r.cycle, r.local_date) for r in connection.execute(stmt)]


def preview_pick(engine: Engine, claims: Sequence[Claim], sub: Any) -> RotationPick:
    """The claims the channel's next digest would carry (for ``digest preview``)."""
    with engine.connect() as connection:
        history = load_rotation_history(connection, sub.team_id, sub.channel_id)
    return choose_claims(claims, sub.claims_per_digest, history, topics=sub.topics)


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
    ) -> None:
        self.engine = engine
        self.store_provider = store_provider
        self.client = client_without_retries(client)
        self.render = render
        self.runner_id = runner_id or f"runner-{uuid.uuid4().hex[:12]}"
        self.clock = clock
        self.sleep = sleep
        self.lease = lease
        self.max_workers = max(1, max_workers)
        self.max_attempts = max_attempts
        self.max_rate_limit_retries = max_rate_limit_retries
        self.max_server_retries = max_server_retries
        self.backoff = backoff
        self.reconcile_margin = reconcile_margin
        self._pacer = _ChannelPacer(channel_interval, sleep)
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    # ------------------------------------------------------------------ runs

    def run_once(self, now: datetime | None = None, dry_run: bool = False) -> RunReport:
        """Deliver (or, with ``dry_run``, only render) every digest due at ``now``."""
        now = now or self.clock()
        report = RunReport(run_id=uuid.uuid4().hex[:12], now=now, dry_run=dry_run)
        due = self._due(now)
        if not due:
            return report
        store_claims = tuple(self.store_provider().claims)
        existing = self._existing(due)
        dead_teams: dict[str, str] = {}
        lock = threading.Lock()

        def work(item: _Due) -> Outcome:
            sub = item.sub
            with lock:
                dead = dead_teams.get(sub.team_id)
            if dead and not dry_run:
                self._pause(sub, dead)
                return Outcome(sub.team_id, sub.channel_id, item.local_date, "paused", error=dead)
            try:
                outcome = self._deliver(
                    item, store_claims, existing.get(_key(item)), report.run_id, dry_run
                )
            except Exception as exc:  # one channel's bug must not stop the others
                log.exception("digest for %s/%s failed", sub.team_id, sub.channel_id)
                outcome = Outcome(
                    sub.team_id, sub.channel_id, item.local_date, "error", error=repr(exc)
                )
            if outcome.status == "paused" and outcome.error in TEAM_ERRORS:
                with lock:
                    dead_teams[sub.team_id] = outcome.error
            return outcome

        if self.max_workers == 1 or len(due) == 1:
            report.outcomes = [work(item) for item in due]
        else:
            pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="digest")
            try:
                futures = [pool.submit(work, item) for item in due]
                report.outcomes = [future.result() for future in futures]
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        if report.outcomes:
            log.info("digest run %s at %s: %s", report.run_id, now.isoformat(), report.counts())
        return report

    def run_forever(
        self, interval: float = 60.0, stop_event: threading.Event | None = None
    ) -> None:
        """Run every ``interval`` seconds until ``stop_event`` is set (the ``clock`` process).

        Also prunes the processed-event ledger about once an hour, so the web
        processes never need a housekeeping job of their own.
        """
        stop = stop_event or threading.Event()
        last_prune = float("-inf")
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.run_once()
            except Exception:
                log.exception("digest run failed; retrying in %s s", interval)
            if started - last_prune >= 3600:
                try:
                    EventLedger(self.engine).prune()
                    last_prune = started
                except Exception:
                    log.exception("pruning processed events failed")
            stop.wait(max(0.0, interval - (time.monotonic() - started)))

    # ------------------------------------------------------------------ selection

    def _due(self, now: datetime) -> list[_Due]:
        stmt = (
            select(DigestSubscription)
            .where(DigestSubscription.paused_reason.is_(None))
            .order_by(DigestSubscription.team_id, DigestSubscription.channel_id)
        )
        with open_session(self.engine) as session:
            subs = list(session.scalars(stmt))
        due = []
        for sub in subs:
            try:
                local = local_date_due(sub, now)
            except ValueError as exc:
                log.error(
                    "digest for %s/%s has a bad schedule: %s", sub.team_id, sub.channel_id, exc
                )
                continue
            if local is not None:
                due.append(_Due(sub, local))
        return due

    def _existing(self, due: Sequence[_Due]) -> dict[tuple[str, str, date], DigestDelivery]:
        """Ledger rows already there for the due keys (one query, not one per channel)."""
        rows: dict[tuple[str, str, date], DigestDelivery] = {}
        dates = sorted({item.local_date for item in due})
        with open_session(self.engine) as session:
            for day in dates:
                stmt = select(DigestDelivery).where(DigestDelivery.local_date == day)
                for row in session.scalars(stmt):
                    rows[(row.team_id, row.channel_id, row.local_date)] = row
        return rows

    # ------------------------------------------------------------------ one channel

    def _deliver(
        self,
        item: _Due,
        store_claims: Sequence[Claim],
        existing: DigestDelivery | None,
        run_id: str,
        dry_run: bool,
    ) -> Outcome:
        sub, day = item.sub, item.local_date
        outcome = Outcome(sub.team_id, sub.channel_id, day, "")
        if existing is not None and existing.status == "posted":
            outcome.status, outcome.message_ts = "already_posted", existing.message_ts
            return outcome
        wall = self.clock()
        if existing is not None and existing.status == "claimed" and existing.lease_until > wall:
            outcome.status = "busy"
            return outcome
        if existing is not None and existing.attempts >= self.max_attempts:
            outcome.status, outcome.error = "gave_up", existing.error
            return outcome

        with self.engine.connect() as connection:
            history = load_rotation_history(connection, sub.team_id, sub.channel_id)
        pick = choose_claims(store_claims, sub.claims_per_digest, history, topics=sub.topics)
        outcome.claim_ids = pick.claim_ids
        if not pick.claims and existing is None:
            outcome.status = "empty"  # nothing eligible: skip rather than post an empty digest
            return outcome
        text, blocks = rendered(self.render(pick.claims, day, sub.timezone))
        if dry_run:
            outcome.status, outcome.text, outcome.blocks = "would_post", text, blocks
            return outcome

        claim = self._claim(sub, day, pick, run_id)
        if claim is None:
            outcome.status = "busy"
            return outcome

        if claim.previous_status in ("claimed", "unknown"):
            done = self._reconcile(
                claim, sub, day, outcome, claim.previous_claim_ids, claim.previous_cycles
            )
            if done is not None:
                return done
        if not pick.claims:
            self._release(claim, "failed", "no eligible claims")
            outcome.status = "empty"
            return outcome
        return self._post(claim, sub, day, pick, text, blocks, run_id, outcome)

    def _post(
        self,
        claim: _Claim,
        sub: DigestSubscription,
        day: date,
        pick: RotationPick,
        text: str,
        blocks: list[dict[str, Any]],
        run_id: str,
        outcome: Outcome,
    ) -> Outcome:
        metadata = {
            "event_type": EVENT_TYPE,
            "event_payload": {"local_date": day.isoformat(), "run_id": run_id},
        }
        rate_limited = server_errors = 0
        maybe_posted = False  # an ambiguous failure happened: later give-ups are "unknown"
        while True:
            if not self._renew(claim):
                outcome.status = "lost_lease"
                return outcome
            self._pacer.wait(sub.channel_id)
            try:
                try:
                    response = self.client.chat_postMessage(
                        channel=sub.channel_id,
                        text=text,
                        blocks=blocks or None,
                        metadata=metadata,
                        unfurl_links=False,
                        unfurl_media=False,
                    )
                finally:
                    self._pacer.sent(sub.channel_id)
            except SlackApiError as exc:
                status, code = _status_code(exc), _error_code(exc)
                if status == 429 or code == "ratelimited":
                    if rate_limited >= self.max_rate_limit_retries:
                        status = "unknown" if maybe_posted else "failed"
                        self._release(claim, status, "ratelimited")
                        outcome.status, outcome.error = status, "ratelimited"
                        return outcome
                    rate_limited += 1
                    delay = _retry_after(exc)
                    log.info("429 posting to %s; retrying in %.0f s", sub.channel_id, delay)
                    self._renew(claim, extra=timedelta(seconds=delay))
                    self.sleep(delay)
                    continue
                if status < 500:
                    return self._slack_failure(
                        claim, sub, outcome, exc, retryable_unknown=maybe_posted
                    )
                error: BaseException = exc
            except (URLError, OSError, HTTPException) as exc:
                if _connection_refused(exc) and server_errors < self.max_server_retries:
                    server_errors += 1  # never reached Slack: plain retry, nothing to reconcile
                    self.sleep(self.backoff * 2 ** (server_errors - 1))
                    continue
                error = exc
            else:
                ts = str(response["ts"])
                self._mark_posted(claim, sub, day, ts, tuple(pick.claim_ids), pick.cycles)
                outcome.status, outcome.message_ts = "posted", ts
                return outcome

            # The post may have reached Slack: back off, look, and only then retry.
            if server_errors >= self.max_server_retries:
                self._release(claim, "unknown", repr(error))
                outcome.status, outcome.error = "unknown", repr(error)
                return outcome
            server_errors += 1
            maybe_posted = True
            log.warning("posting to %s failed (%r); checking history", sub.channel_id, error)
            self._renew(claim, extra=timedelta(seconds=self.backoff * 2**server_errors))
            self.sleep(self.backoff * 2 ** (server_errors - 1))
            done = self._reconcile(claim, sub, day, outcome, tuple(pick.claim_ids), pick.cycles)
            if done is not None:
                return done

    def _reconcile(
        self,
        claim: _Claim,
        sub: DigestSubscription,
        day: date,
        outcome: Outcome,
        claim_ids: Sequence[str],
        cycles: Sequence[int],
    ) -> Outcome | None:
        """Look for this digest in the channel's history before posting it (again).

        Returns the finished outcome when the message is found (recorded as
        posted) or the check itself failed (left for a later run), and None when
        the channel has no such message, so posting is safe.
        """
        try:
            ts = self._find_posted(sub.channel_id, day, claim.claimed_at)
        except SlackApiError as exc:
            return self._slack_failure(claim, sub, outcome, exc, retryable_unknown=True)
        except (_Ambiguous, URLError, OSError, HTTPException) as exc:
            self._release(claim, "unknown", f"reconcile failed: {exc!r}")
            outcome.status, outcome.error = "unknown", repr(exc)
            return outcome
        if ts is None:
            return None
        self._mark_posted(claim, sub, day, ts, tuple(claim_ids), tuple(cycles))
        outcome.status, outcome.message_ts = "reconciled", ts
        outcome.claim_ids = list(claim_ids)
        return outcome

    def _slack_failure(
        self,
        claim: _Claim,
        sub: DigestSubscription,
        outcome: Outcome,
        exc: SlackApiError,
        *,
        retryable_unknown: bool = False,
    ) -> Outcome:
        """A definite answer from Slack that is not success: pause, or record and move on."""
        code = _error_code(exc)
        outcome.error = code
        # While an earlier attempt may have reached Slack, the row stays "unknown" so
        # whoever tries next looks at the history first, also after a pause is lifted.
        status = "unknown" if retryable_unknown else "failed"
        if code in CHANNEL_ERRORS:
            self._release(claim, status, code, pause_reason=code, sub=sub)
            log.warning("digest for %s/%s paused: Slack said %s", sub.team_id, sub.channel_id, code)
            outcome.status = "paused"
            return outcome
        self._release(claim, status, code)
        log.error("digest for %s/%s: Slack said %s", sub.team_id, sub.channel_id, code)
        outcome.status = status
        return outcome

    # ------------------------------------------------------------------ reconciliation

    def _call(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        """A read-only API call with our own 429 handling (Retry-After, bounded)."""
        for attempt in range(self.max_rate_limit_retries + 1):
            try:
                return method(**kwargs)
            except SlackApiError as exc:
                limited = _status_code(exc) == 429 or _error_code(exc) == "ratelimited"
                if not limited or attempt == self.max_rate_limit_retries:
                    if _status_code(exc) >= 500:
                        raise _Ambiguous(_error_code(exc)) from exc
                    raise
                self.sleep(_retry_after(exc))
        raise AssertionError("unreachable")

    def _find_posted(self, channel: str, day: date, since: datetime) -> str | None:
        """ts of our digest for ``day`` in channel history since ``since`` (less a margin)."""
        oldest = f"{(since - self.reconcile_margin).timestamp():.6f}"
        cursor: str | None = None
        for _page in range(10):
            kwargs: dict[str, Any] = {
                "channel": channel,
                "oldest": oldest,
                "include_all_metadata": True,
                "limit": 200,
            }
            if cursor:
                kwargs["cursor"] = cursor
            response = self._call(self.client.conversations_history, **kwargs)
            for message in response.get("messages") or []:
                meta = message.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == EVENT_TYPE and payload.get("local_date") == str(day):
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor or not response.get("has_more"):
                return None
        return None

    # ------------------------------------------------------------------ ledger

    def _claim(
        self, sub: DigestSubscription, day: date, pick: RotationPick, run_id: str
    ) -> _Claim | None:
        """Insert the ledger row, or take over a stale one; None when someone else has it."""
        now = self.clock()
        key = (
            (DigestDelivery.team_id == sub.team_id)
            & (DigestDelivery.channel_id == sub.channel_id)
            & (DigestDelivery.local_date == day)
        )
        with self.engine.begin() as connection:
            inserted = connection.execute(
                self._insert(DigestDelivery)
                .values(
                    team_id=sub.team_id,
                    channel_id=sub.channel_id,
                    local_date=day,
                    status="claimed",
                    claim_ids=pick.claim_ids,
                    claim_cycles=list(pick.cycles),
                    run_id=run_id,
                    attempts=1,
                    claimed_at=now,
                    claimed_by=self.runner_id,
                    lease_until=now + self.lease,
                )
                .on_conflict_do_nothing(index_elements=["team_id", "channel_id", "local_date"])
                .returning(DigestDelivery.id)
            ).first()
            if inserted is not None:
                return _Claim(inserted[0], 1, now, None, (), ())
            row = connection.execute(select(DigestDelivery.__table__).where(key)).one()
            if row.status == "posted" or row.attempts >= self.max_attempts:
                return None
            if row.status == "claimed" and row.lease_until > now:
                return None
            taken = connection.execute(
                update(DigestDelivery)
                .where(
                    DigestDelivery.id == row.id,
                    DigestDelivery.attempts == row.attempts,
                    DigestDelivery.status == row.status,
                )
                .values(
                    status="claimed",
                    attempts=row.attempts + 1,
                    claimed_by=self.runner_id,
                    lease_until=now + self.lease,
                    run_id=run_id,
                    claim_ids=pick.claim_ids,
                    claim_cycles=list(pick.cycles),
                )
            )
            if taken.rowcount != 1:
                return None
        log.info(
            "took over digest %s/%s %s (was %s, attempt %d)",
            sub.team_id,
            sub.channel_id,
            day,
            row.status,
            row.attempts + 1,
        )
        return _Claim(
            row.id,
            row.attempts + 1,
            row.claimed_at,
            row.status,
            tuple(row.claim_ids or ()),
            tuple(row.claim_cycles or ()),
        )

    def _fenced(self, claim: _Claim) -> Any:
        return and_(
            DigestDelivery.id == claim.row_id,
            DigestDelivery.attempts == claim.attempt,
            DigestDelivery.claimed_by == self.runner_id,
            DigestDelivery.status == "claimed",
        )

    def _renew(self, claim: _Claim, extra: timedelta = timedelta(0)) -> bool:
        """Extend our lease; False if the row is no longer ours (then we must not post)."""
        with self.engine.begin() as connection:
            result = connection.execute(
                update(DigestDelivery)
                .where(self._fenced(claim))
                .values(lease_until=self.clock() + self.lease + extra)
            )
        if result.rowcount != 1:
            log.warning("lost the lease on digest row %d; not posting", claim.row_id)
        return result.rowcount == 1

    def _mark_posted(
        self,
        claim: _Claim,
        sub: DigestSubscription,
        day: date,
        ts: str,
        claim_ids: Sequence[str],
        cycles: Sequence[int],
    ) -> bool:
        now = self.clock()
        with self.engine.begin() as connection:
            result = connection.execute(
                update(DigestDelivery)
                .where(self._fenced(claim))
                .values(
                    status="posted",
                    message_ts=ts,
                    posted_at=now,
                    lease_until=now,
                    claim_ids=list(claim_ids),
                    claim_cycles=list(cycles),
                    error=None,
                )
            )
            if result.rowcount != 1:
                # Someone took the row over; they will find this message by its metadata.
                log.warning("digest row %d was taken over after posting ts=%s", claim.row_id, ts)
                return False
            rows = [
                {
                    "team_id": sub.team_id,
                    "channel_id": sub.channel_id,
                    "local_date": day,
                    "claim_id": claim_id,
                    "cycle": cycle,
                    "sent_at": now,
                }
                for claim_id, cycle in zip(claim_ids, cycles, strict=False)
            ]
            if rows:
                connection.execute(
                    self._insert(DigestSentClaim).values(rows).on_conflict_do_nothing()
                )
        return True

    def _release(
        self,
        claim: _Claim,
        status: str,
        error: str,
        *,
        pause_reason: str | None = None,
        sub: DigestSubscription | None = None,
    ) -> None:
        """Give the row up as ``failed``/``unknown`` (retryable by the next run), maybe pausing."""
        now = self.clock()
        with self.engine.begin() as connection:
            connection.execute(
                update(DigestDelivery)
                .where(self._fenced(claim))
                .values(status=status, error=error[:2000], lease_until=now)
            )
            if pause_reason is not None and sub is not None:
                self._pause_in(connection, sub, pause_reason, now)

    def _pause(self, sub: DigestSubscription, reason: str) -> None:
        with self.engine.begin() as connection:
            self._pause_in(connection, sub, reason, self.clock())
        log.warning("digest for %s/%s paused: %s", sub.team_id, sub.channel_id, reason)

    @staticmethod
    def _pause_in(
        connection: Connection, sub: DigestSubscription, reason: str, now: datetime
    ) -> None:
        connection.execute(
            update(DigestSubscription)
            .where(
                DigestSubscription.team_id == sub.team_id,
                DigestSubscription.channel_id == sub.channel_id,
            )
            .values(paused_reason=reason, paused_at=now, updated_at=now)
        )


def _key(item: _Due) -> tuple[str, str, date]:
    return (item.sub.team_id, item.sub.channel_id, item.local_date)


def plain_render(
    claims: Sequence[Claim], local_date: date, timezone: str
) -> tuple[str, list[dict[str, Any]]]:
    """A text-only renderer for ``--dry-run`` and tests; the app injects the Block Kit one."""
    lines = [f"AI race digest for {local_date:%A %d %B %Y}"]
    lines += [f"• {claim.title} ({claim.id})" for claim in claims]
    lines.append("Discuss in the thread.")
    return "\n".join(lines), []


__all__ = [
    "CHANNEL_ERRORS",
    "EVENT_TYPE",
    "DigestRunner",
    "Outcome",
    "Renderer",
    "RunReport",
    "StoreProvider",
    "client_without_retries",
    "load_rotation_history",
    "plain_render",
    "preview_pick",
    "rendered",
]
