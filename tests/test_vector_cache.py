"""Claim vectors are computed once: unchanged claims reuse cached rows across loads."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from claim_factory import claim_data, write_store

from bot.core.matcher import Matcher
from bot.core.semantic import Embedder, default_embedder
from bot.core.store import load_store


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
    [path] = cache.glob("claim-vectors-*.npz")
    path.write_bytes(b"not a numpy archive")
    counting = CountingEmbedder()
    matcher = Matcher(load_store(directory), embedder=counting)
    assert counting.embedded == 2
    assert [m.claim.id for m in matcher.search("quantum sensors").matches] == ["beta-claim"]
