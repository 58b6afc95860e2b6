"""Finding the claims a query is about, with a score and a reason for each.

How it works, and why:

* **An inverted index built at load time.** Every claim field is analysed into
  terms (folded, synonyms applied, Snowball-stemmed). Each (term, claim) pair
  keeps the strongest field it appears in; field weights make a title or alias
  hit beat a word deep in a summary. Postings live in flat numpy arrays, so a
  query touches only the claims that share a term with it, never every claim's
  full text: cost grows with the postings a query hits, not with store size.
* **Typos by edit distance, on the words that matter.** A query word that is
  not a known term is compared (rapidfuzz Levenshtein, length-bucketed) with
  the *key* vocabulary only: words from titles, aliases, entities, speakers and
  topics. Typing mistakes happen on names ("hasabis", "seeddance"); fuzzing
  towards ordinary summary words would turn "lunch" into "launch".
* **Split and joined spellings.** Adjacent words of key phrases are also
  indexed joined ("open source" -> "opensource", "tik tok" -> "tiktok"), and
  adjacent query words are tried joined, so both spellings meet.
* **Coverage, not raw similarity, decides confidence.** A claim's score is the
  share of the query's information (IDF-weighted content words) that the claim
  explains. A long message that shares one company name with a claim explains
  little of the message and is not a match; a two-word query naming a speaker
  and a topic is fully explained. Below the thresholds the matcher says "no
  match" and offers suggestions instead of guessing.
"""

from __future__ import annotations

import itertools
import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from bot.core.confidence import FEATURES, Feature, probability
from bot.core.escape import searchable
from bot.core.match_types import (
    FIELD_WEIGHT,
    KEY_FIELDS,
    FieldKind,
    Hit,
    Match,
    SearchResult,
    claim_fields,
)
from bot.core.matching_config import MatchingConfig, Thresholds
from bot.core.schema import Claim
from bot.core.semantic import Embedder, default_embedder
from bot.core.store import ClaimStore
from bot.core.text import Analyzer, fold, is_content_word, stem
from bot.core.vector_cache import claim_vectors

MAX_QUERY_WORDS = 120  # a 10 kB paste is judged on its first 120 content words
MAX_FUZZY_LOOKUPS = 16
MAX_WORD_LENGTH = 40  # longer "words" are pasted hashes or keyboard mashing
CANDIDATES_TO_RERANK = 8
CANDIDATE_COVERAGE = 0.1  # a claim explaining less of the query is not judged at all
CANDIDATE_POOL = 300  # claims per query that get a cosine
MAX_EMBED_CHARS = 4_000
SUGGEST_CUTOFF = 90  # "video" is not a suggestion for "nvidia" (60), "Nvidia" is (100)


# Edit distance allowed for a query word of a given length (as search engines do).
FUZZY_PENALTY = {1: 0.85, 2: 0.72}
# A claim that names a term in several places (title, aliases, entities, summary)
# is more about it than one that mentions it once: a small, saturating bonus
# used for ranking only, never for deciding whether something matches at all.
TF_BONUS = 0.15
DENSE_MERGE_AT = 4_096  # postings above which alternatives are merged densely, not sorted
DIGIT_WEIGHT = 0.35
# A query word explained by a key field (or a typo of one) counts as one
# matched word; one found only in a summary counts half in a short query (up
# to 5 content words), so a single summary word never answers a short
# off-topic message on its own ("earnings" in a summary is no reason to
# answer "nvidia earnings"). A pasted message is long enough that summary
# words are real evidence: there they count in full.
KEY_STRENGTH = 0.65
WEAK_STRENGTH = 0.5
SHORT_QUERY_SUMMARY_CREDIT = 0.5
# A typo of two joined words is tried when neither half is known ("jen hsun"
# ~ jensen) or both are longer than this. Otherwise a short unknown word rides
# on a known neighbour: "tiktok ban" -> "tiktokban" is two edits from
# "tiktokai", "opn" + "china" is two from "chinaopen", both by accident.
SHORT_JOIN_PART = 4


def _edits_allowed(word: str) -> int:
    if len(word) <= 3 or word.isdigit():
        return 0
    return 1 if len(word) <= 6 else 2


