"""Deciding: evidence features -> one calibrated confidence -> answers or suggestions.

* **Coverage, not raw similarity, decides confidence.** A claim's evidence is
  the share of the query's information (IDF-weighted content words) that it
  explains, how many words it explains, how close its meaning is (cosine of
  sentence vectors) and how closely the query equals one of its phrases. A
  long message that shares one company name with a claim explains little of
  the message and is not a match; a two-word query naming a speaker and a
  topic is fully explained.
* **One calibrated model** (``bot.core.confidence``, fitted on the tuning
  half) turns those features into a probability; below its threshold, and
  without the index's own lexical pass, the matcher says "no match" and offers
  suggestions instead of guessing.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, field
from functools import cache, lru_cache, partial

import numpy as np
from rapidfuzz import fuzz, process

from bot.core.candidates import CandidateFinder, Proposal, Unit
from bot.core.confidence import FEATURES, Feature, closest_in_meaning, probability
from bot.core.escape import searchable
from bot.core.index import TermIndex
from bot.core.match_types import Hit, Match, SearchResult
from bot.core.matching_config import MatchingConfig, Thresholds
from bot.core.semantic import ClaimVectors, Embedder
from bot.core.store import ClaimStore
from bot.core.text import Analyzer, fold, stem

# Which proposed claims get the costlier features (phrase, rest_cosine,
# closest_meaning): the best few by the words (coverage plus tf bonus) and the
# best few by a first estimate of the model (which leans on cosine). Chosen by
# cosine alone, thousands of equally worded claims at 100,000 left a claim whose
# alias IS the query ("nvidia ceo") outside the set; by words alone, a
# paraphrase would never get its rest_cosine. 16 + 8 kept public Recall@3 at
# 10,000 and 100,000 as high as reranking all 300 (BENCHMARKS.md).
WORDS_TO_RERANK = 16
CANDIDATES_TO_RERANK = 8
# Answers are ordered by the words first, as the words-only matcher did: how much
# of the query a claim explains and how much it is about those words (tf bonus),
# with this share for how closely the query equals one of its phrases. The
# calibrated chance decides *whether* to answer and breaks ties among equally
# worded claims. Ordered by chance, cosine picked among thousands of equally
# worded claims at scale and preferred short generated headlines that are mostly
# the name over real claims that say more ("deepseek", "open source").
PHRASE_SHARE = 0.15
EXPLAINED = 0.5  # a hit at least this strong explains its query word
NAMES_CACHE = 4_096  # claims whose name terms are kept (a few dozen bytes each)
MAX_EMBED_CHARS = 4_000
SUGGEST_CUTOFF = 90  # "video" is not a suggestion for "nvidia" (60), "Nvidia" is (100)
# Suggestions are looked up from at most this many query words: every name is
# compared with the whole text, so a pasted message cost its length in time
# (2.2 ms of a 277-character paste at 100,000 claims, 1.1 ms capped) for the
# same names (``suggestion_text`` keeps the words that make them).
SUGGEST_WORDS = 8
# One found only in a summary counts half in a short query (up to 5 content
# words), so a single summary word never answers a short off-topic message on
# its own ("earnings" in a summary is no reason to answer "nvidia earnings").
# A pasted message is long enough that summary words are real evidence: there
# they count in full.
SHORT_QUERY_SUMMARY_CREDIT = 0.5


def words_of(units: Iterable[Unit]) -> tuple[str, ...]:
    return tuple(u.word for u in units)


def suggestion_text(units: Sequence[Unit], name_words: Set[str], most: int = SUGGEST_WORDS) -> str:
    """The query words names are compared with: all of a short query's, else the telling ones.

    A longer query keeps ``most`` distinct words: first those that are a word
    of some name (they make the closest suggestions: "open" -> "open
    weights"), then the highest-weighted (rarest) others, in the order they
    were written. A short query's text, and so its suggestions, are exactly
    what they would be uncapped.
    """
    if len(units) <= most:
        return " ".join(u.word for u in units)
    heaviest: dict[str, float] = {}
    for unit in units:
        heaviest[unit.word] = max(unit.weight, heaviest.get(unit.word, unit.weight))
    ranked = sorted(heaviest, key=lambda w: (w not in name_words, -heaviest[w]))
    kept = set(ranked[:most])
    return " ".join(w for w in heaviest if w in kept)


def _phrase_bonus(
    phrases: Sequence[str], ratios: Sequence[float], padded_query: str
) -> tuple[float, str | None]:
    """A claim's closeness to the query (its best ``fuzz.ratio``), and the phrase to show.

    A phrase of two or more words that the query contains counts at least 0.9.
    """
    if not phrases:
        return 0.0, None
    best = max(range(len(ratios)), key=ratios.__getitem__)  # the first best, as extractOne
    closeness = ratios[best] / 100
    contained = [p for p in phrases if f" {p} " in padded_query and len(p.split()) >= 2]
    if contained:
        return max(closeness, 0.9), max(contained, key=len)
    return closeness, (phrases[best] if closeness >= 0.9 else None)


@dataclass(frozen=True)
class Candidates:
    """Claims proposed for one query: rows of ``features`` follow ``indices``."""

    units: list[Unit]
    indices: np.ndarray
    features: np.ndarray
    cosine: np.ndarray
    coverage: np.ndarray
    words: np.ndarray  # coverage plus tf bonus (``Proposal.words``)
    phrases: list[str | None]
    # What each reranked row's claim explains (``CandidateFinder.hits_of``),
    # kept so that an answer does not search the postings for them again.
    hits: dict[int, tuple[Hit, ...]] = field(default_factory=dict)

    def words_rank(self) -> np.ndarray:
        """The words' order of the claims: coverage, tf bonus and phrase, rounded for ties."""
        phrase = self.features[:, FEATURES.index(Feature.PHRASE)]
        rank = (1 - PHRASE_SHARE) * self.words + PHRASE_SHARE * phrase
        return np.round(rank, 6)


class Judge:
    """Turns proposed claims into features, a probability each, and an answer."""

    def __init__(
        self,
        store: ClaimStore,
        index: TermIndex,
        finder: CandidateFinder,
        vectors: ClaimVectors,
        embedder: Embedder,
        config: MatchingConfig,
        analyzer: Analyzer,
    ) -> None:
        self.store = store
        self.index = index
        self.finder = finder
        self.vectors = vectors
        self.embedder = embedder
        self.config = config
        self.analyzer = analyzer
        # Per instance, not a class-wide functools cache: a reloaded store's
        # old Judge (and the index it holds) must not outlive it in the cache.
        self._names = lru_cache(maxsize=NAMES_CACHE)(self._claim_names)
        self._name_words = frozenset(w for key in index.suggest_keys for w in key.split())

    def thresholds(self, words: int) -> tuple[float, int]:
        """Coverage and matched words the words alone need, by query length."""
        t: Thresholds = self.config.thresholds
        if words <= 2:
            return t.short_query_coverage, 1
        if words <= 5:
            return t.medium_query_coverage, min(t.medium_query_matched, words)
        return t.long_query_coverage, max(
            t.long_query_matched, math.ceil(t.long_query_matched_share * words)
        )

    @staticmethod
    def weak_credit(words: int) -> float:
        return SHORT_QUERY_SUMMARY_CREDIT if words <= 5 else 1.0

    def probability(self, features: np.ndarray) -> np.ndarray:
        model = self.config.confidence
        return probability(features, model.intercept, model.weights)

    def judge(
        self, query: str, query_words: list[str], units: list[Unit], proposal: Proposal
    ) -> Candidates:
        """Evidence features for each proposed claim.

        Every proposed claim gets a cosine; the best ``WORDS_TO_RERANK`` by their
        words and ``CANDIDATES_TO_RERANK`` by a first estimate get the
        (costlier) whole-phrase comparison.
        """
        indices, coverage, matched = proposal.indices, proposal.coverage, proposal.matched
        need_coverage, need_matched = self.thresholds(len(units))
        vector = self.embedder.embed(searchable(query)[:MAX_EMBED_CHARS])
        cosine = self.vectors.cosine(vector, indices)
        features = np.zeros((indices.size, len(FEATURES)), dtype=np.float64)
        passed = (coverage >= need_coverage) & (matched >= need_matched - 1e-9)
        features[:, FEATURES.index(Feature.LEXICAL)] = passed
        features[:, FEATURES.index(Feature.COVERAGE)] = np.minimum(coverage / need_coverage, 2) / 2
        features[:, FEATURES.index(Feature.ENOUGH_WORDS)] = np.minimum(matched / need_matched, 1)
        features[:, FEATURES.index(Feature.COSINE)] = cosine
        features[:, FEATURES.index(Feature.CLOSEST_MEANING)] = closest_in_meaning(cosine)
        features[:, FEATURES.index(Feature.SHORTNESS)] = 1.0 / len(units)
        phrases, hits = self._rerank(query_words, units, indices, features, proposal.words)
        words = proposal.words
        return Candidates(units, indices, features, cosine, coverage, words, phrases, hits)

    def _rerank(
        self,
        query_words: list[str],
        units: list[Unit],
        indices: np.ndarray,
        features: np.ndarray,
        words: np.ndarray,
    ) -> tuple[list[str | None], dict[int, tuple[Hit, ...]]]:
        """Costlier features for the best few claims by words and by a first estimate.

        Returns the phrase each reranked claim matched, and each one's hits.

        Fills ``phrase``, ``rest_cosine``, ``closest_meaning`` and
        ``names_only`` in place.
        """
        phrases: list[str | None] = [None] * indices.size
        closest = closest_in_meaning(features[:, FEATURES.index(Feature.COSINE)])
        closest *= 1 - features[:, FEATURES.index(Feature.LEXICAL)]
        estimate = self.probability(features)
        by_estimate = np.argsort(-estimate, kind="stable")[:CANDIDATES_TO_RERANK]
        by_words = np.argsort(-words, kind="stable")[:WORDS_TO_RERANK]
        order = np.union1d(by_words, by_estimate)
        unit_vectors = self.embedder.embed_words([u.word for u in units])
        # Most reranked claims explain the same query words: one rest vector each.
        rest_vector = cache(partial(self._rest_vector, units, vectors=unit_vectors))
        claims = indices[order].tolist()
        bonuses = self._phrase_bonuses(claims, " ".join(query_words)[:300])
        batch = self.finder.hits_of(indices[order], units)
        all_hits = dict(zip(order.tolist(), batch, strict=True))
        for (row, claim_hits), index, bonus in zip(all_hits.items(), claims, bonuses, strict=True):
            features[row, FEATURES.index(Feature.PHRASE)], phrases[row] = bonus
            hits = [h for h in claim_hits if h.strength >= EXPLAINED]
            explained = frozenset(hit.query_word for hit in hits)
            rest = rest_vector(explained)
            features[row, FEATURES.index(Feature.REST_COSINE)] = self._rest_cosine(index, rest)
            names = self._names(index)
            topical = any(stem(h.term) not in names for h in hits)
            features[row, FEATURES.index(Feature.CLOSEST_MEANING)] = closest[row] * topical
            # Only names matched, and the query says more ("Jensen Huang
            # promises a new computing age"): the words alone never decide.
            names_only = bool(hits) and not topical and len(explained) < len(units)
            features[row, FEATURES.index(Feature.NAMES_ONLY)] = names_only
            if names_only:  # a contained "jensen huang" is the name again, not a phrase
                features[row, FEATURES.index(Feature.PHRASE)] = 0.0
                phrases[row] = None
        return phrases, all_hits

    def _claim_names(self, index: int) -> frozenset[str]:
        """Terms of a claim's entities and speaker (name, role, organisation): who, not what."""
        claim = self.store.claim_at(index)
        texts = list(claim.entities)
        if claim.speaker:
            texts += [claim.speaker.name, claim.speaker.role or "", claim.speaker.org or ""]
        terms: set[str] = set()
        for text in texts:
            words = self.analyzer.canonical_words(text)
            terms.update(stem(w) for w in words)
            terms.update(stem(a + b) for a, b in itertools.pairwise(words))
        return frozenset(terms)

    def _phrase_bonuses(
        self, claims: Sequence[int], folded_query: str
    ) -> list[tuple[float, str | None]]:
        """How closely the whole query equals, or contains, a title/alias/entity of each claim.

        One rapidfuzz ``cdist`` over every reranked claim's phrases instead of
        an ``extractOne`` per claim; each claim's first best phrase is the one
        ``extractOne`` picks, with the same score.
        """
        per_claim = [self.index.phrases_of(c) for c in claims]
        flat = [p for phrases in per_claim for p in phrases]
        if not flat or not folded_query:
            return [(0.0, None)] * len(claims)
        scores = process.cdist([folded_query], flat, scorer=fuzz.ratio, dtype=np.float64)
        ratios = scores[0].tolist()
        padded = f" {folded_query} "
        bonuses: list[tuple[float, str | None]] = []
        start = 0
        for phrases in per_claim:
            end = start + len(phrases)
            bonuses.append(_phrase_bonus(phrases, ratios[start:end], padded))
            start = end
        return bonuses

    @staticmethod
    def _rest_vector(
        units: Sequence[Unit], explained: Set[str], vectors: np.ndarray
    ) -> np.ndarray | float:
        """The weighted unit vector of the query words not ``explained``; 1.0 or 0.0 without."""
        rest = [i for i, unit in enumerate(units) if unit.word not in explained]
        if not rest:
            return 1.0
        weights = np.array([units[i].weight for i in rest], dtype=np.float32)
        vector = weights @ vectors[rest]
        norm = float(np.linalg.norm(vector))
        if norm == 0:
            return 0.0
        return vector / norm

    def _rest_cosine(self, index: int, rest: np.ndarray | float) -> float:
        """Cosine of the query words this claim does not explain (``_rest_vector``) with it.

        One claim at a time: numpy's product of several rows can differ from
        one row's in the last bit, and the feature must not depend on which
        other claims were reranked.
        """
        if isinstance(rest, float):
            return rest
        return float(self.vectors.cosine(rest, np.array([index]))[0])

    # ---------------------------------------------------------------- decide
    def decide(self, query: str, found: Candidates, limit: int, offset: int) -> SearchResult:
        """Ranked confident matches (best first), or none plus suggestions.

        Answer when the words alone are conclusive (the index's own
        thresholds) or when the calibrated model finds the claim more likely
        than not: meaning rescues paraphrases, never overrules clear words.
        Answers come in the words' order (``Candidates.words_rank``), the
        chance breaking ties: among thousands of equally worded claims,
        cosine measures how short a claim is more than what it is about.
        """
        model = self.config.confidence
        chance = self.probability(found.features)
        lexical = found.features[:, FEATURES.index(Feature.LEXICAL)] > 0
        lexical &= found.features[:, FEATURES.index(Feature.NAMES_ONLY)] == 0
        answering = (chance >= model.threshold) | lexical
        words = words_of(found.units)
        if not answering.any():
            best = np.argsort(-chance, kind="stable")[:2].tolist()
            near = [self.store.claim_at(int(found.indices[r])).title for r in best]
            return SearchResult(query, (), self.suggest(query, found.units, near=near), words)
        floor = chance[answering].max() * self.config.thresholds.relative_to_best
        kept = np.flatnonzero(answering & ((chance >= floor) | lexical))
        # Only the page shown becomes Match objects: each reads and validates its
        # claim, and a common word can pass hundreds of claims at 100,000.
        matches = tuple(
            self._match(found, r, float(chance[r]), float(found.coverage[r]), not lexical[r])
            for r in self._first(found, kept, chance, offset + limit)[offset:]
        )
        return SearchResult(query, matches, (), words)

    def _first(
        self, found: Candidates, rows: np.ndarray, chance: np.ndarray, count: int
    ) -> list[int]:
        """The first ``count`` of ``rows`` in answer order: words' rank, chance (both best
        first), then claim id.

        numpy orders the two numbers; only the rows tied on both with the last
        one needed are also compared by id, in Python (a Python sort of all
        300 rows by that key cost ~0.15 ms).
        """
        ranks = found.words_rank()
        rank, chances = ranks[rows], chance[rows]
        order = np.lexsort((-chances, -rank))
        if 0 < count < order.size:
            last = order[count - 1]
            tied = (rank[order[count:]] == rank[last]) & (chances[order[count:]] == chances[last])
            order = order[: count + (int(np.argmin(tied)) if not tied.all() else tied.size)]
        ids, claims = self.store.ids, found.indices
        first = rows[order].tolist()
        first.sort(key=lambda r: (-float(ranks[r]), -float(chance[r]), ids[int(claims[r])]))
        return first[:count]

    def _match(
        self, found: Candidates, row: int, chance: float, coverage: float, by_meaning: bool
    ) -> Match:
        index = int(found.indices[row])
        hits = found.hits.get(row)
        return Match(
            self.store.claim_at(index),
            round(chance, 4),
            round(coverage, 4),
            self.finder.hits(index, found.units) if hits is None else hits,
            found.phrases[row],
            similarity=round(float(found.cosine[row]), 4),
            confidence=self.config.confidence.word(chance),
            by_meaning=by_meaning,
        )

    # ------------------------------------------------------------ suggestions
    def suggest(
        self, query: str, units: Iterable[Unit] = (), limit: int = 5, near: Sequence[str] = ()
    ) -> tuple[str, ...]:
        """Names, entities and topics closest to a query that found nothing, then ``near`` titles.

        ``near`` are titles of the claims that came closest without being
        confident. A name is close when one of its words is (nearly) one of the
        query's ("hassabis nobel" -> Demis Hassabis; rapidfuzz
        partial_token_ratio), closest whole name first, and deduplicated
        case-insensitively ("deepseek" and "DeepSeek" are one suggestion). Only
        when nothing is close do the store's biggest topics fill in.
        """
        text = suggestion_text(list(units), self._name_words) or fold(searchable(query))[:200]
        picks: dict[str, str] = {}
        if text.strip():
            close = process.extract(
                text,
                self.index.suggest_keys,
                scorer=fuzz.partial_token_ratio,
                limit=20,
                score_cutoff=SUGGEST_CUTOFF,
            )
            close.sort(key=lambda item: (-item[1], -fuzz.WRatio(text, item[0]), item[0]))
            for key, _score, _ in close[:limit]:
                picks.setdefault(key, self.index.suggest_display[key])
        for title in near[:2]:
            if len(picks) < limit:
                picks.setdefault(title.casefold(), title)
        if not picks:
            for topic, _ in self.store.topic_counts()[:limit]:
                picks.setdefault(topic.casefold(), topic)
        return tuple(list(picks.values())[:limit])
