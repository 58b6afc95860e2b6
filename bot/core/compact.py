"""The validated claim store as compact columns, with claim bodies read on demand.

Why: 100,000 validated pydantic claims take ~800 MB, and every gunicorn
worker that touches them (refcounts, the cyclic GC) copies the pages they live
on. What the bot needs about *every* claim is small: ids, dates, topics and
related links, for topic counts, App Home's recent list, digest rotation and
related links. Those are kept as numpy arrays plus one tuple of ids; each
claim's validated JSON is written once to an unlinked temporary file and read
back with ``os.pread`` when an answer shows it, so only the few claims an
answer names are ever materialised as :class:`Claim` objects.

Bodies live in a file, not in memory: the page cache holds them when memory
allows and the kernel drops them when it does not, and they count in no
process's RSS. ``pread`` takes its offset as an argument, so one descriptor
serves every thread, and every worker forked from the loading process.
"""

from __future__ import annotations

import json
import os
import tempfile
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import IO, NamedTuple, overload

import numpy as np

from bot.core.schema import Claim, Relation

RELATIONS = tuple(Relation)
_RELATION_CODE = {relation: code for code, relation in enumerate(RELATIONS)}


class ClaimRow(NamedTuple):
    """What digest rotation needs about a claim, without its text."""

    id: str
    topics: tuple[str, ...]
    last_touched: date
    reviewed: date
    review_every: int | None  # the claim's own review interval (days), if it sets one


class BodyFile:
    """Claim bodies (JSON) in a file read by (offset, length) with ``pread``.

    Either an unlinked temporary file the builder appends to, or the parse
    cache file itself (see bot.core.parse_cache), whose lines already hold each
    claim's validated JSON: a restart then copies no body at all.
    """

    def __init__(self, directory: Path | None = None, handle: IO[bytes] | None = None) -> None:
        if handle is None:
            if directory is not None:
                try:
                    directory.mkdir(parents=True, exist_ok=True)
                except OSError:
                    directory = None
            # Unlinked on creation: nothing to clean up, even after SIGKILL.
            handle = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115
        self._file: IO[bytes] = handle
        self._size = os.fstat(handle.fileno()).st_size

    def append(self, body: bytes) -> tuple[int, int]:
        self._file.seek(0, os.SEEK_END)
        self._file.write(body)
        start, self._size = self._size, self._size + len(body)
        return start, len(body)

    def finish(self) -> None:
        self._file.flush()

    def read(self, start: int, length: int) -> bytes:
        return os.pread(self._file.fileno(), length, start)

    def identity(self) -> str:
        """Which file, in which state: a saved store's offsets are valid for this one only."""
        stat = os.fstat(self._file.fileno())
        return f"{stat.st_dev}.{stat.st_ino}.{stat.st_size}.{stat.st_mtime_ns}"

    @property
    def nbytes(self) -> int:
        return self._size


