"""A validated store with a few claim files changed, added or removed, without reading the rest.

Why: a full load reads every file's stamp and the whole parse cache, and
rebuilds every column; at 100,000 claims that is seconds for one edited file.
Here only the changed files are parsed and validated, and only the store-wide
checks a change can affect are run: ids against their file names and
siblings (``a.yaml`` next to ``a.yml``), dates, links from the changed claims
(targets must exist), links *to* removed claims, and contradicting relations
between a changed claim and the claims it links to. Anything else a change
could break was checked by the full load the base came from.

Any problem means "not patchable": the caller then loads the whole store,
which explains every problem with lines, exactly as before.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from datetime import date
from pathlib import Path
from typing import NamedTuple

import numpy as np

from bot.core.claim_load import parse_one
from bot.core.compact import BodyFile, ClaimFacts, ClaimStore
from bot.core.index_delta import Renumbering
from bot.core.store import CLAIM_SUFFIXES, misdated


class StackedBodies(BodyFile):
    """The base store's body file with the delta's bodies after its end.

    Offsets below the base's size read the base (shared: the parse cache or
    the loading process's file), the rest this process's own small file.
    """

    def __init__(self, base: BodyFile, delta: BodyFile) -> None:
        self._base, self._delta, self._offset = base, delta, base.nbytes

    def append(self, body: bytes) -> tuple[int, int]:
        start, length = self._delta.append(body)
        return start + self._offset, length

    def finish(self) -> None:
        self._delta.finish()

    def read(self, start: int, length: int) -> bytes:
        if start >= self._offset:
            return self._delta.read(start - self._offset, length)
        return self._base.read(start, length)

    def identity(self) -> str:
        return f"{self._base.identity()}+{self._delta.identity()}"

    @property
    def nbytes(self) -> int:
        return self._offset + self._delta.nbytes


class Delta(NamedTuple):
    """Changed claim files relative to a base store, parsed and validated one by one."""

    claims: dict[str, tuple[ClaimFacts, bytes]]  # id -> facts and JSON body (new or changed)
    removed: set[str]  # ids of base claims whose file is gone


def read_delta(directory: Path, names: Iterable[str], present: Container[str]) -> Delta | None:
    """Parse the changed files ``names``; None when any has a problem.

    ``present``: the claim file names in the directory now, to spot a
    second file for one id (``a.yaml`` next to ``a.yml``).
    """
    claims: dict[str, tuple[ClaimFacts, bytes]] = {}
    removed: set[str] = set()
    for name in sorted(names):
        stem = Path(name).stem
        if any(stem + suffix in present for suffix in CLAIM_SUFFIXES if stem + suffix != name):
            return None  # two files for one id: the full load names both
        if name not in present:
            removed.add(stem)
            continue
        parsed = parse_one(directory / name)
        if parsed.facts is None:
            return None
        claims[stem] = (ClaimFacts.from_json(parsed.facts), parsed.body)
    return Delta(claims, removed - claims.keys())


def _declared(base: ClaimStore, claim: int) -> dict[int, int]:
    """Base claim ``claim``'s declared links: target index -> relation code."""
    start, end = int(base._link_ptr[claim]), int(base._link_ptr[claim + 1])
    targets = base._link_target[start:end].tolist()
    return dict(zip(targets, base._link_relation[start:end].tolist(), strict=True))


def patchable(base: ClaimStore, delta: Delta, today: date) -> bool:
    """Whether the changed claims pass the checks a full load would make of them."""
    gone = delta.removed | delta.claims.keys()
    for facts, _ in delta.claims.values():
        if misdated(facts, today):
            return False
        for target, code in facts.links:
            known = target in delta.claims or base.index_of(target) is not None
            if not known or target in delta.removed:
                return False
            back = _back_relation(base, delta, target, facts.id)
            if back is not None and back != code:
                return False
    removed = [base.index_of(claim_id) for claim_id in delta.removed]
    inbound = np.flatnonzero(np.isin(base._link_target, np.array(removed, dtype=np.int64)))
    sources = np.searchsorted(base._link_ptr, inbound, side="right") - 1
    return all(base.ids[s] in gone for s in sources.tolist())


def _back_relation(base: ClaimStore, delta: Delta, target: str, source: str) -> int | None:
    """The relation ``target`` declares back to ``source`` (None: no link back)."""
    if target in delta.claims:
        return dict(delta.claims[target][0].links).get(source)
    target_index, source_index = base.index_of(target), base.index_of(source)
    if target_index is None or source_index is None:
        return None
    return _declared(base, target_index).get(source_index)


