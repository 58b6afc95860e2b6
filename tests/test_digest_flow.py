"""The delivery protocol stepped through with plain values: no SQL, no HTTP, no sleeping.

Each test plays the ledger and Slack by answering the actions
:func:`bot.digest.flow.delivery_flow` yields, and checks the exact sequence
of actions and the verdict.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.digest.flow import (
    Delivery,
    FindPosted,
    Finished,
    MarkPosted,
    Post,
    Release,
    Renew,
    RetryPolicy,
    Sleep,
    delivery_flow,
)
from bot.digest.kinds import DeliveryStatus, OutcomeStatus
from bot.digest.poster import Ambiguous, Found, Posted, RateLimited, Rejected, Unreached

NEW = Delivery(None, (), (), ("a", "b"), (1, 1))  # the day had no ledger row
AGAIN = Delivery(DeliveryStatus.FAILED, (), (), ("a", "b"), (1, 1))  # Slack refused it before
POLICY = RetryPolicy.build(max_rate_limit_retries=2, max_server_retries=2, backoff=1.0)


DEFAULTS: dict[type, Any] = {Renew: True, FindPosted: Found(None)}


def play(delivery: Delivery, answers: dict[type, list[Any]]) -> tuple[list[Any], Finished]:
    """Run the flow, answering each action kind from its queue (Renew defaults to True)."""
    flow = delivery_flow(delivery, POLICY)
    seen: list[Any] = []
    answer: Any = None
    try:
        while True:
            action = flow.send(answer)
            seen.append(action)
            queue = answers.get(type(action))
            answer = queue.pop(0) if queue else DEFAULTS.get(type(action))
    except StopIteration as stop:
        return seen, stop.value


def test_a_new_row_looks_then_renews_posts_and_records() -> None:
    seen, done = play(NEW, {Post: [Posted("1.0")]})
    assert seen == [FindPosted(), Renew(), Post(), MarkPosted("1.0", ("a", "b"), (1, 1))]
    assert done == Finished(OutcomeStatus.POSTED, ts="1.0")


def test_a_new_row_whose_digest_is_already_in_the_channel_records_it() -> None:
    """The database lost the day's row (or was restored): the channel still has the digest."""
    seen, done = play(NEW, {FindPosted: [Found("8.0")]})
    assert seen == [FindPosted(), MarkPosted("8.0", (), ())]
    assert done == Finished(OutcomeStatus.RECONCILED, ts="8.0", claim_ids=())


def test_a_new_row_posts_when_history_is_refused_but_pauses_for_a_channel_error() -> None:
    seen, done = play(NEW, {FindPosted: [Rejected("missing_scope")], Post: [Posted("1.0")]})
    assert Post() in seen and done.status == OutcomeStatus.POSTED
    seen, done = play(NEW, {FindPosted: [Rejected("channel_not_found")]})
    assert seen == [
        FindPosted(),
        Release(DeliveryStatus.FAILED, "channel_not_found", "channel_not_found"),
    ]
    assert done == Finished(OutcomeStatus.PAUSED, error="channel_not_found")


def test_a_lost_lease_never_posts() -> None:
    seen, done = play(AGAIN, {Renew: [False]})
    assert seen == [Renew()] and done.status == OutcomeStatus.LOST_LEASE


def test_429_renews_for_the_wait_then_retries_without_looking() -> None:
    seen, done = play(AGAIN, {Post: [RateLimited(7.0), Posted("2.0")]})
    assert seen[:4] == [Renew(), Post(), Renew(extra=7.0), Sleep(7.0)]
    assert FindPosted() not in seen and done.status == OutcomeStatus.POSTED


def test_429_past_the_bound_is_a_definite_failure() -> None:
    seen, done = play(AGAIN, {Post: [RateLimited(1.0)] * 3})
    assert seen[-1] == Release(DeliveryStatus.FAILED, "ratelimited")
    assert done == Finished(OutcomeStatus.FAILED, error="ratelimited")


def test_an_ambiguous_post_is_looked_up_before_any_retry() -> None:
    seen, done = play(AGAIN, {Post: [Ambiguous("500")], FindPosted: [Found("3.0")]})
    assert seen == [
        Renew(),
        Post(),
        Renew(extra=2.0),
        Sleep(1.0),
        FindPosted(),
        MarkPosted("3.0", ("a", "b"), (1, 1)),
    ]
    assert done.status == OutcomeStatus.RECONCILED and done.ts == "3.0"


def test_refused_connections_back_off_then_the_row_is_left_unknown() -> None:
    seen, done = play(AGAIN, {Post: [Unreached("refused")] * 3})
    assert [a for a in seen if isinstance(a, Sleep)] == [Sleep(1.0), Sleep(2.0)]
    assert FindPosted() not in seen
    assert seen[-1] == Release(DeliveryStatus.UNKNOWN, "refused")
    assert done.status == OutcomeStatus.UNKNOWN


def test_a_channel_error_after_an_ambiguous_post_pauses_but_keeps_the_row_unknown() -> None:
    seen, done = play(
        AGAIN, {Post: [Ambiguous("500"), Rejected("is_archived")], FindPosted: [Found(None)]}
    )
    assert seen[-1] == Release(DeliveryStatus.UNKNOWN, "is_archived", pause="is_archived")
    assert done == Finished(OutcomeStatus.PAUSED, error="is_archived")


@pytest.mark.parametrize("previous", [DeliveryStatus.CLAIMED, DeliveryStatus.UNKNOWN])
def test_a_takeover_records_the_earlier_digest_with_its_own_claims(previous: str) -> None:
    taken = Delivery(previous, ("old",), (0,), ("a",), (1,))
    seen, done = play(taken, {FindPosted: [Found("9.0")]})
    assert seen == [FindPosted(), MarkPosted("9.0", ("old",), (0,))]
    assert done == Finished(OutcomeStatus.RECONCILED, ts="9.0", claim_ids=("old",))


def test_a_failed_row_is_retried_without_looking_and_an_unreadable_history_waits() -> None:
    seen, _ = play(Delivery(DeliveryStatus.FAILED, (), (), ("a",), (1,)), {Post: [Posted("1")]})
    assert FindPosted() not in seen
    taken = Delivery(DeliveryStatus.UNKNOWN, (), (), ("a",), (1,))
    seen, done = play(taken, {FindPosted: [Ambiguous("timeout")]})
    assert seen[-1] == Release(DeliveryStatus.UNKNOWN, "reconcile failed: timeout")
    assert Post() not in seen and done.status == OutcomeStatus.UNKNOWN


def test_nothing_eligible_gives_the_row_back() -> None:
    seen, done = play(Delivery(None, (), (), (), ()), {})
    assert seen == [FindPosted(), Release(DeliveryStatus.FAILED, "no eligible claims")]
    assert done.status == OutcomeStatus.EMPTY
