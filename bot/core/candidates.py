"""From a query's words to the claims worth judging: analysis, typos, pruned scoring.

* **Typos by edit distance, on the words that matter.** A query word that is
  not a known term is compared (rapidfuzz OSA: Levenshtein where swapping two
  neighbouring letters, "vidoe", is one edit; length-bucketed) with
  the *key* vocabulary only: words from titles, aliases, entities, speakers and
  topics. Typing mistakes happen on names ("hasabis", "seeddance"); fuzzing
  towards ordinary summary words would turn "lunch" into "launch".
* **Split and joined spellings.** Adjacent words of key phrases are indexed
  joined ("open source" -> "opensource"), and adjacent query words are tried
  joined, so both spellings meet.
* **Coverage, pruned like MaxScore.** A claim's mass is the IDF-weighted share
  of the query it explains. Words found in many claims are only looked up for
  claims that rarer words already made able to reach the floor, so the cost
  grows with the postings a query's rare words hit, not with store size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.core.index import TF_BONUS, TermIndex, edits_allowed, joinable
from bot.core.match_types import FieldKind, Hit
from bot.core.postings import best_rows, credit, dense_best, lookup, merged
from bot.core.text import is_content_word, stem

MAX_QUERY_WORDS = 120  # a 10 kB paste is judged on its first 120 content words
MAX_FUZZY_LOOKUPS = 16
MAX_WORD_LENGTH = 40  # longer "words" are pasted hashes or keyboard mashing
CANDIDATE_COVERAGE = 0.1  # a claim explaining less of the query is not judged at all
CANDIDATE_POOL = 300  # claims per query that get a cosine
FUZZY_PENALTY = {1: 0.85, 2: 0.72}
DENSE_MERGE_AT = 4_096  # postings above which alternatives are merged densely, not sorted
DIGIT_WEIGHT = 0.35
# A typo of two joined words is tried when neither half is known ("jen hsun"
# ~ jensen) or both are longer than this. Otherwise a short unknown word rides
# on a known neighbour: "tiktok ban" -> "tiktokban" is two edits from
# "tiktokai", "opn" + "china" is two from "chinaopen", both by accident.
SHORT_JOIN_PART = 4


@dataclass
class Unit:
    """A content word of the query and the index terms that can stand for it."""

    word: str
    alternatives: list[tuple[int, float, str]] = field(default_factory=list)
    weight: float = 0.0


@dataclass(frozen=True)
class Proposal:
    """Claims that explain enough of a query to be judged, best by words first."""

    indices: np.ndarray  # claim indices
    coverage: np.ndarray  # share of the query's weight each explains
    matched: np.ndarray  # explained words (key fields 1, summary ``weak_credit``)
    words: np.ndarray  # coverage plus tf bonus over the query's weight: the words' evidence


class Scores(NamedTuple):
    """What ``CandidateFinder.score`` found: claims (ascending) and their evidence."""

    claims: np.ndarray
    mass: np.ndarray
    boost: np.ndarray
    matched: np.ndarray  # without the credit of ``credit_later``'s words
    # Common words (long postings, see ``CandidateFinder._credit_later``): their
    # matched-word credit is only needed for the few claims finally proposed,
    # not for the thousands that hold them.
    credit_later: list[Unit]


class CandidateFinder:
    """Query words -> units -> candidate claims, over one immutable TermIndex."""

    def __init__(
        self,
        index: TermIndex,
        *,
        common_postings: int | None = None,
        dense_merge_at: int = DENSE_MERGE_AT,
        pool: int = CANDIDATE_POOL,
    ) -> None:
        self.index = index
        self._dense_merge_at = dense_merge_at
        self._pool = pool
        # Above this many postings a word is "common" and scored lazily (MaxScore).
        self._common_postings = common_postings or max(2_000, max(index.size, 1) // 50)

    # ----------------------------------------------------------- query words
    def fuzzy(self, word: str) -> list[tuple[int, float]]:
        """Up to two key terms within the edits allowed for ``word``, with penalties."""
        edits = edits_allowed(word)
        if edits == 0:
            return []
        found: dict[int, float] = {}
        bucket = self.index.typo_candidates(word, edits)
        for candidate, distance, _ in process.extract(
            word, bucket, scorer=OSA.distance, score_cutoff=edits, limit=6
        ):
            if distance == 0:
                continue
            tid = self.index.surface_term[candidate]
            penalty = FUZZY_PENALTY[int(distance)]
            if penalty > found.get(tid, 0.0):
                found[tid] = penalty
        return sorted(found.items(), key=lambda item: -item[1])[:2]

    def units(self, query_words: list[str]) -> list[Unit]:
        """Canonical query words -> content units, each with the terms that may stand for it."""
        raw = query_words[: MAX_QUERY_WORDS * 3]
        units, positions = self._exact_units(raw)
        self._join_neighbours(raw, positions)
        lookups = 0
        for unit in units:
            if unit.alternatives or lookups >= MAX_FUZZY_LOOKUPS:
                continue
            lookups += 1
            unit.alternatives.extend((t, p, "typo") for t, p in self.fuzzy(unit.word))
        self._weigh(units)
        return units

    def _exact_units(self, raw: list[str]) -> tuple[list[Unit], list[Unit | None]]:
        """One unit per distinct stem, and the unit at each word position (None: skipped)."""
        units: list[Unit] = []
        seen: dict[str, Unit] = {}
        positions: list[Unit | None] = []
        for word in raw:
            if not is_content_word(word) or len(word) > MAX_WORD_LENGTH:
                positions.append(None)
                continue
            term = stem(word)
            unit = seen.get(term)
            if unit is None:
                if len(units) >= MAX_QUERY_WORDS:
                    positions.append(None)
                    continue
                unit = Unit(word)
                tid = self.index.term_ids.get(term)
                if tid is not None:
                    unit.alternatives.append((tid, 1.0, "exact"))
                seen[term] = unit
                units.append(unit)
            positions.append(unit)
        return units, positions

    def _join_neighbours(self, raw: list[str], positions: list[Unit | None]) -> None:
        """Joined neighbours: "deep seek" -> "deepseek", "seed dance" -> "seedance"."""
        for i in range(len(raw) - 1):
            left, right = positions[i], positions[i + 1]
            if left is None or right is None or not joinable(raw[i], raw[i + 1]):
                continue
            joined = raw[i] + raw[i + 1]
            tid = self.index.term_ids.get(stem(joined))
            options = [(tid, 1.0)] if tid is not None else []
            unexplained = [not unit.alternatives for unit in (left, right)]
            long_parts = min(len(raw[i]), len(raw[i + 1])) > SHORT_JOIN_PART
            may_fuzz = all(unexplained) or (any(unexplained) and long_parts)
            if not options and may_fuzz and joined.isalpha():
                options = self.fuzzy(joined)
            for unit in (left, right):
                unit.alternatives.extend((t, p, "joined") for t, p in options)

    def _weigh(self, units: list[Unit]) -> None:
        """IDF weights; a word the store has never seen may be off-topic or paraphrase.

        The index cannot tell which, so it weighs as much as the query's most
        telling known word, within the index's bounds. Tying it to the query
        keeps the balance between known and unknown words the same at 11 or
        100,000 claims.
        """
        idf = self.index.idf
        known = 0.0
        for unit in units:
            exact = [t for t, _, kind in unit.alternatives if kind == "exact"]
            if exact:
                unit.weight = float(idf[exact[0]])
            elif unit.alternatives:
                unit.weight = float(max(idf[t] for t, _, _ in unit.alternatives))
            known = max(known, unit.weight)
        unknown = min(self.index.idf_unknown_max, max(self.index.idf_unknown_min, known))
        for unit in units:
            if not unit.alternatives:
                unit.weight = unknown
            if unit.word.isdigit():
                unit.weight *= DIGIT_WEIGHT

    # ------------------------------------------------------------- scoring
    def propose(self, units: Sequence[Unit], weak_credit: float) -> Proposal:
        """Every claim explaining at least ``CANDIDATE_COVERAGE`` of the query, at most a pool.

        The best ``pool`` (``CANDIDATE_POOL``) by word evidence (coverage plus tf bonus,
        ties to the lower claim index) are kept; a claim sharing no word with
        the query is never proposed.
        """
        total_weight = sum(u.weight for u in units)
        floor = CANDIDATE_COVERAGE * total_weight
        found = self.score(units, floor, weak_credit, self._pool)
        coverage = found.mass / total_weight
        keep = coverage >= CANDIDATE_COVERAGE - 1e-9
        indices, coverage = found.claims[keep], coverage[keep]
        words, matched = coverage + found.boost[keep] / total_weight, found.matched[keep]
        if indices.size > self._pool:
            top = best_rows(words, self._pool)
            kept = (a[top] for a in (indices, coverage, matched, words))
            indices, coverage, matched, words = kept
        for unit in found.credit_later:
            strengths, _ = lookup(self.index, unit.alternatives, indices)
            matched = matched + credit(strengths, weak_credit)
        return Proposal(indices, coverage, matched, words)

    def _postings_size(self, unit: Unit) -> int:
        return sum(self.index.postings_count(t) for t, _, _ in unit.alternatives)

    def score(
        self, units: Sequence[Unit], needed_mass: float, weak_credit: float, pool: int = 0
    ) -> Scores:
        """Claims that may reach ``needed_mass``, with mass, tf bonus and matched words.

        Exact, but pruned like MaxScore: the words with the longest posting
        lists (think "china", "models", "source") that together weigh less
        than ``needed_mass`` cannot make a claim a candidate on their own, so
        they are only looked up for the claims the other words proposed. A
        long pasted message full of common words thus costs little more than
        its rarer words do. With ``pool``, claims that cannot be among the
        ``pool`` best by mass plus tf bonus are dropped as well (see ``_bound``).
        """
        scored = [u for u in units if u.alternatives]
        if len(scored) == 1:
            return self._one_word(scored[0], needed_mass, weak_credit)
        lazy, lazy_mass = self._lazy_words(scored, needed_mass)
        eager = [u for u in scored if all(u is not other for other in lazy)]
        if not lazy or not eager:
            passing = self._passing(self._accumulate(scored, weak_credit), needed_mass)
            return Scores(*passing, [u for u in scored if self._credit_later(u)])
        arrays = self._accumulate(eager, weak_credit)
        accumulated = list(eager)
        # Too many candidates to look up: add the heaviest lazy word whole,
        # which raises the bar and lowers the headroom, until few are left.
        lazy.sort(key=lambda u: -u.weight)
        while True:
            candidates = np.flatnonzero(arrays[0] + lazy_mass >= needed_mass - 1e-9)
            if pool and candidates.size > pool:
                candidates = self._bound(arrays, candidates, lazy, needed_mass, pool)
            if candidates.size <= self._common_postings or not lazy:
                break
            heaviest = lazy.pop(0)
            lazy_mass -= heaviest.weight
            arrays = self._accumulate([heaviest], weak_credit, arrays)
            accumulated.append(heaviest)
        mass, boost, matched = (a[candidates] for a in arrays)
        for unit in lazy:
            strengths, boosts = lookup(self.index, unit.alternatives, candidates)
            mass += strengths * unit.weight
            boost += boosts * unit.weight
            matched += credit(strengths, weak_credit)
        later = [u for u in accumulated if self._credit_later(u)]
        return Scores(candidates, mass, boost, matched, later)

    @staticmethod
    def _bound(
        arrays: tuple[np.ndarray, np.ndarray, np.ndarray],
        candidates: np.ndarray,
        lazy: Sequence[Unit],
        needed_mass: float,
        pool: int,
    ) -> np.ndarray:
        """The candidates that may still be among the ``pool`` best (MaxScore's top-k bound).

        What the eager words gave a claim is a lower bound of its rank (mass
        plus tf bonus); the lazy words can add at most their weight each
        (strength <= 1, bonus < TF_BONUS). Claims sure to pass ``needed_mass``
        set the bar: the ``pool``-th best of their lower bounds. A claim whose
        upper bound is below the bar cannot make the pool. Exact: ties stay.
        """
        mass, boost = arrays[0][candidates], arrays[1][candidates]
        lower = mass + boost
        sure = lower[mass >= needed_mass]
        if sure.size < pool:
            return candidates
        bar = np.partition(sure, sure.size - pool)[sure.size - pool]
        headroom = sum(u.weight for u in lazy) * (1 + TF_BONUS)
        return candidates[lower + headroom >= bar - 1e-9]

    def _lazy_words(self, scored: Sequence[Unit], needed_mass: float) -> tuple[list[Unit], float]:
        """The longest posting lists whose words together weigh less than ``needed_mass``.

        A word's strength in a claim is at most 1, so a claim holding only
        these words has less mass than needed: they never propose a claim.
        """
        lazy: list[Unit] = []
        lazy_mass = 0.0
        for unit in sorted(scored, key=self._postings_size, reverse=True):
            if self._postings_size(unit) <= self._common_postings:
                break
            if lazy_mass + unit.weight < needed_mass:
                lazy.append(unit)
                lazy_mass += unit.weight
        return lazy, lazy_mass

    def _one_word(self, unit: Unit, needed_mass: float, weak_credit: float) -> Scores:
        """``score`` when one word has postings: on that word's claims alone.

        A claim's sums start at 0.0, so each is the word's own value: the same
        float64 as adding it into arrays over every claim, which cost zeroing
        three of them and scanning 100,000 claims for a word found in 2,000.
        """
        if self._dense(unit):  # several long spellings: merged densely, read back sparse
            best, best_boost = dense_best(self.index, unit.alternatives)
            claims = np.flatnonzero(best)  # every strength is > 0
            strengths, boosts = best[claims], best_boost[claims]
        else:
            claims, strengths, boosts = merged(self.index, unit.alternatives)
        mass = (strengths * unit.weight).astype(np.float64)
        keep = (mass > 0) & (mass >= needed_mass - 1e-9)
        boost = (boosts[keep] * unit.weight).astype(np.float64)
        later = [unit] if self._credit_later(unit) else []
        matched = np.zeros(boost.size) if later else credit(strengths[keep], weak_credit)
        return Scores(claims[keep].astype(np.intp), mass[keep], boost, matched, later)

    @staticmethod
    def _passing(
        arrays: tuple[np.ndarray, np.ndarray, np.ndarray], needed_mass: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Claims whose accumulated mass reaches ``needed_mass``, with their three sums."""
        mass, boost, matched = arrays
        candidates = np.flatnonzero((mass > 0) & (mass >= needed_mass - 1e-9))
        return candidates, mass[candidates], boost[candidates], matched[candidates]

    def _accumulate(
        self,
        units: Sequence[Unit],
        weak_credit: float,
        into: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Dense per-claim mass, tf bonus and matched-word count over ``units``.

        The matched-word count leaves out common words (``credit_later`` in
        ``Scores``): ~5 passes over their thousands of claims for a count that
        only the proposed few need.

        Added in place, unit by unit: a unit's claims are distinct, so fancy
        indexing is exact, and it is 5x faster than one weighted ``bincount``
        over the concatenated postings (same float64 sums, in the same order).
        The first unit makes the arrays with one ``bincount`` each (0.0 plus a
        value is the value; twice as fast as zeroing and adding). A word with
        several long alternatives is merged into a dense per-claim best and
        added as a whole array (adding 0.0 elsewhere changes nothing).
        ``into``: add to these arrays instead of new ones.
        """
        n = self.index.size
        arrays = into
        for unit in units:
            if self._dense(unit):
                dense = dense_best(self.index, unit.alternatives)
                mass, boost, matched = arrays or (np.zeros(n), np.zeros(n), np.zeros(n))
                mass += dense[0] * unit.weight
                boost += dense[1] * unit.weight
                arrays = mass, boost, matched
                continue
            claims, strengths, boosts = merged(self.index, unit.alternatives)
            values: list[np.ndarray | None] = [strengths * unit.weight, boosts * unit.weight, None]
            if not self._credit_later(unit):
                values[2] = credit(strengths, weak_credit)
            if arrays is None:
                mass, boost, matched = (
                    np.zeros(n) if v is None else np.bincount(claims, weights=v, minlength=n)
                    for v in values
                )
                arrays = mass, boost, matched
                continue
            for array, value in zip(arrays, values, strict=True):
                if value is not None:
                    array[claims] += value
        return arrays or (np.zeros(n), np.zeros(n), np.zeros(n))

    def _credit_later(self, unit: Unit) -> bool:
        """Whether ``unit``'s matched-word credit waits for the proposed claims.

        Densely merged or common words: looking up ~300 claims in their
        postings costs less than crediting every claim that holds them.
        """
        return self._dense(unit) or self._postings_size(unit) > self._common_postings

    def _dense(self, unit: Unit) -> bool:
        """Whether ``unit`` is merged densely (``dense_best``): several long spellings."""
        return len(unit.alternatives) > 1 and self._postings_size(unit) > self._dense_merge_at

    # ---------------------------------------------------------------- hits
    def hits(self, claim: int, units: Sequence[Unit]) -> tuple[Hit, ...]:
        """The query words claim ``claim`` explains: the strongest term for each, and where."""
        return self.hits_of(np.array([claim]), units)[0]

    def hits_of(self, claims: np.ndarray, units: Sequence[Unit]) -> list[tuple[Hit, ...]]:
        """``hits`` for several claims: one binary search per term, not per claim and term.

        The reranked claims of a pasted message ask ~60 terms each; searching
        every term's postings for all of them at once was a quarter of such a
        query's time at 100,000 claims, done claim by claim.
        """
        index = self.index
        order = np.argsort(claims, kind="stable")
        ordered = claims[order]
        best: list[dict[int, Hit]] = [{} for _ in range(len(claims))]
        for u, unit in enumerate(units):
            for tid, penalty, kind in unit.alternatives:
                start, end = int(index.indptr[tid]), int(index.indptr[tid + 1])
                postings = index.post_claim[start:end]
                pos = np.searchsorted(postings, ordered)
                inside = pos < end - start
                found = np.flatnonzero(inside)[postings[pos[inside]] == ordered[inside]]
                if not found.size:
                    continue
                at = pos[found]  # within this term's slice (a patched index has no flat arrays)
                # float64 before the product: the same double as float(weight) * penalty.
                weights = index.post_weight[start:end][at].astype(np.float64)
                strengths = (weights * penalty).tolist()
                fields = index.post_field[start:end][at].tolist()
                term = index.display[tid]
                for row, strength, field_kind in zip(
                    order[found].tolist(), strengths, fields, strict=True
                ):
                    held = best[row]
                    if u not in held or strength > held[u].strength:
                        held[u] = Hit(unit.word, term, FieldKind(field_kind), kind, strength)
        return [tuple(held[u] for u in sorted(held)) for held in best]
