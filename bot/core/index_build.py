"""Building the term index (bot.core.index): analyse claims into parts, merge with numpy.

Analysing every field of every claim (folding, synonyms, stemming, joined
spellings, phrases) is pure Python and the longest single-threaded step of a
cold load, so it does as little per claim as it can: each distinct key text
(title, alias, entity, speaker, topic) and evidence note is analysed once and
kept as term ids, a claim's strongest field per term and its term counts are
dict and Counter operations, and postings are sorted with numpy at the end.

The analysis of a range of claims is a ``Part`` with term ids local to it
(its vocabulary in order of first appearance); ``merge`` numbers terms part
by part, in order, so parts analysed separately (elsewhere, or from a cache)
merge into exactly the index one pass over every claim builds. A test
compares both with a straightforward reference build.
"""

from __future__ import annotations

import itertools
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bot.core.index import (
    TF_BONUS,
    PackedStrings,
    TermIndex,
    joinable,
    meaning_text,
    suggestion_display,
)
from bot.core.match_types import KEY_FIELDS, FieldKind, claim_fields
from bot.core.schema import Claim
from bot.core.text import Analyzer, stem

if TYPE_CHECKING:  # the parse workers import this module, which bot.core.store imports
    from bot.core.store import ClaimStore

PHRASE_FIELDS = (FieldKind.TITLE, FieldKind.ALIAS, FieldKind.ENTITY)
MEANING_BATCH = 2_048  # meaning texts handed on at a time (see build_index)
MAX_OCCURRENCES = 60_000  # a term's count in one claim, capped (it only feeds a bonus)


@dataclass(frozen=True)
class Part:
    """The analysis of a contiguous range of claims, with term ids local to it."""

    terms: list[str]  # local id order = order of first appearance in the range
    display: list[str]  # the surface form each term was first seen as
    surface_words: list[str]  # key-field surface words, in order of first appearance
    surface_tids: np.ndarray  # int32 local term id of each
    post_term: np.ndarray  # int32 local term id, claim by claim
    post_field: np.ndarray  # int8 strongest FieldKind of the term in that claim
    post_count: np.ndarray  # uint32 occurrences of the term in that claim
    claim_postings: np.ndarray  # int64 postings per claim
    # Canonical titles, aliases and entities, claim by claim; packed when the part
    # came from a parse worker (see part_arrays), so merging copies no strings.
    phrases: list[str] | PackedStrings
    phrase_counts: np.ndarray  # int64 phrases per claim
    suggestable: list[str]  # topics, entities and speakers (sorted, distinct)
    meanings: list[str]  # each claim's meaning text (empty for a part from a worker)

    def phrases_between(self, start: int, end: int) -> list[str]:
        """Phrases ``start`` .. ``end - 1`` (of consecutive claims), as a list."""
        if isinstance(self.phrases, PackedStrings):
            return self.phrases.span(start, end)
        return self.phrases[start:end]


# Part's fields held as packed strings, and its numpy fields, in a part's arrays.
_PART_STRINGS = ("terms", "display", "surface_words", "phrases", "suggestable")
_PART_ARRAYS = ("surface_tids", "post_term", "post_field", "post_count", "claim_postings")


def part_arrays(part: Part) -> dict[str, np.ndarray]:
    """``part`` as named numpy arrays (no meanings), to hand from a process to another."""
    arrays = {name: getattr(part, name) for name in (*_PART_ARRAYS, "phrase_counts")}
    for name in _PART_STRINGS:
        value = getattr(part, name)
        packed = value if isinstance(value, PackedStrings) else PackedStrings.pack(value)
        arrays |= {f"{name}.data": packed.data, f"{name}.offsets": packed.offsets}
    return arrays


def part_from_arrays(arrays: Mapping[str, np.ndarray]) -> Part:
    """The part ``part_arrays`` gave (phrases stay packed); KeyError when one is missing."""
    strings = {
        name: PackedStrings(arrays[f"{name}.data"], arrays[f"{name}.offsets"])
        for name in _PART_STRINGS
    }
    return Part(
        terms=strings["terms"].tolist(),
        display=strings["display"].tolist(),
        surface_words=strings["surface_words"].tolist(),
        phrases=strings["phrases"],
        suggestable=strings["suggestable"].tolist(),
        meanings=[],
        phrase_counts=arrays["phrase_counts"],
        **{name: arrays[name] for name in _PART_ARRAYS},
    )


