"""The subscriptions repository: made in Slack (``/ai-race digest on``) or declared in digest.yaml.

Only storage lives here; reading config/digest.yaml is
:mod:`bot.digest.config_file` and what ``digest status`` says is
:mod:`bot.digest.wording`.

One row per (team, channel). Slack-made subscriptions belong to the channel;
config-declared ones belong to the operator and are re-synced at every start
(``source='config'``): an entry removed from the file is removed from the
database, and ``/ai-race digest off`` on a config-declared channel pauses it
instead of deleting it (the next sync would otherwise bring it straight back).

A subscription is *paused* (``paused_reason``) when Slack says the channel
cannot receive posts (bot removed, channel archived, token revoked). The
reason is shown by ``digest status`` so people know why the digest stopped;
``digest on`` clears it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.digest.config_file import (
    DEFAULT_CLAIMS_PER_DIGEST,
    MAX_CLAIMS_PER_DIGEST,
    ConfigSubscription,
)
from bot.digest.kinds import NOT_GIVEN, DeliveryStatus, NotGiven, Source
from bot.digest.schedule import (
    DAYS_RULES,
    DEFAULT_SCHEDULE,
    format_hhmm,
    load_zone,
    next_digest,
    parse_hhmm,
)
from bot.state.models import DigestDelivery, DigestSubscription, utcnow

log = logging.getLogger(__name__)


def open_session(engine: Engine) -> Session:
    """A session whose rows stay readable after it closes (``expire_on_commit=False``)."""
    # Rows are handed to callers after the session closes; expiring them would
    # make every attribute access a DetachedInstanceError.
    return Session(engine, expire_on_commit=False)


def _key(team_id: str, channel_id: str) -> Any:
    return (DigestSubscription.team_id == team_id) & (DigestSubscription.channel_id == channel_id)


def get_subscription(engine: Engine, team_id: str, channel_id: str) -> DigestSubscription | None:
    with open_session(engine) as session:
        return session.scalars(select(DigestSubscription).where(_key(team_id, channel_id))).first()


def list_subscriptions(engine: Engine, *, active_only: bool = False) -> list[DigestSubscription]:
    """All subscriptions (or only unpaused ones), ordered by team and channel."""
    stmt = select(DigestSubscription).order_by(
        DigestSubscription.team_id, DigestSubscription.channel_id
    )
    if active_only:
        stmt = stmt.where(DigestSubscription.paused_reason.is_(None))
    with open_session(engine) as session:
        return list(session.scalars(stmt))


@dataclass(frozen=True)
class _Changes:
    """What ``digest on`` sets; None (or :data:`NOT_GIVEN` for topics) leaves a field alone."""

    time: str | None
    timezone: str | None
    days: str | None
    claims_per_digest: int | None
    topics: list[str] | NotGiven | None

    @classmethod
    def checked(
        cls,
        time: str | None,
        timezone: str | None,
        days: str | None,
        claims_per_digest: int | None,
        topics: Sequence[str] | NotGiven | None,
    ) -> _Changes:
        """Validated and normalised (``9:00`` → ``09:00``, topics sorted); ValueError if not."""
        if timezone is not None:
            load_zone(timezone)
        if days is not None and days not in DAYS_RULES:
            raise ValueError(f"days must be one of {', '.join(DAYS_RULES)}")
        if claims_per_digest is not None and not 1 <= claims_per_digest <= MAX_CLAIMS_PER_DIGEST:
            raise ValueError(f"claims per digest must be 1 to {MAX_CLAIMS_PER_DIGEST}")
        clean_topics: list[str] | NotGiven | None = NOT_GIVEN
        if topics is not NOT_GIVEN:
            clean_topics = sorted({*topics}) if topics else None
        hhmm = format_hhmm(parse_hhmm(time)) if time is not None else None
        return cls(hhmm, timezone, days, claims_per_digest, clean_topics)

    def new_row(self, team_id: str, channel_id: str, created_by: str | None) -> DigestSubscription:
        return DigestSubscription(
            team_id=team_id,
            channel_id=channel_id,
            time=self.time or DEFAULT_SCHEDULE.time,
            timezone=self.timezone or DEFAULT_SCHEDULE.timezone,
            days=self.days or DEFAULT_SCHEDULE.days,
            claims_per_digest=self.claims_per_digest or DEFAULT_CLAIMS_PER_DIGEST,
            topics=None if self.topics is NOT_GIVEN else self.topics,
            created_by=created_by,
            source=Source.SLACK.value,
        )

    def apply(self, row: DigestSubscription) -> None:
        """Set the given fields on ``row`` and lift any pause (``digest on`` resumes)."""
        given = {
            "time": self.time,
            "timezone": self.timezone,
            "days": self.days,
            "claims_per_digest": self.claims_per_digest,
        }
        for name, value in given.items():
            if value is not None:
                setattr(row, name, value)
        if self.topics is not NOT_GIVEN:
            row.topics = self.topics
        row.paused_reason = None
        row.paused_at = None


def subscribe(
    engine: Engine,
    team_id: str,
    channel_id: str,
    *,
    time: str | None = None,
    timezone: str | None = None,
    days: str | None = None,
    claims_per_digest: int | None = None,
    topics: Sequence[str] | NotGiven | None = NOT_GIVEN,
    created_by: str | None = None,
    now: datetime | None = None,
) -> DigestSubscription:
    """Create or update the channel's subscription (``digest on``) and clear any pause.

    Fields left as None keep their current value on an existing subscription
    and take the defaults (09:00, UTC, weekdays, 3 claims) on a new one;
    ``topics`` is left alone unless given (``None`` or ``[]`` clears it).
    ``now`` (default: the clock) is when the schedule starts to count
    (:func:`schedule_anchor`): a slot before it is not caught up.
    """
    changes = _Changes.checked(time, timezone, days, claims_per_digest, topics)
    when = now or utcnow()

    def write(session: Session) -> DigestSubscription:
        row = session.scalars(select(DigestSubscription).where(_key(team_id, channel_id))).first()
        if row is None:
            row = changes.new_row(team_id, channel_id, created_by)
            row.created_at = when
            session.add(row)
        else:
            changes.apply(row)
        row.updated_at = when
        return row

    # Two people ran `digest on` in the same channel at once: the other insert
    # won; ours is applied again, now as an update of that row.
    return _retry_on_conflict(engine, write)


T = TypeVar("T")


def _retry_on_conflict(engine: Engine, write: Callable[[Session], T], attempts: int = 3) -> T:
    """``write`` in one transaction, run again from a fresh read if a concurrent insert won.

    Read-then-insert races on PostgreSQL (read committed): two writers both see
    no row and the later insert hits the unique key. Re-reading after the
    winner committed turns the loser's insert into an update, the same on
    SQLite (where ``BEGIN IMMEDIATE`` already serialises writers).
    """
    for attempt in range(attempts):
        try:
            with open_session(engine) as session, session.begin():
                return write(session)
        except IntegrityError:
            if attempt == attempts - 1:
                raise
            log.info("digest subscriptions: a concurrent writer won; reading again")
    raise AssertionError("unreachable")


def schedule_anchor(sub: Any) -> datetime | None:
    """When the subscription's schedule was last set (made, changed, resumed), if known.

    Slots before it are missed, never caught up (:func:`bot.digest.schedule.local_date_due`).
    """
    return getattr(sub, "updated_at", None) or getattr(sub, "created_at", None)


OffResult = Literal["removed", "paused", "absent"]


def unsubscribe(engine: Engine, team_id: str, channel_id: str) -> OffResult:
    """``digest off``: delete a Slack-made subscription; pause a config-declared one."""
    with open_session(engine) as session, session.begin():
        row = session.scalars(select(DigestSubscription).where(_key(team_id, channel_id))).first()
        if row is None:
            return "absent"
        if row.source == Source.CONFIG:
            row.paused_reason = "off"
            row.paused_at = utcnow()
            return "paused"
        session.delete(row)
        return "removed"


def pause_subscription(
    engine: Engine, team_id: str, channel_id: str, reason: str, *, now: datetime | None = None
) -> bool:
    """Pause with ``reason`` (a Slack error code or "off"); False if there is no subscription."""
    with open_session(engine) as session, session.begin():
        row = session.scalars(select(DigestSubscription).where(_key(team_id, channel_id))).first()
        if row is None:
            return False
        row.paused_reason = reason[:200]
        row.paused_at = now or utcnow()
    log.warning("digest for %s/%s paused: %s", team_id, channel_id, reason)
    return True


def last_delivery(engine: Engine, team_id: str, channel_id: str) -> DigestDelivery | None:
    """The newest posted digest of the channel, if any."""
    stmt = (
        select(DigestDelivery)
        .where(
            DigestDelivery.team_id == team_id,
            DigestDelivery.channel_id == channel_id,
            DigestDelivery.status == DeliveryStatus.POSTED.value,
        )
        .order_by(DigestDelivery.local_date.desc())
        .limit(1)
    )
    with open_session(engine) as session:
        return session.scalars(stmt).first()


def last_delivered_dates(engine: Engine) -> dict[tuple[str, str], date]:
    """Each channel's newest delivered local date (one query, for ``digest list``)."""
    stmt = (
        select(
            DigestDelivery.team_id, DigestDelivery.channel_id, func.max(DigestDelivery.local_date)
        )
        .where(DigestDelivery.status == DeliveryStatus.POSTED.value)
        .group_by(DigestDelivery.team_id, DigestDelivery.channel_id)
    )
    with engine.connect() as connection:
        return {(team, channel): day for team, channel, day in connection.execute(stmt)}


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class DigestStatus:
    """What ``digest status`` shows: schedule, next digest, last delivery or pause reason."""

    subscription: DigestSubscription
    next_run: datetime | None  # aware UTC (see bot.digest.schedule.next_digest); None if paused
    last_delivery_date: date | None
    last_posted_at: datetime | None
    as_of: datetime | None = None  # when this was asked: a next_run before it is due now

    @property
    def due_now(self) -> bool:
        """Today's digest is due and not out yet: it goes at the runner's next check."""
        if self.next_run is None or self.as_of is None:
            return False
        return self.next_run <= self.as_of


