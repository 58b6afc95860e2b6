"""Freshness: review intervals, stale badges in answers, the digest's preference, the CLI."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from claim_factory import claim_data, write_store

from bot.core import blocks
from bot.core.freshness import (
    Freshness,
    ago,
    is_stale,
    load_freshness_config,
    stale_ids,
    stale_note,
)
from bot.core.problems import StoreError
from bot.core.schema import Claim
from bot.core.store import ClaimStore, validate_dir
from bot.digest.rotation import choose_claims
from tests.support.bolt_inprocess import inprocess_app
from tests.support.cli import cli_runner
from tests.support.mock_slack import MockSlack
from tests.support.signing import slash_command_body

dumps = functools.partial(json.dumps, ensure_ascii=False)
REVIEWED = date(2026, 1, 2)  # claim_factory's default `reviewed`
TODAY = date(2026, 11, 24)


def make(cid: str, **fields: Any) -> Claim:
    return Claim.model_validate(
        claim_data(cid, f"Claim {cid} title", f"A summary long enough for {cid}.", **fields)
    )


def test_a_claim_turns_stale_the_day_after_its_interval() -> None:
    claim = make("c1")
    assert not is_stale(claim, REVIEWED + timedelta(days=180), review_every=180)
    assert is_stale(claim, REVIEWED + timedelta(days=181), review_every=180)
    own = make("c2", review_every=30)  # the claim's own interval beats the store-wide one
    assert is_stale(own, REVIEWED + timedelta(days=31), review_every=180)
    assert not is_stale(own, REVIEWED + timedelta(days=30), review_every=180)


def test_the_note_says_how_long_ago_in_a_readers_units() -> None:
    assert ago(REVIEWED, REVIEWED + timedelta(days=1)) == "1 day ago"
    assert ago(REVIEWED, REVIEWED + timedelta(days=45)) == "45 days ago"
    assert ago(REVIEWED, REVIEWED + timedelta(days=213)) == "7 months ago"
    assert ago(REVIEWED, REVIEWED + timedelta(days=800)) == "2 years ago"
    note = stale_note(make("c1"), REVIEWED + timedelta(days=213), review_every=180)
    assert note == "Last reviewed 7 months ago — may be out of date"
    assert stale_note(make("c1"), REVIEWED + timedelta(days=10), review_every=180) is None


def test_stale_claims_are_listed_oldest_review_first() -> None:
    claims = [
        make("newer", reviewed="2026-03-01"),
        make("fresh", reviewed="2026-11-01"),
        make("older", reviewed="2026-01-02"),
    ]
    store = ClaimStore.from_claims(Path("."), claims)
    assert stale_ids(store, TODAY, review_every=180) == ["older", "newer"]
    # The columns and the claim agree with the per-claim rule, own intervals included.
    rows = {row.id: row for row in store.rows()}
    for claim in [*claims, make("own", review_every=400)]:
        row = ClaimStore.from_claims(Path("."), [claim]).rows()[0]
        assert (row.reviewed, row.review_every) == (claim.reviewed, claim.review_every)
        assert is_stale(row, TODAY, 180) == is_stale(claim, TODAY, 180)
    assert rows["fresh"].review_every is None


def test_review_every_and_changes_are_validated_with_file_and_line(tmp_path: Path) -> None:
    good = claim_data(
        "good",
        "A good claim title",
        "A summary long enough to pass.",
        added="2026-01-01",
        reviewed="2026-06-01",
        review_every=90,
        changes=[{"date": "2026-06-01", "note": "Evidence lowered: report retracted."}],
    )
    bad = claim_data(
        "bad",
        "A bad claim title",
        "A summary long enough to pass.",
        review_every=0,
        changes=[{"date": "2026-05-01", "note": "After the last review."}, {"when": "x"}],
    )
    directory = write_store(tmp_path / "claims", [good, bad])
    store, problems = validate_dir(directory, today=TODAY, cache_dir=None)
    assert store is None
    found = {(p.field, p.path.endswith("bad.yaml")) for p in problems}
    assert ("review_every", True) in found
    assert ("changes[1].when", True) in found and ("changes[1].date", True) in found
    assert all(p.line is not None for p in problems), [str(p) for p in problems]
    assert not any(p.path.endswith("good.yaml") for p in problems)

    bad["review_every"], bad["changes"] = 30, [{"date": "2026-05-01", "note": "Too late."}]
    write_store(directory, [bad])
    _, problems = validate_dir(directory, today=TODAY, cache_dir=None)
    assert [(p.field, "outside 'added' to 'reviewed'" in p.message) for p in problems] == [
        ("changes", True)
    ]


def test_new_fields_survive_the_parse_cache(tmp_path: Path) -> None:
    """A store loaded from cached parses keeps review_every and changes (#12's compact store)."""
    data = claim_data(
        "kept",
        "A cached claim title",
        "A summary long enough to pass.",
        reviewed="2026-06-01",
        review_every=45,
        changes=[{"date": "2026-06-01", "note": "Summary rewritten."}],
    )
    directory = write_store(tmp_path / "claims", [data])
    cache = tmp_path / "cache"
    first, _ = validate_dir(directory, today=TODAY, cache_dir=cache)
    second, _ = validate_dir(directory, today=TODAY, cache_dir=cache)
    assert first is not None and second is not None
    for store in (first, second):
        claim = store.get("kept")
        assert claim is not None and claim.review_every == 45
        assert claim.latest_change is not None and claim.latest_change.note == "Summary rewritten."


def test_the_interval_comes_from_config_and_a_broken_config_names_the_line(
    tmp_path: Path,
) -> None:
    assert load_freshness_config().review_every == 180  # the repository's config/
    assert load_freshness_config(tmp_path / "missing.yaml").review_every == 180
    path = tmp_path / "freshness.yaml"
    path.write_text("review_every: 30\n")
    assert load_freshness_config(path).review_every == 30
    path.write_text("# comment\nreview_every: -3\n")
    with pytest.raises(StoreError) as caught:
        load_freshness_config(path)
    assert [(p.line, p.field) for p in caught.value.problems] == [(2, "review_every")]


def test_the_digest_sends_fresh_claims_before_stale_ones() -> None:
    stale_but_newer = make("a-stale", added="2026-03-01", reviewed="2026-03-01", review_every=30)
    fresh = make("b-fresh", added="2026-01-01", reviewed="2026-01-02", review_every=3650)
    claims = [stale_but_newer, fresh]
    # Without a date, the most recently touched goes first (the old rule)...
    assert choose_claims(claims, 1).claim_ids == ["a-stale"]
    # ...on a date when it is stale, the fresh claim goes first; stale ones still fill up.
    assert choose_claims(claims, 1, today=TODAY).claim_ids == ["b-fresh"]
    assert choose_claims(claims, 2, today=TODAY).claim_ids == ["b-fresh", "a-stale"]


def test_stale_claims_carry_one_line_in_every_kind_of_answer() -> None:
    claim = make("c1", review_every=180)
    late = Freshness(REVIEWED + timedelta(days=213))
    digest = blocks.digest_message([claim], REVIEWED + timedelta(days=213), "UTC")
    shown = dumps(digest.payload())
    assert shown.count("Last reviewed 7 months ago — may be out of date") == 1
    early = blocks.digest_message([claim], REVIEWED + timedelta(days=100), "UTC")
    assert "Last reviewed" not in dumps(early.payload())
    store = ClaimStore.from_claims(Path("."), [claim])
    full = blocks.claim_message(store, claim, freshness=late)
    assert "may be out of date" in dumps(full.payload())
    home = dumps(blocks.home_view(store, freshness=late).to_dict())
    assert "Needs review" in home and "`c1`" in home
    home_early = dumps(blocks.home_view(store, freshness=Freshness(REVIEWED)).to_dict())
    assert "Needs review" not in home_early


# --------------------------------------------------------------------------- through Slack


@pytest.fixture(scope="module")
def mock() -> Iterator[MockSlack]:
    with MockSlack() as server:
        yield server


def _answer(app, mock: MockSlack, text: str, key: str) -> dict[str, Any]:
    body = slash_command_body(text, response_url=mock.response_url(key))
    response = app.dispatch(body, "application/x-www-form-urlencoded")
    assert response.status == 200
    return mock.response_to(key)


def test_slack_answers_gain_the_badge_when_the_clock_passes_the_review_date(
    mock: MockSlack, tmp_path: Path
) -> None:
    data = claim_data(
        "chip-exports",
        "Chip export rules slow Chinese labs",
        "Export rules on advanced chips slow the training of frontier models in China.",
        aliases=["chip exports"],
        review_every=60,
    )
    directory = write_store(tmp_path / "claims", [data])
    clock = {"today": REVIEWED + timedelta(days=60)}  # the last fresh day
    with inprocess_app(
        mock.base_url,
        f"sqlite:///{tmp_path / 'state.sqlite3'}",
        directory,
        today=lambda: clock["today"],
    ) as app:
        before = _answer(app, mock, "chip exports", "fresh")
        assert "Chip export rules" in dumps(before)
        assert "Last reviewed" not in dumps(before)
        clock["today"] += timedelta(days=1)
        after = dumps(_answer(app, mock, "chip exports", "stale"))
        assert after.count("Last reviewed 2 months ago — may be out of date") == 1
        claim = dumps(_answer(app, mock, "claim chip-exports", "full"))
        assert "Last reviewed 2 months ago — may be out of date" in claim


def test_claims_stale_lists_oldest_first_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ai_race = cli_runner(monkeypatch, capsys)
    directory = write_store(
        tmp_path / "claims",
        [
            make("newer", reviewed="2026-03-01").model_dump(mode="json", exclude_none=True),
            make("older", reviewed="2026-01-02").model_dump(mode="json", exclude_none=True),
            make("fresh", reviewed="2026-11-01").model_dump(mode="json", exclude_none=True),
        ],
    )
    done = ai_race("claims", "stale", "--claims", str(directory), "--today", "2026-11-24")
    assert done.returncode == 1, done.stderr
    listed = [line.split("\t")[2] for line in done.stdout.splitlines()]
    assert listed == ["older", "newer"]
    assert "2 of 3 claims need review" in done.stderr
    fine = ai_race("claims", "stale", "--claims", str(directory), "--today", "2026-03-02")
    assert fine.returncode == 0 and fine.stdout == ""
    bad = ai_race("claims", "stale", "--claims", str(directory), "--today", "soon")
    assert bad.returncode == 2 and "expected a date as YYYY-MM-DD" in bad.stderr
    assert "Traceback" not in bad.stderr
