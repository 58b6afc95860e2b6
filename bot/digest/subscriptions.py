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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Engine, delete, select
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
    next_run,
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
) -> DigestSubscription:
    """Create or update the channel's subscription (``digest on``) and clear any pause.

    Fields left as None keep their current value on an existing subscription
    and take the defaults (09:00, UTC, weekdays, 3 claims) on a new one;
    ``topics`` is left alone unless given (``None`` or ``[]`` clears it).
    """
    hhmm = format_hhmm(parse_hhmm(time)) if time is not None else None
    if timezone is not None:
        load_zone(timezone)
    if days is not None and days not in DAYS_RULES:
        raise ValueError(f"days must be one of {', '.join(DAYS_RULES)}")
    if claims_per_digest is not None and not 1 <= claims_per_digest <= MAX_CLAIMS_PER_DIGEST:
        raise ValueError(f"claims per digest must be 1 to {MAX_CLAIMS_PER_DIGEST}")
    clean_topics: list[str] | NotGiven | None = NOT_GIVEN
    if topics is not NOT_GIVEN:
        clean_topics = sorted({*topics}) if topics else None
    for attempt in range(2):
        try:
            with open_session(engine) as session, session.begin():
                row = session.scalars(
                    select(DigestSubscription).where(_key(team_id, channel_id))
                ).first()
                if row is None:
                    row = DigestSubscription(
                        team_id=team_id,
                        channel_id=channel_id,
                        time=hhmm or DEFAULT_SCHEDULE.time,
                        timezone=timezone or DEFAULT_SCHEDULE.timezone,
                        days=days or DEFAULT_SCHEDULE.days,
                        claims_per_digest=claims_per_digest or DEFAULT_CLAIMS_PER_DIGEST,
                        topics=None if clean_topics is NOT_GIVEN else clean_topics,
                        created_by=created_by,
                        source=Source.SLACK.value,
                    )
                    session.add(row)
                else:
                    if hhmm is not None:
                        row.time = hhmm
                    if timezone is not None:
                        row.timezone = timezone
                    if days is not None:
                        row.days = days
                    if claims_per_digest is not None:
                        row.claims_per_digest = claims_per_digest
                    if clean_topics is not NOT_GIVEN:
                        row.topics = clean_topics
                    row.paused_reason = None
                    row.paused_at = None
                    row.updated_at = utcnow()
            return row
        except IntegrityError:
            # Two people ran `digest on` in the same channel at once: the other
            # insert won; apply ours as an update of that row.
            if attempt:
                raise
    raise AssertionError("unreachable")


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


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class DigestStatus:
    """What ``digest status`` shows: schedule, next run (local), last delivery or pause reason."""

    subscription: DigestSubscription
    next_run: datetime | None  # aware UTC; None while paused
    last_delivery_date: date | None
    last_posted_at: datetime | None


def digest_status(
    engine: Engine, team_id: str, channel_id: str, now: datetime | None = None
) -> DigestStatus | None:
    sub = get_subscription(engine, team_id, channel_id)
    if sub is None:
        return None
    when = now or utcnow()
    upcoming = None if sub.paused_reason else next_run(sub, when)
    last = last_delivery(engine, team_id, channel_id)
    return DigestStatus(
        subscription=sub,
        next_run=upcoming,
        last_delivery_date=last.local_date if last else None,
        last_posted_at=last.posted_at if last else None,
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


def planned_subscriptions(
    rows: Sequence[DigestSubscription], entries: Sequence[ConfigSubscription]
) -> list[DigestSubscription]:
    """The rows :func:`sync_config_subscriptions` would leave, computed without writing.

    For ``digest run --dry-run``, which must show what a real run would do
    with the current digest.yaml and change nothing.
    """
    wanted = {(e.team or "", e.channel): e for e in entries}
    by_key = {(row.team_id, row.channel_id): row for row in rows}
    kept = [
        row
        for key, row in by_key.items()
        if key not in wanted and row.source != Source.CONFIG
    ]
    for (team, channel), entry in wanted.items():
        old = by_key.get((team, channel))
        kept.append(
            DigestSubscription(
                team_id=team,
                channel_id=channel,
                paused_reason=old.paused_reason if old is not None else None,
                **_config_values(entry),
            )
        )
    return sorted(kept, key=lambda row: (row.team_id, row.channel_id))


def sync_config_subscriptions(engine: Engine, entries: Sequence[ConfigSubscription]) -> SyncResult:
    """Make the ``source='config'`` rows match ``entries`` (declarative, in one transaction).

    Config wins over a Slack-made subscription of the same channel. Pauses are
    kept: a channel paused because the bot was removed stays paused until
    someone runs ``digest on`` there.
    """
    created = updated = 0
    wanted = {(e.team or "", e.channel): e for e in entries}
    with open_session(engine) as session, session.begin():
        existing = {
            (row.team_id, row.channel_id): row
            for row in session.scalars(select(DigestSubscription))
        }
        for (team, channel), entry in wanted.items():
            row = existing.get((team, channel))
            values = _config_values(entry)
            if row is None:
                session.add(DigestSubscription(team_id=team, channel_id=channel, **values))
                created += 1
            elif any(getattr(row, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(row, k, v)
                row.updated_at = utcnow()
                updated += 1
        stale = [
            key
            for key, row in existing.items()
            if row.source == Source.CONFIG and key not in wanted
        ]
        for team, channel in stale:
            session.execute(delete(DigestSubscription).where(_key(team, channel)))
    return SyncResult(created=created, updated=updated, removed=len(stale))