def digest_status(
    engine: Engine, team_id: str, channel_id: str, now: datetime | None = None
) -> DigestStatus | None:
    """The channel's status at ``now``, its next digest by the runner's own rule."""
    sub = get_subscription(engine, team_id, channel_id)
    if sub is None:
        return None
    when = now or utcnow()
    last = last_delivery(engine, team_id, channel_id)
    last_date = last.local_date if last else None
    upcoming = None
    if not sub.paused_reason:
        upcoming = next_digest(sub, when, since=schedule_anchor(sub), delivered=last_date)
    return DigestStatus(
        subscription=sub,
        next_run=upcoming,
        last_delivery_date=last_date,
        last_posted_at=last.posted_at if last else None,
        as_of=when,
    )


# --------------------------------------------------------------------------- config sync


@dataclass(frozen=True)
class SyncResult:
    created: int
    updated: int
    removed: int


def _config_values(entry: ConfigSubscription) -> dict[str, Any]:
    return {
        "time": entry.time,
        "timezone": entry.timezone,
        "days": entry.days.value,
        "claims_per_digest": entry.claims_per_digest,
        "topics": entry.topics,
        "source": Source.CONFIG.value,
    }


def _differs(row: DigestSubscription, values: dict[str, Any]) -> bool:
    return any(getattr(row, k) != v for k, v in values.items())


