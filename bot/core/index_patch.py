"""Building a ``DeltaIndex`` (bot.core.index_delta) for a few changed claims.

The cost is the changed claims' analysis (old text and new) plus copying the
posting lists of the terms they touch; the other terms, the typo buckets and
the vocabulary dict stay the base's. See bot.core.index_delta for the layout
and for how statistics are kept exact.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.core.index import (
    TermIndex,
    _typo_buckets,
    joinable,
    suggestion_display,
)
from bot.core.index_build import bm25_idf
from bot.core.index_delta import (
    Analysed,
    DeltaIndex,
    DeltaVectors,
    Posting,
    Recipe,
    Renumbering,
    _Display,
    _Surfaces,
    _Vocabulary,
    analyse,
    count_of,
    list_of,
    merged,
)
from bot.core.match_types import FIELD_WEIGHT, FieldKind
from bot.core.schema import Claim
from bot.core.semantic import ClaimVectors, Embedder
from bot.core.store import ClaimStore
from bot.core.text import Analyzer, fold, stem

COPY_MAX = 2_048  # base postings above which a touched list is a recipe, not a copy
VERIFY_LIMIT = 16  # live claims read to decide whether a removed surface or name is still used


class NotPatchable(Exception):
    """The base index cannot be patched for this change (a full build is needed)."""


@dataclass
class _Work:
    """What one patch reads and fills, passed between its steps."""

    base: TermIndex
    store: ClaimStore  # the patched store (live claims, new numbering)
    numbering: Renumbering
    analyzer: Analyzer
    gone: Analysed  # the tombstoned claims' old texts, at their base indices
    fresh: Analysed  # the delta claims, at their new indices
    added_terms: dict[str, int]
    patched: dict[int, Posting | Recipe]
    analysed: dict[int, Analysed]  # live base claims read for a check, by new index

    def claim_terms(self, claim: int) -> Analysed:
        found = self.analysed.get(claim)
        if found is None:
            found = analyse([(claim, self.store.claim_at(claim))], self.analyzer)
            self.analysed[claim] = found
        return found

    def posting(self, tid: int) -> Posting:
        """Term ``tid``'s list in the patched store (merged if it is a recipe)."""
        return list_of(self.base, self.numbering, self.patched, tid)

    def count(self, tid: int) -> int:
        return count_of(self.base, self.patched, tid)

    def live_base_claims(self, tid: int, key_only: bool) -> np.ndarray:
        """Claims of term ``tid`` that are unchanged base claims (optionally key fields only)."""
        claims, _, _, fields = self.posting(tid)
        keep = self.numbering.old_of_new[claims] >= 0
        if key_only:
            keep &= fields <= FieldKind.TOPIC
        return claims[keep]


def _global_terms(base: TermIndex, fresh: Analysed) -> tuple[np.ndarray, dict[str, int]]:
    """Global term id of each of ``fresh``'s local terms; new terms numbered after the base's."""
    vocab = len(base.idf)
    added: dict[str, int] = {}
    ids = []
    for term in fresh.term_ids:  # insertion order: local id order
        tid = base.term_ids.get(term)
        if tid is None:
            tid = added.setdefault(term, vocab + len(added))
        ids.append(tid)
    return np.asarray(ids, dtype=np.int64), added


def _postings(analysed: Analysed, tids: np.ndarray, claims: np.ndarray) -> dict[tuple, tuple]:
    """(term id, claim) -> (field, tf bonus) for every posting of ``analysed``."""
    terms = tids[analysed.part.post_term].tolist()
    fields, boosts = analysed.part.post_field.tolist(), analysed.boosts().tolist()
    return {
        (t, c): (f, b) for t, c, f, b in zip(terms, claims.tolist(), fields, boosts, strict=True)
    }


def _changes(work: _Work, fresh_tid: np.ndarray) -> tuple[dict[int, list[int]], dict[int, list]]:
    """Per term: base claims to drop (old indices) and delta postings to insert.

    A changed claim whose posting of a term is the same before and after
    (field and count) is left in the base list: an edited title does not
    touch the terms of the summary, the notes or the sources.
    """
    base, gone = work.base, work.gone
    gone_tid = np.asarray([base.term_ids[t] for t in gone.part.terms], dtype=np.int64)
    before = _postings(gone, gone_tid, gone.claims)
    after = _postings(work.fresh, fresh_tid, work.fresh.claims)
    moved = work.numbering.moved
    old_of = {int(moved[old]): old for old in set(gone.claims.tolist()) if moved[old] >= 0}
    drops: dict[int, list[int]] = {}
    for (tid, old), value in before.items():
        if after.get((tid, int(moved[old]))) != value:
            drops.setdefault(tid, []).append(old)
    adds: dict[int, list] = {}
    for (tid, claim), value in after.items():
        old = old_of.get(claim)
        if old is None or before.get((tid, old)) != value:
            adds.setdefault(tid, []).append((claim, *value))
    return drops, adds


