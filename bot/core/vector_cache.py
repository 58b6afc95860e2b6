"""Claim vectors computed once: cached beside the parse cache, keyed by what was embedded.

At 100,000 claims the tokenizer needs tens of seconds to embed every claim; a
restart or a reload after one edited file should not pay that again. The
cache is one ``.npz`` file per embedding model in the parse cache's directory
(``AI_RACE_CACHE``, ``off`` disables both): the BLAKE2b digest of each claim's
meaning text, its int8 codes and its scale. A claim whose text is unchanged
reuses its row, whatever its position or file; only new or edited claims are
embedded. ``.npz`` holds plain arrays (loaded with ``allow_pickle=False``), so
a cache file can never run code. Any failure to read or write it costs time
only: the vectors are then computed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from bot.core.parse_cache import cache_dir_from_env
from bot.core.semantic import DIMENSIONS, MODEL_ID, ClaimVectors, Embedder

log = logging.getLogger(__name__)
_DIGEST = 16


def _digests(texts: Sequence[str]) -> np.ndarray:
    out = np.empty(len(texts), dtype=f"S{_DIGEST}")
    for row, text in enumerate(texts):
        out[row] = hashlib.blake2b(text.encode("utf-8"), digest_size=_DIGEST).digest()
    return out


def _path(directory: Path) -> Path:
    return directory / f"claim-vectors-{MODEL_ID}-{DIMENSIONS}.npz"


def _read(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            digests, codes, scales = data["digests"], data["codes"], data["scales"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as exc:
        log.info("claim vector cache unreadable, recomputing: %s", exc)
        return None
    shapes_agree = codes.shape == (len(digests), DIMENSIONS) and scales.shape == digests.shape
    if not shapes_agree or codes.dtype != np.int8:
        return None
    return digests, codes, scales


def _write(path: Path, digests: np.ndarray, vectors: ClaimVectors) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".claim-vectors-", suffix=".npz")
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, digests=digests, codes=vectors.codes, scales=vectors.scales)
        os.replace(tmp, path)
    except OSError as exc:
        log.info("claim vector cache not written: %s", exc)


def claim_vectors(embedder: Embedder, texts: Sequence[str]) -> ClaimVectors:
    """Quantised vectors for ``texts``, reusing cached rows for unchanged texts."""
    return claim_vectors_of_batches(embedder, [texts])


_Cached = tuple[np.ndarray, np.ndarray, np.ndarray]  # digests, codes, scales


def _cached(directory: Path | None) -> tuple[_Cached | None, dict[bytes, int]]:
    """The cache file's rows and the row of each digest (none without a cache)."""
    cached = _read(_path(directory)) if directory is not None else None
    row_of = {d: row for row, d in enumerate(cached[0].tolist())} if cached is not None else {}
    return cached, row_of


def _fill(
    texts: list[str],
    cached: tuple[_Cached | None, dict[bytes, int]],
    embed: Callable[[list[str]], np.ndarray],
) -> tuple[_Cached, int]:
    """Digests, codes and scales of ``texts``: cached rows reused, the rest embedded."""
    rows, row_of = cached
    digests = _digests(texts)
    codes = np.empty((len(texts), DIMENSIONS), dtype=np.int8)
    scales = np.empty(len(texts), dtype=np.float32)
    todo = []
    for row, digest in enumerate(digests.tolist()):
        old = row_of.get(digest)
        if old is None or rows is None:
            todo.append(row)
        else:
            codes[row], scales[row] = rows[1][old], rows[2][old]
    if todo:
        fresh = ClaimVectors.quantise(embed([texts[i] for i in todo]))
        codes[todo], scales[todo] = fresh.codes, fresh.scales
    return (digests, codes, scales), len(todo)


def unsaved_claim_vectors(
    embedder: Callable[[], Embedder], texts: Sequence[str]
) -> tuple[_Cached, int]:
    """Digests, codes and scales of ``texts`` and how many were embedded; nothing written.

    For a parse worker that embeds its share of a store: the loading process
    gathers every worker's rows and writes the cache once (``save_claim_vectors``).
    ``embedder`` is called only if some text is not cached.
    """
    return _fill(list(texts), _cached(cache_dir_from_env()), lambda t: embedder().embed_many(t))


def save_claim_vectors(digests: np.ndarray, vectors: ClaimVectors) -> None:
    """Write the cache file for these rows (see ``unsaved_claim_vectors``)."""
    directory = cache_dir_from_env()
    if directory is not None:
        _write(_path(directory), digests, vectors)


def claim_vectors_of_batches(embedder: Embedder, batches: Iterable[Sequence[str]]) -> ClaimVectors:
    """``claim_vectors`` of the texts of ``batches``, in order, embedded batch by batch.

    For a caller that produces the texts as it goes (the index build): a
    thread can embed the first batches while the rest are being made.
    """
    directory = cache_dir_from_env()
    cached = _cached(directory)
    parts: list[_Cached] = []
    embedded = 0
    for batch in batches:
        part, fresh = _fill(list(batch), cached, embedder.embed_many)
        parts.append(part)
        embedded += fresh
    if not parts:  # no batch at all: no claims
        parts.append((_digests([]), np.empty((0, DIMENSIONS), np.int8), np.empty(0, np.float32)))
    digests, codes, scales = (np.concatenate([p[n] for p in parts]) for n in range(3))
    codes.setflags(write=False)
    scales.setflags(write=False)
    vectors = ClaimVectors(codes, scales)
    rows = cached[0]
    if directory is not None and (embedded or rows is None or len(rows[0]) != len(digests)):
        _write(_path(directory), digests, vectors)
    log.info("claim vectors: %d cached, %d embedded", len(digests) - embedded, embedded)
    return vectors