class ClaimFacts(NamedTuple):
    """What loading keeps about a valid claim besides its body: columns and link checks.

    Stored in the parse cache as a JSON list, so a restart fills the columns
    and checks links without validating a single claim again.
    """

    id: str
    last_touched: int  # proleptic ordinals
    reviewed: int
    review_every: int  # 0: the store-wide interval
    latest: int  # the latest date anywhere in the claim (a future one is a problem)
    topics: tuple[str, ...]
    links: tuple[tuple[str, int], ...]  # (target id, code into RELATIONS)

    @classmethod
    def of(cls, claim: Claim) -> ClaimFacts:
        dates = [claim.last_touched, *(s.date for s in claim.sources if s.date is not None)]
        return cls(
            claim.id,
            claim.last_touched.toordinal(),
            claim.reviewed.toordinal(),
            claim.review_every or 0,
            max(dates).toordinal(),
            tuple(claim.topics),
            tuple((link.id, _RELATION_CODE[link.relation]) for link in claim.related),
        )

    def to_json(self) -> bytes:
        return json.dumps(self, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ClaimFacts:
        """Decode a cached row; ValueError/TypeError when it is not one (a damaged cache)."""
        cid, touched, reviewed, every, latest, topics, links = json.loads(data)
        return cls(
            str(cid),
            int(touched),
            int(reviewed),
            int(every),
            int(latest),
            tuple(map(str, topics)),
            tuple((str(target), int(code)) for target, code in links),
        )

    def relation_of(self, index: int) -> Relation:
        return RELATIONS[self.links[index][1]]


@dataclass(frozen=True, eq=False)
class ClaimStore:
    """A validated, immutable set of claims, sorted by id; rebuilt whole on reload.

    Index ``i`` is the same claim in every column and in the matcher's index.
    """

    directory: Path
    ids: tuple[str, ...]
    _position: dict[str, int] = field(repr=False)
    _last_touched: np.ndarray = field(repr=False)  # int32 proleptic ordinals
    _reviewed: np.ndarray = field(repr=False)  # int32 proleptic ordinals
    _review_every: np.ndarray = field(repr=False)  # int32 days; 0: the store-wide interval
    _topic_names: tuple[str, ...] = field(repr=False)
    _topic_ptr: np.ndarray = field(repr=False)  # CSR: claim i's topics are ids[ptr[i]:ptr[i+1]]
    _topic_ids: np.ndarray = field(repr=False)
    _link_ptr: np.ndarray = field(repr=False)  # CSR of declared related links
    _link_target: np.ndarray = field(repr=False)  # claim index of the target
    _link_relation: np.ndarray = field(repr=False)  # code into RELATIONS
    _body_start: np.ndarray = field(repr=False)
    _body_length: np.ndarray = field(repr=False)
    _bodies: BodyFile = field(repr=False)
    # A digest of every file's name and content; "" when the store was not read
    # from files. Saved indexes are keyed by it (bot.core.index_cache).
    content_key: str = field(default="", repr=False)

    @classmethod
    def from_claims(
        cls, directory: Path, claims: Iterable[Claim], body_dir: Path | None = None
    ) -> ClaimStore:
        builder = StoreBuilder(body_dir)
        for claim in claims:
            builder.add(claim)
        return builder.build(directory)

    # -------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[Claim]:
        """Every claim, materialised one at a time (for tools and index builds)."""
        return (self.claim_at(i) for i in range(len(self.ids)))

    @property
    def claims(self) -> ClaimSequence:
        """All claims as a lazy sequence: indexing materialises one claim."""
        return ClaimSequence(self)

    def claim_at(self, index: int) -> Claim:
        body = self._bodies.read(int(self._body_start[index]), int(self._body_length[index]))
        return Claim.model_validate_json(body)

    def index_of(self, claim_id: str) -> int | None:
        return self._position.get(claim_id)

    def get(self, claim_id: str) -> Claim | None:
        index = self._position.get(claim_id)
        return None if index is None else self.claim_at(index)

    def get_many(self, claim_ids: Iterable[str]) -> list[Claim]:
        """The claims with these ids, in the given order; unknown ids are skipped."""
        return [c for c in (self.get(i) for i in claim_ids) if c is not None]

    def last_touched(self, index: int) -> date:
        return date.fromordinal(int(self._last_touched[index]))

    def topics_at(self, index: int) -> tuple[str, ...]:
        start, end = self._topic_ptr[index], self._topic_ptr[index + 1]
        return tuple(self._topic_names[t] for t in self._topic_ids[start:end])

    def rows(self) -> list[ClaimRow]:
        """Id, topics and dates of every claim: what digest rotation reads."""
        reviewed = self._reviewed.tolist()
        every = self._review_every.tolist()
        return [
            ClaimRow(
                claim_id,
                self.topics_at(i),
                self.last_touched(i),
                date.fromordinal(reviewed[i]),
                every[i] or None,
            )
            for i, claim_id in enumerate(self.ids)
        ]

    def reviewed_of(self, claim_id: str) -> date | None:
        """The claim's ``reviewed`` date without reading its body; None for an unknown id."""
        index = self._position.get(claim_id)
        return None if index is None else date.fromordinal(int(self._reviewed[index]))

    def review_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """``reviewed`` ordinals and own review intervals (0: none), indexed like ``ids``.

        Whole-store freshness questions (App Home, ``ai-race claims stale``) are
        answered from these without materialising a single claim.
        """
        return self._reviewed, self._review_every

    @property
    def body_bytes(self) -> int:
        return self._bodies.nbytes

    def memory_bytes(self) -> int:
        """Bytes of the numpy columns (ids and the id lookup are Python objects)."""
        return int(sum(getattr(self, name).nbytes for name in _COLUMNS))

    def state(self) -> dict[str, np.ndarray]:
        """The columns as named arrays, ids and topic names as JSON (see ``from_state``)."""
        names = {"ids": list(self.ids), "topic_names": list(self._topic_names)}
        text = {k: np.frombuffer(json.dumps(v).encode(), dtype=np.uint8) for k, v in names.items()}
        return text | {name.lstrip("_"): getattr(self, name) for name in _COLUMNS}

    @classmethod
    def from_state(
        cls, directory: Path, state: Mapping[str, np.ndarray], bodies: BodyFile, content_key: str
    ) -> ClaimStore:
        """The store ``state()`` described, reading bodies from ``bodies``.

        ValueError when the arrays do not fit together or point past the body file.
        """
        ids = tuple(json.loads(state["ids"].tobytes()))
        topic_names = tuple(json.loads(state["topic_names"].tobytes()))
        columns = {name: state[name.lstrip("_")] for name in _COLUMNS}
        n = len(ids)
        per_claim = ("_last_touched", "_reviewed", "_review_every", "_body_start", "_body_length")
        fits = all(columns[c].shape == (n,) for c in per_claim) and all(
            columns[ptr].shape == (n + 1,) and int(columns[ptr][-1]) == len(columns[data])
            for ptr, data in (("_topic_ptr", "_topic_ids"), ("_link_ptr", "_link_target"))
        )
        if not fits or len(columns["_link_relation"]) != len(columns["_link_target"]):
            raise ValueError("store columns of different lengths")
        if n and int((columns["_body_start"] + columns["_body_length"]).max()) > bodies.nbytes:
            raise ValueError("claim bodies past the end of the body file")
        return cls(
            directory=directory,
            ids=ids,
            _position={claim_id: i for i, claim_id in enumerate(ids)},
            _topic_names=topic_names,
            _bodies=bodies,
            content_key=content_key,
            **columns,
        )

    # ------------------------------------------------------- whole-store views
    def related(self, claim: Claim, relation: Relation) -> list[Claim]:
        """Claims linked to ``claim`` by ``relation``, declared on either side."""
        ids = dict.fromkeys(claim.related_ids(relation))
        index = self._position.get(claim.id)
        if index is not None:
            code = _RELATION_CODE[relation]
            inbound = np.flatnonzero((self._link_target == index) & (self._link_relation == code))
            sources = np.searchsorted(self._link_ptr, inbound, side="right") - 1
            ids.update(dict.fromkeys(self.ids[s] for s in sources.tolist()))
        return self.get_many(ids)

    def topic_counts(self) -> list[tuple[str, int]]:
        """Topics with the number of claims carrying each, most common first."""
        return list(self._topic_counts)

    @cached_property
    def _topic_counts(self) -> tuple[tuple[str, int], ...]:
        # Once per store: suggestions and App Home ask on every no-match answer.
        counts = np.bincount(self._topic_ids, minlength=len(self._topic_names)).tolist()
        pairs = [(name, n) for name, n in zip(self._topic_names, counts, strict=True) if n]
        return tuple(sorted(pairs, key=lambda item: (-item[1], item[0])))

    def recent(self, limit: int = 5) -> list[Claim]:
        """Most recently added or reviewed claims first (ties: later id first)."""
        return [self.claim_at(i) for i in self._by_recency[:limit].tolist()]

    @cached_property
    def _by_recency(self) -> np.ndarray:
        # Indices follow id order, so sorting by (date, index) is sorting by (date, id).
        order = np.lexsort((np.arange(len(self.ids)), self._last_touched))
        return order[::-1].copy()


_COLUMNS = (
    "_last_touched",
    "_reviewed",
    "_review_every",
    "_topic_ptr",
    "_topic_ids",
    "_link_ptr",
    "_link_target",
    "_link_relation",
    "_body_start",
    "_body_length",
)


class ClaimSequence(Sequence[Claim]):
    """A read-only view of a store's claims that materialises only what is read."""

    def __init__(self, store: ClaimStore) -> None:
        self._store = store

    def __len__(self) -> int:
        return len(self._store)

    @overload
    def __getitem__(self, index: int) -> Claim: ...
    @overload
    def __getitem__(self, index: slice) -> list[Claim]: ...
    def __getitem__(self, index: int | slice) -> Claim | list[Claim]:
        if isinstance(index, slice):
            return [self._store.claim_at(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("claim index out of range")
        return self._store.claim_at(index)


class StoreBuilder:
    """Collects claims into columns and a body file, then sorts them by id."""

    def __init__(self, body_dir: Path | None = None, bodies: BodyFile | None = None) -> None:
        self._bodies = bodies or BodyFile(body_dir)
        self._ids: list[str] = []
        self._last_touched = array("i")
        self._reviewed = array("i")
        self._review_every = array("i")
        self._body_start = array("q")
        self._body_length = array("i")
        self._topic_code: dict[str, int] = {}
        self._topic_lists: list[array[int]] = []
        self._links: list[tuple[tuple[str, int], ...]] = []

    def add(self, claim: Claim) -> None:
        """A validated claim: its body is appended to the builder's body file."""
        start, length = self._bodies.append(claim.model_dump_json().encode())
        self.add_facts(ClaimFacts.of(claim), start, length)

    def add_facts(self, facts: ClaimFacts, start: int, length: int) -> None:
        """A claim whose body is already in the body file at (start, length)."""
        self._ids.append(facts.id)
        self._last_touched.append(facts.last_touched)
        self._reviewed.append(facts.reviewed)
        self._review_every.append(facts.review_every)
        self._body_start.append(start)
        self._body_length.append(length)
        code = self._topic_code
        self._topic_lists.append(array("i", (code.setdefault(t, len(code)) for t in facts.topics)))
        self._links.append(facts.links)

    def __len__(self) -> int:
        return len(self._ids)

    def claim_at(self, index: int) -> Claim:
        """A claim already added, by the order it was added (for error reports)."""
        body = self._bodies.read(self._body_start[index], self._body_length[index])
        return Claim.model_validate_json(body)

    def build(self, directory: Path, content_key: str = "") -> ClaimStore:
        """Freeze into a store sorted by id (file names do not sort like ids)."""
        self._bodies.finish()
        order = sorted(range(len(self._ids)), key=self._ids.__getitem__)
        ids = tuple(self._ids[i] for i in order)
        position = {claim_id: i for i, claim_id in enumerate(ids)}
        take = np.asarray(order, dtype=np.int64)
        topic_lists = [self._topic_lists[i] for i in order]
        links = [self._links[i] for i in order]
        topic_ptr = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum([len(t) for t in topic_lists], out=topic_ptr[1:])
        link_ptr = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum([len(lk) for lk in links], out=link_ptr[1:])
        # A valid store has no dangling links; -1 keeps an unvalidated one usable.
        targets = [position.get(target, -1) for claim_links in links for target, _ in claim_links]
        names = sorted(self._topic_code, key=self._topic_code.__getitem__)
        return ClaimStore(
            directory=directory,
            ids=ids,
            _position=position,
            _last_touched=np.frombuffer(self._last_touched, dtype=np.int32)[take].copy(),
            _reviewed=np.frombuffer(self._reviewed, dtype=np.int32)[take].copy(),
            _review_every=np.frombuffer(self._review_every, dtype=np.int32)[take].copy(),
            _topic_names=tuple(names),
            _topic_ptr=topic_ptr,
            _topic_ids=np.fromiter(
                (code for codes in topic_lists for code in codes), dtype=np.int32
            ),
            _link_ptr=link_ptr,
            _link_target=np.asarray(targets, dtype=np.int32),
            _link_relation=np.fromiter(
                (code for claim_links in links for _, code in claim_links), dtype=np.int8
            ),
            _body_start=np.frombuffer(self._body_start, dtype=np.int64)[take].copy(),
            _body_length=np.frombuffer(self._body_length, dtype=np.int32)[take].copy(),
            _bodies=self._bodies,
            content_key=content_key,
        )