def _segments(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Indices ``starts[i] .. starts[i] + lengths[i] - 1`` for every i, concatenated."""
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return shift + np.arange(total)


def _csr(
    ptr: np.ndarray,
    data: np.ndarray,
    kept: tuple[np.ndarray, np.ndarray],
    added: list[list[int]],
    delta_at: np.ndarray,
    size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """A CSR column (``ptr``, ``data``) for the patched store: kept rows copied, delta rows set."""
    old, new = kept
    lengths = np.zeros(size, dtype=np.int64)
    lengths[new] = np.diff(ptr)[old]
    lengths[delta_at] = [len(row) for row in added]
    out_ptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(lengths, out=out_ptr[1:])
    out = np.zeros(int(out_ptr[-1]), dtype=data.dtype)
    out[_segments(out_ptr[new], lengths[new])] = data[_segments(ptr[old], lengths[new])]
    flat = [value for row in added for value in row]
    out[_segments(out_ptr[delta_at], lengths[delta_at])] = np.asarray(flat, dtype=data.dtype)
    return out_ptr, out


def _others(size: int, taken: np.ndarray) -> np.ndarray:
    """``0 .. size - 1`` without ``taken``, in order (no sort: O(size))."""
    keep = np.ones(size, dtype=bool)
    keep[taken] = False
    return np.flatnonzero(keep)


def _renumber(
    base: ClaimStore, delta: Delta
) -> tuple[tuple[str, ...], dict[str, int], Renumbering, np.ndarray]:
    """Ids of the patched store (sorted), their positions, the renumbering, delta positions.

    When claims were only edited (the usual reload), ids and positions are
    the base's own objects: nothing of size N is rebuilt.
    """
    gone = delta.removed | delta.claims.keys()
    gone_old = np.array(sorted(i for c in gone if (i := base.index_of(c)) is not None), np.int64)
    if not delta.removed and len(gone_old) == len(delta.claims):
        ids, position = base.ids, base._position
    else:
        ids = tuple(sorted((set(base.ids) - gone) | delta.claims.keys()))
        position = {claim_id: i for i, claim_id in enumerate(ids)}
    delta_at = np.array([position[c] for c in sorted(delta.claims)], dtype=np.int64)
    kept_old, kept_new = _others(len(base), gone_old), _others(len(ids), delta_at)
    old_of_new = np.full(len(ids), -1, dtype=np.int64)
    new_of_old = np.full(len(base), -1, dtype=np.int64)
    old_of_new[kept_new] = kept_old
    new_of_old[kept_old] = kept_new
    moved = new_of_old.astype(np.int32)
    for claim_id in delta.claims:
        if (old := base.index_of(claim_id)) is not None:
            moved[old] = position[claim_id]
    identity = ids is base.ids
    return ids, position, Renumbering(old_of_new, new_of_old, moved, identity), delta_at


def patch_store(
    base: ClaimStore, delta: Delta, body_dir: Path | None
) -> tuple[ClaimStore, Renumbering]:
    """The store with ``delta`` applied, and how its indices map to ``base``'s.

    Changed claims are tombstoned in the base and added again; bodies of the
    delta go to a private file after the base's (``StackedBodies``).
    """
    ids, position, numbering, delta_at = _renumber(base, delta)
    kept = (np.flatnonzero(numbering.new_of_old >= 0), np.flatnonzero(numbering.old_of_new >= 0))
    facts = [delta.claims[c][0] for c in sorted(delta.claims)]
    bodies = StackedBodies(base._bodies, BodyFile(body_dir))
    spans = [bodies.append(delta.claims[c][1]) for c in sorted(delta.claims)]
    bodies.finish()
    columns = _columns(base, kept, delta_at, facts, len(ids))
    columns["_body_start"][delta_at] = [s for s, _ in spans]
    columns["_body_length"][delta_at] = [n for _, n in spans]
    topic_names = list(base._topic_names)
    code = {name: i for i, name in enumerate(topic_names)}
    topics = [[code.setdefault(t, len(code)) for t in f.topics] for f in facts]
    topic_names += sorted(set(code) - set(topic_names), key=code.__getitem__)
    columns["_topic_ptr"], columns["_topic_ids"] = _csr(
        base._topic_ptr, base._topic_ids, kept, topics, delta_at, len(ids)
    )
    columns |= _links(base, delta, (position, numbering.moved), kept, delta_at)
    store = ClaimStore(
        directory=base.directory,
        ids=ids,
        _position=position,
        _topic_names=tuple(topic_names),
        _bodies=bodies,
        content_key="",  # not the files' digest: nothing is saved under it
        **columns,
    )
    return store, numbering


def _links(
    base: ClaimStore,
    delta: Delta,
    where: tuple[dict[str, int], np.ndarray],
    kept: tuple[np.ndarray, np.ndarray],
    delta_at: np.ndarray,
) -> dict[str, np.ndarray]:
    """The link columns, targets renumbered (a changed claim is still there, maybe elsewhere)."""
    position, moved = where
    facts = [delta.claims[c][0] for c in sorted(delta.claims)]
    size = len(position)
    targets = [[position[target] for target, _ in f.links] for f in facts]
    ptr, target = _csr(base._link_ptr, moved[base._link_target], kept, targets, delta_at, size)
    codes = [[code for _, code in f.links] for f in facts]
    _, relation = _csr(base._link_ptr, base._link_relation, kept, codes, delta_at, size)
    return {"_link_ptr": ptr, "_link_target": target, "_link_relation": relation}


def _columns(
    base: ClaimStore,
    kept: tuple[np.ndarray, np.ndarray],
    delta_at: np.ndarray,
    facts: list[ClaimFacts],
    size: int,
) -> dict[str, np.ndarray]:
    """The per-claim columns: kept claims' values moved, delta claims' set."""
    old, new = kept
    values = {
        "_last_touched": [f.last_touched for f in facts],
        "_reviewed": [f.reviewed for f in facts],
        "_review_every": [f.review_every for f in facts],
        "_body_start": [0] * len(facts),
        "_body_length": [0] * len(facts),
    }
    out = {}
    for name, delta_values in values.items():
        column = getattr(base, name)
        patched = np.zeros(size, dtype=column.dtype)
        patched[new] = column[old]
        patched[delta_at] = delta_values
        out[name] = patched
    return out
