"""House rules for the bundled claims that the schema alone cannot express.

The evidence rule (README, "Writing a claim"): ``strong`` needs first-hand
sources that establish the claim, so a claim backed only by commentary can be
``partial`` or ``opinion`` but never ``strong``. Links are read from both ends,
so two claims must not declare different relations to each other.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from claim_factory import claim_data, write_store

from bot.core.blocks import claim_message, sources_message
from bot.core.catalog import load_catalog
from bot.core.render_text import claim_text
from bot.core.schema import EvidenceLevel, SourceKind
from bot.core.store import REPO_CLAIMS, ClaimStore, load_store, validate_dir


def _strong_on_commentary_only(store: ClaimStore) -> list[str]:
    return [
        claim.id
        for claim in store
        if claim.evidence.level is EvidenceLevel.STRONG
        and all(source.kind is SourceKind.COMMENTARY for source in claim.sources)
    ]


def test_no_claim_backed_only_by_commentary_is_rated_strong() -> None:
    assert _strong_on_commentary_only(load_store(REPO_CLAIMS)) == []


def test_the_commentary_rule_catches_a_strong_commentary_only_claim(tmp_path: Path) -> None:
    rated_too_high = claim_data(
        "too-high", "A claim with commentary only", "Someone said so, on a podcast."
    )
    rated_too_high["evidence"] = {"level": "strong", "note": "Rated too high on purpose."}
    honest = claim_data("honest", "A claim rated honestly", "Someone else said so, in a blog post.")
    store = load_store(write_store(tmp_path / "claims", [rated_too_high, honest]))
    assert _strong_on_commentary_only(store) == ["too-high"]


def _pair(tmp_path: Path, forward: str, backward: str) -> Path:
    first = claim_data("first-claim", "The first claim here", "The first claim says a thing.")
    second = claim_data("second-claim", "The second claim here", "The second one says more.")
    first["related"] = [{"id": "second-claim", "relation": forward}]
    second["related"] = [{"id": "first-claim", "relation": backward}]
    return write_store(tmp_path / "claims", [first, second])


def test_claims_declaring_different_relations_to_each_other_are_refused(tmp_path: Path) -> None:
    directory = _pair(tmp_path, "supports", "context")
    store, problems = validate_dir(directory, cache_dir=None)
    assert store is None
    assert [(Path(p.path).name, p.field) for p in problems] == [
        ("first-claim.yaml", "related[0].relation"),
        ("second-claim.yaml", "related[0].relation"),
    ]
    first_text = (directory / "first-claim.yaml").read_text().splitlines()
    assert "relation: supports" in first_text[problems[0].line - 1]
    assert "'supports' for second-claim" in problems[0].message
    assert "'context' for first-claim" in problems[0].message


@pytest.mark.parametrize("relation", ["supports", "contrasts", "context"])
def test_claims_agreeing_on_a_relation_are_accepted(tmp_path: Path, relation: str) -> None:
    store, problems = validate_dir(_pair(tmp_path, relation, relation), cache_dir=None)
    assert problems == []
    assert store is not None and len(store) == 2


def test_bracketed_source_titles_read_as_descriptions_not_headlines() -> None:
    catalog = load_catalog(REPO_CLAIMS)
    claim = catalog.store.get("sora2-audio-tell")
    assert claim is not None
    described = [s for s in claim.sources if s.title_is_description]
    published = [s for s in claim.sources if not s.title_is_description]
    assert described and published
    text = claim_text(catalog.store, claim)
    assert f"“{published[0].title}”" in text
    inner = described[0].title[1:-1]
    assert f"(no headline seen) {inner}" in text
    assert f"“{described[0].title}" not in text and "“[" not in text
    for message in (sources_message(claim), claim_message(catalog.store, claim)):
        shown = str(message.payload()["blocks"])
        assert "(no headline seen)" in shown
        assert "“[" not in shown
