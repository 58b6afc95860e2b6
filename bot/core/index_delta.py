"""A saved term index with a few claims changed: the mapped base, tombstones and a small delta.

Why: rebuilding the whole index for one edited claim file cost 25 s at
100,000 claims, and every gunicorn worker would then hold its own copy of
~100 MB of arrays. Here the base index stays the one mapped from the cache
(shared by the workers); a reload analyses only the changed claims (their old
text, read from the base store, and their new text) and keeps privately:

* **patched postings**: for every term the changed claims had or have now, the
  base posting list without the tombstoned claims, merged with the delta
  claims' postings (a copy of that one list; all other terms are the base's);
* **new terms** at ids after the base vocabulary, and the terms left with no
  claim at all ("dead": looked up as unknown, as a fresh build would not know them);
* **renumbering** when claims were added or removed: indices follow claim ids,
  so base postings are mapped through ``new_of_old`` when read (one gather).

Statistics are **exact**, not frozen: each term's document count is the base
list's length, or the patched one's, and idf is recomputed from those counts
for the whole vocabulary (one vector expression) with the live claim count,
so scores equal a fresh build's. Display forms (the first surface in claim
order), key surfaces for typos and suggestion names are patched too; where
deciding whether a surface or name of a removed text is still used elsewhere
would mean reading many claims, at most ``VERIFY_LIMIT`` are read and the
surface is kept otherwise (it can only offer a typo candidate a fresh build
would not). Typo candidates that tie exactly may come in another order than a
fresh build's until the next full build.

``bot.core.candidates`` reads ``indptr``/``post_claim``/``post_weight``/
``post_field`` directly when it explains a hit; here ``indptr`` is the
patched lists' prefix sums and the others are views that find the term of a
position and read its list (see ``_Positions``): no list is copied into them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from bot.core.index import TermIndex, _letters
from bot.core.index_build import Part, tf_bonus
from bot.core.index_build import analyse as analyse_claims
from bot.core.match_types import FIELD_WEIGHT
from bot.core.schema import Claim
from bot.core.semantic import ClaimVectors
from bot.core.text import Analyzer

MERGED_CACHE = 16  # merged common-term lists kept per patched index (<= 0.6 MB each at 100k)


@dataclass(frozen=True)
class Renumbering:
    """Base claim index <-> patched store index; ``-1``: a delta claim / a tombstone."""

    old_of_new: np.ndarray  # int64, one per claim of the patched store
    new_of_old: np.ndarray  # int64, one per claim of the base store
    moved: np.ndarray  # int32 like ``new_of_old``, but changed claims map to their new index
    identity: bool  # no claim added or removed: every claim keeps its index


class Posting(tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]):
    """One term's patched list: claims, field weights, tf bonuses, fields (sorted by claim)."""


class Recipe(NamedTuple):
    """A long patched list kept as instructions, not a copy: base slice, drops, inserts.

    Common terms ("china", "models") hold 40% of all claims each; copying
    their lists for every changed claim would put megabytes in every worker.
    The list is merged when a query reads it (``DeltaIndex.merge``, cached for
    the last few terms), the same values in the same order as a copy.
    """

    start: int  # the base's slice of this term
    end: int
    drop: np.ndarray  # positions in the slice of tombstoned claims
    claims: np.ndarray  # delta postings to insert (new numbering), sorted
    fields: np.ndarray
    boosts: np.ndarray

    @property
    def length(self) -> int:
        return self.end - self.start - len(self.drop) + len(self.claims)


def merged(base: TermIndex, numbering: Renumbering, recipe: Recipe) -> Posting:
    """The list ``recipe`` describes, sorted by (new) claim index."""
    s, e = recipe.start, recipe.end
    claims, fields, boosts = base.post_claim[s:e], base.post_field[s:e], base.post_boost[s:e]
    if numbering.identity and np.array_equal(claims[recipe.drop], recipe.claims):
        # An edited claim whose field or count of this term changed: same places.
        fields, boosts = fields.copy(), boosts.copy()
        fields[recipe.drop], boosts[recipe.drop] = recipe.fields, recipe.boosts
        return Posting((claims, FIELD_WEIGHT[fields], boosts, fields))
    if len(recipe.drop):
        keep = np.ones(e - s, dtype=bool)
        keep[recipe.drop] = False
        claims, fields, boosts = claims[keep], fields[keep], boosts[keep]
    if not numbering.identity:
        claims = numbering.moved[claims]
    if len(recipe.claims):
        at = np.searchsorted(claims, recipe.claims)
        claims = np.insert(claims, at, recipe.claims)
        fields = np.insert(fields, at, recipe.fields)
        boosts = np.insert(boosts, at, recipe.boosts)
    return Posting((claims.astype(np.int32, copy=False), FIELD_WEIGHT[fields], boosts, fields))


