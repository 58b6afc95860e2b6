"""The first digest: ``digest on``'s reply, ``digest status`` and the runner follow one rule.

The rule (README, "Daily digest"): a missed slot is not caught up, and a slot
that passed before the channel subscribed was missed. Checked at a day
boundary far from UTC: 03:08 on Wednesday in Tokyo is 18:08 on Tuesday in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from claim_factory import claim_data
from sqlalchemy import Engine

from bot.core.compact import ClaimStore
from bot.core.schema import Claim
from bot.digest.command import handle_digest_command
from bot.digest.kinds import OutcomeStatus
from bot.digest.runner import DigestRunner, plain_render
from bot.digest.subscriptions import digest_status
from tests.support.mock_slack import MockSlack

TOKYO = ZoneInfo("Asia/Tokyo")
SUBSCRIBED = datetime(2026, 11, 25, 3, 8, tzinfo=TOKYO)  # Wed 25 Nov, 03:08 JST
CLAIMS = [
    Claim.model_validate(
        claim_data(f"first-{i}", f"First claim {i}", f"A summary long enough for claim {i}.")
    )
    for i in range(4)
]


def store() -> Any:
    return ClaimStore.from_claims(Path("."), CLAIMS)


@pytest.fixture
def slack() -> Iterator[MockSlack]:
    with MockSlack(team_id="T1") as mock:
        yield mock


def command(engine: Engine, slack: MockSlack, text: str, now: datetime) -> str:
    return handle_digest_command(
        text,
        engine=engine,
        team_id="T1",
        channel_id="C1",
        user_id="U1",
        client=slack.web_client(),
        store_provider=store,
        render=plain_render,
        now=now,
    ).text


def test_subscribing_after_the_slot_means_tomorrow_for_reply_status_and_runner(
    db_engine: Engine, slack: MockSlack
) -> None:
    reply = command(db_engine, slack, "on 00:00 Asia/Tokyo daily", SUBSCRIBED)
    assert "First one: Thu 26 Nov, 00:00 JST" in reply
    later = SUBSCRIBED + timedelta(minutes=1)
    assert "Next digest: Thu 26 Nov 2026, 00:00 JST" in command(db_engine, slack, "status", later)

    clock = [later]
    runner = DigestRunner(
        db_engine, store, slack.web_client(), plain_render, clock=lambda: clock[0]
    )
    assert runner.run_once().outcomes == []  # Wednesday's slot passed before the subscription
    assert slack.posted() == []

    clock[0] = datetime(2026, 11, 26, 0, 0, tzinfo=TOKYO)  # the announced instant
    (outcome,) = runner.run_once().outcomes
    assert outcome.status == OutcomeStatus.POSTED
    assert str(outcome.local_date) == "2026-11-26"
    status = digest_status(db_engine, "T1", "C1", clock[0])
    assert status is not None and status.last_delivery_date == outcome.local_date
    assert status.next_run == datetime(2026, 11, 27, 0, 0, tzinfo=TOKYO)


def test_a_due_digest_not_out_yet_is_announced_as_due(db_engine: Engine, slack: MockSlack) -> None:
    """Subscribed before the slot, checked after it but before the runner: status says so."""
    command(db_engine, slack, "on 03:00 Asia/Tokyo daily", SUBSCRIBED - timedelta(days=1))
    status_text = command(db_engine, slack, "status", SUBSCRIBED)
    assert "Today's digest (03:00 JST) is due" in status_text
    runner = DigestRunner(
        db_engine, store, slack.web_client(), plain_render, clock=lambda: SUBSCRIBED
    )
    (outcome,) = runner.run_once().outcomes
    assert outcome.status == OutcomeStatus.POSTED and str(outcome.local_date) == "2026-11-25"
    assert "Next digest: Thu 26 Nov 2026, 03:00 JST" in command(
        db_engine, slack, "status", SUBSCRIBED
    )


def test_changing_the_time_after_today_s_digest_went_out_means_tomorrow(
    db_engine: Engine, slack: MockSlack
) -> None:
    command(db_engine, slack, "on 03:00 Asia/Tokyo daily", SUBSCRIBED - timedelta(days=1))
    runner = DigestRunner(
        db_engine, store, slack.web_client(), plain_render, clock=lambda: SUBSCRIBED
    )
    assert [o.status for o in runner.run_once().outcomes] == [OutcomeStatus.POSTED]
    reply = command(db_engine, slack, "on 23:00", SUBSCRIBED)  # later today, but today's is out
    assert "Next one: Thu 26 Nov, 23:00 JST" in reply