class Collector:
    """Analyses claims one at a time into a Part.

    Entities, topics, speakers, many aliases and evidence notes repeat across
    claims: each distinct text is analysed once and kept as its term ids.
    """

    def __init__(self, analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.term_ids: dict[str, int] = {}
        self.display: list[str] = []
        self.surfaces: dict[str, int] = {}  # surface word -> term id, key fields only
        self.known: dict[str, int] = {}  # any surface word -> term id
        self.post_term, self.post_field = array("i"), array("b")
        self.post_count, self.claim_postings = array("I"), array("q")
        self.phrases: list[str] = []
        self.phrase_counts = array("q")
        self.key_texts: dict[str, tuple[str, list[int]]] = {}
        self.notes: dict[str, tuple[str, list[int]]] = {}  # boilerplate repeats
        self.suggestable: set[str] = set()
        self.meanings: list[str] = []

    def _tids(self, found: list[str], key: bool) -> list[int]:
        """Term ids of surface words, numbering new terms in order.

        ``known`` maps a surface word straight to its id (stemming once per
        word); key-field words also become typo candidates (``surfaces``).
        """
        known, term_ids, display = self.known, self.term_ids, self.display
        tids: list[int] = []
        for word in found:
            tid = known.get(word)
            if tid is None:
                term = stem(word)
                tid = term_ids.setdefault(term, len(term_ids))
                if tid == len(display):
                    display.append(word)
                known[word] = tid
            tids.append(tid)
        if key:
            for word, tid in zip(found, tids, strict=True):
                if not word.isdigit():
                    self.surfaces.setdefault(word, tid)
        return tids

    def _analyse(self, kind: FieldKind, text: str) -> tuple[str, list[int]]:
        """The field's canonical phrase (key fields only) and term ids, in text order.

        Key fields add joined neighbours ("deep seek" -> "deepseek"). A text is
        registered (new terms numbered) the first time it is seen, in field
        order, so term ids come out as in one pass over every occurrence.
        """
        key = kind in KEY_FIELDS
        cache = self.key_texts if key else self.notes if kind == FieldKind.NOTE else None
        cached = cache.get(text) if cache is not None else None
        if cached is not None:
            return cached
        tokens = self.analyzer.canonical_words(text)
        found = [w for w in tokens if len(w) > 1 or w.isdigit()]
        if key:
            found += [a + b for a, b in itertools.pairwise(tokens) if joinable(a, b)]
        result = (" ".join(tokens) if key else "", self._tids(found, key))
        if cache is not None:
            cache[text] = result
        return result

    def add(self, claim: Claim) -> None:
        self.suggestable.update(claim.topics, claim.entities)
        if claim.speaker:
            self.suggestable.add(claim.speaker.name)
        self.meanings.append(meaning_text(claim))
        analysed: list[tuple[FieldKind, list[int]]] = []
        phrases = len(self.phrases)
        for kind, text in claim_fields(claim):
            phrase, tids = self._analyse(kind, text)
            if kind in PHRASE_FIELDS:
                self.phrases.append(phrase)
            analysed.append((kind, tids))
        # Strongest field per term: written weakest first, so the strongest stays.
        best: dict[int, int] = {}
        for kind, tids in sorted(analysed, key=lambda field: -field[0]):
            best.update(dict.fromkeys(tids, kind))
        counts = Counter(itertools.chain.from_iterable(tids for _, tids in analysed))
        self.post_term.extend(best)
        self.post_field.extend(best.values())
        self.post_count.extend(map(counts.__getitem__, best))
        self.claim_postings.append(len(best))
        self.phrase_counts.append(len(self.phrases) - phrases)

    def part(self) -> Part:
        words = list(self.surfaces)
        return Part(
            terms=list(self.term_ids),
            display=self.display,
            surface_words=words,
            surface_tids=np.fromiter(self.surfaces.values(), np.int32, len(words)),
            post_term=np.frombuffer(self.post_term, dtype=np.int32),
            post_field=np.frombuffer(self.post_field, dtype=np.int8),
            post_count=np.frombuffer(self.post_count, dtype=np.uint32),
            claim_postings=np.frombuffer(self.claim_postings, dtype=np.int64),
            phrases=self.phrases,
            phrase_counts=np.frombuffer(self.phrase_counts, dtype=np.int64),
            suggestable=sorted(self.suggestable),
            meanings=self.meanings,
        )


def analyse(claims: Iterable[Claim], analyzer: Analyzer) -> Part:
    collector = Collector(analyzer)
    for claim in claims:
        collector.add(claim)
    return collector.part()


def merge(parts: Sequence[Part]) -> TermIndex:
    """The index of the parts' claims, in order: global ids by first appearance."""
    term_ids: dict[str, int] = {}
    display: list[str] = []
    surfaces: dict[str, int] = {}
    post_terms: list[np.ndarray] = []
    for part in parts:
        local = [term_ids.setdefault(term, len(term_ids)) for term in part.terms]
        for tid, shown in zip(local, part.display, strict=True):
            if tid == len(display):  # new here: numbered in order of first appearance
                display.append(shown)
        for word, tid in zip(part.surface_words, part.surface_tids.tolist(), strict=True):
            surfaces.setdefault(word, local[tid])
        post_terms.append(np.asarray(local, dtype=np.int32)[part.post_term])
    return _finish(parts, term_ids, display, surfaces, post_terms)


def tf_bonus(counts: np.ndarray) -> np.ndarray:
    """Each posting's bonus for its term's occurrences in the claim (capped), as float32.

    One expression for the full build and a patched index (bot.core.index_patch),
    so a patch's scores equal a fresh build's.
    """
    capped = np.minimum(counts.astype(np.uint32, copy=False), MAX_OCCURRENCES)
    extra = capped.astype(np.float32) - 1
    return (TF_BONUS * (1 - np.power(0.5, extra))).astype(np.float32)


def bm25_idf(counts: np.ndarray, size: int) -> np.ndarray:
    """BM25's idf of each term from its document count: rare terms say more about a query."""
    n = max(size, 1)
    return np.log1p((n - counts + 0.5) / (counts + 0.5)).astype(np.float32)


def _concat(arrays: Iterable[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate([np.zeros(0, dtype), *arrays]).astype(dtype, copy=False)


def _phrases(parts: Sequence[Part]) -> PackedStrings:
    """Every part's phrases in one PackedStrings: packed ones are joined, not decoded."""
    packed = [
        p.phrases if isinstance(p.phrases, PackedStrings) else PackedStrings.pack(p.phrases)
        for p in parts
    ]
    if len(packed) == 1:
        return packed[0]
    starts = np.cumsum([0, *(p.data.size for p in packed)])
    offsets = [p.offsets[1:] + start for p, start in zip(packed, starts.tolist(), strict=False)]
    return PackedStrings(
        _concat((p.data for p in packed), np.uint8),
        _concat([np.zeros(1, np.int64), *offsets], np.int64),
    )


def _finish(
    parts: Sequence[Part],
    term_ids: dict[str, int],
    display: list[str],
    surfaces: dict[str, int],
    post_terms: list[np.ndarray],
) -> TermIndex:
    terms = _concat(post_terms, np.int32)
    per_claim = _concat((p.claim_postings for p in parts), np.int64)
    size = len(per_claim)
    claims = np.repeat(np.arange(size, dtype=np.int32), per_claim)
    # Stable: within a term, postings stay in claim order.
    order = np.argsort(terms, kind="stable")
    occurrences = _concat((p.post_count for p in parts), np.uint32)
    phrase_indptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(_concat((p.phrase_counts for p in parts), np.int64), out=phrase_indptr[1:])
    counts = np.bincount(terms, minlength=len(term_ids))
    return TermIndex(
        size=size,
        term_ids=term_ids,
        display=PackedStrings.pack(display),
        phrases=_phrases(parts),
        phrase_indptr=phrase_indptr,
        surface_term=surfaces,
        post_claim=claims[order],
        post_field=_concat((p.post_field for p in parts), np.int8)[order],
        post_boost=tf_bonus(occurrences[order]),
        indptr=np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        idf=bm25_idf(counts, size),
        suggest_display=suggestion_display({name for p in parts for name in p.suggestable}),
    )


def build_index(
    store: ClaimStore,
    analyzer: Analyzer,
    meanings: Callable[[list[str]], object] | None = None,
    batch: int = MEANING_BATCH,
) -> tuple[TermIndex, list[str]]:
    """The index of ``store`` and each claim's meaning text (for its sentence vector).

    ``meanings``, if given, is handed the meaning texts ``batch`` claims at a
    time as they are analysed, so they can be embedded meanwhile (one pass
    over the claims instead of a first one to collect the texts).
    """
    collector = Collector(analyzer)
    done = 0
    for claim in store:
        collector.add(claim)
        if meanings is not None and len(collector.meanings) - done == batch:
            meanings(collector.meanings[done:])
            done += batch
    if meanings is not None and len(collector.meanings) > done:
        meanings(collector.meanings[done:])
    part = collector.part()
    return merge([part]), part.meanings