def planned_subscriptions(
    rows: Sequence[DigestSubscription],
    entries: Sequence[ConfigSubscription],
    now: datetime | None = None,
) -> list[DigestSubscription]:
    """The rows :func:`sync_config_subscriptions` would leave at ``now``, computed without writing.

    For ``digest run --dry-run``, which must show what a real run would do
    with the current digest.yaml and change nothing — including when each
    schedule starts to count (a new or changed entry: ``now``).
    """
    when = now or utcnow()
    wanted = {(e.team or "", e.channel): e for e in entries}
    by_key = {(row.team_id, row.channel_id): row for row in rows}
    kept = [row for key, row in by_key.items() if key not in wanted and row.source != Source.CONFIG]
    for (team, channel), entry in wanted.items():
        old = by_key.get((team, channel))
        values = _config_values(entry)
        same = old is not None and not _differs(old, values)
        kept.append(
            DigestSubscription(
                team_id=team,
                channel_id=channel,
                paused_reason=old.paused_reason if old is not None else None,
                created_at=old.created_at if old is not None else when,
                updated_at=old.updated_at if same and old is not None else when,
                **values,
            )
        )
    return sorted(kept, key=lambda row: (row.team_id, row.channel_id))


def sync_config_subscriptions(
    engine: Engine, entries: Sequence[ConfigSubscription], now: datetime | None = None
) -> SyncResult:
    """Make the ``source='config'`` rows match ``entries`` (declarative, in one transaction).

    Config wins over a Slack-made subscription of the same channel. Pauses are
    kept: a channel paused because the bot was removed stays paused until
    someone runs ``digest on`` there. Idempotent under concurrency: runners
    started together may all sync; a lost insert race is re-read and
    applied as an update (:func:`_retry_on_conflict`), never an error.
    """
    when = now or utcnow()
    wanted = {(e.team or "", e.channel): e for e in entries}

    def write(session: Session) -> SyncResult:
        existing = {
            (r.team_id, r.channel_id): r for r in session.scalars(select(DigestSubscription))
        }
        created = updated = 0
        for (team, channel), entry in wanted.items():
            row, values = existing.get((team, channel)), _config_values(entry)
            if row is None:
                session.add(
                    DigestSubscription(
                        team_id=team, channel_id=channel, created_at=when, updated_at=when, **values
                    )
                )
                created += 1
            elif _differs(row, values):
                for k, v in values.items():
                    setattr(row, k, v)
                row.updated_at = when
                updated += 1
        stale = [k for k, r in existing.items() if r.source == Source.CONFIG and k not in wanted]
        for team, channel in stale:
            session.execute(delete(DigestSubscription).where(_key(team, channel)))
        return SyncResult(created=created, updated=updated, removed=len(stale))

    return _retry_on_conflict(engine, write)
