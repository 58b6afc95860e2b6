"""The inverted index over a claim store: vocabulary, postings, typo buckets.

Built once per store load and never changed afterwards, so every thread can
read it without locks. Every claim field is analysed into terms (folded,
synonyms applied, Snowball-stemmed). Each (term, claim) pair keeps the
strongest field it appears in; field weights make a title or alias hit beat a
word deep in a summary. Postings live in flat numpy arrays sorted by term and
then by claim, so a query touches only the claims that share a term with it.

How queries use it lives elsewhere: ``bot.core.candidates`` turns a query into
candidate claims, ``bot.core.ranking`` decides which of them are answers;
``bot.core.index_build`` builds it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bot.core.match_types import FIELD_WEIGHT
from bot.core.schema import Claim
from bot.core.text import fold, is_content_word

# A claim that names a term in several places (title, aliases, entities, summary)
# is more about it than one that mentions it once: a small, saturating bonus
# used for ranking only, never for deciding whether something matches at all.
TF_BONUS = 0.15
# Bumped whenever the meaning or layout of ``TermIndex.state()`` changes, so a
# saved state of another layout is refused instead of misread.
STATE_VERSION = 1


def edits_allowed(word: str) -> int:
    """Edit distance allowed for a query word of this length (as search engines do)."""
    if len(word) <= 3 or word.isdigit():
        return 0
    return 1 if len(word) <= 6 else 2


def joinable(left: str, right: str) -> bool:
    """Neighbours worth trying as one word: two content words, at least one alphabetic."""
    return is_content_word(left) and is_content_word(right) and (left.isalpha() or right.isalpha())


def meaning_text(claim: Claim) -> str:
    """The text a claim's sentence vector is made from: what it is about, not its sources."""
    speaker = claim.speaker.name if claim.speaker else ""
    return " ".join([claim.title, *claim.aliases, *claim.entities, speaker, claim.summary])