def _patch_lists(work: _Work, fresh_tid: np.ndarray) -> None:
    """Every touched term's list: base minus dropped claims (renumbered) plus the delta's.

    Lists longer than ``COPY_MAX`` in the base are kept as recipes (see
    bot.core.index_delta.Recipe): a copy per changed claim of a list holding
    40% of the claims would cost every worker megabytes.
    """
    base = work.base
    drops, adds = _changes(work, fresh_tid)
    for tid in drops.keys() | adds.keys():
        add = sorted(adds.get(tid, []))
        claims = np.asarray([a[0] for a in add], dtype=np.int32)
        fields = np.asarray([a[1] for a in add], dtype=np.int8)
        boosts = np.asarray([a[2] for a in add], dtype=np.float32)
        if tid >= len(base.idf):
            work.patched[tid] = Posting((claims, FIELD_WEIGHT[fields], boosts, fields))
            continue
        start, end = int(base.indptr[tid]), int(base.indptr[tid + 1])
        gone = np.asarray(sorted(drops.get(tid, [])), dtype=np.int32)
        drop = np.searchsorted(base.post_claim[start:end], gone)
        recipe = Recipe(start, end, drop, claims, fields, boosts)
        long = end - start > COPY_MAX
        work.patched[tid] = recipe if long else merged(base, work.numbering, recipe)


def _counts(base: TermIndex, work: _Work) -> np.ndarray:
    """Every term's document count in the patched store."""
    vocab = len(base.idf)
    counts = np.zeros(vocab + len(work.added_terms), dtype=np.int64)
    counts[:vocab] = np.diff(np.asarray(base.indptr))
    for tid in work.patched:
        counts[tid] = work.count(tid)
    return counts


def _display(work: _Work, fresh_tid: np.ndarray) -> dict[int, str]:
    """Display forms of the changed claims' terms whose first claim (in claim order) changed.

    A fresh build shows the first surface of a term's first claim; the base
    did the same for its own first claim, which still stands unless it was
    dropped, or changed, or a delta claim now comes before it.
    """
    base, fresh, numbering = work.base, work.fresh, work.numbering
    fresh_display = {int(fresh_tid[i]): surface for i, surface in enumerate(fresh.part.display)}
    term_of = {base.term_ids[t]: t for t in work.gone.part.terms}
    patch: dict[int, str] = {}
    for tid in term_of.keys() | fresh_display.keys():
        if not work.count(tid):
            continue
        first = _first_claim(work, tid)
        old = int(numbering.old_of_new[first])
        if old < 0:
            patch[tid] = fresh_display[tid]
        elif int(base.post_claim[int(base.indptr[tid])]) != old:
            again = work.claim_terms(first)
            patch[tid] = again.part.display[again.term_ids[term_of[tid]]]
    return patch


def _first_claim(work: _Work, tid: int) -> int:
    """The lowest claim index holding ``tid`` in the patched store."""
    found = work.patched.get(tid)
    if isinstance(found, Posting):
        return int(found[0][0])
    base, moved = work.base, work.numbering.moved
    start, end = int(base.indptr[tid]), int(base.indptr[tid + 1])
    skip = set(found.drop.tolist()) if found is not None else set()
    kept = next((i for i in range(start, end) if i - start not in skip), None)
    first = int(moved[int(base.post_claim[kept])]) if kept is not None else len(moved) + 1
    if found is not None and len(found.claims):
        first = min(first, int(found.claims[0]))
    return first


def _has_surface(words: list[str], surface: str) -> bool:
    """Whether canonical ``words`` of one key text yield ``surface`` (a word or a joined pair)."""
    if surface in words:
        return True
    return any(a + b == surface and joinable(a, b) for a, b in itertools.pairwise(words))


def _surface_used(work: _Work, surface: str, tid: int) -> bool:
    """Whether a live base claim still has ``surface`` in a key field.

    Titles, aliases and entities are read from the index's phrases and topics
    from the store's columns (cheap, every claim of the term); a speaker's
    name, role and organisation need the claim itself, so past those checks
    at most ``VERIFY_LIMIT`` claims are read, and the surface is kept if
    undecided (it can then offer a typo candidate a fresh build would not).
    """
    claims = work.live_base_claims(tid, key_only=True).tolist()
    old_of_new = work.numbering.old_of_new
    for claim in claims:
        phrases = work.base.phrases_of(int(old_of_new[claim]))
        if any(_has_surface(p.split(), surface) for p in phrases):
            return True
    words = work.analyzer.canonical_words
    if any(_has_surface(words(t), surface) for c in claims for t in work.store.topics_at(c)):
        return True
    if len(claims) > VERIFY_LIMIT:
        return True
    return any(surface in work.claim_terms(int(c)).surfaces for c in claims)


