"""The built term index and claim vectors, saved beside the parse cache and reused.

Why: at 100,000 claims building the index (analysing every field) takes tens
of seconds, and every restart and deploy paid it although the claims had not
changed. The index depends only on the claims' content, the matching config's
synonyms, the embedding model and the code that builds it, so it is saved
under a key made of all four and loaded instead of built while they agree.

How it is kept: ``TermIndex.state()`` (bot.core.index) plus the claim vectors,
one ``.npy`` file per array in a directory ``index-<key>``, loaded with
``mmap_mode="r"``. The pages are the page cache's, clean and shared by every
gunicorn worker (and every process on the machine), and only the parts
queries touch are ever resident; only the vocabulary (~14,000 terms) becomes
dicts again. A freshly built index is saved and then loaded back the same
way, so a cold start serves from the same compact form as a warm one.

Nothing here can run code (bot.core.array_files: no pickle). A missing,
partial or damaged directory costs a rebuild.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import queue
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bot.core.array_files import load_arrays, save_arrays
from bot.core.index import TermIndex
from bot.core.index_build import build_index
from bot.core.parse_cache import cache_dir_from_env
from bot.core.semantic import DIMENSIONS, MODEL_ID, ClaimVectors, Embedder
from bot.core.store import ClaimStore
from bot.core.text import Analyzer
from bot.core.vector_cache import claim_vectors_of_batches

log = logging.getLogger(__name__)
FORMAT = "1"
KEEP = 3  # index directories kept in a cache directory (one per recent store)
_ROOT = Path(__file__).resolve().parents[2]
_BUILDER = (
    "import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
    "from bot.core.catalog import load_catalog; "
    "load_catalog(Path(sys.argv[2]), Path(sys.argv[3]) if sys.argv[3] else None)"
)
# Code whose change changes what an index holds: part of the key.
_BUILDERS = (
    "index.py",
    "index_build.py",
    "text.py",
    "match_types.py",
    "semantic.py",
    "index_cache.py",
    "parse_analysis.py",
    "token_pieces.py",
)


def index_key(
    store: ClaimStore, synonyms: Mapping[str, Sequence[str]], embedder: type[Embedder]
) -> str | None:
    """What the index of ``store`` depends on, as a digest; None when the store has no key."""
    if not store.content_key:
        return None
    h = hashlib.blake2b(digest_size=16)
    config = json.dumps(synonyms, sort_keys=True, ensure_ascii=False)
    for part in (FORMAT, store.content_key, config, MODEL_ID):
        h.update(part.encode() + b"\0")
    h.update(f"{embedder.__module__}.{embedder.__qualname__}".encode())
    core = Path(__file__).resolve().parent
    for name in _BUILDERS:
        h.update((core / name).read_bytes())
    return h.hexdigest()


def _arrays(index: TermIndex, vectors: ClaimVectors) -> dict[str, np.ndarray]:
    return index.state() | {"vectors.codes": vectors.codes, "vectors.scales": vectors.scales}


def _saved_dir(
    store: ClaimStore, synonyms: Mapping[str, Sequence[str]], embedder: type[Embedder]
) -> Path | None:
    """Where the index of ``store`` is saved (or would be); None without a cache."""
    cache = cache_dir_from_env()
    key = index_key(store, synonyms, embedder) if cache is not None else None
    return cache / f"index-{key}" if cache is not None and key else None


def build_elsewhere(
    store: ClaimStore, synonyms: Mapping[str, Sequence[str]], matching_config: Path | None
) -> None:
    """Make sure the index of ``store`` is saved, building it in a child process if not.

    Why: building allocates millions of small objects; freed, they leave the
    heap fragmented, and a gunicorn master forks that heap into every worker
    (~100 MB more in total at 100,000 claims). The child loads the store from
    the cache this process just wrote and exits; this process then maps what
    it saved. If the child fails, this process builds the index itself.
    """
    directory = _saved_dir(store, synonyms, Embedder)
    if directory is None or directory.is_dir():
        return
    config = str(matching_config or "")
    command = [sys.executable, "-c", _BUILDER, str(_ROOT), str(store.directory), config]
    try:
        # One builder per index: gunicorn workers reloading at once wait for the
        # first one's child instead of each building (and holding) their own.
        with _build_lock(directory):
            if directory.is_dir():
                return
            outcome = f"exit {subprocess.run(command, stdin=subprocess.DEVNULL).returncode}"
    except OSError as exc:
        outcome = str(exc)
    if not directory.is_dir():
        log.warning("index not built in a child process (%s); building it here", outcome)


@contextlib.contextmanager
def _build_lock(directory: Path) -> Iterator[None]:
    """An exclusive ``flock`` on a lock file beside ``directory`` (released on close)."""
    lock = directory.with_name(".build.lock")
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _assemble(size: int, arrays: dict[str, np.ndarray]) -> tuple[TermIndex, ClaimVectors]:
    index = TermIndex.from_state(arrays)
    codes, scales = arrays["vectors.codes"], arrays["vectors.scales"]
    if index.size != size or codes.shape != (size, DIMENSIONS) or scales.shape != (size,):
        raise ValueError("saved for a store of another size")
    if codes.dtype != np.int8:
        raise ValueError("vectors of another type")
    # Plain arrays over the mapped pages, as TermIndex.from_state keeps its own:
    # every query gathers a few hundred rows, and memmap's indexing costs more.
    return index, ClaimVectors(np.asarray(codes), np.asarray(scales))


def _build(
    store: ClaimStore, analyzer: Analyzer, embedder: Embedder
) -> tuple[TermIndex, ClaimVectors]:
    """Build the index while another thread embeds the claims' meaning texts.

    Why: the two are independent and about equally long, and embedding spends
    most of its time in the tokenizer's Rust code and numpy, which release the
    GIL; one after the other left a core idle during a cold load. The build
    hands the meaning texts on in batches as it reads the claims, so the
    embedding starts at once and the claims are read (validated) only once.
    """
    batches: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()
    with ThreadPoolExecutor(1, thread_name_prefix="embed-claims") as pool:
        embedded = pool.submit(claim_vectors_of_batches, embedder, iter(batches.get, None))
        try:
            index, _ = build_index(store, analyzer, meanings=batches.put)
        finally:
            batches.put(None)  # the end, also when the build failed
        return index, embedded.result()


def save_built(
    store: ClaimStore,
    synonyms: Mapping[str, Sequence[str]],
    index: TermIndex,
    vectors: ClaimVectors,
) -> bool:
    """Save an index of ``store`` built elsewhere (merged from the parse workers' parts).

    False without a cache directory, or when it could not be written.
    """
    directory = _saved_dir(store, synonyms, Embedder)
    return directory is not None and save_arrays(directory, _arrays(index, vectors), KEEP)


def load_or_build(
    store: ClaimStore,
    analyzer: Analyzer,
    synonyms: Mapping[str, Sequence[str]],
    embedder: Embedder,
) -> tuple[TermIndex, ClaimVectors]:
    """The index and vectors of ``store``: loaded when saved for the same key, else built.

    ``analyzer`` must be the one made from ``synonyms`` (they are the key's part).
    """
    directory = _saved_dir(store, synonyms, type(embedder))
    if directory is not None:
        loaded = load_arrays(directory, functools.partial(_assemble, len(store)))
        if loaded is not None:
            log.info("term index loaded from %s", directory)
            with contextlib.suppress(OSError):
                os.utime(directory)  # recently used: not pruned by other stores' saves
            return loaded
    index, vectors = _build(store, analyzer, embedder)
    if directory is not None and save_arrays(directory, _arrays(index, vectors), KEEP):
        # Serve from the saved files: mapped pages are shared, the built objects freed.
        loaded = load_arrays(directory, functools.partial(_assemble, len(store)))
        if loaded is not None:
            return loaded
    return index, vectors
