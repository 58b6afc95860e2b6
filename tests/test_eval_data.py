"""The evaluation set of issue 9: well-formed, big enough, and split once for good.

The matcher is tuned on ``eval_tuning.tsv`` and judged on ``eval_heldout.tsv``; these
tests keep that promise checkable: a row moved between halves or added by hand to one
of them fails here, as does a row with an unknown claim id or style.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
from data import split_eval


def _rows() -> list[split_eval.Row]:
    ids = split_eval.claim_ids()
    tuning, _ = split_eval.read_rows(split_eval.TUNING, ids)
    heldout, _ = split_eval.read_rows(split_eval.HELDOUT, ids)
    return tuning + heldout


def test_committed_halves_pass_the_check() -> None:
    assert split_eval.check() == []
    assert split_eval.check_all() == []


def test_second_pair_adds_name_only_negatives_and_news() -> None:
    ids = split_eval.claim_ids()
    rows = []
    for path in (split_eval.TUNING_2, split_eval.HELDOUT_2):
        rows += split_eval.read_rows(path, ids)[0]
    styles = Counter(split_eval.STYLE_GROUPS[r.style] for r in rows)
    assert styles["negative-entity"] >= 30
    assert styles["news"] >= 25
    assert all(r.source.startswith("http") for r in rows if r.style in ("headline", "lede"))


def test_a_query_in_two_pairs_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tuning, heldout = _copy_halves(tmp_path)
    second_tuning, second_heldout = tmp_path / "t2.tsv", tmp_path / "h2.tsv"
    shutil.copy(split_eval.TUNING_2, second_tuning)
    shutil.copy(split_eval.HELDOUT_2, second_heldout)
    reused = tuning.read_text(encoding="utf-8").splitlines()[1]
    with second_tuning.open("a", encoding="utf-8") as handle:
        handle.write(reused + "\n")
    monkeypatch.setattr(
        split_eval,
        "PAIRS",
        {
            1: (tuning, heldout, split_eval.SEED),
            2: (second_tuning, second_heldout, split_eval.SEED + 2),
        },
    )
    problems = split_eval.check_all()
    assert any(p.startswith("query in pairs 1 and 2") for p in problems)


def test_set_has_the_size_and_spread_issue_9_asks_for() -> None:
    rows = _rows()
    groups = Counter(split_eval.STYLE_GROUPS[r.style] for r in rows)
    assert groups["news"] >= 150
    assert groups["slack"] >= 100
    assert groups["negative"] + groups["negative-entity"] >= 60
    assert groups["negative-entity"] >= 20
    per_claim = Counter(r.expected[0] for r in rows if split_eval.STYLE_GROUPS[r.style] == "news")
    assert set(per_claim) == split_eval.claim_ids()
    assert min(per_claim.values()) >= 8


def test_each_half_holds_about_half_of_every_claim() -> None:
    ids = split_eval.claim_ids()
    tuning, _ = split_eval.read_rows(split_eval.TUNING, ids)
    heldout, _ = split_eval.read_rows(split_eval.HELDOUT, ids)
    first = Counter(r.expected[0] if r.expected else "" for r in tuning)
    second = Counter(r.expected[0] if r.expected else "" for r in heldout)
    for claim in ids | {""}:
        assert abs(first[claim] - second[claim]) <= 2, claim


def _copy_halves(tmp_path: Path) -> tuple[Path, Path]:
    tuning, heldout = tmp_path / "t.tsv", tmp_path / "h.tsv"
    shutil.copy(split_eval.TUNING, tuning)
    shutil.copy(split_eval.HELDOUT, heldout)
    return tuning, heldout


def test_a_row_moved_between_halves_is_caught(tmp_path: Path) -> None:
    tuning, heldout = _copy_halves(tmp_path)
    lines = heldout.read_text(encoding="utf-8").splitlines()
    moved = lines.pop(5)
    heldout.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tuning.write_text(tuning.read_text(encoding="utf-8") + moved + "\n", encoding="utf-8")
    problems = split_eval.check(tuning, heldout)
    assert any("not where the seeded split puts them" in p for p in problems)


def test_a_bad_row_is_reported_with_its_line(tmp_path: Path) -> None:
    tuning, heldout = _copy_halves(tmp_path)
    with tuning.open("a", encoding="utf-8") as handle:
        handle.write("some query\tno-such-claim\theadline\thttps://example.org/x\n")
        handle.write("another\t\tslack-rant\twritten\n")
    problems = split_eval.check(tuning, heldout)
    assert any(p.startswith("t.tsv:") and "unknown claim id 'no-such-claim'" in p for p in problems)
    assert any("unknown style 'slack-rant'" in p for p in problems)
