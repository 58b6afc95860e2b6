"""Public posts of claims are recorded with the claim's content hash; private answers never."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from claim_factory import claim_data, write_store
from test_feedback import CLAIMS, ask

from bot.core.revisions import content_hash
from bot.core.schema import Claim
from bot.state.citations import Citation, citations_since
from bot.state.models import utcnow
from tests.support.bolt_inprocess import InProcessApp, inprocess_app
from tests.support.mock_slack import MockSlack
from tests.support.signing import event_body

LONG_AGO = utcnow().replace(year=2000)


def test_the_hash_moves_with_substance_only() -> None:
    base = claim_data("c1", "A claim title here", "A summary long enough to pass.")
    original = content_hash(Claim.model_validate(base))
    cosmetic = {
        **base,
        "aliases": ["another phrase"],
        "topics": ["other"],
        "reviewed": "2026-02-01",
    }
    assert content_hash(Claim.model_validate(cosmetic)) == original
    for changed in (
        {**base, "summary": "A different summary, long enough."},
        {**base, "evidence": {"level": "opinion", "note": "Written for a test."}},
        {**base, "sources": [{**base["sources"][0], "url": "https://example.org/other"}]},
    ):
        assert content_hash(Claim.model_validate(changed)) != original


@pytest.fixture(scope="module")
def mock() -> Iterator[MockSlack]:
    with MockSlack() as server:
        yield server


@pytest.fixture
def app(mock: MockSlack, db_url: str, tmp_path: Path) -> Iterator[InProcessApp]:
    mock.reset()
    with inprocess_app(mock.base_url, db_url, write_store(tmp_path / "claims", CLAIMS)) as running:
        yield running


def _wait_for_citations(app: InProcessApp, count: int) -> list[Citation]:
    """The record is written after Slack accepted the post: wait for it, with a deadline."""
    deadline = time.monotonic() + 10
    while len(found := citations_since(app.services.engine, LONG_AGO)) < count:
        assert time.monotonic() < deadline, f"{len(found)} of {count} citations recorded"
        time.sleep(0.01)  # polling a real condition, bounded by the deadline
    return found


def test_a_thread_reply_is_recorded_with_each_claims_hash_and_private_answers_are_not(
    app: InProcessApp, mock: MockSlack
) -> None:
    ask(app, mock, "chip exports")  # private: must leave no trace
    mention = {
        "type": "app_mention",
        "user": "U123",
        "text": "<@UBOT> chip exports",
        "ts": "1700000001.000100",
        "channel": "C9",
        "event_ts": "1700000001.000100",
    }
    response = app.event(event_body(mention, event_id="EvCite1"))
    assert response.status == 200
    [posted] = mock.wait_for("chat.postMessage")
    [citation] = _wait_for_citations(app, 1)
    claim = app.services.current.store.get("chip-exports")
    assert claim is not None
    assert citation == Citation(
        team_id="T1",
        enterprise_id="",
        channel_id="C9",
        thread_ts="1700000001.000100",
        message_ts=posted.response["ts"],
        claim_id="chip-exports",
        content_hash=content_hash(claim),
        reviewed=claim.reviewed,
        kind="thread",
    )
    assert len(citations_since(app.services.engine, LONG_AGO)) == 1
