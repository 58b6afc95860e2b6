"""Matching quality on the public evaluation queries and on our own held-out set.

The public set is copied from the project's shared evaluation file. The held-out
set was written by someone who had not seen the claims' aliases: headlines and
chat messages, plus off-topic chatter that merely names a company from a claim.
A hit is the first listed id appearing in the top 3.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bot.core.catalog import load_catalog
from bot.core.confidence import Feature
from bot.core.matcher import Matcher
from bot.core.matching_config import MatchingConfig, load_matching_config
from bot.core.store import REPO_CLAIMS

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return load_catalog(REPO_CLAIMS).matcher


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _evaluate(matcher: Matcher, rows: list[dict[str, str]]) -> tuple[float, float, list[str]]:
    positives = [r for r in rows if r["expected"]]
    hits, reciprocal, misses = 0, 0.0, []
    for row in positives:
        wanted = row["expected"].split(",")[0]
        found = [m.claim.id for m in matcher.search(row["query"], limit=3).matches]
        if wanted in found:
            hits += 1
            reciprocal += 1 / (found.index(wanted) + 1)
        else:
            misses.append(f"{row['query']!r}: wanted {wanted}, got {found}")
    return hits / len(positives), reciprocal / len(positives), misses


def _false_positives(matcher: Matcher, rows: list[dict[str, str]]) -> list[str]:
    wrong = []
    for row in rows:
        if not row["expected"]:
            result = matcher.search(row["query"])
            if result.matches:
                wrong.append(f"{row['query']!r} -> {result.matches[0].claim.id}")
    return wrong


def test_public_queries(matcher: Matcher) -> None:
    rows = _rows("public_queries.tsv")
    recall, mrr, misses = _evaluate(matcher, rows)
    assert recall >= 0.95, misses
    assert mrr >= 0.85, misses


def test_public_negatives_match_nothing(matcher: Matcher) -> None:
    rows = _rows("public_queries.tsv")
    assert sum(1 for r in rows if not r["expected"]) >= 8
    assert _false_positives(matcher, rows) == []


def test_held_out_queries_generalise(matcher: Matcher) -> None:
    rows = _rows("heldout_queries.tsv")
    recall, mrr, misses = _evaluate(matcher, rows)
    assert recall >= 0.9, misses
    assert mrr >= 0.85, misses


def test_held_out_off_topic_and_name_only_messages_match_nothing(matcher: Matcher) -> None:
    rows = _rows("heldout_queries.tsv")
    assert sum(1 for r in rows if r["style"] == "negative-entity") >= 15
    assert _false_positives(matcher, rows) == []


def test_built_in_defaults_are_the_shipped_fit() -> None:
    # A store without config/matching.yaml must decide exactly as the repo does.
    shipped = load_matching_config().confidence
    assert MatchingConfig().confidence == shipped
    assert set(shipped.weights) == set(Feature)


@pytest.mark.parametrize(
    ("name", "recall_floor"),
    # Loose floors under the figures in BENCHMARKS.md (0.918 and 0.879 when
    # written): a regression guard, not the goal (0.92 held-out, not met yet).
    [("eval_tuning.tsv", 0.88), ("eval_heldout.tsv", 0.84)],
)
def test_issue_9_halves_do_not_regress(matcher: Matcher, name: str, recall_floor: float) -> None:
    rows = _rows(name)
    recall, _mrr, misses = _evaluate(matcher, rows)
    assert recall >= recall_floor, misses
    assert len(_false_positives(matcher, rows)) <= 1
