"""A cold load's index analysed and embedded in the parse workers, then merged here.

Why: on a cold load the main process used to wait for the parse workers, then
read every claim body back, validate it once more and analyse it for the term
index (pure Python), while another thread embedded the meaning texts: most of
its CPU, on one core and a half, after the workers had finished and left the
second core idle. The workers hold every claim they validate anyway, so each
also analyses its claims into a ``Part`` (bot.core.index_build) and embeds
their meaning texts; the loading process only merges the parts, which gives
exactly the index one pass over the store builds (``index_build.merge``).

Parts are contiguous ranges of the store's order (by claim id, which is the
file's stem): bot.core.claim_load hands the files to the workers sorted by
stem, and the parts' claim ids are compared with the store's before use. Any
part missing (a worker failed, some files came from the parse cache, the store
has a problem) and the index is built as before, from the store.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from bot.core.index import PackedStrings, TermIndex
from bot.core.index_build import Collector, merge, part_arrays, part_from_arrays
from bot.core.schema import Claim
from bot.core.semantic import ClaimVectors, default_embedder
from bot.core.text import Analyzer
from bot.core.vector_cache import save_claim_vectors, unsaved_claim_vectors

log = logging.getLogger(__name__)
SPEC_NAME = "analysis.json"  # beside the workers' listings: its presence asks for parts
_VECTORS = ("vectors.digests", "vectors.codes", "vectors.scales")


def request_beside(out: Path) -> Path | None:
    """The request beside a worker's output ``out``, if the loading process made one."""
    spec = out.parent / SPEC_NAME
    return spec if spec.exists() else None


def part_file(out: Path) -> Path:
    """Where the worker writing its parse results to ``out`` writes its part."""
    return out.with_name(out.name + ".part.npz")


class AnalysisRequest:
    """Asks a cold load's parse workers for index parts, and merges what they send.

    Made by the caller with the matching config's synonyms and handed down to
    bot.core.claim_load, which calls ``begin`` when the workers parse every
    claim file and ``received`` / ``lost`` per worker, in the files' order.
    """

    def __init__(self, synonyms: Mapping[str, Sequence[str]]) -> None:
        self.synonyms = synonyms
        self._chunks: list[dict[str, np.ndarray]] | None = None

    def begin(self, directory: Path) -> None:
        """Ask the workers started in ``directory`` for parts."""
        spec = {"synonyms": {k: list(v) for k, v in self.synonyms.items()}}
        (directory / SPEC_NAME).write_text(json.dumps(spec), encoding="utf-8")
        self._chunks = []

    def received(self, out: Path) -> None:
        """The part of the worker that wrote ``out``; unreadable: no parts this load."""
        if self._chunks is None:
            return
        try:
            with np.load(part_file(out), allow_pickle=False) as data:
                self._chunks.append(dict(data))
        except (OSError, ValueError) as exc:
            log.info("index part unreadable (%s): building the index here", exc)
            self._chunks = None

    def lost(self) -> None:
        """A worker's files were parsed here, without a part."""
        self._chunks = None

    def index_of(self, ids: Sequence[str]) -> tuple[TermIndex, ClaimVectors] | None:
        """The index and vectors of the store with claims ``ids``, from the parts, or None.

        Writes the claim vector cache (bot.core.vector_cache) when the workers
        embedded any claim.
        """
        chunks, self._chunks = self._chunks, None  # the arrays are not kept
        if chunks is None:
            return None
        try:
            received = [PackedStrings(c["ids.data"], c["ids.offsets"]).tolist() for c in chunks]
            if [i for part in received for i in part] != list(ids):
                log.info("index parts are not the store's claims: building the index here")
                return None
            index = merge([part_from_arrays(chunk) for chunk in chunks])
            digests, codes, scales = (np.concatenate([c[n] for c in chunks]) for n in _VECTORS)
            embedded = sum(int(c["vectors.embedded"][0]) for c in chunks)
        except (KeyError, ValueError, IndexError) as exc:
            log.info("index parts unusable (%s): building the index here", exc)
            return None
        codes.setflags(write=False)
        scales.setflags(write=False)
        vectors = ClaimVectors(codes, scales)
        if embedded:
            save_claim_vectors(digests, vectors)
        log.info("index merged from %d parse workers' parts", len(chunks))
        return index, vectors


class WorkerAnalysis:
    """In a parse worker: its valid claims analysed into one part, then embedded."""

    def __init__(self, spec: Path) -> None:
        synonyms = json.loads(spec.read_text(encoding="utf-8"))["synonyms"]
        self._collector = Collector(Analyzer(synonyms))
        self._ids: list[str] = []

    def add(self, claim: Claim) -> None:
        self._collector.add(claim)
        self._ids.append(claim.id)

    def save(self, out: Path) -> None:
        """Write the part, the claims' ids and vectors for the loading process."""
        part = self._collector.part()
        (digests, codes, scales), embedded = unsaved_claim_vectors(default_embedder, part.meanings)
        ids = PackedStrings.pack(self._ids)
        arrays = part_arrays(part) | {"ids.data": ids.data, "ids.offsets": ids.offsets}
        arrays |= dict(zip(_VECTORS, (digests, codes, scales), strict=True))
        arrays["vectors.embedded"] = np.array([embedded], dtype=np.int64)
        with part_file(out).open("wb") as handle:
            np.savez(handle, allow_pickle=False, **arrays)
