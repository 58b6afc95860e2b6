"""Finding the claims a query is about, with a score and a reason for each.

The work is done in three layers, each in its own module, so that each can be
changed (and measured) on its own:

* ``bot.core.index``: the immutable inverted index built at load time
  (vocabulary, postings in flat numpy arrays, typo buckets).
* ``bot.core.candidates``: a query's words -> units (exact, typo-corrected and
  joined terms) -> the claims that explain enough of it, pruned like MaxScore,
  so cost grows with the postings a query hits, not with store size.
* ``bot.core.ranking``: evidence features (coverage, matched words, meaning,
  phrases) -> one calibrated confidence -> answers, or suggestions.

``Matcher`` ties them to one ClaimStore and its sentence vectors and is what
the rest of the bot imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from bot.core.candidates import (
    CANDIDATE_POOL,
    DENSE_MERGE_AT,
    MAX_QUERY_WORDS,
    CandidateFinder,
    Unit,
)
from bot.core.escape import searchable
from bot.core.index import TermIndex, meaning_text
from bot.core.index_cache import load_or_build
from bot.core.match_types import KEY_FIELDS, Hit, Match, SearchResult
from bot.core.matching_config import MatchingConfig
from bot.core.ranking import Candidates, Judge, words_of
from bot.core.semantic import ClaimVectors, Embedder, default_embedder
from bot.core.store import ClaimStore
from bot.core.text import Analyzer
from bot.core.vector_cache import claim_vectors

__all__ = [
    "KEY_FIELDS",
    "MAX_QUERY_WORDS",
    "Candidates",
    "Hit",
    "Match",
    "Matcher",
    "SearchResult",
    "TermIndex",
    "meaning_text",
]


class Matcher:
    """An immutable index over one ClaimStore. Build once per store load."""

    def __init__(
        self,
        store: ClaimStore,
        config: MatchingConfig | None = None,
        *,
        common_postings: int | None = None,
        dense_merge_at: int | None = None,
        candidate_pool: int | None = None,
        embedder: Embedder | None = None,
        index: TermIndex | None = None,
        vectors: ClaimVectors | None = None,
    ) -> None:
        """Index ``store``, or use ``index``: a TermIndex of this very store and config.

        ``index`` is for a caller that saved ``TermIndex.state()`` (keyed by
        the store's content and the matching config) and restored it with
        ``TermIndex.from_state``, instead of rebuilding it, or patched one
        (bot.core.index_patch); ``vectors``: its claim vectors (else embedded).
        """
        self.store = store
        self.config = config or MatchingConfig()
        self.analyzer = Analyzer(self.config.synonyms)
        self._embedder = embedder or default_embedder()
        # Immutable once made and shared by every thread. Without ``index``, both
        # come from the cache when saved for the same claims, config and code.
        if index is None:
            index, self._vectors = load_or_build(
                store, self.analyzer, self.config.synonyms, self._embedder
            )
        elif index.size != len(store):
            raise ValueError(f"index of {index.size} claims for a store of {len(store)}")
        else:
            self._vectors = vectors if vectors is not None else self._embed_claims(store)
        self.index = index
        self.finder = CandidateFinder(
            index,
            common_postings=common_postings,
            dense_merge_at=DENSE_MERGE_AT if dense_merge_at is None else dense_merge_at,
            pool=candidate_pool or CANDIDATE_POOL,
        )
        self.judge = Judge(
            store,
            self.index,
            self.finder,
            self._vectors,
            self._embedder,
            self.config,
            self.analyzer,
        )

    def _embed_claims(self, store: ClaimStore) -> ClaimVectors:
        """Every claim's meaning text embedded: for an index given without its vectors."""
        return claim_vectors(self._embedder, [meaning_text(c) for c in store])

    @property
    def size(self) -> int:
        return self.index.size

    @property
    def _term_ids(self) -> dict[str, int]:
        return self.index.term_ids

    def memory_bytes(self) -> int:
        """Bytes held by the index arrays (not the claims themselves)."""
        return self.index.memory_bytes()

    def vector_bytes(self) -> int:
        """Bytes held by the claims' sentence vectors."""
        return self._vectors.nbytes

    def _query_words(self, query: str) -> list[str]:
        """The query's canonical words, Slack markup read as plain words."""
        return self.analyzer.canonical_words(searchable(query))

    def analyse(self, query: str) -> list[Unit]:
        """Query -> content units, each with the index terms that may stand for it."""
        return self.finder.units(self._query_words(query))

    def _probability(self, features: np.ndarray) -> np.ndarray:
        return self.judge.probability(features)

    def candidates(self, query: str) -> Candidates | None:
        """Claims worth judging for a query, with the evidence features of each.

        A claim sharing no word with the query is never proposed: meaning
        reranks and rescues, it does not scan the store.
        """
        query_words = self._query_words(query)
        units = self.finder.units(query_words)
        if not units or not self.size or not any(u.alternatives for u in units):
            return None
        proposal = self.finder.propose(units, self.judge.weak_credit(len(units)))
        if proposal.indices.size == 0:
            return None
        return self.judge.judge(query, query_words, units, proposal)

    def search(self, query: str, limit: int = 3, offset: int = 0) -> SearchResult:
        """Ranked confident matches (best first), or none plus suggestions."""
        found = self.candidates(query)
        if found is None:
            units = self.analyse(query)
            return SearchResult(query, (), self.suggest(query, units), words_of(units))
        return self.judge.decide(query, found, limit, offset)

    def suggest(
        self, query: str, units: Iterable[Unit] = (), limit: int = 5, near: Sequence[str] = ()
    ) -> tuple[str, ...]:
        """Closest names, entities and topics for a query that found nothing (see Judge)."""
        return self.judge.suggest(query, units, limit, near)
