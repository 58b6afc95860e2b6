"""When a digest is due, computed in the subscription's own time zone (pure functions).

Why local time everywhere: a UTC cron sends Saturday mail to Brisbane, and a
fixed UTC offset drifts by an hour twice a year. Rules, in local time:

* ``weekdays`` means Monday–Friday *where the channel is*; ``daily`` every day.
* A local time that does not exist (02:30 on a spring-forward day) resolves
  forward by the length of the gap (02:30 → 03:30), and one that occurs twice
  (02:30 on a fall-back day) means the first occurrence. Both follow from
  PEP 495's ``fold=0``, so the digest neither disappears nor comes twice.
* Only *today's* local date can be due. Missed days are never caught up: a
  runner that was down for three days posts one digest, today's, if it is
  still today where the channel is.
* A slot that passed before the schedule was set (``since``: the
  subscription was made, changed or resumed) is missed too: subscribing at
  03:08 in Tokyo to a 00:00 digest means tomorrow's, not today's at once.
  :func:`next_digest` applies the same rule, so what ``digest on`` and
  ``digest status`` announce is what the runner does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.digest.kinds import Days

DAYS_RULES = tuple(Days)
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


class HasSchedule(Protocol):
    """Anything with a subscription's schedule fields (the ORM row, a config entry, a spec)."""

    @property
    def time(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def days(self) -> str: ...


@dataclass(frozen=True)
class ScheduleSpec:
    """A plain schedule, for callers without a database row (previews, tests).

    Its defaults are *the* default schedule (:data:`DEFAULT_SCHEDULE`): new
    subscriptions, digest.yaml entries and previews all read them from here.
    """

    time: str = "09:00"
    timezone: str = "UTC"
    days: str = Days.WEEKDAYS


DEFAULT_SCHEDULE = ScheduleSpec()


def parse_hhmm(value: str) -> time:
    """``"9:00"``/``"09:00"`` → ``time(9, 0)``; ValueError for anything else (``"25:00"``)."""
    match = _HHMM.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a time of day in HH:MM form")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"{value!r} is not a time of day (00:00 to 23:59)")
    return time(hour, minute)


def local_time(sub: HasSchedule, instant: datetime) -> datetime:
    """``instant`` on the subscription's wall clock, for showing to people."""
    return instant.astimezone(load_zone(sub.timezone))


def format_hhmm(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def load_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError (not a bare KeyError) when unknown."""
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _allowed(day: date, rule: str) -> bool:
    if rule == "daily":
        return True
    if rule == "weekdays":
        return day.weekday() < 5
    raise ValueError(f"unknown days rule {rule!r} (use one of {', '.join(DAYS_RULES)})")


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be time-zone aware")


def scheduled_at(sub: HasSchedule, day: date) -> datetime:
    """The instant of the digest on local ``day``, as an aware UTC datetime.

    ``fold=0`` gives forward resolution in gaps (02:30 → 03:30) and the first
    occurrence in overlaps. UTC, not the local zone, is returned on purpose:
    PEP 495 makes ``==`` between an ambiguous local time and any other zone
    always False, a trap for callers; use ``.astimezone(zone)`` to display.
    """
    zone = load_zone(sub.timezone)
    wall = datetime.combine(day, parse_hhmm(sub.time), tzinfo=zone).replace(fold=0)
    return wall.astimezone(UTC)


def local_day_start(sub: HasSchedule, day: date) -> datetime:
    """Midnight of ``day`` where the channel is, in UTC: no digest for ``day`` is older."""
    return datetime.combine(day, time(0, 0), tzinfo=load_zone(sub.timezone)).astimezone(UTC)


def local_date_due(sub: HasSchedule, now: datetime, since: datetime | None = None) -> date | None:
    """Today's local date if the digest for it is due at ``now``, else None.

    Due means: today (local) is an allowed day, the scheduled time has
    passed, and it came no earlier than ``since`` (when the schedule was
    set; None: no such bound). Never an earlier date — that is what stops
    catch-up floods.
    """
    _require_aware(now)
    zone = load_zone(sub.timezone)
    today = now.astimezone(zone).date()
    if not _allowed(today, sub.days):
        return None
    at = scheduled_at(sub, today)
    if since is not None and at < since:
        return None
    return today if now >= at else None


def next_digest(
    sub: HasSchedule,
    now: datetime,
    since: datetime | None = None,
    delivered: date | None = None,
) -> datetime:
    """The slot of the next digest the runner will post (aware UTC): the one rule for people.

    Today's slot when it is due (:func:`local_date_due`) and today's digest
    (``delivered``: the last delivered local date) is not out yet — it goes
    out at the runner's next check; otherwise the first slot after ``now``
    and after ``since``.
    """
    due = local_date_due(sub, now, since)
    if due is not None and due != delivered:
        return scheduled_at(sub, due)
    upcoming = next_run(sub, now if since is None else max(now, since))
    if delivered is not None and local_time(sub, upcoming).date() <= delivered:
        upcoming = next_run(sub, upcoming)  # today's is out already (a later time set since)
    return upcoming


def next_run(sub: HasSchedule, now: datetime) -> datetime:
    """The next scheduled instant strictly after ``now`` (aware UTC; see :func:`scheduled_at`)."""
    _require_aware(now)
    zone = load_zone(sub.timezone)
    today = now.astimezone(zone).date()
    for offset in range(8):
        day = today + timedelta(days=offset)
        if _allowed(day, sub.days):
            at = scheduled_at(sub, day)
            if at > now:
                return at
    raise AssertionError("unreachable: every rule allows a day within a week")
