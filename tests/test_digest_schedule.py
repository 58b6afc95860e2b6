"""Due dates and next runs in local time, across DST changes and weekends (frozen clocks)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.digest.schedule import (
    ScheduleSpec,
    load_zone,
    local_date_due,
    next_run,
    parse_hhmm,
    scheduled_at,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "day", "hhmm", "expected_utc"),
    [
        # 09:00 follows the wall clock: 08:00 UTC in winter, 07:00 UTC from the change on.
        (BERLIN, date(2026, 3, 28), "09:00", utc(2026, 3, 28, 8, 0)),
        (BERLIN, date(2026, 3, 29), "09:00", utc(2026, 3, 29, 7, 0)),
        (BERLIN, date(2026, 10, 25), "09:00", utc(2026, 10, 25, 8, 0)),
        # 02:30 does not exist on spring-forward day: resolved forward to 03:30 CEST.
        (BERLIN, date(2026, 3, 29), "02:30", utc(2026, 3, 29, 1, 30)),
        # 02:30 happens twice on fall-back day: the first one (CEST, +02:00).
        (BERLIN, date(2026, 10, 25), "02:30", utc(2026, 10, 25, 0, 30)),
        (NEW_YORK, date(2026, 3, 8), "09:00", utc(2026, 3, 8, 13, 0)),
        (NEW_YORK, date(2026, 3, 7), "09:00", utc(2026, 3, 7, 14, 0)),
        (NEW_YORK, date(2026, 3, 8), "02:30", utc(2026, 3, 8, 7, 30)),
        (NEW_YORK, date(2026, 11, 1), "01:30", utc(2026, 11, 1, 5, 30)),
        (NEW_YORK, date(2026, 11, 1), "09:00", utc(2026, 11, 1, 14, 0)),
    ],
)
def test_scheduled_instant_on_dst_days(
    zone: str, day: date, hhmm: str, expected_utc: datetime
) -> None:
    sub = ScheduleSpec(time=hhmm, timezone=zone, days="daily")
    at = scheduled_at(sub, day)
    assert at == expected_utc
    assert at.astimezone(ZoneInfo(zone)).date() == day


def test_nonexistent_time_is_due_once_at_the_resolved_instant() -> None:
    sub = ScheduleSpec(time="02:30", timezone=BERLIN, days="daily")
    assert local_date_due(sub, utc(2026, 3, 29, 1, 29)) is None
    assert local_date_due(sub, utc(2026, 3, 29, 1, 30)) == date(2026, 3, 29)
    assert next_run(sub, utc(2026, 3, 29, 0, 0)) == utc(2026, 3, 29, 1, 30)


def test_ambiguous_time_runs_once_not_twice() -> None:
    sub = ScheduleSpec(time="02:30", timezone=BERLIN, days="daily")
    first = next_run(sub, utc(2026, 10, 25, 0, 0))
    assert first == utc(2026, 10, 25, 0, 30)
    # After the first 02:30 the next run is tomorrow, not the second 02:30 an hour later.
    assert next_run(sub, first) == utc(2026, 10, 26, 1, 30)
    # Both 02:30s are the same local date: one ledger key, one digest.
    assert local_date_due(sub, utc(2026, 10, 25, 1, 30)) == date(2026, 10, 25)


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK])
def test_next_run_across_both_changes_keeps_local_nine(zone: str) -> None:
    sub = ScheduleSpec(time="09:00", timezone=zone, days="daily")
    tz = ZoneInfo(zone)
    now = utc(2026, 3, 1)
    seen = []
    for _ in range(250):
        now = next_run(sub, now)
        local = now.astimezone(tz)
        assert (local.hour, local.minute) == (9, 0)
        seen.append(local.date())
    assert len(set(seen)) == len(seen) == 250
    assert all((b - a).days == 1 for a, b in itertools.pairwise(seen))


@pytest.mark.parametrize(
    ("now", "tokyo", "los_angeles"),
    [
        # Fri 23:30 UTC: already Saturday morning in Tokyo, Friday afternoon in Los Angeles.
        (utc(2026, 11, 27, 23, 30), None, date(2026, 11, 27)),
        # Sun 23:30 UTC: Monday morning in Tokyo, still Sunday in Los Angeles.
        (utc(2026, 11, 29, 23, 30), date(2026, 11, 30), None),
        # Sat noon UTC: weekend in both.
        (utc(2026, 11, 28, 12, 0), None, None),
    ],
)
def test_weekday_rule_uses_the_local_day(
    now: datetime, tokyo: date | None, los_angeles: date | None
) -> None:
    tokyo_sub = ScheduleSpec(time="08:00", timezone="Asia/Tokyo", days="weekdays")
    la_sub = ScheduleSpec(time="08:00", timezone="America/Los_Angeles", days="weekdays")
    assert local_date_due(tokyo_sub, now) == tokyo
    assert local_date_due(la_sub, now) == los_angeles
    assert local_date_due(ScheduleSpec("08:00", "Asia/Tokyo", "daily"), now) is not None


def test_weekdays_skip_to_monday_daily_does_not() -> None:
    friday_evening = utc(2026, 11, 27, 18, 0)
    weekdays = ScheduleSpec(time="09:00", timezone=BERLIN, days="weekdays")
    daily = ScheduleSpec(time="09:00", timezone=BERLIN, days="daily")
    assert next_run(weekdays, friday_evening) == utc(2026, 11, 30, 8, 0)
    assert next_run(daily, friday_evening) == utc(2026, 11, 28, 8, 0)


def test_only_today_can_be_due_no_catch_up() -> None:
    sub = ScheduleSpec(time="09:00", timezone=NEW_YORK, days="weekdays")
    # Thursday 23:00 local after three days of downtime: today only.
    late = datetime(2026, 11, 26, 23, 0, tzinfo=ZoneInfo(NEW_YORK))
    assert local_date_due(sub, late) == date(2026, 11, 26)
    assert local_date_due(sub, datetime(2026, 11, 26, 8, 59, tzinfo=ZoneInfo(NEW_YORK))) is None
    assert local_date_due(sub, datetime(2026, 11, 26, 9, 0, tzinfo=ZoneInfo(NEW_YORK))) == date(
        2026, 11, 26
    )


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        local_date_due(ScheduleSpec(), datetime(2026, 1, 1, 9, 0))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("9:00", time(9, 0)), ("09:00", time(9, 0)), ("23:59", time(23, 59)), ("0:05", time(0, 5))],
)
def test_parse_hhmm_good(text: str, expected: time) -> None:
    assert parse_hhmm(text) == expected


@pytest.mark.parametrize("text", ["25:00", "24:00", "9:60", "9", "9:5", "09:00:00", "nine", ""])
def test_parse_hhmm_bad(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hhmm(text)


@pytest.mark.parametrize("name", ["Europe/Berln", "Mars/Olympus", "", "../etc/passwd", "/UTC"])
def test_unknown_zones_raise_value_error(name: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        load_zone(name)