@dataclass(frozen=True, eq=False)
class PackedStrings:
    """Many short strings as two arrays: their UTF-8 bytes end to end, and offsets.

    A list of 100,000s of ``str`` objects costs ~50 bytes of header each and
    is written to (reference counts) by every reader, so forked workers copy
    the pages; two arrays are compact and stay shared. Strings are decoded
    only when a query needs them (a few per answer).
    """

    data: np.ndarray  # uint8
    offsets: np.ndarray  # int64, len(strings) + 1

    @classmethod
    def pack(cls, strings: Sequence[str]) -> PackedStrings:
        encoded = [s.encode("utf-8") for s in strings]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        return cls(np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:
        return self.data[self.offsets[i] : self.offsets[i + 1]].tobytes().decode("utf-8")

    def span(self, start: int, end: int) -> list[str]:
        """Strings ``start`` .. ``end - 1``, decoded."""
        bounds = self.offsets[start : end + 1].tolist()
        blob = self.data[bounds[0] : bounds[-1]].tobytes()
        base = bounds[0]
        return [blob[a - base : b - base].decode("utf-8") for a, b in itertools.pairwise(bounds)]

    def tolist(self) -> list[str]:
        return self.span(0, len(self))


@dataclass(frozen=True, eq=False)
class TermIndex:
    """Postings and vocabulary of one store; immutable and shared by threads.

    ``state()`` gives every part as plain numpy arrays and ``from_state()``
    rebuilds an equal index from them, so the index can be saved next to the
    parse cache (``np.savez``, no pickle) and loaded instead of rebuilt. A
    state is only valid for the store content and analyzer (synonyms) it was
    built from: the caller keys it by both.
    """

    size: int
    term_ids: dict[str, int]  # in id order (insertion order)
    display: PackedStrings  # a readable surface form per term, for reasons
    phrases: PackedStrings  # canonical titles, aliases and entities, claim by claim
    phrase_indptr: np.ndarray  # int64, claim -> slice of ``phrases``
    surface_term: dict[str, int]  # key-field surface word -> term id, for typos
    post_claim: np.ndarray  # int32, sorted by term then claim
    post_field: np.ndarray  # int8 FieldKind of each posting
    post_boost: np.ndarray  # float32 tf bonus of each posting
    indptr: np.ndarray  # int64, term id -> slice of the postings
    idf: np.ndarray  # float32 per term
    suggest_display: dict[str, str]  # folded name -> how it is shown

    def __post_init__(self) -> None:
        # Derived, not stored: field weights and the typo and suggestion lookups.
        object.__setattr__(self, "post_weight", FIELD_WEIGHT[self.post_field])
        buckets = _typo_buckets(self.surface_term)
        object.__setattr__(self, "buckets", buckets)
        surfaces = list(self.surface_term)
        counts, row = letter_table(surfaces), {w: i for i, w in enumerate(surfaces)}
        # One row per letter (27 x words): the query's gaps are summed row by
        # row, ~10x faster than across each word's 27 short columns.
        letters = {
            n: np.ascontiguousarray(counts[[row[w] for w in words]].T)
            for n, words in buckets.items()
        }
        object.__setattr__(self, "letters", letters)
        object.__setattr__(self, "suggest_keys", sorted(self.suggest_display))

    post_weight: np.ndarray = dataclasses.field(init=False)  # float32 field weight
    buckets: dict[int, list[str]] = dataclasses.field(init=False)  # length -> key words
    letters: dict[int, np.ndarray] = dataclasses.field(init=False)  # letter x word counts
    suggest_keys: list[str] = dataclasses.field(init=False)

    def typo_candidates(self, word: str, edits: int) -> list[str]:
        """Key words of ``word``'s length bucket that may be within ``edits`` of it.

        An edit changes letter counts by at most 2 in total (a transposition
        by 0), so a word whose counts differ from ``word``'s by more than
        ``2 * edits`` cannot be that close: an exact filter, one numpy pass,
        before the costlier edit distance (6,600 key words a bucket at
        100,000 claims).
        """
        bucket = self.buckets.get(len(word), [])
        if not bucket:
            return bucket
        gap = self.letters[len(word)] - _letters([word])[0][:, None]
        np.abs(gap, out=gap)
        close = np.add.reduce(gap, axis=0, dtype=np.int16) <= 2 * edits  # <= both lengths: fits
        return [bucket[i] for i in np.flatnonzero(close).tolist()]

    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Claims holding term ``tid`` (sorted), with field weight and tf bonus."""
        start, end = self.indptr[tid], self.indptr[tid + 1]
        return self.post_claim[start:end], self.post_weight[start:end], self.post_boost[start:end]

    def postings_count(self, tid: int) -> int:
        return int(self.indptr[tid + 1] - self.indptr[tid])

    def phrases_of(self, claim: int) -> list[str]:
        """The claim's canonical titles, aliases and entities, for phrase comparison."""
        return self.phrases.span(int(self.phrase_indptr[claim]), int(self.phrase_indptr[claim + 1]))

    @property
    def idf_unknown_max(self) -> float:
        """A word the store never saw weighs at most as much as its rarest word."""
        return math.log1p((max(self.size, 1) - 1 + 0.5) / 1.5)

    @property
    def idf_unknown_min(self) -> float:
        """...and at least as much as a word found in 5% of claims."""
        n = max(self.size, 1)
        common = max(1.0, 0.05 * n)
        return min(self.idf_unknown_max, math.log1p((n - common + 0.5) / (common + 0.5)))

    def memory_bytes(self) -> int:
        """Bytes held by the index's arrays (not its dicts, not the claims themselves)."""
        arrays = [getattr(self, name) for name in (*_ARRAYS, "post_weight")]
        arrays += [getattr(p, a) for p in (self.display, self.phrases) for a in _PACKED]
        return int(sum(a.nbytes for a in arrays))

    def state(self) -> dict[str, np.ndarray]:
        """Every part of the index as named numpy arrays (see ``from_state``)."""
        terms = PackedStrings.pack(list(self.term_ids))
        surfaces = PackedStrings.pack(list(self.surface_term))
        suggest = PackedStrings.pack(list(self.suggest_display.values()))
        parts = {"terms": terms, "display": self.display, "phrases": self.phrases}
        parts |= {"surfaces": surfaces, "suggest": suggest}
        state = {f"{name}.{a}": getattr(p, a) for name, p in parts.items() for a in _PACKED}
        return state | {
            "version": np.array([STATE_VERSION, self.size], dtype=np.int64),
            "surface_term": np.fromiter(self.surface_term.values(), np.int32),
            **{name: getattr(self, name) for name in _ARRAYS},
        }

    @classmethod
    def from_state(cls, state: Mapping[str, np.ndarray]) -> TermIndex:
        """The index ``state()`` described; ValueError when the arrays do not fit together."""
        try:
            version, size = (int(v) for v in state["version"])
            # np.asarray: a memory-mapped state stays mapped, but its slices are
            # plain arrays (numpy.memmap slicing costs ~1 us more per call).
            packed = {
                n: PackedStrings(*(np.asarray(state[f"{n}.{a}"]) for a in _PACKED))
                for n in _STRINGS
            }
            arrays = {name: np.asarray(state[name], dtype=dtype) for name, dtype in _ARRAYS.items()}
            surface_term = state["surface_term"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"index state incomplete: {exc}") from exc
        if version != STATE_VERSION:
            raise ValueError(f"index state version {version}, expected {STATE_VERSION}")
        _check_state(size, packed, arrays, surface_term)
        return cls(
            size=size,
            term_ids={t: i for i, t in enumerate(packed["terms"].tolist())},
            display=packed["display"],
            phrases=packed["phrases"],
            surface_term=dict(zip(packed["surfaces"].tolist(), surface_term.tolist(), strict=True)),
            suggest_display=suggestion_display(packed["suggest"].tolist()),
            **arrays,
        )


_PACKED = ("data", "offsets")
_STRINGS = ("terms", "display", "phrases", "surfaces", "suggest")
_ARRAYS = {
    "phrase_indptr": np.int64,
    "post_claim": np.int32,
    "post_field": np.int8,
    "post_boost": np.float32,
    "indptr": np.int64,
    "idf": np.float32,
}


def _check_state(
    size: int,
    packed: dict[str, PackedStrings],
    arrays: dict[str, np.ndarray],
    surface_term: np.ndarray,
) -> None:
    """Refuse a state whose parts disagree (a torn or foreign file), before it is used."""
    terms = len(packed["terms"])
    problems = [
        name
        for name, ok in (
            ("display", len(packed["display"]) == terms),
            ("idf", arrays["idf"].shape == (terms,)),
            ("indptr", arrays["indptr"].shape == (terms + 1,)),
            ("postings", arrays["post_claim"].shape == arrays["post_field"].shape),
            ("boosts", arrays["post_boost"].shape == arrays["post_claim"].shape),
            ("phrase_indptr", arrays["phrase_indptr"].shape == (size + 1,)),
            ("surface_term", surface_term.shape == (len(packed["surfaces"]),)),
        )
        if not ok
    ]
    for p in packed.values():
        if p.offsets.ndim != 1 or not len(p.offsets) or p.offsets[-1] != p.data.size:
            problems.append("strings")
    if not problems and arrays["indptr"][-1] != arrays["post_claim"].size:
        problems.append("indptr")
    if problems:
        raise ValueError(f"index state inconsistent: {', '.join(sorted(set(problems)))}")


def _typo_buckets(surfaces: Iterable[str]) -> dict[int, list[str]]:
    """For each word length, every key word within reach of the edits allowed for it.

    One rapidfuzz call per query word then suffices.
    """
    by_length: dict[int, list[str]] = {}
    for surface in surfaces:
        by_length.setdefault(len(surface), []).append(surface)
    buckets: dict[int, list[str]] = {}
    for length in range(4, max(by_length, default=0) + 3):
        edits = edits_allowed("x" * length)
        buckets[length] = [
            w for near in range(length - edits, length + edits + 1) for w in by_length.get(near, ())
        ]
    return buckets


def letter_table(words: Sequence[str]) -> np.ndarray:
    """``_letters`` of many words at once, with numpy: one pass over all their characters.

    Every load of an index makes this table for all its key words (~15,000 at
    10,000 claims); the per-character loop below is for the query's few words.
    """
    codes = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32)
    columns = np.where((codes >= 97) & (codes <= 122), codes - 97, 26)
    rows = np.repeat(np.arange(len(words), dtype=np.int64), [len(w) for w in words])
    cells = np.bincount(rows * 27 + columns, minlength=len(words) * 27)
    return cells.reshape(len(words), 27).astype(np.int16)


def _letters(words: Sequence[str]) -> np.ndarray:
    """Per word, how often each of a-z occurs, and all other characters in a 27th column."""
    counts = np.zeros((len(words), 27), dtype=np.int16)
    for row, word in enumerate(words):
        for char in word:
            counts[row, ord(char) - 97 if "a" <= char <= "z" else 26] += 1
    return counts


def suggestion_display(names: Iterable[str]) -> dict[str, str]:
    """One suggestion per name whatever its case; the capitalised spelling wins."""
    display: dict[str, str] = {}
    for name in sorted(names):  # "DeepSeek" sorts before "deepseek"
        display.setdefault(fold(name).strip(), name)
    return display
