"""The digest runner against real databases and the loopback Slack mock (real HTTP).

Time is frozen with an injected clock (the runner's lease clock, the
evaluation instant and the mock's message ts all follow it); Retry-After and
back-off sleeps go to a recording fake, except in the one test that proves
the real default sleeper really waits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from claim_factory import claim_data
from slack_sdk import WebClient
from slack_sdk.http_retry import RateLimitErrorRetryHandler
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from bot.core.compact import ClaimStore
from bot.core.schema import Claim
from bot.digest.flow import CHANNEL_ERRORS
from bot.digest.poster import EVENT_TYPE, ChannelPacer
from bot.digest.runner import DigestRunner, plain_render
from bot.digest.subscriptions import digest_status, get_subscription, subscribe
from bot.digest.wording import describe_status
from bot.state.db import make_engine
from bot.state.models import DigestDelivery, DigestSentClaim
from tests.support.mock_slack import MockSlack

# Tuesday 24 Nov 2026, 10:00 UTC: 09:00 UTC and 09:00 Berlin (08:00 UTC) are due,
# 09:00 New York (14:00 UTC) is not.
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TEAM = "T1"
SUBSCRIBED = datetime(2025, 1, 1, tzinfo=UTC)  # schedules set before every instant used here


def make_claims(count: int = 7) -> list[Claim]:
    return [
        Claim.model_validate(
            claim_data(
                f"claim-{i:02d}",
                f"Claim number {i} title",
                f"A summary long enough for claim {i}.",
                added=str(date(2026, 1, 1) + timedelta(days=i)),
                reviewed=str(date(2026, 1, 1) + timedelta(days=i)),
            )
        )
        for i in range(count)
    ]


CLAIMS = make_claims()


class Clock:
    """A frozen, manually advanced UTC clock."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.now += delta


class Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so nothing in the runner swallows it."""


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def slack(clock: Clock) -> Iterator[MockSlack]:
    with MockSlack(team_id=TEAM, wall_clock=lambda: clock().timestamp()) as mock:
        yield mock


def store() -> Any:
    return ClaimStore.from_claims(Path("."), CLAIMS)


def runner_for(
    engine: Engine,
    slack: MockSlack,
    clock: Clock,
    sleeps: list[float] | None = None,
    *,
    cls: type[DigestRunner] = DigestRunner,
    client: WebClient | None = None,
    **kwargs: Any,
) -> DigestRunner:
    recorded = sleeps if sleeps is not None else []
    kwargs.setdefault("sleep", recorded.append)
    return cls(
        engine,
        store,
        client or slack.web_client(),
        plain_render,
        runner_id=kwargs.pop("runner_id", None),
        clock=clock,
        **kwargs,
    )


def ledger(engine: Engine) -> dict[str, DigestDelivery]:
    with engine.connect() as connection:
        rows = connection.execute(select(DigestDelivery.__table__)).all()
    return {row.channel_id: row for row in rows}  # type: ignore[misc]


def posts_per_channel(slack: MockSlack) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in slack.posted():
        counts[message["channel"]] = counts.get(message["channel"], 0) + 1
    return counts


def add_subs(engine: Engine, *specs: tuple[str, str, str]) -> None:
    for channel, hhmm, zone in specs:
        subscribe(engine, TEAM, channel, time=hhmm, timezone=zone, days="weekdays", now=SUBSCRIBED)


def test_posts_each_due_channel_once_with_metadata(
    db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    add_subs(
        db_engine,
        ("C1", "09:00", "UTC"),
        ("C2", "09:00", "Europe/Berlin"),
        ("C3", "09:00", "America/New_York"),
    )
    runner = runner_for(db_engine, slack, clock)
    report = runner.run_once()
    assert sorted((o.channel_id, o.status) for o in report.outcomes) == [
        ("C1", "posted"),
        ("C2", "posted"),
    ]
    assert posts_per_channel(slack) == {"C1": 1, "C2": 1}
    post = slack.calls_to("chat.postMessage")[0].params
    assert post["metadata"]["event_type"] == EVENT_TYPE
    assert post["metadata"]["event_payload"]["local_date"] == "2026-11-24"
    assert post["metadata"]["event_payload"]["run_id"] == report.run_id
    assert post["text"].startswith("AI race digest for Tuesday 24 November 2026")
    rows = ledger(db_engine)
    assert {c: r.status for c, r in rows.items()} == {"C1": "posted", "C2": "posted"}
    assert rows["C1"].message_ts == slack.posted("C1")[0]["ts"]
    assert rows["C1"].claim_ids == ["claim-06", "claim-05", "claim-04"]

    # Running again the same day changes nothing.
    again = runner.run_once()
    assert {o.status for o in again.outcomes} == {"already_posted"}
    assert len(slack.calls_to("chat.postMessage")) == 2

    # The next day rotates on: no claim repeats until all were sent.
    clock.advance(timedelta(days=1))
    runner.run_once()
    assert ledger_claims(db_engine, "C1") == [
        ["claim-06", "claim-05", "claim-04"],
        ["claim-03", "claim-02", "claim-01"],
    ]


def ledger_claims(engine: Engine, channel: str) -> list[list[str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(DigestDelivery.claim_ids)
            .where(DigestDelivery.channel_id == channel)
            .order_by(DigestDelivery.local_date)
        ).all()
    return [list(r[0]) for r in rows]


def test_rotation_over_a_whole_cycle_through_the_runner(
    db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    subscribe(db_engine, TEAM, "C1", time="09:00", timezone="UTC", days="daily", now=SUBSCRIBED)
    runner = runner_for(db_engine, slack, clock)
    for _ in range(5):
        runner.run_once()
        clock.advance(timedelta(days=1))
    sent = [cid for day in ledger_claims(db_engine, "C1") for cid in day]
    assert sorted(sent[:7]) == sorted(c.id for c in CLAIMS)  # whole cycle, no repeats
    assert sorted(sent[7:14]) == sorted(c.id for c in CLAIMS)
    with db_engine.connect() as connection:
        cycles = connection.execute(select(DigestSentClaim.cycle)).scalars().all()
    assert sorted(set(cycles)) == [1, 2, 3]


def test_two_runners_at_once_post_exactly_once_per_channel(
    db_url: str, db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    channels = [f"C{i:03d}" for i in range(24)]
    add_subs(db_engine, *[(c, "09:00", "UTC") for c in channels])
    engines = [make_engine(db_url), make_engine(db_url)]
    runners = [
        runner_for(engine, slack, clock, runner_id=f"runner-{n}", max_workers=4)
        for n, engine in enumerate(engines)
    ]
    barrier = threading.Barrier(2)
    reports: list[Any] = [None, None]
    errors: list[BaseException] = []

    def go(n: int) -> None:
        try:
            barrier.wait()
            reports[n] = runners[n].run_once()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for engine in engines:
        engine.dispose()
    assert not errors
    assert posts_per_channel(slack) == dict.fromkeys(channels, 1)
    assert sum(report.count("posted") for report in reports) == len(channels)
    others = {o.status for r in reports for o in r.outcomes if o.status != "posted"}
    assert others <= {"busy", "already_posted"}
    assert {r.status for r in ledger(db_engine).values()} == {"posted"}


class DiesBeforePosting(DigestRunner):
    def _post(self, *args: Any, **kwargs: Any) -> Any:
        raise Killed


class DiesAfterPosting(DigestRunner):
    def _mark_posted(self, *args: Any, **kwargs: Any) -> bool:
        raise Killed


@pytest.mark.parametrize("crash", [DiesBeforePosting, DiesAfterPosting])
def test_killed_runner_then_rerun_nothing_missing_nothing_twice(
    db_engine: Engine, slack: MockSlack, clock: Clock, crash: type[DigestRunner]
) -> None:
    add_subs(db_engine, ("C1", "09:00", "UTC"))
    with pytest.raises(Killed):
        runner_for(db_engine, slack, clock, cls=crash, runner_id="doomed").run_once()
    assert ledger(db_engine)["C1"].status == "claimed"
    posted_before = len(slack.posted())

    survivor = runner_for(db_engine, slack, clock, runner_id="survivor")
    # While the dead runner's lease lasts, nobody touches the row.
    assert [o.status for o in survivor.run_once().outcomes] == ["busy"]
    clock.advance(timedelta(minutes=6))
    outcome = survivor.run_once().outcomes[0]

    assert posts_per_channel(slack) == {"C1": 1}
    assert slack.calls_to("conversations.history"), "a stale claim must be reconciled first"
    history_call = slack.calls_to("conversations.history")[0].params
    assert history_call["include_all_metadata"] in (True, "1", "true")
    row = ledger(db_engine)["C1"]
    assert row.status == "posted"
    assert row.message_ts == slack.posted("C1")[0]["ts"]
    assert row.attempts == 2
    if posted_before:  # died after Slack accepted the post: recognised, not re-sent
        assert outcome.status == "reconciled"
    else:
        assert outcome.status == "posted"
    assert [o.status for o in survivor.run_once().outcomes] == ["already_posted"]


def test_a_runner_that_lost_its_lease_does_not_post(
    db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    add_subs(db_engine, ("C1", "09:00", "UTC"))
    other = runner_for(db_engine, slack, clock, runner_id="other")
    seen: list[str] = []

    class Stalls(DigestRunner):
        def _renew(self, *args: Any, **kwargs: Any) -> Any:
            # Stalled past the lease before the first post; meanwhile another runner
            # takes over and posts.
            if not seen:
                clock.advance(timedelta(minutes=10))
                seen.extend(o.status for o in other.run_once().outcomes)
            return super()._renew(*args, **kwargs)

    report = runner_for(db_engine, slack, clock, cls=Stalls, runner_id="slow").run_once()
    assert seen == ["posted"]
    assert [o.status for o in report.outcomes] == ["lost_lease"]
    assert posts_per_channel(slack) == {"C1": 1}
    assert ledger(db_engine)["C1"].claimed_by == "other"


def test_429_with_retry_after_is_honoured_and_delivered_once(
    db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    add_subs(db_engine, ("C1", "09:00", "UTC"))
    slack.fail_next("chat.postMessage", status=429, retry_after=7, count=2)
    sleeps: list[float] = []
    report = runner_for(db_engine, slack, clock, sleeps).run_once()
    assert [o.status for o in report.outcomes] == ["posted"]
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 429, 200]
    assert sleeps.count(7.0) == 2
    assert posts_per_channel(slack) == {"C1": 1}
    # The day's one look before its first post; a 429 is a clear "not posted": no more looks.
    assert len(slack.calls_to("conversations.history")) == 1


def test_our_retry_is_the_only_one_even_if_the_client_has_sdk_handlers(
    db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    add_subs(db_engine, ("C1", "09:00", "UTC"))
    client = slack.web_client(retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=5)])
    slack.fail_next("chat.postMessage", status=429, retry_after=1, count=1)
    sleeps: list[float] = []
    started = time.monotonic()
    runner = runner_for(db_engine, slack, clock, sleeps, client=client)
    report = runner.run_once()
    elapsed = time.monotonic() - started
    assert [o.status for o in report.outcomes] == ["posted"]
    # One 429, one retry — by our loop (the fake sleeper saw it), not by slack_sdk's
    # handler, which would have slept a real second and retried on its own.
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 200]
    assert 1.0 in sleeps
    assert elapsed < 1.0  # slack_sdk would have really slept the 1 s Retry-After
    assert runner.client.retry_handlers == []
    assert client.retry_handlers, "the caller's client is left as it was"


def test_the_real_default_sleeper_waits_for_retry_after(
    db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    add_subs(db_engine, ("C1", "09:00", "UTC"))
    slack.fail_next("chat.postMessage", status=429, retry_after=1, count=1)
    runner = runner_for(db_engine, slack, clock, sleep=time.sleep)
    assert [o.status for o in runner.run_once().outcomes] == ["posted"]
    first, second = slack.calls_to("chat.postMessage")
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 1.0


def test_server_errors_are_retried_after_checking_history(
    db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    add_subs(db_engine, ("C1", "09:00", "UTC"))
    slack.fail_next("chat.postMessage", status=500, count=1)
    slack.fail_next("chat.postMessage", status=503, count=1)
    sleeps: list[float] = []
    report = runner_for(db_engine, slack, clock, sleeps).run_once()
    assert [o.status for o in report.outcomes] == ["posted"]
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [500, 503, 200]
    assert len(slack.calls_to("conversations.history")) == 1 + 2  # the day's look, one per 5xx
    assert sleeps[:1] == [1.0] and 2.0 in sleeps  # exponential back-off
    assert posts_per_channel(slack) == {"C1": 1}


def test_persistent_server_errors_leave_unknown_and_the_next_run_delivers(
    db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    add_subs(db_engine, ("C1", "09:00", "UTC"))
    runner = runner_for(db_engine, slack, clock, max_server_retries=2)
    slack.fail_next("chat.postMessage", status=500, count=3)
    assert [o.status for o in runner.run_once().outcomes] == ["unknown"]
    assert ledger(db_engine)["C1"].status == "unknown"
    assert posts_per_channel(slack) == {}
    report = runner.run_once()
    assert [o.status for o in report.outcomes] == ["posted"]
    assert posts_per_channel(slack) == {"C1": 1}


def test_a_post_slack_accepted_but_we_never_heard_of_is_not_repeated(
    db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    add_subs(db_engine, ("C1", "09:00", "UTC"))
    runner = runner_for(db_engine, slack, clock, max_server_retries=0)
    slack.fail_next("chat.postMessage", status=502, count=1)
    assert [o.status for o in runner.run_once().outcomes] == ["unknown"]
    # Pretend the 502 came from a proxy after Slack had posted the message.
    ts = slack.seed_message(
        "C1",
        text="digest",
        metadata={"event_type": EVENT_TYPE, "event_payload": {"local_date": "2026-11-24"}},
    )["ts"]
    outcome = runner.run_once().outcomes[0]
    assert (outcome.status, outcome.message_ts) == ("reconciled", ts)
    assert posts_per_channel(slack) == {}
    assert ledger(db_engine)["C1"].message_ts == ts


@pytest.mark.parametrize("error", sorted(CHANNEL_ERRORS))
def test_channel_errors_pause_that_subscription_only(
    db_engine: Engine, slack: MockSlack, clock: Clock, error: str
) -> None:
    subscribe(db_engine, TEAM, "C1", time="09:00", timezone="UTC", now=SUBSCRIBED)
    subscribe(db_engine, "T2", "C2", time="09:00", timezone="UTC", now=SUBSCRIBED)
    slack.error_for_channel("C1", error)
    runner = runner_for(db_engine, slack, clock)
    report = runner.run_once()
    assert sorted((o.channel_id, o.status, o.error) for o in report.outcomes) == [
        ("C1", "paused", error),
        ("C2", "posted", None),
    ]
    sub = get_subscription(db_engine, TEAM, "C1")
    assert sub is not None and sub.paused_reason == error
    status = digest_status(db_engine, TEAM, "C1", clock())
    assert status is not None and "Paused" in describe_status(status)
    assert ledger(db_engine)["C1"].status == "failed"

    calls = len(slack.calls_to("chat.postMessage"))
    runner.run_once()
    assert len(slack.calls_to("chat.postMessage")) == calls  # paused: not even tried

    # `digest on` again (after inviting the bot) resumes, and today's digest still comes.
    slack.clear_channel_error("C1")
    subscribe(db_engine, TEAM, "C1", now=SUBSCRIBED)
    assert [o.status for o in runner.run_once().outcomes if o.channel_id == "C1"] == ["posted"]
    assert posts_per_channel(slack) == {"C1": 1, "C2": 1}


def test_a_revoked_token_pauses_the_whole_team_with_one_call(
    db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    add_subs(db_engine, *[(f"C{i}", "09:00", "UTC") for i in range(5)])
    slack.invalid_tokens.add("xoxb-test")
    report = runner_for(db_engine, slack, clock, max_workers=1).run_once()
    assert {o.status for o in report.outcomes} == {"paused"}
    assert len(slack.calls) == 1  # the first channel's look before posting was refused
    assert {get_subscription(db_engine, TEAM, f"C{i}").paused_reason for i in range(5)} == {  # type: ignore[union-attr]
        "invalid_auth"
    }


def test_no_catch_up_flood_after_three_days_down(
    db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    subscribe(
        db_engine,
        TEAM,
        "C1",
        time="09:00",
        timezone="America/New_York",
        days="daily",
        now=SUBSCRIBED,
    )
    # Last digest went out Monday; the runner was down until Thursday 23:00 New York time.
    clock.now = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    runner = runner_for(db_engine, slack, clock)
    assert [o.status for o in runner.run_once().outcomes] == ["posted"]
    clock.now = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # Thu 26 Nov, 23:00 EST
    report = runner.run_once()
    assert [(o.status, o.local_date) for o in report.outcomes] == [("posted", date(2026, 11, 26))]
    dates = [m["metadata"]["event_payload"]["local_date"] for m in slack.posted("C1")]
    assert dates == ["2026-11-23", "2026-11-26"]
    clock.now = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)  # Fri 01:00 local: not yet due
    assert runner.run_once().outcomes == []


def test_dst_change_day_and_weekends_in_two_time_zones(
    db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    subscribe(db_engine, TEAM, "CBER", time="09:00", timezone="Europe/Berlin", now=SUBSCRIBED)
    subscribe(db_engine, TEAM, "CNYC", time="09:00", timezone="America/New_York", now=SUBSCRIBED)
    runner = runner_for(db_engine, slack, clock)
    # Monday 30 March 2026, first weekday of Berlin summer time: 09:00 CEST is 07:00 UTC.
    clock.now = datetime(2026, 3, 30, 6, 59, tzinfo=UTC)
    assert runner.run_once().outcomes == []
    clock.now = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert [(o.channel_id, o.local_date) for o in runner.run_once().outcomes] == [
        ("CBER", date(2026, 3, 30))
    ]
    # 09:00 EDT (New York moved on 8 March) is 13:00 UTC.
    clock.now = datetime(2026, 3, 30, 13, 0, tzinfo=UTC)
    due = [(o.channel_id, o.status) for o in runner.run_once().outcomes]
    assert due == [("CBER", "already_posted"), ("CNYC", "posted")]
    # Saturday 4 April 01:00 UTC is still Friday evening in New York, weekend in Berlin.
    clock.now = datetime(2026, 4, 4, 1, 0, tzinfo=UTC)
    assert [(o.channel_id, o.local_date) for o in runner.run_once().outcomes] == [
        ("CNYC", date(2026, 4, 3))
    ]
    clock.now = datetime(2026, 4, 4, 15, 0, tzinfo=UTC)  # Saturday in both
    assert runner.run_once().outcomes == []


def test_dry_run_renders_without_claiming_or_posting(
    db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    add_subs(db_engine, ("C1", "09:00", "UTC"), ("C2", "09:00", "UTC"))
    report = runner_for(db_engine, slack, clock).run_once(dry_run=True)
    assert {o.status for o in report.outcomes} == {"would_post"}
    assert all(o.text and "Claim number 6 title" in o.text for o in report.outcomes)
    assert slack.calls == []
    assert ledger(db_engine) == {}


def test_run_at_a_given_instant_uses_it_for_schedules(
    db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    add_subs(db_engine, ("C1", "09:00", "America/New_York"))
    runner = runner_for(db_engine, slack, clock)
    assert runner.run_once().outcomes == []  # 10:00 UTC is 05:00 in New York
    at = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    assert [o.status for o in runner.run_once(now=at).outcomes] == ["posted"]


def test_nothing_eligible_means_no_digest_and_no_ledger_row(
    db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    subscribe(db_engine, TEAM, "C1", time="09:00", timezone="UTC", topics=["space"], now=SUBSCRIBED)
    report = runner_for(db_engine, slack, clock).run_once()
    assert [o.status for o in report.outcomes] == ["empty"]
    assert slack.calls == [] and ledger(db_engine) == {}


def test_pacer_spaces_posts_to_one_channel() -> None:
    sleeps: list[float] = []
    pacer = ChannelPacer(1.0, sleeps.append)
    pacer.wait("C1")
    pacer.sent("C1")
    pacer.wait("C2")
    assert sleeps == []
    pacer.wait("C1")
    assert len(sleeps) == 1 and 0.9 < sleeps[0] <= 1.0


def test_posts_to_one_channel_are_a_second_apart_on_a_strict_mock(
    db_engine: Engine, clock: Clock
) -> None:
    subscribe(db_engine, TEAM, "C1", time="09:00", timezone="UTC", days="daily", now=SUBSCRIBED)
    with MockSlack(team_id=TEAM, per_channel_interval=1.0) as strict:
        runner = runner_for(db_engine, strict, clock, sleep=time.sleep)
        runner.run_once()
        clock.advance(timedelta(days=1))
        runner.run_once()  # immediately: the pacer must wait instead of earning a 429
        calls = strict.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [200, 200]
    assert calls[1].at - calls[0].at >= 1.0


def test_run_forever_stops_on_the_event(db_engine: Engine, slack: MockSlack, clock: Clock) -> None:
    add_subs(db_engine, ("C1", "09:00", "UTC"))
    runner = runner_for(db_engine, slack, clock)
    stop = threading.Event()
    thread = threading.Thread(
        target=runner.run_forever, kwargs={"interval": 30, "stop_event": stop}
    )
    thread.start()
    slack.wait_for("chat.postMessage", 1, timeout=10)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert posts_per_channel(slack) == {"C1": 1}


def test_an_ambiguous_failure_then_a_channel_error_is_reconciled_after_resuming(
    db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    add_subs(db_engine, ("C1", "09:00", "UTC"))
    runner = runner_for(db_engine, slack, clock)
    slack.fail_next("chat.postMessage", status=500, count=1)
    slack.error_for_channel("C1", "is_archived")
    assert [o.status for o in runner.run_once().outcomes] == ["paused"]
    # The 500 might have been posted, so the row must not say "definitely not sent".
    assert ledger(db_engine)["C1"].status == "unknown"
    slack.clear_channel_error("C1")
    subscribe(db_engine, TEAM, "C1", now=SUBSCRIBED)
    history_calls = len(slack.calls_to("conversations.history"))
    assert [o.status for o in runner.run_once().outcomes] == ["posted"]
    assert len(slack.calls_to("conversations.history")) == history_calls + 1
    assert posts_per_channel(slack) == {"C1": 1}


def test_an_unreachable_slack_leaves_the_row_for_the_next_run(
    db_engine: Engine, clock: Clock
) -> None:
    add_subs(db_engine, ("C1", "09:00", "UTC"))
    with MockSlack(team_id=TEAM) as closed:
        dead_url = closed.base_url  # the port is closed once the mock stops
    sleeps: list[float] = []
    client = WebClient(token="xoxb-test", base_url=dead_url)
    runner = runner_for(
        db_engine, closed, clock, sleeps, client=client, max_server_retries=2, channel_interval=0
    )
    outcome = runner.run_once().outcomes[0]
    assert outcome.status == "unknown"  # the day's look could not be made: nothing posted
    assert ledger(db_engine)["C1"].status == "unknown"  # the next run looks again
    outcome = runner.run_once().outcomes[0]  # taken over: it looks first, then never posts
    assert outcome.status == "unknown" and sleeps == []


def test_a_lost_ledger_does_not_double_the_day_s_digests(
    db_engine: Engine, slack: MockSlack, clock: Clock
) -> None:
    """The database comes back from a backup taken before today's digests: same subscriptions,
    no ledger rows. The channels already hold today's digests, so none is posted again, and
    each channel's history is read once that day (a 429 on it is waited out, not skipped)."""
    add_subs(db_engine, ("C1", "09:00", "UTC"), ("C2", "09:00", "UTC"))
    first = runner_for(db_engine, slack, clock, runner_id="before").run_once()
    assert [o.status for o in first.outcomes] == ["posted", "posted"]
    with db_engine.begin() as connection:  # the restore: ledger and rotation records gone
        connection.execute(DigestDelivery.__table__.delete())
        connection.execute(DigestSentClaim.__table__.delete())
    looked = len(slack.calls_to("conversations.history", status=200))
    slack.fail_next("conversations.history", status=429, retry_after=3)

    clock.advance(timedelta(hours=2))
    sleeps: list[float] = []
    after = runner_for(db_engine, slack, clock, sleeps, runner_id="after", max_workers=1)
    report = after.run_once()
    assert [o.status for o in report.outcomes] == ["reconciled", "reconciled"]
    assert posts_per_channel(slack) == {"C1": 1, "C2": 1}
    assert {row.message_ts for row in ledger(db_engine).values()} == {
        message["ts"] for message in slack.posted()
    }
    assert 3.0 in sleeps  # Retry-After honoured
    assert [o.status for o in after.run_once().outcomes] == ["already_posted"] * 2
    calls = slack.calls_to("conversations.history", status=200)[looked:]
    assert sorted(call.params["channel"] for call in calls) == ["C1", "C2"]  # once a day each


def test_one_outage_under_many_channels_is_one_log_line(
    db_engine: Engine, slack: MockSlack, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """The database drops mid-run: every channel fails the same way, the log says it once."""
    add_subs(db_engine, *[(f"C{i}", "09:00", "UTC") for i in range(5)])

    class CutOff(DigestRunner):
        def _deliver(self, *args: Any, **kwargs: Any) -> Any:
            raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))

    with caplog.at_level(logging.ERROR, logger="bot.digest.runner"):
        report = runner_for(db_engine, slack, clock, cls=CutOff).run_once()
    assert [o.status for o in report.outcomes] == ["error"] * 5
    (line,) = [r for r in caplog.records if r.name == "bot.digest.runner"]
    assert "OperationalError: server closed the connection" in line.getMessage()
    assert line.exc_info is None  # an outage is no bug: no traceback
