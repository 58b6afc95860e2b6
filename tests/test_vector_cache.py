"""Claim vectors are computed once: unchanged claims reuse cached rows across loads."""

from __future__ import annotations

import mmap
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from claim_factory import claim_data, write_store

from bot.core.catalog import load_catalog
from bot.core.matcher import Matcher
from bot.core.semantic import Embedder, default_embedder
from bot.core.store import REPO_CLAIMS, load_store


class CountingEmbedder(Embedder):
    """The real embedder, counting how many texts it had to embed."""

    def __init__(self) -> None:  # share the loaded tables instead of reading them again
        self.__dict__.update(default_embedder().__dict__)
        self.embedded = 0

    def embed_many(self, texts: Sequence[str], batch: int = 2_048) -> np.ndarray:
        self.embedded += len(texts)
        return super().embed_many(texts, batch)


def _claims(second_title: str) -> list[dict]:
    return [
        claim_data(
            "alpha-claim",
            "Chip export rules tighten again",
            "Regulators restrict lithography tools.",
        ),
        claim_data("beta-claim", second_title, "Navies test instruments at sea."),
    ]


def test_unchanged_claims_are_not_embedded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AI_RACE_CACHE", str(tmp_path / "cache"))
    directory = write_store(tmp_path / "a", _claims("Quantum sensors reshape detection"))
    first = CountingEmbedder()
    cold = Matcher(load_store(directory), embedder=first)
    assert first.embedded == 2

    again = CountingEmbedder()
    warm = Matcher(load_store(directory), embedder=again)
    assert again.embedded == 0
    assert np.array_equal(warm._vectors.codes, cold._vectors.codes)

    edited = write_store(tmp_path / "b", _claims("Quantum sensors find submarines"))
    after_edit = CountingEmbedder()
    Matcher(load_store(edited), embedder=after_edit)
    assert after_edit.embedded == 1  # only the edited claim


def test_a_corrupt_cache_costs_time_not_correctness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("AI_RACE_CACHE", str(cache))
    directory = write_store(tmp_path / "a", _claims("Quantum sensors reshape detection"))
    Matcher(load_store(directory), embedder=CountingEmbedder())
    for saved in cache.glob("index-*"):  # the saved index would answer without vectors
        shutil.rmtree(saved)
    [path] = cache.glob("claim-vectors-*.npz")
    path.write_bytes(b"not a numpy archive")
    counting = CountingEmbedder()
    matcher = Matcher(load_store(directory), embedder=counting)
    assert counting.embedded == 2
    assert [m.claim.id for m in matcher.search("quantum sensors").matches] == ["beta-claim"]


# ------------------------------------------------------------ the saved index

QUERIES = ["deepseek open source", "hasabis", "sora audio", "nvidia chips export", "lunch"]


def _answers(matcher: Matcher) -> list[tuple]:
    """Everything a user sees of each answer, for comparing two matchers."""
    out = []
    for query in QUERIES:
        result = matcher.search(query)
        out.append(
            (
                [(m.claim.id, m.score, m.reason) for m in result.matches],
                result.suggestions,
            )
        )
    return out


def _mapped(array: np.ndarray) -> bool:
    """Whether ``array`` is a view of a memory-mapped file."""
    base = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    return base is not None


