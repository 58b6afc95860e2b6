"""Public posts of claims are recorded with the claim's content hash; private answers never."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from claim_factory import claim_data, write_store
from sqlalchemy import Engine
from test_digest_runner import CLAIMS as DIGEST_CLAIMS
from test_digest_runner import TEAM, Clock, add_subs, runner_for
from test_feedback import CLAIMS, ask

from bot.core.revisions import content_hash
from bot.core.schema import Claim
from bot.core.store import ClaimStore, validate_dir
from bot.corrections.citing import DigestCitations
from bot.corrections.plan import plan_corrections
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
        evidence=claim.evidence.level.value,
    )
    assert len(citations_since(app.services.engine, LONG_AGO)) == 1


def _share(app: InProcessApp, mock: MockSlack, private: dict, channel: str, key: str) -> None:
    """Click "Share in channel" under a private answer, as Slack sends the click."""
    share = next(
        element
        for block in private["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "share_answer"
    )
    payload = {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "test"},
        "user": {"id": "U123", "username": "alice", "team_id": "T1"},
        "api_app_id": "A1",
        "channel": {"id": channel, "name": "general"},
        "container": {"type": "message", "is_ephemeral": True, "channel_id": channel},
        "trigger_id": "1.2.3",
        "response_url": mock.response_url(key),
        "actions": [{**share, "block_id": "b", "action_ts": "1.1"}],
    }
    assert app.interactive(payload).status == 200


def test_a_shared_answer_is_posted_by_the_bot_and_recorded_where_it_went(
    app: InProcessApp, mock: MockSlack
) -> None:
    private = ask(app, mock, "chip exports")
    _share(app, mock, private, "C7", "share1")
    [posted] = mock.wait_for("chat.postMessage")
    assert posted.params["channel"] == "C7"
    assert any("Shared by <@U123>" in json.dumps(b) for b in posted.params["blocks"])
    [citation] = _wait_for_citations(app, 1)
    ts = posted.response["ts"]
    assert (citation.kind, citation.channel_id, citation.thread_ts, citation.message_ts) == (
        "shared",
        "C7",
        ts,  # a correction is a reply in the shared message's own thread
        ts,
    )
    assert citation.claim_id == "chip-exports"


def test_a_share_where_the_bot_may_not_post_goes_through_response_url_unrecorded(
    app: InProcessApp, mock: MockSlack
) -> None:
    mock.error_for_channel("C8", "not_in_channel")
    private = ask(app, mock, "chip exports")
    _share(app, mock, private, "C8", "share2")
    [shared] = mock.wait_for("response", 2)[1:]
    assert shared.params["response_type"] == "in_channel"
    assert any("Shared by <@U123>" in json.dumps(b) for b in shared.params["blocks"])
    assert citations_since(app.services.engine, LONG_AGO) == []


def test_each_claim_of_a_posted_digest_is_recorded_in_the_digests_thread(
    db_engine: Engine, tmp_path: Path
) -> None:
    clock = Clock()
    with MockSlack(team_id=TEAM, wall_clock=lambda: clock().timestamp()) as slack:
        add_subs(db_engine, ("C1", "09:00", "UTC"))
        runner = runner_for(db_engine, slack, clock, cited=DigestCitations(db_engine))
        [outcome] = runner.run_once().outcomes
        assert outcome.status == "posted"
    found = citations_since(db_engine, LONG_AGO)
    assert sorted(c.claim_id for c in found) == sorted(outcome.claim_ids)
    by_id = {c.id: c for c in DIGEST_CLAIMS}
    for cited in found:
        assert (cited.kind, cited.channel_id) == ("digest", "C1")
        assert cited.thread_ts == cited.message_ts == outcome.message_ts
        assert cited.content_hash == content_hash(by_id[cited.claim_id])


# --------------------------------------------------------------------------- planning


def _store(tmp_path: Path, *claims: dict) -> ClaimStore:
    store, problems = validate_dir(
        write_store(tmp_path / "claims", list(claims)), today=date(2026, 11, 24), cache_dir=None
    )
    assert store is not None, [str(p) for p in problems]
    return store


def _cite(claim: Claim, thread: str, message: str) -> Citation:
    return Citation(
        "T1",
        "",
        "C1",
        thread,
        message,
        claim.id,
        content_hash(claim),
        claim.reviewed,
        "thread",
        claim.evidence.level.value,
    )


def test_a_revised_claim_gets_one_correction_per_citing_thread(tmp_path: Path) -> None:
    before = claim_data("c1", "A claim title here", "A summary long enough to pass.")
    old = Claim.model_validate(before)
    citations = [_cite(old, "1.0", "1.1"), _cite(old, "1.0", "1.2"), _cite(old, "2.0", "2.1")]
    # Nothing changed in substance: nothing to say.
    assert plan_corrections(citations, _store(tmp_path / "same", before)) == []
    revised = {
        **before,
        "evidence": {"level": "opinion", "note": "Only a view."},
        "reviewed": "2026-06-01",
        "changes": [{"date": "2026-06-01", "note": "The study it cited was retracted."}],
    }
    store = _store(tmp_path / "revised", revised)
    plans = plan_corrections(citations, store)
    assert sorted(p.thread_ts for p in plans) == ["1.0", "2.0"]  # one per thread, not per post
    new = store.get("c1")
    assert new is not None and {p.revision for p in plans} == {content_hash(new)}
    assert plans[0].text == (
        "Update: this claim was revised on 2026-06-01 — evidence now *opinion, thinly sourced* "
        "(was *partly supported*): The study it cited was retracted. (see `/ai-race claim c1`)"
    )
    # A thread that was already shown the revised claim needs nothing.
    assert [
        p.thread_ts for p in plan_corrections([*citations, _cite(new, "2.0", "2.9")], store)
    ] == ["1.0"]
    # Changed text without a new review date is not a revision an author signed off.
    unsigned = {**before, "summary": "A quietly edited summary, long enough."}
    assert plan_corrections(citations, _store(tmp_path / "unsigned", unsigned)) == []


def test_a_removed_claim_is_withdrawn_in_every_thread_that_cited_it(tmp_path: Path) -> None:
    gone = Claim.model_validate(claim_data("gone", "A claim title here", "A summary long enough."))
    other = claim_data("other", "Another claim title", "Another summary long enough.")
    plans = plan_corrections([_cite(gone, "1.0", "1.1")], _store(tmp_path, other))
    assert [(p.revision, p.thread_ts) for p in plans] == [("withdrawn", "1.0")]
    assert "`gone`" in plans[0].text and "withdrawn" in plans[0].text