def list_of(
    base: TermIndex,
    numbering: Renumbering,
    patched: Mapping[int, Posting | Recipe],
    tid: int,
    merge: Callable[[int], Posting] | None = None,
) -> Posting:
    """Term ``tid``'s list in the patched store: its copy, its recipe merged (through
    ``merge``, a cache, when given), or else the base's own slices, renumbered."""
    found = patched.get(tid)
    if isinstance(found, Posting):
        return found
    if found is not None:
        return merge(tid) if merge is not None else merged(base, numbering, found)
    start, end = int(base.indptr[tid]), int(base.indptr[tid + 1])
    claims = base.post_claim[start:end]
    if not numbering.identity:
        claims = numbering.moved[claims]
    fields = base.post_field[start:end]
    return Posting((claims, base.post_weight[start:end], base.post_boost[start:end], fields))


def count_of(base: TermIndex, patched: Mapping[int, Posting | Recipe], tid: int) -> int:
    """How many postings term ``tid`` has in the patched store (no list is merged)."""
    found = patched.get(tid)
    if isinstance(found, Recipe):
        return found.length
    if found is not None:
        return len(found[0])
    return base.postings_count(tid)


_NONE = Posting(
    (np.zeros(0, np.int32), np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, np.int8))
)


@dataclass(frozen=True)
class Analysed:
    """A few claims analysed by the index build's own code, at given claim indices."""

    part: Part
    claims: np.ndarray  # int32 claim index of each posting
    term_ids: dict[str, int]  # term -> local id
    surfaces: dict[str, int]  # key surface -> local term id

    @property
    def suggestable(self) -> set[str]:
        return set(self.part.suggestable)

    def boosts(self) -> np.ndarray:
        return tf_bonus(self.part.post_count)


def analyse(claims: Sequence[tuple[int, Claim]], analyzer: Analyzer) -> Analysed:
    """``claims`` (index, claim), in the given order, as ``index_build.analyse`` sees them."""
    part = analyse_claims([claim for _, claim in claims], analyzer)
    positions = np.asarray([i for i, _ in claims], dtype=np.int32)
    return Analysed(
        part,
        np.repeat(positions, part.claim_postings),
        {term: i for i, term in enumerate(part.terms)},
        dict(zip(part.surface_words, part.surface_tids.tolist(), strict=True)),
    )


class _Layout:
    """Where each term's patched list sits in one flat numbering (``indptr``: prefix sums).

    ``CandidateFinder.hits_of`` slices a term's range and then reads single
    positions inside it; the last term found is remembered (one tuple,
    replaced whole, so threads never see half of it), so those reads cost a
    comparison rather than a binary search and a list lookup each.
    """

    def __init__(self, lists: Callable[[int], Posting], indptr: np.ndarray) -> None:
        self._lists, self._indptr = lists, indptr
        self._last: tuple[int, int, Posting] = (0, 0, _NONE)  # an empty range: no match

    def locate(self, position: int) -> tuple[Posting, int]:
        start, end, posting = self._last
        if not start <= position < end:
            tid = int(np.searchsorted(self._indptr, position, side="right")) - 1
            start, end = int(self._indptr[tid]), int(self._indptr[tid + 1])
            posting = self._lists(tid)
            self._last = (start, end, posting)
        return posting, position - start


class _Positions:
    """One column of the flat numbering (``post_claim``, ``post_weight``, ...).

    The slice ``[indptr[t] : indptr[t + 1]]`` is term ``t``'s whole list; no
    list is ever copied into one array.
    """

    def __init__(self, layout: _Layout, column: int) -> None:
        self._layout, self._column = layout, column

    def __getitem__(self, key: int | slice) -> object:
        if isinstance(key, slice):
            start, stop = int(key.start), int(key.stop)
            if stop <= start:  # an empty list (a dead term) is nowhere to locate
                return _NONE[self._column]
            posting, offset = self._layout.locate(start)
            return posting[self._column][offset : offset + stop - start]
        posting, offset = self._layout.locate(int(key))
        return posting[self._column][offset]


class _Vocabulary(Mapping[str, int]):
    """Base terms (minus dead ones) and new terms, without copying the base dict."""

    def __init__(self, base: Mapping[str, int], added: dict[str, int], dead: set[int]) -> None:
        self._base, self._added, self._dead = base, added, dead

    def __getitem__(self, term: str) -> int:
        tid = self._added.get(term)
        if tid is None:
            tid = self._base[term]
        if tid in self._dead:
            raise KeyError(term)
        return tid

    def __iter__(self) -> Iterator[str]:
        yield from (t for t, tid in self._base.items() if tid not in self._dead)
        yield from (t for t, tid in self._added.items() if tid not in self._dead)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Display:
    """Display forms: the base's, except for terms whose first claim changed."""

    def __init__(self, base: TermIndex, patched: dict[int, str]) -> None:
        self._base, self._patched = base, patched

    def __getitem__(self, tid: int) -> str:
        found = self._patched.get(int(tid))
        return found if found is not None else self._base.display[tid]