@pytest.fixture()
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the stores whose index was built (not loaded)."""
    import bot.core.index_cache as index_cache

    seen: list[int] = []
    real_build = index_cache.build_index

    def counting_build(store, analyzer, **kwargs):
        seen.append(len(store))
        return real_build(store, analyzer, **kwargs)

    monkeypatch.setattr(index_cache, "build_index", counting_build)
    return seen


def test_the_index_is_reused_while_the_claims_are_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, builds: list[int]
) -> None:
    monkeypatch.setenv("AI_RACE_CACHE", "off")
    directory = tmp_path / "claims"
    shutil.copytree(REPO_CLAIMS, directory)
    expected = _answers(Matcher(load_store(directory)))
    monkeypatch.setenv("AI_RACE_CACHE", str(tmp_path / "cache"))
    first = Matcher(load_store(directory))
    copy = tmp_path / "deploy" / "claims"  # a fresh clone: new path, inodes and times
    shutil.copytree(directory, copy, copy_function=shutil.copy)
    second = Matcher(load_store(copy))
    assert len(builds) == 2  # without a cache, then the first with one
    # Pages of the saved file, shared by processes, not a copy in this one.
    assert _mapped(second.index.post_claim) and _mapped(second._vectors.codes)
    assert _answers(first) == expected and _answers(second) == expected


def test_a_changed_claim_rebuilds_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, builds: list[int]
) -> None:
    monkeypatch.setenv("AI_RACE_CACHE", str(tmp_path / "cache"))
    directory = write_store(tmp_path / "a", _claims("Quantum sensors reshape detection"))
    Matcher(load_store(directory))
    edited = write_store(tmp_path / "a", _claims("Gravity sensors find submarines"))
    matcher = Matcher(load_store(edited))
    assert builds == [2, 2]
    assert [m.claim.id for m in matcher.search("gravity sensors").matches] == ["beta-claim"]
    assert not matcher.search("quantum sensors").found


@pytest.mark.parametrize("damage", ["garbage", "truncated", "missing"])
def test_a_damaged_saved_index_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, builds: list[int], damage: str
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("AI_RACE_CACHE", str(cache))
    directory = tmp_path / "claims"
    shutil.copytree(REPO_CLAIMS, directory)
    expected = _answers(Matcher(load_store(directory)))
    [saved] = cache.glob("index-*")
    target = saved / "post_claim.npy"
    if damage == "garbage":
        target.write_bytes(b"not a numpy array")
    elif damage == "truncated":
        target.write_bytes(target.read_bytes()[:-100])
    else:
        (saved / "terms.data.npy").unlink()
    again = Matcher(load_store(directory))
    assert len(builds) == 2
    assert _answers(again) == expected
    third = Matcher(load_store(directory))  # the rebuilt index was saved again
    assert len(builds) == 2 and _answers(third) == expected


def test_a_server_builds_the_index_in_a_child_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, builds: list[int]
) -> None:
    """The process workers fork from only maps the saved index; it never builds it."""
    monkeypatch.setenv("AI_RACE_CACHE", "off")
    directory = tmp_path / "claims"
    shutil.copytree(REPO_CLAIMS, directory)
    expected = _answers(load_catalog(directory).matcher)
    builds.clear()
    monkeypatch.setenv("AI_RACE_CACHE", str(tmp_path / "cache"))
    catalog = load_catalog(directory, build_elsewhere=True)
    assert builds == [] and list((tmp_path / "cache").glob("index-*"))
    assert _mapped(catalog.matcher.index.post_claim)
    assert _answers(catalog.matcher) == expected


def test_without_a_child_process_the_server_builds_the_index_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, builds: list[int]
) -> None:
    monkeypatch.setenv("AI_RACE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("sys.executable", str(tmp_path / "no-such-python"))
    directory = tmp_path / "claims"
    shutil.copytree(REPO_CLAIMS, directory)
    catalog = load_catalog(directory, build_elsewhere=True)
    assert builds == [len(catalog.store)]
    assert catalog.matcher.search("deepseek open source").found


def test_workers_reloading_together_build_the_index_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.core.index_cache as index_cache

    monkeypatch.setenv("AI_RACE_CACHE", str(tmp_path / "cache"))
    directory = tmp_path / "claims"
    shutil.copytree(REPO_CLAIMS, directory)
    store = load_store(directory)
    synonyms = load_catalog(directory).matcher.config.synonyms  # (builds in this process)
    for saved in (tmp_path / "cache").glob("index-*"):
        shutil.rmtree(saved)
    children: list[list[str]] = []
    real_run = index_cache.subprocess.run

    def counting_run(command, **kwargs):
        children.append(command)
        return real_run(command, **kwargs)

    monkeypatch.setattr(index_cache.subprocess, "run", counting_run)
    threads = [
        threading.Thread(target=index_cache.build_elsewhere, args=(store, synonyms, None))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(children) == 1 and len(list((tmp_path / "cache").glob("index-*"))) == 1
