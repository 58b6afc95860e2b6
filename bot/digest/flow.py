"""The delivery protocol for one leased ledger row, as a generator of actions.

Modelled on httpx's ``Auth.auth_flow``: :func:`delivery_flow` *yields* what
must happen next (renew the lease, post, sleep, read the history, record the
result) and is *sent* each action's answer; it does no I/O, so the whole
protocol — every retry branch included — can be stepped through in a unit
test with plain values. :class:`bot.digest.runner.DigestRunner` drives it
against the real ledger and Slack.

The protocol (see :mod:`bot.digest.runner` for why it gives exactly-once):

1. A row taken over from a runner that crashed (``claimed``) or lost Slack's
   answer (``unknown``), and a new row (the day had none: perhaps the
   database was lost), is first looked up in the channel's history; if the
   digest is there it is recorded, not posted again. For a new row a history
   read Slack refuses for a reason other than the channel's is no reason to
   withhold the digest: it is posted.
2. Before every post the lease is renewed; a runner that cannot renew stops
   (``lost_lease``).
3. 429 → renew for the wait, sleep ``Retry-After``, retry (bounded);
   connection refused → back off and retry (it never reached Slack);
   5xx/timeout/reset → back off, read the history, and only then retry
   (bounded), else give the row back as ``unknown``; any other refusal →
   ``failed`` (or ``paused`` for channel errors).

The retry bounds are small policy objects in the style of slack_sdk's
``http_retry`` handlers, with its interval calculators.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter

from bot.digest.kinds import DeliveryStatus, OutcomeStatus
from bot.digest.poster import (
    Ambiguous,
    FindResult,
    Found,
    Posted,
    PostResult,
    RateLimited,
    Rejected,
    Unreached,
)

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


# ---------------------------------------------------------------- actions


@dataclass(frozen=True)
class Renew:
    """Extend the lease (by ``extra`` seconds more than usual); answered with a bool."""

    extra: float = 0.0


@dataclass(frozen=True)
class Post:
    """Make one paced post attempt; answered with a :data:`PostResult`."""


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class FindPosted:
    """Read the channel history for this digest; answered with a :data:`FindResult`."""


@dataclass(frozen=True)
class MarkPosted:
    """Record the delivery (fenced); the answer is ignored (a taker-over finds the message)."""

    ts: str
    claim_ids: tuple[str, ...]
    cycles: tuple[int, ...]


@dataclass(frozen=True)
class Release:
    """Give the row back as ``failed``/``unknown``, pausing the subscription if ``pause``."""

    status: DeliveryStatus
    error: str
    pause: str | None = None


Action = Renew | Post | Sleep | FindPosted | MarkPosted | Release


@dataclass(frozen=True)
class Finished:
    """The flow's return value: what the run reports for this channel."""

    status: OutcomeStatus
    ts: str | None = None
    error: str | None = None
    claim_ids: tuple[str, ...] | None = None  # set when a reconciled digest carried others


# ---------------------------------------------------------------- retry policy


class NoJitter(Jitter):
    """Exact back-off intervals: the runner's waits are few and must be predictable."""

    def recalculate(self, duration: float) -> float:
        return duration


@dataclass
class RetryState:
    """Counters for one row's post attempts (slack_sdk's ``RetryState``, per kind of failure)."""

    rate_limited: int = 0
    server_errors: int = 0
    maybe_posted: bool = False  # an ambiguous failure happened: later give-ups are "unknown"


@dataclass(frozen=True)
class RateLimitRetry:
    """429: wait what Slack asks, at most ``max_retry_count`` times."""

    max_retry_count: int = 8

    def can_retry(self, state: RetryState) -> bool:
        return state.rate_limited < self.max_retry_count


@dataclass(frozen=True)
class ServerErrorRetry:
    """Refused connections and 5xx/timeouts: exponential back-off, bounded."""

    max_retry_count: int = 3
    interval_calculator: RetryIntervalCalculator = field(
        default_factory=lambda: BackoffRetryIntervalCalculator(1.0, NoJitter())
    )

    def can_retry(self, state: RetryState) -> bool:
        return state.server_errors < self.max_retry_count

    def interval(self, attempt: int) -> float:
        return self.interval_calculator.calculate_sleep_duration(attempt)


@dataclass(frozen=True)
class RetryPolicy:
    rate_limit: RateLimitRetry = field(default_factory=RateLimitRetry)
    server_error: ServerErrorRetry = field(default_factory=ServerErrorRetry)

    @classmethod
    def build(
        cls, max_rate_limit_retries: int, max_server_retries: int, backoff: float
    ) -> RetryPolicy:
        calculator = BackoffRetryIntervalCalculator(backoff, NoJitter())
        return cls(
            RateLimitRetry(max_rate_limit_retries),
            ServerErrorRetry(max_server_retries, calculator),
        )


# ---------------------------------------------------------------- the flow

Flow = Generator[Action, Any, Finished]