class DeltaIndex(TermIndex):
    """A ``TermIndex`` answering for a patched store; built by ``bot.core.index_patch``."""

    base: TermIndex
    numbering: Renumbering
    patched: dict[int, Posting | Recipe]
    merge: Callable[[int], Posting]  # a recipe's list, merged (cached: MERGED_CACHE terms)
    delta_phrases: dict[int, list[str]]
    added_surfaces: dict[str, int]
    dead_surfaces: frozenset[str]
    added_buckets: dict[int, list[str]]

    @classmethod
    def assemble(
        cls,
        base: TermIndex,
        numbering: Renumbering,
        patched: dict[int, Posting | Recipe],
        parts: Mapping[str, object],
    ) -> DeltaIndex:
        """An instance over ``base`` from prepared parts (see bot.core.index_patch).

        No dataclass ``__init__``: the base's typo buckets and letter counts
        are reused as they are, not recomputed for 100,000s of surfaces.
        """
        index = object.__new__(cls)
        fields: dict[str, object] = {
            "size": len(numbering.old_of_new),
            "base": base,
            "numbering": numbering,
            "patched": patched,
            "phrases": base.phrases,
            "phrase_indptr": base.phrase_indptr,
            "buckets": base.buckets,
            "letters": base.letters,
            **parts,
        }

        def merge(tid: int) -> Posting:
            recipe = patched[tid]
            assert isinstance(recipe, Recipe)
            return merged(base, numbering, recipe)

        fields["merge"] = functools.lru_cache(maxsize=MERGED_CACHE)(merge)
        layout = _Layout(index._list, fields["indptr"])  # type: ignore[arg-type]
        for column, name in enumerate(("post_claim", "post_weight", "post_boost", "post_field")):
            fields[name] = _Positions(layout, column)
        for name, value in fields.items():
            object.__setattr__(index, name, value)
        return index

    # ---------------------------------------------------- what queries read
    def _list(self, tid: int) -> Posting:
        return list_of(self.base, self.numbering, self.patched, tid, self.merge)

    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.numbering.identity and tid not in self.patched:
            return self.base.postings(tid)  # the usual case: the base's own slices
        claims, weights, boosts, _ = self._list(tid)
        return claims, weights, boosts

    def postings_count(self, tid: int) -> int:
        return count_of(self.base, self.patched, tid)

    def phrases_of(self, claim: int) -> list[str]:
        old = int(self.numbering.old_of_new[claim])
        return self.base.phrases_of(old) if old >= 0 else self.delta_phrases[claim]

    def typo_candidates(self, word: str, edits: int) -> list[str]:
        found = self.base.typo_candidates(word, edits)
        if self.dead_surfaces:
            found = [w for w in found if w not in self.dead_surfaces]
        added = self.added_buckets.get(len(word), [])
        if added:
            gap = np.abs(_letters(added) - _letters([word])[0]).sum(axis=1)
            found += [added[i] for i in np.flatnonzero(gap <= 2 * edits).tolist()]
        return found

    def memory_bytes(self) -> int:
        return self.base.memory_bytes() + self.delta_postings * 13 + int(self.idf.nbytes)

    def state(self) -> dict[str, np.ndarray]:
        raise TypeError("a patched index is not saved: the next full build saves its own")

    @property
    def delta_postings(self) -> int:
        """Postings held privately (copies and recipes): what decides when a full build is due."""
        return sum(
            len(p.claims) + len(p.drop) if isinstance(p, Recipe) else len(p[0])
            for p in self.patched.values()
        )


class _Surfaces(Mapping[str, int]):
    """Key surfaces for typos: the base's minus dead ones, plus the delta's new ones."""

    def __init__(
        self, base: Mapping[str, int], added: dict[str, int], dead: frozenset[str]
    ) -> None:
        self._base, self._added, self._dead = base, added, dead

    def __getitem__(self, surface: str) -> int:
        if surface in self._added:
            return self._added[surface]
        if surface in self._dead:
            raise KeyError(surface)
        return self._base[surface]

    def __iter__(self) -> Iterator[str]:
        yield from (s for s in self._base if s not in self._dead and s not in self._added)
        yield from self._added

    def __len__(self) -> int:
        return sum(1 for _ in self)


class DeltaVectors(ClaimVectors):
    """Base claim vectors (mapped, shared) and the delta claims' own rows.

    ``codes``/``scales`` are the delta's rows only; ``delta_row`` says which
    row a delta claim has (``-1`` for a base claim, read from the base).
    """

    _parts: tuple[ClaimVectors, ClaimVectors, np.ndarray, Renumbering]

    def __init__(
        self, base: ClaimVectors, delta: ClaimVectors, delta_row: np.ndarray, numbering: Renumbering
    ) -> None:
        super().__init__(delta.codes, delta.scales)
        object.__setattr__(self, "_parts", (base, delta, delta_row, numbering))

    def cosine(self, query: np.ndarray, claims: np.ndarray) -> np.ndarray:
        base, delta, delta_row, numbering = self._parts
        claims = np.asarray(claims)
        out = np.zeros(len(claims), dtype=np.float32)
        if not len(claims):
            return out
        old = numbering.old_of_new[claims]
        kept = old >= 0
        if kept.any():
            out[kept] = base.cosine(query, old[kept])
        if not kept.all():
            out[~kept] = delta.cosine(query, delta_row[claims[~kept]])
        return out