def _credit(strengths: np.ndarray, weak_credit: float) -> np.ndarray:
    """How much each strength counts towards the matched-words threshold."""
    return np.where(
        strengths >= KEY_STRENGTH, 1.0, np.where(strengths >= WEAK_STRENGTH, weak_credit, 0.0)
    )


def _joinable(left: str, right: str) -> bool:
    """Neighbours worth trying as one word: two content words, at least one alphabetic."""
    return is_content_word(left) and is_content_word(right) and (left.isalpha() or right.isalpha())


def _words(units: Iterable[_Unit]) -> tuple[str, ...]:
    return tuple(u.word for u in units)


def meaning_text(claim: Claim) -> str:
    """The text a claim's sentence vector is made from: what it is about, not its sources."""
    speaker = claim.speaker.name if claim.speaker else ""
    return " ".join([claim.title, *claim.aliases, *claim.entities, speaker, claim.summary])


@dataclass
class _Unit:
    """A content word of the query and the index terms that can stand for it."""

    word: str
    alternatives: list[tuple[int, float, str]] = field(default_factory=list)
    weight: float = 0.0


@dataclass(frozen=True)
class _Candidates:
    """Claims proposed for one query: rows of ``features`` follow ``indices``."""

    units: list[_Unit]
    indices: np.ndarray
    features: np.ndarray
    cosine: np.ndarray
    coverage: np.ndarray
    phrases: list[str | None]


