"""Digest subscriptions: made in Slack (``/ai-race digest on``) or declared in config/digest.yaml.

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
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.problems import Problem, StoreError
from bot.core.yamlfile import YamlSyntaxError, read_yaml
from bot.digest.schedule import (
    DAYS_RULES,
    format_hhmm,
    load_zone,
    local_time,
    next_run,
    parse_hhmm,
)
from bot.state.models import DigestDelivery, DigestSubscription, utcnow

log = logging.getLogger(__name__)

DEFAULT_TIME = "09:00"
DEFAULT_DAYS = "weekdays"
DEFAULT_TIMEZONE = "UTC"
DEFAULT_CLAIMS_PER_DIGEST = 3
MAX_CLAIMS_PER_DIGEST = 10  # keeps a digest short and well inside Slack's 50-block limit
REPO_CONFIG = Path(__file__).resolve().parents[2] / "config" / "digest.yaml"
_UNSET: Any = object()

PAUSE_HELP = {
    "channel_not_found": "Slack cannot find this channel (deleted, or the app lost access).",
    "not_in_channel": "the app is not a member of this channel — invite it, then run "
    "`/ai-race digest on`.",
    "is_archived": "the channel is archived — unarchive it, then run `/ai-race digest on`.",
    "account_inactive": "the app's Slack account is deactivated — reinstall the app.",
    "invalid_auth": "the app's token was rejected — reinstall the app.",
    "token_revoked": "the app's token was revoked — reinstall the app.",
    "off": "turned off with `/ai-race digest off` (it is declared in config/digest.yaml; "
    "remove it there to delete it, or run `/ai-race digest on` to resume).",
}


def default_config_path() -> Path:
    """``$AI_RACE_DIGEST_CONFIG`` if set, else ``config/digest.yaml`` of this checkout."""
    configured = os.environ.get("AI_RACE_DIGEST_CONFIG", "").strip()
    return Path(configured) if configured else REPO_CONFIG


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
    topics: Sequence[str] | None = _UNSET,
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
    clean_topics = _UNSET if topics is _UNSET else (sorted({*topics}) if topics else None)
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
                        time=hhmm or DEFAULT_TIME,
                        timezone=timezone or DEFAULT_TIMEZONE,
                        days=days or DEFAULT_DAYS,
                        claims_per_digest=claims_per_digest or DEFAULT_CLAIMS_PER_DIGEST,
                        topics=None if clean_topics is _UNSET else clean_topics,
                        created_by=created_by,
                        source="slack",
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
                    if clean_topics is not _UNSET:
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
        if row.source == "config":
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
            DigestDelivery.status == "posted",
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

    def describe(self) -> str:
        sub = self.subscription
        days = "weekdays (Mon–Fri)" if sub.days == "weekdays" else "every day"
        topics = f", topics: {', '.join(sub.topics)}" if sub.topics else ""
        origin = " (declared in config/digest.yaml)" if sub.source == "config" else ""
        lines = [
            f"Daily digest{origin}: {sub.time} {sub.timezone}, {days}, "
            f"{sub.claims_per_digest} claim{'s' if sub.claims_per_digest != 1 else ''}{topics}."
        ]
        if sub.paused_reason:
            why = PAUSE_HELP.get(sub.paused_reason, sub.paused_reason)
            since = f" since {sub.paused_at:%Y-%m-%d %H:%M} UTC" if sub.paused_at else ""
            lines.append(f"Paused{since}: {why}")
        elif self.next_run is not None:
            local = local_time(sub, self.next_run)
            lines.append(f"Next digest: {local:%a %d %b %Y, %H:%M %Z}.")
        if self.last_delivery_date is not None:
            lines.append(f"Last delivered: {self.last_delivery_date:%a %d %b %Y}.")
        else:
            lines.append("No digest delivered yet.")
        return "\n".join(lines)


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


def resolve_default_timezone(client: WebClient | None, user_id: str | None) -> str:
    """The user's Slack time zone (``users.info`` → ``tz``), else UTC.

    Any failure (no scope, unknown user, Slack down, a zone this machine does
    not know) falls back to UTC: subscribing must not fail over a default.
    """
    if client is None or not user_id:
        return DEFAULT_TIMEZONE
    try:
        tz = (client.users_info(user=user_id).get("user") or {}).get("tz")
        if isinstance(tz, str) and tz:
            load_zone(tz)
            return tz
    except (SlackApiError, ValueError, OSError) as exc:
        log.info("no time zone for user %s (%s); using UTC", user_id, type(exc).__name__)
    return DEFAULT_TIMEZONE


# --------------------------------------------------------------------------- config file


class ConfigSubscription(BaseModel):
    """One entry of config/digest.yaml (validated strictly: a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    team: str | None = Field(default=None, pattern=r"^[TE][A-Z0-9]+$")
    channel: str = Field(pattern=r"^[CG][A-Z0-9]+$")
    time: str = DEFAULT_TIME
    timezone: str = DEFAULT_TIMEZONE
    days: Literal["weekdays", "daily"] = DEFAULT_DAYS
    claims_per_digest: int = Field(
        default=DEFAULT_CLAIMS_PER_DIGEST, ge=1, le=MAX_CLAIMS_PER_DIGEST
    )
    topics: list[str] | None = None

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads an unquoted 9:30 as the base-60 number 570.
            raise ValueError('YAML read this as a number; quote the time, e.g. time: "09:30"')
        if isinstance(value, str):
            return format_hhmm(parse_hhmm(value))
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        load_zone(value)
        return value

    @field_validator("topics")
    @classmethod
    def _topics(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = sorted({t.strip().lower() for t in value if t.strip()})
        return cleaned or None


class DigestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subscriptions: list[ConfigSubscription] = Field(default_factory=list)


def _loc_text(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def load_digest_config(
    path: Path | None = None,
    *,
    default_team_id: str | None = None,
    require_team: bool = True,
) -> list[ConfigSubscription]:
    """Validate config/digest.yaml; every problem is reported with file, line and field.

    A missing or empty file means no declared subscriptions. Entries without
    ``team`` get ``default_team_id`` (the workspace the token belongs to);
    with ``require_team=False`` they are returned with ``team=None`` so the
    caller can decide whether it needs to ask Slack. Raises
    :class:`StoreError` listing all problems.
    """
    path = path or default_config_path()
    if not path.exists():
        return []
    shown = str(path)
    try:
        doc = read_yaml(path)
    except YamlSyntaxError as exc:
        raise StoreError([Problem(shown, exc.line, "(file)", exc.message)]) from exc
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise StoreError([Problem(shown, 1, "(file)", "must be a mapping with 'subscriptions:'")])
    if data.get("subscriptions") is None:
        data = {**data, "subscriptions": []}
    try:
        config = DigestConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            problems.append(Problem(shown, doc.line_of(loc), _loc_text(loc), message))
        raise StoreError(problems) from exc

    problems = []
    entries: list[ConfigSubscription] = []
    seen: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(config.subscriptions):
        team = entry.team or default_team_id
        if team is None and require_team:
            loc: tuple[str | int, ...] = ("subscriptions", index)
            problems.append(
                Problem(
                    shown,
                    doc.line_of(loc),
                    _loc_text((*loc, "team")),
                    "no team given and the workspace is unknown; add team: T…",
                )
            )
            continue
        key = (team or "", entry.channel)
        if key in seen:
            loc = ("subscriptions", index, "channel")
            problems.append(
                Problem(
                    shown,
                    doc.line_of(loc),
                    _loc_text(loc),
                    f"channel {entry.channel} is already declared in entry {seen[key]}",
                )
            )
            continue
        seen[key] = index
        entries.append(entry.model_copy(update={"team": team}))
    if problems:
        raise StoreError(problems)
    return entries


@dataclass(frozen=True)
class SyncResult:
    created: int
    updated: int
    removed: int


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
            values = {
                "time": entry.time,
                "timezone": entry.timezone,
                "days": entry.days,
                "claims_per_digest": entry.claims_per_digest,
                "topics": entry.topics,
                "source": "config",
            }
            if row is None:
                session.add(DigestSubscription(team_id=team, channel_id=channel, **values))
                created += 1
            elif any(getattr(row, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(row, k, v)
                row.updated_at = utcnow()
                updated += 1
        stale = [
            key for key, row in existing.items() if row.source == "config" and key not in wanted
        ]
        for team, channel in stale:
            session.execute(delete(DigestSubscription).where(_key(team, channel)))
    return SyncResult(created=created, updated=updated, removed=len(stale))
