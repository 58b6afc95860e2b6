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
from collections.abc import Iterable, Sequence
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


def claim_vectors_of_batches(embedder: Embedder, batches: Iterable[Sequence[str]]) -> ClaimVectors:
    """``claim_vectors`` of the texts of ``batches``, in order, embedded batch by batch.

    For a caller that produces the texts as it goes (the index build): a
    thread can embed the first batches while the rest are being made.
    """
    directory = cache_dir_from_env()
    cached = _read(_path(directory)) if directory is not None else None
    row_of = {d: row for row, d in enumerate(cached[0].tolist())} if cached is not None else {}
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    embedded = 0
    for batch in batches:
        texts = list(batch)
        digests = _digests(texts)
        codes = np.empty((len(texts), DIMENSIONS), dtype=np.int8)
        scales = np.empty(len(texts), dtype=np.float32)
        todo = []
        for row, digest in enumerate(digests.tolist()):
            old = row_of.get(digest)
            if old is None or cached is None:
                todo.append(row)
            else:
                codes[row], scales[row] = cached[1][old], cached[2][old]
        if todo:
            fresh = ClaimVectors.quantise(embedder.embed_many([texts[i] for i in todo]))
            codes[todo], scales[todo] = fresh.codes, fresh.scales
            embedded += len(todo)
        parts.append((digests, codes, scales))
    if not parts:  # no batch at all: no claims
        parts.append((_digests([]), np.empty((0, DIMENSIONS), np.int8), np.empty(0, np.float32)))
    digests, codes, scales = (np.concatenate([p[n] for p in parts]) for n in range(3))
    codes.setflags(write=False)
    scales.setflags(write=False)
    vectors = ClaimVectors(codes, scales)
    if directory is not None and (embedded or cached is None or len(cached[0]) != len(digests)):
        _write(_path(directory), digests, vectors)
    log.info("claim vectors: %d cached, %d embedded", len(digests) - embedded, embedded)
    return vectors