def _surfaces(work: _Work, fresh_tid: np.ndarray) -> tuple[dict[str, int], frozenset[str]]:
    """Key surfaces the delta adds, and those only the tombstoned texts had."""
    base, fresh = work.base, work.fresh
    added = {
        s: int(fresh_tid[local])
        for s, local in fresh.surfaces.items()
        if s not in base.surface_term
    }
    dead = frozenset(
        s
        for s in work.gone.surfaces
        if s not in fresh.surfaces and not _surface_used(work, s, base.surface_term[s])
    )
    return added, dead


def _name_used(work: _Work, name: str) -> bool:
    """Whether a live base claim still names ``name`` as topic, entity or speaker."""
    if any(topic == name for topic, _ in work.store.topic_counts()):
        return True
    tids = [work.base.term_ids.get(stem(w)) for w in work.analyzer.canonical_words(name)]
    known = [t for t in tids if t is not None and work.count(t)]
    if not known:
        return True  # not decidable from the touched terms: keep it
    rarest = min(known, key=work.count)
    claims = work.live_base_claims(rarest, key_only=True)
    if len(claims) > VERIFY_LIMIT:
        return True
    for claim in claims.tolist():
        c = work.store.claim_at(int(claim))
        if name in c.entities or (c.speaker is not None and c.speaker.name == name):
            return True
    return False


def _suggest(work: _Work) -> dict[str, str]:
    """Suggestion names: the delta's added (the smallest spelling wins, as in a full
    build), the tombstoned texts' removed unless a live claim still names them."""
    display = dict(work.base.suggest_display)
    for name in work.gone.suggestable - work.fresh.suggestable:
        key = fold(name).strip()
        if display.get(key) == name and not _name_used(work, name):
            del display[key]
    for key, name in suggestion_display(work.fresh.suggestable).items():
        display[key] = min(display.get(key, name), name)
    return display


def patch_index(
    base: tuple[TermIndex, ClaimVectors],
    store: ClaimStore,
    numbering: Renumbering,
    changes: tuple[Sequence[tuple[int, Claim]], Sequence[tuple[int, Claim]]],
    analyzer: Analyzer,
    embedder: Embedder,
) -> tuple[DeltaIndex, DeltaVectors]:
    """The index and vectors of ``store``: ``base`` with ``changes`` applied.

    ``changes``: the tombstoned claims' old texts at their base indices, and
    the delta claims' new texts at their indices in ``store``. NotPatchable
    when the old texts do not analyse into the base's terms (another analyzer).
    """
    base_index, base_vectors = base
    old, new = changes
    gone, fresh = analyse(old, analyzer), analyse(sorted(new, key=lambda c: c[0]), analyzer)
    if any(term not in base_index.term_ids for term in gone.term_ids):
        raise NotPatchable("the base index was built from other texts or synonyms")
    fresh_tid, added_terms = _global_terms(base_index, fresh)
    work = _Work(base_index, store, numbering, analyzer, gone, fresh, added_terms, {}, {})
    _patch_lists(work, fresh_tid)
    dead = {tid for tid in work.patched if not work.count(tid)}
    added_surfaces, dead_surfaces = _surfaces(work, fresh_tid)
    suggest = _suggest(work)
    phrases = np.cumsum([0, *fresh.part.phrase_counts.tolist()]).tolist()
    order = sorted(i for i, _ in new)
    counts = _counts(base_index, work)
    parts: dict[str, object] = {
        "term_ids": _Vocabulary(base_index.term_ids, added_terms, dead),
        "display": _Display(base_index, _display(work, fresh_tid)),
        "idf": bm25_idf(counts, len(store)),
        "indptr": np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        "surface_term": _Surfaces(base_index.surface_term, added_surfaces, dead_surfaces),
        "added_surfaces": added_surfaces,
        "dead_surfaces": dead_surfaces,
        "added_buckets": _typo_buckets(added_surfaces),
        "suggest_display": suggest,
        "suggest_keys": sorted(suggest),
        "delta_phrases": {
            claim: fresh.part.phrases_between(phrases[row], phrases[row + 1])
            for row, claim in enumerate(order)
        },
    }
    index = DeltaIndex.assemble(base_index, numbering, work.patched, parts)
    delta_row = np.full(len(store), -1, dtype=np.int64)
    delta_row[order] = np.arange(len(order))
    rows = ClaimVectors.quantise(embedder.embed_many(fresh.part.meanings))
    return index, DeltaVectors(base_vectors, rows, delta_row, numbering)