class Matcher:
    """An immutable index over one ClaimStore. Build once per store load."""

    def __init__(
        self,
        store: ClaimStore,
        config: MatchingConfig | None = None,
        *,
        common_postings: int | None = None,
        dense_merge_at: int = DENSE_MERGE_AT,
        embedder: Embedder | None = None,
    ) -> None:
        self.store = store
        self._common_override = common_postings
        self._dense_merge_at = dense_merge_at
        self.config = config or MatchingConfig()
        self.analyzer = Analyzer(self.config.synonyms)
        self._size = len(store)
        self._embedder = embedder or default_embedder()
        self._build()

    # ------------------------------------------------------------------ index
    def _terms_of(self, text: str, joined: bool) -> list[tuple[str, str]]:
        """(surface word, term) pairs of a field; key fields add joined neighbours."""
        tokens = self.analyzer.canonical_words(text)
        pairs = [(w, stem(w)) for w in tokens if len(w) > 1 or w.isdigit()]
        if joined:
            for left, right in itertools.pairwise(tokens):
                if _joinable(left, right):
                    pairs.append((left + right, stem(left + right)))
        return pairs

    def _build(self) -> None:
        term_ids: dict[str, int] = {}
        surfaces: dict[str, int] = {}  # surface word -> term id, key fields only
        post_term, post_claim, post_field = array("i"), array("i"), array("b")
        post_occurrences = array("H")
        phrases: list[list[str]] = []
        display: list[str] = []  # a readable surface form per term, for reasons
        # Entities, topics, speakers and many aliases repeat across claims:
        # analyse each distinct key text once (summaries rarely repeat).
        analysed: dict[str, tuple[str, list[tuple[str, str]]]] = {}
        suggestable: set[str] = set()
        meanings: list[str] = []
        # Claims are materialised one at a time from the store's bodies and dropped.
        for index, claim in enumerate(self.store):
            suggestable.update(claim.topics, claim.entities)
            if claim.speaker:
                suggestable.add(claim.speaker.name)
            meanings.append(meaning_text(claim))
            best: dict[int, int] = {}
            occurrences: dict[int, int] = {}
            claim_phrases: list[str] = []
            for kind, text in claim_fields(claim):
                key = kind in KEY_FIELDS
                cached = analysed.get(text) if key else None
                if cached is None:
                    phrase = " ".join(self.analyzer.canonical_words(text)) if key else ""
                    cached = (phrase, self._terms_of(text, joined=key))
                    if key:
                        analysed[text] = cached
                if kind in (FieldKind.TITLE, FieldKind.ALIAS, FieldKind.ENTITY):
                    claim_phrases.append(cached[0])
                for surface, term in cached[1]:
                    tid = term_ids.setdefault(term, len(term_ids))
                    if tid == len(display):
                        display.append(surface)
                    if key and not surface.isdigit():
                        surfaces.setdefault(surface, tid)
                    if tid not in best or kind < best[tid]:
                        best[tid] = kind
                    occurrences[tid] = occurrences.get(tid, 0) + 1
            for tid, strongest in best.items():
                post_term.append(tid)
                post_claim.append(index)
                post_field.append(strongest)
                post_occurrences.append(min(occurrences[tid], 60_000))
            phrases.append(claim_phrases)

        terms = np.frombuffer(post_term, dtype=np.int32)
        order = np.argsort(terms, kind="stable")
        self._post_claim = np.frombuffer(post_claim, dtype=np.int32)[order].copy()
        self._post_weight = FIELD_WEIGHT[np.frombuffer(post_field, dtype=np.int8)[order]]
        self._post_field = np.frombuffer(post_field, dtype=np.int8)[order].copy()
        extra = np.frombuffer(post_occurrences, dtype=np.uint16)[order].astype(np.float32) - 1
        self._post_boost = (TF_BONUS * (1 - np.power(0.5, extra))).astype(np.float32)
        counts = np.bincount(terms, minlength=len(term_ids))
        self._indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        n = max(self._size, 1)
        # BM25's idf: rare terms say more about what a query is after.
        self._idf = np.log1p((n - counts + 0.5) / (counts + 0.5)).astype(np.float32)
        # Above this many postings a word is "common" and scored lazily (MaxScore).
        self._common_postings = self._common_override or max(2_000, n // 50)
        # A word the store has never seen may be off-topic (a negative) or mere
        # paraphrase; the index cannot tell. It weighs as much as the query's most
        # telling known word, at least as much as a word in 5% of claims, and at
        # most as much as the store's rarest word. Tying it to the query keeps the
        # balance between known and unknown words the same at 11 or 100,000 claims.
        self._idf_unknown_max = math.log1p((n - 1 + 0.5) / 1.5)
        common = max(1.0, 0.05 * n)
        self._idf_unknown_min = min(
            self._idf_unknown_max, math.log1p((n - common + 0.5) / (common + 0.5))
        )
        self._term_ids = term_ids
        self._display = display
        self._phrases = phrases
        # Key vocabulary for typo correction, bucketed by length for speed.
        self._surface_term = surfaces
        by_length: dict[int, list[str]] = {}
        for surface in surfaces:
            by_length.setdefault(len(surface), []).append(surface)
        # For each word length, every key word within reach of the edits allowed
        # for that length, so one rapidfuzz call per query word suffices.
        self._buckets: dict[int, list[str]] = {}
        for length in range(4, max(by_length, default=0) + 3):
            edits = _edits_allowed("x" * length)
            self._buckets[length] = [
                w
                for near in range(length - edits, length + edits + 1)
                for w in by_length.get(near, ())
            ]
        # One suggestion per name whatever its case; the capitalised spelling wins.
        suggest_display: dict[str, str] = {}
        for name in sorted(suggestable):  # "DeepSeek" sorts before "deepseek"
            suggest_display.setdefault(fold(name).strip(), name)
        self._suggest_display = suggest_display
        self._suggest_keys = sorted(suggest_display)
        # Computed once per store load; immutable and shared by every thread.
        self._vectors = claim_vectors(self._embedder, meanings)

    @property
    def size(self) -> int:
        return self._size

    def memory_bytes(self) -> int:
        """Bytes held by the index arrays (not the claims themselves)."""
        arrays = (
            self._post_claim,
            self._post_weight,
            self._post_boost,
            self._post_field,
            self._indptr,
            self._idf,
        )
        return int(sum(a.nbytes for a in arrays))

    def vector_bytes(self) -> int:
        """Bytes held by the claims' sentence vectors."""
        return self._vectors.nbytes

    # ------------------------------------------------------------------ query
    def _fuzzy(self, word: str) -> list[tuple[int, float]]:
        edits = _edits_allowed(word)
        if edits == 0:
            return []
        found: dict[int, float] = {}
        bucket = self._buckets.get(len(word), ())
        for candidate, distance, _ in process.extract(
            word, bucket, scorer=Levenshtein.distance, score_cutoff=edits, limit=6
        ):
            if distance == 0:
                continue
            tid = self._surface_term[candidate]
            penalty = FUZZY_PENALTY[int(distance)]
            if penalty > found.get(tid, 0.0):
                found[tid] = penalty
        return sorted(found.items(), key=lambda item: -item[1])[:2]

    def _query_words(self, query: str) -> list[str]:
        """The query's canonical words, Slack markup read as plain words."""
        return self.analyzer.canonical_words(searchable(query))

    def analyse(self, query: str) -> list[_Unit]:
        """Query -> content units, each with the index terms that may stand for it."""
        return self._units(self._query_words(query))

    def _units(self, query_words: list[str]) -> list[_Unit]:
        raw = query_words[: MAX_QUERY_WORDS * 3]
        units: list[_Unit] = []
        seen: dict[str, _Unit] = {}
        positions: list[_Unit | None] = []
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
                unit = _Unit(word)
                tid = self._term_ids.get(term)
                if tid is not None:
                    unit.alternatives.append((tid, 1.0, "exact"))
                seen[term] = unit
                units.append(unit)
            positions.append(unit)

        # Joined neighbours: "deep seek" -> "deepseek", "seed dance" -> "seedance".
        for i in range(len(raw) - 1):
            left, right = positions[i], positions[i + 1]
            if left is None or right is None or not _joinable(raw[i], raw[i + 1]):
                continue
            joined = raw[i] + raw[i + 1]
            tid = self._term_ids.get(stem(joined))
            options = [(tid, 1.0)] if tid is not None else []
            unexplained = [not unit.alternatives for unit in (left, right)]
            long_parts = min(len(raw[i]), len(raw[i + 1])) > SHORT_JOIN_PART
            may_fuzz = all(unexplained) or (any(unexplained) and long_parts)
            if not options and may_fuzz and joined.isalpha():
                options = self._fuzzy(joined)
            for unit in (left, right):
                if unit is not None:
                    unit.alternatives.extend((t, p, "joined") for t, p in options)

        lookups = 0
        for unit in units:
            if unit.alternatives or lookups >= MAX_FUZZY_LOOKUPS:
                continue
            lookups += 1
            unit.alternatives.extend((t, p, "typo") for t, p in self._fuzzy(unit.word))

        known = 0.0
        for unit in units:
            exact = [t for t, _, kind in unit.alternatives if kind == "exact"]
            if exact:
                unit.weight = float(self._idf[exact[0]])
            elif unit.alternatives:
                unit.weight = float(max(self._idf[t] for t, _, _ in unit.alternatives))
            known = max(known, unit.weight)
        unknown = min(self._idf_unknown_max, max(self._idf_unknown_min, known))
        for unit in units:
            if not unit.alternatives:
                unit.weight = unknown
            if unit.word.isdigit():
                unit.weight *= DIGIT_WEIGHT
        return units

    def _postings(self, tid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        start, end = self._indptr[tid], self._indptr[tid + 1]
        return (
            self._post_claim[start:end],
            self._post_weight[start:end],
            self._post_boost[start:end],
        )

    def _unit_vector(self, unit: _Unit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Claims explaining this unit: the best strength per claim, and its tf bonus."""
        if len(unit.alternatives) == 1:
            tid, penalty, _ = unit.alternatives[0]
            claims, weights, boosts = self._postings(tid)
            return claims, weights * penalty, boosts * penalty
        parts = [self._postings(t) for t, _, _ in unit.alternatives]
        penalties = [penalty for _, penalty, _ in unit.alternatives]
        if sum(len(c) for c, _, _ in parts) > self._dense_merge_at:
            return self._dense_max(parts, penalties)
        claims = np.concatenate([c for c, _, _ in parts])
        weights = np.concatenate([w * p for (_, w, _), p in zip(parts, penalties, strict=True)])
        boosts = np.concatenate([b * p for (_, _, b), p in zip(parts, penalties, strict=True)])
        order = np.lexsort((-weights, claims))
        claims, weights, boosts = claims[order], weights[order], boosts[order]
        first = np.ones(len(claims), dtype=bool)
        first[1:] = claims[1:] != claims[:-1]
        return claims[first], weights[first], boosts[first]

    def _dense_max(
        self, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], penalties: list[float]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-claim best strength over several long posting lists, in O(N + postings).

        Each posting list holds a claim at most once, so fancy-index assignment
        is exact; this avoids sorting tens of thousands of entries per word.
        """
        best = np.zeros(self._size, dtype=np.float32)
        best_boost = np.zeros(self._size, dtype=np.float32)
        for (claims, weights, boosts), penalty in zip(parts, penalties, strict=True):
            strength = weights * penalty
            take = strength > best[claims]
            best[claims[take]] = strength[take]
            best_boost[claims[take]] = boosts[take] * penalty
        claims = np.flatnonzero(best).astype(np.int32)
        return claims, best[claims], best_boost[claims]

    def _postings_size(self, unit: _Unit) -> int:
        return int(sum(self._indptr[t + 1] - self._indptr[t] for t, _, _ in unit.alternatives))

    def _score(
        self, units: Sequence[_Unit], needed_mass: float, weak_credit: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Candidate claims with their matched mass, tf bonus and count of matched words.

        Exact, but pruned like MaxScore: words found in many claims (think
        "china", "models") are only looked up for claims that rare words have
        already made able to reach the coverage threshold. A long pasted message
        full of common words thus costs little more than its rare words do.
        """
        scored = [u for u in units if u.alternatives]
        common: list[_Unit] = []
        rare: list[_Unit] = []
        for unit in scored:
            (common if self._postings_size(unit) > self._common_postings else rare).append(unit)
        common_mass = sum(u.weight for u in common)
        if not rare or not common or common_mass >= needed_mass:
            mass, boost, matched = self._accumulate(scored, weak_credit)
            candidates = np.flatnonzero(mass > 0)
            return candidates, mass[candidates], boost[candidates], matched[candidates]
        mass, boost, matched = self._accumulate(rare, weak_credit)
        candidates = np.flatnonzero(mass + common_mass >= needed_mass - 1e-9)
        mass, boost, matched = mass[candidates], boost[candidates], matched[candidates]
        for unit in common:
            strengths, boosts = self._lookup(unit, candidates)
            mass += strengths * unit.weight
            boost += boosts * unit.weight
            matched += _credit(strengths, weak_credit)
        return candidates, mass, boost, matched

    def _accumulate(
        self, units: Sequence[_Unit], weak_credit: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Dense per-claim mass, tf bonus and matched-word count over ``units``."""
        n = self._size
        claim_parts, weight_parts, boost_parts, credit_parts = [], [], [], []
        for unit in units:
            claims, strengths, boosts = self._unit_vector(unit)
            claim_parts.append(claims)
            weight_parts.append(strengths * unit.weight)
            boost_parts.append(boosts * unit.weight)
            credit_parts.append(_credit(strengths, weak_credit))
        all_claims = np.concatenate(claim_parts)
        mass = np.bincount(all_claims, np.concatenate(weight_parts), n)
        boost = np.bincount(all_claims, np.concatenate(boost_parts), n)
        matched = np.bincount(all_claims, np.concatenate(credit_parts), n)
        return mass, boost, matched

    def _lookup(self, unit: _Unit, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Strength and tf bonus of ``unit`` for each candidate (sorted claim indices)."""
        best = np.zeros(len(candidates), dtype=np.float64)
        best_boost = np.zeros(len(candidates), dtype=np.float64)
        for tid, penalty, _ in unit.alternatives:
            claims, weights, boosts = self._postings(tid)
            if not len(claims) or not len(candidates):
                continue
            pos = np.minimum(np.searchsorted(claims, candidates), len(claims) - 1)
            found = claims[pos] == candidates
            strength = np.where(found, weights[pos] * penalty, 0.0)
            take = strength > best
            best = np.where(take, strength, best)
            best_boost = np.where(take, boosts[pos] * penalty, best_boost)
        return best, best_boost

    def _hits(self, index: int, units: Sequence[_Unit]) -> tuple[Hit, ...]:
        hits = []
        for unit in units:
            best: Hit | None = None
            for tid, penalty, kind in unit.alternatives:
                start, end = self._indptr[tid], self._indptr[tid + 1]
                pos = start + np.searchsorted(self._post_claim[start:end], index)
                if pos < end and self._post_claim[pos] == index:
                    strength = float(self._post_weight[pos]) * penalty
                    if best is None or strength > best.strength:
                        field_kind = FieldKind(int(self._post_field[pos]))
                        best = Hit(unit.word, self._display[tid], field_kind, kind, strength)
            if best is not None:
                hits.append(best)
        return tuple(hits)

    def _phrase_bonus(self, index: int, folded_query: str) -> tuple[float, str | None]:
        """How closely the whole query equals, or contains, a title/alias/entity."""
        phrases = self._phrases[index]
        if not phrases or not folded_query:
            return 0.0, None
        best = process.extractOne(folded_query, phrases, scorer=fuzz.ratio)
        closeness = best[1] / 100 if best else 0.0
        padded = f" {folded_query} "
        contained = [p for p in phrases if len(p.split()) >= 2 and f" {p} " in padded]
        if contained:
            longest = max(contained, key=len)
            return max(closeness, 0.9), longest
        return closeness, (best[0] if best and closeness >= 0.9 else None)

    def _thresholds(self, words: int) -> tuple[float, int]:
        t: Thresholds = self.config.thresholds
        if words <= 2:
            return t.short_query_coverage, 1
        if words <= 5:
            return t.medium_query_coverage, min(t.medium_query_matched, words)
        return t.long_query_coverage, max(
            t.long_query_matched, math.ceil(t.long_query_matched_share * words)
        )

    def candidates(self, query: str) -> _Candidates | None:
        """Claims worth judging for a query, with the evidence features of each.

        The lexical index proposes every claim that explains at least
        ``CANDIDATE_COVERAGE`` of the query; the best ``CANDIDATE_POOL`` of
        those by word evidence get a cosine, and the best ``CANDIDATES_TO_RERANK``
        by a first estimate get the (costlier) whole-phrase comparison. A claim
        sharing no word with the query is never proposed: meaning reranks and
        rescues, it does not scan the store.
        """
        query_words = self._query_words(query)
        units = self._units(query_words)
        if not units or not self._size or not any(u.alternatives for u in units):
            return None
        total_weight = sum(u.weight for u in units)
        need_coverage, need_matched = self._thresholds(len(units))
        weak_credit = SHORT_QUERY_SUMMARY_CREDIT if len(units) <= 5 else 1.0
        floor = min(CANDIDATE_COVERAGE, need_coverage) * total_weight
        indices, mass, boost, matched = self._score(units, floor, weak_credit)
        coverage = mass / total_weight
        keep = coverage >= CANDIDATE_COVERAGE - 1e-9
        indices, coverage = indices[keep], coverage[keep]
        boost, matched = boost[keep], matched[keep]
        if indices.size == 0:
            return None
        rank = coverage + boost / total_weight
        if indices.size > CANDIDATE_POOL:
            top = np.argpartition(-rank, CANDIDATE_POOL)[:CANDIDATE_POOL]
            indices, coverage, matched = indices[top], coverage[top], matched[top]
        vector = self._embedder.embed(searchable(query)[:MAX_EMBED_CHARS])
        cosine = self._vectors.cosine(vector, indices)
        features = np.zeros((indices.size, len(FEATURES)), dtype=np.float64)
        passed = (coverage >= need_coverage) & (matched >= need_matched - 1e-9)
        features[:, FEATURES.index(Feature.LEXICAL)] = passed
        features[:, FEATURES.index(Feature.COVERAGE)] = np.minimum(coverage / need_coverage, 2) / 2
        features[:, FEATURES.index(Feature.ENOUGH_WORDS)] = np.minimum(matched / need_matched, 1)
        features[:, FEATURES.index(Feature.COSINE)] = cosine
        features[:, FEATURES.index(Feature.SHORTNESS)] = 1.0 / len(units)
        phrases: list[str | None] = [None] * indices.size
        estimate = self._probability(features)
        order = np.argsort(-estimate, kind="stable")[:CANDIDATES_TO_RERANK]
        folded = " ".join(query_words)[:300]
        unit_vectors = self._embedder.embed_words([u.word for u in units])
        for row in order.tolist():
            index = int(indices[row])
            closeness, phrases[row] = self._phrase_bonus(index, folded)
            features[row, FEATURES.index(Feature.PHRASE)] = closeness
            features[row, FEATURES.index(Feature.REST_COSINE)] = self._rest_cosine(
                index, units, unit_vectors
            )
        return _Candidates(units, indices, features, cosine, coverage, phrases)

    def _rest_cosine(self, index: int, units: Sequence[_Unit], vectors: np.ndarray) -> float:
        """Cosine of the query words this claim does not explain with the claim."""
        explained = {hit.query_word for hit in self._hits(index, units) if hit.strength >= 0.5}
        rest = [i for i, unit in enumerate(units) if unit.word not in explained]
        if not rest:
            return 1.0
        weights = np.array([units[i].weight for i in rest], dtype=np.float32)
        vector = weights @ vectors[rest]
        norm = float(np.linalg.norm(vector))
        if norm == 0:
            return 0.0
        return float(self._vectors.cosine(vector / norm, np.array([index]))[0])

    def _probability(self, features: np.ndarray) -> np.ndarray:
        model = self.config.confidence
        return probability(features, model.intercept, model.weights)

    def search(self, query: str, limit: int = 3, offset: int = 0) -> SearchResult:
        """Ranked confident matches (best first), or none plus suggestions."""
        found = self.candidates(query)
        if found is None:
            units = self.analyse(query)
            return SearchResult(query, (), self.suggest(query, units), _words(units))
        model = self.config.confidence
        chance = self._probability(found.features)
        # Answer when the words alone are conclusive (the index's own
        # thresholds) or when the calibrated model finds the claim more likely
        # than not: meaning rescues paraphrases, never overrules clear words.
        lexical = found.features[:, FEATURES.index(Feature.LEXICAL)] > 0
        rows = np.flatnonzero((chance >= model.threshold) | lexical).tolist()
        words = _words(found.units)
        if not rows:
            best = np.argsort(-chance, kind="stable")[:2].tolist()
            near = [self.store.claim_at(int(found.indices[r])).title for r in best]
            return SearchResult(query, (), self.suggest(query, found.units, near=near), words)
        rows.sort(key=lambda r: (-chance[r], self.store.ids[int(found.indices[r])]))
        floor = chance[rows[0]] * self.config.thresholds.relative_to_best
        coverage = found.coverage
        matches = tuple(
            self._match(found, r, float(chance[r]), float(coverage[r]), not lexical[r])
            for r in rows
            if chance[r] >= floor or lexical[r]
        )
        return SearchResult(query, matches[offset : offset + limit], (), words)

    def _match(
        self, found: _Candidates, row: int, chance: float, coverage: float, by_meaning: bool
    ) -> Match:
        index = int(found.indices[row])
        return Match(
            self.store.claim_at(index),
            round(chance, 4),
            round(coverage, 4),
            self._hits(index, found.units),
            found.phrases[row],
            similarity=round(float(found.cosine[row]), 4),
            confidence=self.config.confidence.word(chance),
            by_meaning=by_meaning,
        )

    # ------------------------------------------------------------ suggestions
    def suggest(
        self, query: str, units: Iterable[_Unit] = (), limit: int = 5, near: Sequence[str] = ()
    ) -> tuple[str, ...]:
        """Names, entities and topics closest to a query that found nothing, then ``near`` titles.

        ``near`` are titles of the claims that came closest without being
        confident. A name is close when one of its words is (nearly) one of the
        query's ("hassabis nobel" -> Demis Hassabis; rapidfuzz
        partial_token_ratio), closest whole name first, and deduplicated
        case-insensitively ("deepseek" and "DeepSeek" are one suggestion). Only
        when nothing is close do the store's biggest topics fill in.
        """
        text = " ".join(u.word for u in units) or fold(searchable(query))[:200]
        picks: dict[str, str] = {}
        if text.strip():
            close = process.extract(
                text,
                self._suggest_keys,
                scorer=fuzz.partial_token_ratio,
                limit=20,
                score_cutoff=SUGGEST_CUTOFF,
            )
            close.sort(key=lambda item: (-item[1], -fuzz.WRatio(text, item[0]), item[0]))
            for key, _score, _ in close[:limit]:
                picks.setdefault(key, self._suggest_display[key])
        for title in near[:2]:
            if len(picks) < limit:
                picks.setdefault(title.casefold(), title)
        if not picks:
            for topic, _ in self.store.topic_counts()[:limit]:
                picks.setdefault(topic.casefold(), topic)
        return tuple(list(picks.values())[:limit])
