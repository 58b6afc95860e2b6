"""The compact store answers like the validated claims it was built from."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
from claim_factory import claim_data, write_store

from bot.core.schema import Claim, Relation
from bot.core.store import REPO_CLAIMS, validate_dir
from bot.core.yamlfile import read_yaml
from bot.digest.rotation import SentRecord, choose_claims


def _validated(directory: Path) -> list[Claim]:
    """The oracle: every file validated by pydantic straight from its YAML."""
    return [Claim.model_validate(read_yaml(p).data) for p in sorted(directory.glob("*.yaml"))]


@pytest.fixture()
def repo_store(tmp_path: Path):
    directory = tmp_path / "claims"
    shutil.copytree(REPO_CLAIMS, directory)
    store, problems = validate_dir(directory, cache_dir=tmp_path / "cache")
    assert problems == [] and store is not None
    return store, _validated(directory)


def test_every_claim_reads_back_as_validated(repo_store) -> None:
    store, claims = repo_store
    by_id = {c.id: c for c in claims}
    assert list(store.ids) == sorted(by_id)
    for index, claim_id in enumerate(store.ids):
        assert store.claim_at(index).model_dump() == by_id[claim_id].model_dump()
        assert store.claims[index].id == claim_id
    assert store.get("no-such-claim") is None
    assert store.body_bytes > 0


def test_whole_store_views_agree_with_the_claims(repo_store) -> None:
    store, claims = repo_store
    counts = Counter(t for c in claims for t in c.topics)
    assert store.topic_counts() == sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    newest = sorted(claims, key=lambda c: (c.last_touched, c.id), reverse=True)
    assert [c.id for c in store.recent(4)] == [c.id for c in newest[:4]]
    for claim in claims:
        for relation in Relation:
            expected = set(claim.related_ids(relation)) | {
                c.id for c in claims if claim.id in c.related_ids(relation)
            }
            assert {c.id for c in store.related(claim, relation)} == expected


def test_digest_rotation_over_rows_picks_what_it_picks_over_claims(repo_store) -> None:
    store, claims = repo_store
    history = [SentRecord(claims[0].id, 1, claims[0].last_touched)]
    for topics in (None, [claims[3].topics[0]]):
        rows = choose_claims(store.rows(), 4, history, topics=topics)
        full = choose_claims(claims, 4, history, topics=topics)
        assert rows.claim_ids == full.claim_ids and rows.cycles == full.cycles
        assert [c.id for c in store.get_many(rows.claim_ids)] == full.claim_ids


def test_ids_sort_unlike_file_names(tmp_path: Path) -> None:
    """ "a-b.yaml" sorts before "a.yaml", but id "a" before "a-b": indices follow ids."""
    summary = "A summary that is long enough to pass."
    directory = write_store(
        tmp_path / "claims",
        [
            claim_data("ai", "The short one here", summary, topics=["one"]),
            claim_data(
                "ai-race",
                "The longer one here",
                summary,
                topics=["two"],
                related=[{"id": "ai", "relation": "supports"}],
            ),
        ],
    )
    store, problems = validate_dir(directory, cache_dir=None)
    assert problems == [] and store is not None
    assert store.ids == ("ai", "ai-race")
    assert [c.title for c in store] == ["The short one here", "The longer one here"]
    assert store.topics_at(0) == ("one",) and store.topics_at(1) == ("two",)
    short = store.get("ai")
    assert short is not None
    assert [c.id for c in store.related(short, Relation.SUPPORTS)] == ["ai-race"]