@dataclass(frozen=True)
class Delivery:
    """The plain facts the flow decides on (no rows, no clients)."""

    previous_status: str | None  # the row's status before we took it over; None if new
    previous_claim_ids: tuple[str, ...]
    previous_cycles: tuple[int, ...]
    claim_ids: tuple[str, ...]  # what this run picked
    cycles: tuple[int, ...]


def delivery_flow(delivery: Delivery, policy: RetryPolicy) -> Flow:
    """Take a freshly leased row to its end: reconciled, posted, or given back."""
    if delivery.previous_status in (None, DeliveryStatus.CLAIMED, DeliveryStatus.UNKNOWN):
        fresh = delivery.previous_status is None
        done = yield from _reconcile(
            delivery.previous_claim_ids, delivery.previous_cycles, fresh=fresh
        )
        if done is not None:
            return done
    if not delivery.claim_ids:
        yield Release(DeliveryStatus.FAILED, "no eligible claims")
        return Finished(OutcomeStatus.EMPTY)
    return (yield from _post(delivery, policy))


def _post(delivery: Delivery, policy: RetryPolicy) -> Flow:
    state = RetryState()
    while True:
        if not (yield Renew()):
            return Finished(OutcomeStatus.LOST_LEASE)
        result: PostResult = yield Post()
        if isinstance(result, Posted):
            yield MarkPosted(result.ts, delivery.claim_ids, delivery.cycles)
            return Finished(OutcomeStatus.POSTED, ts=result.ts)
        if isinstance(result, RateLimited):
            if not policy.rate_limit.can_retry(state):
                status = DeliveryStatus.UNKNOWN if state.maybe_posted else DeliveryStatus.FAILED
                yield Release(status, "ratelimited")
                return Finished(OutcomeStatus(status), error="ratelimited")
            state.rate_limited += 1
            yield Renew(extra=result.delay)
            yield Sleep(result.delay)
            continue
        if isinstance(result, Rejected):
            return (yield from _refused(result.code, maybe_posted=state.maybe_posted))
        if isinstance(result, Unreached) and policy.server_error.can_retry(state):
            state.server_errors += 1  # never reached Slack: plain retry, nothing to reconcile
            yield Sleep(policy.server_error.interval(state.server_errors - 1))
            continue
        # The post may have reached Slack: back off, look, and only then retry.
        if not policy.server_error.can_retry(state):
            yield Release(DeliveryStatus.UNKNOWN, result.error)
            return Finished(OutcomeStatus.UNKNOWN, error=result.error)
        state.server_errors += 1
        state.maybe_posted = True
        yield Renew(extra=policy.server_error.interval(state.server_errors))
        yield Sleep(policy.server_error.interval(state.server_errors - 1))
        done = yield from _reconcile(delivery.claim_ids, delivery.cycles)
        if done is not None:
            return done


def _reconcile(
    claim_ids: Sequence[str], cycles: Sequence[int], *, fresh: bool = False
) -> Generator[Action, Any, Finished | None]:
    """Look for the digest before posting (again); None when posting is safe.

    ``fresh``: the day had no ledger row, so nothing of ours is known to be in
    flight; a refused read (say a missing history scope) then lets the post go
    ahead, while a channel error still pauses.
    """
    found: FindResult = yield FindPosted()
    if isinstance(found, Rejected):
        if fresh and found.code not in CHANNEL_ERRORS:
            return None
        return (yield from _refused(found.code, maybe_posted=not fresh))
    if isinstance(found, Ambiguous):
        yield Release(DeliveryStatus.UNKNOWN, f"reconcile failed: {found.error}")
        return Finished(OutcomeStatus.UNKNOWN, error=found.error)
    assert isinstance(found, Found)
    if found.ts is None:
        return None
    yield MarkPosted(found.ts, tuple(claim_ids), tuple(cycles))
    return Finished(OutcomeStatus.RECONCILED, ts=found.ts, claim_ids=tuple(claim_ids))


def _refused(code: str, *, maybe_posted: bool) -> Flow:
    """A definite answer from Slack that is not success: pause, or record and move on.

    While an earlier attempt may have reached Slack, the row stays ``unknown``
    so whoever tries next looks at the history first, also after a pause is lifted.
    """
    status = DeliveryStatus.UNKNOWN if maybe_posted else DeliveryStatus.FAILED
    if code in CHANNEL_ERRORS:
        yield Release(status, code, pause=code)
        return Finished(OutcomeStatus.PAUSED, error=code)
    yield Release(status, code)
    return Finished(OutcomeStatus(status), error=code)


__all__ = [
    "CHANNEL_ERRORS",
    "TEAM_ERRORS",
    "Action",
    "Delivery",
    "FindPosted",
    "Finished",
    "Flow",
    "MarkPosted",
    "Post",
    "RateLimitRetry",
    "Release",
    "Renew",
    "RetryPolicy",
    "RetryState",
    "ServerErrorRetry",
    "Sleep",
    "delivery_flow",
]
