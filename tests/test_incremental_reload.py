"""A reload for a few changed files patches the last full load and answers like a fresh build.

Real files in a real directory (a generated store: common words meet
hundreds of claims), edited in place, added and removed; the holder's
patched catalog is compared query by query with a catalog loaded whole.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from claim_factory import claim_data

from bench.make_store import make_store
from bot.core import catalog_patch, index_patch
from bot.core.catalog import Catalog, CatalogHolder, load_catalog
from bot.core.index import TermIndex
from bot.core.index_delta import DeltaIndex, DeltaVectors, analyse
from bot.core.match_types import SearchResult

COMMON = ["open source models china", "nvidia chips export", "ai adoption", "lunch"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("generated") / "claims"
    make_store(400, directory, seed=11)
    return directory


def _answers(result: SearchResult) -> tuple[list[tuple[str, str, str | None]], tuple[str, ...]]:
    return [(m.claim.id, m.reason, m.phrase) for m in result.matches], result.suggestions


def _copy(generated: Path, tmp_path: Path) -> Path:
    directory = tmp_path / "claims"
    directory.mkdir()
    for path in generated.glob("*.yaml"):
        (directory / path.name).write_bytes(path.read_bytes())
    return directory


def _same_answers(patched: Catalog, fresh: Catalog, queries: list[str]) -> None:
    for query in queries:
        got, want = patched.matcher.search(query, 5), fresh.matcher.search(query, 5)
        assert _answers(got) == _answers(want), query
        scores = [m.score for m in got.matches]
        assert scores == pytest.approx([m.score for m in want.matches], abs=1e-5), query


def _same_index(patched: TermIndex, fresh: TermIndex, old_surfaces: set[str]) -> None:
    """Term by term: postings, idf, display form; and phrases, key surfaces, names.

    A key surface of a replaced text may stay when deciding that no other
    claim has it would mean reading many claims (bot.core.index_patch), but
    only one whose term is still there: it can only offer a typo candidate.
    """
    assert patched.size == fresh.size
    assert sorted(patched.term_ids) == sorted(fresh.term_ids)
    for term, tid in fresh.term_ids.items():
        mine = patched.term_ids[term]
        for got, want in zip(patched.postings(mine), fresh.postings(tid), strict=True):
            assert got.tolist() == want.tolist(), term
        assert patched.idf[mine] == fresh.idf[tid], term
        assert patched.display[mine] == fresh.display[tid], term
    assert all(patched.phrases_of(i) == fresh.phrases_of(i) for i in range(fresh.size))
    assert set(fresh.surface_term) <= set(patched.surface_term)
    stale = set(patched.surface_term) - set(fresh.surface_term)
    assert stale <= old_surfaces
    assert all(patched.postings_count(patched.surface_term[s]) for s in stale)
    assert patched.suggest_display == fresh.suggest_display
    assert patched.suggest_keys == fresh.suggest_keys


def _same_vectors(patched: Catalog, fresh: Catalog) -> None:
    """The changed claims' int8 codes and scales as built; every claim's cosine (BLAS may
    round a subset's product differently in the last bit)."""
    vectors = patched.matcher._vectors
    assert isinstance(vectors, DeltaVectors)
    _, delta, delta_row, numbering = vectors._parts
    built = fresh.matcher._vectors
    changed = np.flatnonzero(numbering.old_of_new < 0)
    assert changed.size
    assert delta.codes[delta_row[changed]].tolist() == built.codes[changed].tolist()
    assert delta.scales[delta_row[changed]].tolist() == built.scales[changed].tolist()
    every = np.arange(len(fresh.store))
    for query in ("open source models", "zanzibar lattice chips", "quokka robotics"):
        vector = fresh.matcher._embedder.embed(query)
        got = vectors.cosine(vector, every)
        assert got == pytest.approx(built.cosine(vector, every), abs=1e-6), query


def _unlinked(directory: Path, ids: list[str]) -> str:
    """An id no other claim file links to (so removing its file is valid)."""
    texts = "\n".join(p.read_text() for p in directory.glob("*.yaml"))
    return next(i for i in ids if texts.count(f"id: {i}\n") == 1)


def _edit(path: Path, **fields: object) -> None:
    data = yaml.safe_load(path.read_text())
    data.update(fields)
    with path.open("r+", encoding="utf-8") as handle:  # in place: same inode
        handle.write(yaml.safe_dump(data, sort_keys=False))
        handle.truncate()


@pytest.mark.parametrize("copy_max", [8, 1_000_000], ids=["recipes", "copies"])
def test_edits_additions_and_removals_answer_like_a_fresh_build(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, copy_max: int
) -> None:
    """Touched lists as recipes merged on read (common terms at scale) and as copies."""
    monkeypatch.setattr(index_patch, "COPY_MAX", copy_max)
    directory = _copy(generated, tmp_path)
    # The first claim in id order: the display form of each of its terms comes from it.
    first = claim_data(
        "0-first",
        "Exporting chips by the shipload",
        "Accelerator shipments rose as chip makers shipped more.",
    )
    (directory / "0-first.yaml").write_text(yaml.safe_dump(first, sort_keys=False))
    holder = CatalogHolder(load_catalog(directory))
    base = holder.current
    ids = list(base.store.ids)
    edited, retitled = ids[40], ids[0]
    removed = _unlinked(directory, ids[300:])
    old_titles = [base.store.claim_at(i).title for i in (0, ids.index(removed))]
    _edit(directory / f"{edited}.yaml", title="Zanzibar lattice chips outpace export rules")
    _edit(directory / f"{retitled}.yaml", title="Quokka robotics", entities=["Quokka Labs"])
    (directory / f"{removed}.yaml").unlink()
    added = claim_data(
        "m-added-for-the-test",
        "Marmoset reasoning model tops open source charts",
        "A new open source reasoning model from China leads the charts.",
        aliases=["Marmoset R1"],
        entities=["Marmoset AI"],
        topics=["open source", "models"],
        related=[{"id": edited, "relation": "context"}],
    )
    (directory / "m-added-for-the-test.yaml").write_text(yaml.safe_dump(added, sort_keys=False))

    assert holder.reload_if_changed() == []
    patched = holder.current
    index = patched.matcher.index
    assert isinstance(index, DeltaIndex)  # patched, not loaded whole
    kinds = {type(p).__name__ for p in index.patched.values()}
    assert kinds == ({"Recipe", "Posting"} if copy_max < 100 else {"Posting"})
    assert len(patched.store) == len(ids)  # one added, one removed
    assert patched.store.get(removed) is None
    fresh = load_catalog(directory)
    assert patched.store.ids == fresh.store.ids
    assert patched.store.topic_counts() == fresh.store.topic_counts()
    claim = patched.store.get("m-added-for-the-test")
    assert claim is not None
    assert [c.id for c in patched.store.related(claim, claim.related[0].relation)] == [edited]
    others = [base.store.claim_at(i).title for i in range(0, len(ids), 37)]
    queries = [
        "zanzibar lattice",
        "zanzibr latice chips",  # typos of words only the edit brought
        "quokka robotics",
        "marmoset reasoning model",
        "marmoset r1 open source",
        *old_titles,  # a removed claim's and a replaced title
        *others,
        *COMMON,
    ]
    replaced = [base.store.claim_at(i) for i in (0, 40, ids.index(removed))]
    old_surfaces = set(analyse(list(enumerate(replaced)), base.matcher.analyzer).surfaces)
    _same_index(patched.matcher.index, fresh.matcher.index, old_surfaces)
    _same_vectors(patched, fresh)
    _same_answers(patched, fresh, queries)
    assert patched.matcher.search("zanzibar lattice").matches[0].claim.id == edited


def test_an_edit_in_place_and_back_matches_a_fresh_build_each_time(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Edits only: every claim keeps its index, changed lists are patched in place."""
    monkeypatch.setattr(index_patch, "COPY_MAX", 8)
    directory = _copy(generated, tmp_path)
    holder = CatalogHolder(load_catalog(directory))
    base = holder.current
    path = sorted(directory.glob("*.yaml"))[3]
    text = path.read_text()
    old = base.store.get(path.stem)
    assert old is not None
    _edit(path, title="Okapi inference cluster")
    assert holder.reload_if_changed() == []
    assert holder.current.store.ids is base.store.ids  # nothing renumbered
    fresh = load_catalog(directory)
    old_surfaces = set(analyse([(0, old)], base.matcher.analyzer).surfaces)
    _same_index(holder.current.matcher.index, fresh.matcher.index, old_surfaces)
    _same_answers(holder.current, fresh, ["okapi inference", old.title, *COMMON])
    path.write_text(text)
    assert holder.reload_if_changed() == []
    assert not holder.current.matcher.search("okapi inference").found
    _same_answers(holder.current, base, ["okapi inference", old.title, *COMMON])


def _linked(directory: Path) -> tuple[str, str]:
    """(source, target): a claim file and the id of a claim it links to."""
    for path in sorted(directory.glob("*.yaml")):
        related = yaml.safe_load(path.read_text()).get("related") or []
        if related:
            return path.stem, related[0]["id"]
    raise AssertionError("the generated store has no links")


def test_a_change_that_breaks_another_claim_is_refused_with_the_full_report(
    generated: Path, tmp_path: Path
) -> None:
    directory = _copy(generated, tmp_path)
    holder = CatalogHolder(load_catalog(directory))
    before = holder.current
    source, target = _linked(directory)
    target_file = directory / f"{target}.yaml"
    text = target_file.read_text()
    target_file.unlink()  # valid on its own, but the source now links to nothing
    problems = holder.reload_if_changed()
    found = {(Path(p.path).stem, p.field) for p in problems}
    assert (source, "related[0].id") in found  # others may link to it too
    assert all(target in p.message for p in problems)
    assert holder.current is before
    target_file.write_text(text)
    assert holder.reload_if_changed() == []
    assert holder.current.store.get(target) is not None


def test_a_contradicting_relation_from_an_edit_is_refused(generated: Path, tmp_path: Path) -> None:
    directory = _copy(generated, tmp_path)
    holder = CatalogHolder(load_catalog(directory))
    source, target = _linked(directory)
    declared = yaml.safe_load((directory / f"{source}.yaml").read_text())["related"][0]
    other = "supports" if declared["relation"] != "supports" else "context"
    _edit(directory / f"{target}.yaml", related=[{"id": source, "relation": other}])
    problems = holder.reload_if_changed()
    assert {Path(p.path).stem for p in problems} == {source, target}
    assert all(p.field.endswith(".relation") for p in problems)


def test_past_the_patch_limit_the_store_is_loaded_whole(
    generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_patch, "MIN_PATCH_FILES", 2)
    monkeypatch.setattr(catalog_patch, "COMPACT_SHARE", 0.0)
    directory = _copy(generated, tmp_path)
    holder = CatalogHolder(load_catalog(directory))
    paths = sorted(directory.glob("*.yaml"))
    _edit(paths[1], title="Capybara compute credits")
    _edit(paths[2], title="Axolotl inference chips")
    assert holder.reload_if_changed() == []
    assert isinstance(holder.current.matcher.index, DeltaIndex)
    _edit(paths[3], title="Pangolin edge accelerators")  # three files since the base: compact
    assert holder.reload_if_changed() == []
    assert not isinstance(holder.current.matcher.index, DeltaIndex)
    assert holder.current.matcher.search("pangolin edge accelerators").found
    _edit(paths[4], title="Numbat model registry")  # the full load is the new base
    assert holder.reload_if_changed() == []
    assert isinstance(holder.current.matcher.index, DeltaIndex)
    _same_answers(holder.current, load_catalog(directory), ["capybara compute", "numbat", *COMMON])
