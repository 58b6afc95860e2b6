"""Shared pieces of the benchmarks: cached stores, timed loading, the two baselines."""

from __future__ import annotations

import csv
import gc
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
try:  # the installed (editable) package, or a copy put first on PYTHONPATH to try a change
    import bot  # noqa: F401
except ImportError:
    sys.path.insert(0, str(REPO))

import make_store  # noqa: E402  (bench/ is on sys.path when run as bench/<name>.py)

from bot.core import store as store_module  # noqa: E402
from bot.core.schema import Claim  # noqa: E402

CACHE = Path(os.environ.get("AI_RACE_BENCH_CACHE", "/tmp/ai-race-bench"))
PUBLIC_QUERIES = REPO / "tests" / "data" / "public_queries.tsv"
BENCH_QUERIES = BENCH / "queries_bench.txt"


# ----------------------------------------------------------------------------- stores
def _generator_digest() -> str:
    files = [BENCH / "make_store.py", *sorted(make_store.REAL_CLAIMS.glob("*.yaml"))]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ensure_store(n: int, seed: int = 7) -> tuple[Path, float | None]:
    """A generated store of n claims under the cache; (dir, seconds spent generating or None)."""
    directory = CACHE / f"store-{n}-seed{seed}"
    marker = directory / ".complete"
    stamp = f"{n} {seed} {_generator_digest()}"
    if marker.exists() and marker.read_text() == stamp:
        return directory, None
    started = time.perf_counter_ns()
    make_store.make_store(n, directory, seed)
    took = (time.perf_counter_ns() - started) / 1e9
    marker.write_text(stamp)
    return directory, took


@dataclass
class LoadTiming:
    total_s: float
    yaml_s: float  # reading files + YAML parsing (libyaml)
    validate_s: float  # pydantic Claim.model_validate
    other_s: float  # listing files, id/link/date checks, building the ClaimStore


def load_store_timed(directory: Path):
    """``load_store`` as production runs it, with YAML parsing and validation timed inside."""
    acc = {"yaml": 0, "validate": 0}
    real_read = store_module.read_yaml

    def timed_read(path):
        t0 = time.perf_counter_ns()
        try:
            return real_read(path)
        finally:
            acc["yaml"] += time.perf_counter_ns() - t0

    class TimedClaim:
        @staticmethod
        def model_validate(data):
            t0 = time.perf_counter_ns()
            try:
                return Claim.model_validate(data)
            finally:
                acc["validate"] += time.perf_counter_ns() - t0

    store_module.read_yaml = timed_read
    store_module.Claim = TimedClaim
    try:
        t0 = time.perf_counter_ns()
        store = store_module.load_store(directory)
        total = time.perf_counter_ns() - t0
    finally:
        store_module.read_yaml = real_read
        store_module.Claim = Claim
    timing = LoadTiming(
        total / 1e9,
        acc["yaml"] / 1e9,
        acc["validate"] / 1e9,
        (total - acc["yaml"] - acc["validate"]) / 1e9,
    )
    return store, timing


# ----------------------------------------------------------------------------- memory
def rss_bytes() -> int:
    """Current resident set size (Linux /proc; falls back to peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def settled_rss() -> int:
    gc.collect()
    return rss_bytes()


# ----------------------------------------------------------------------------- queries
def public_rows() -> list[dict[str, str]]:
    with PUBLIC_QUERIES.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def bench_queries() -> list[str]:
    """The fixed latency query set: the public eval queries, then bench/queries_bench.txt."""
    extra = [
        line.strip()
        for line in BENCH_QUERIES.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return [r["query"] for r in public_rows()] + extra


# ----------------------------------------------------------------------------- baselines
def concat_text(claim: Claim) -> str:
    """What both baselines search: title, summary, aliases, entities, speaker, topics."""
    parts = [claim.title, claim.summary, *claim.aliases, *claim.entities]
    if claim.speaker:
        parts += [p for p in (claim.speaker.name, claim.speaker.role, claim.speaker.org) if p]
    parts += claim.topics
    return " \n".join(parts)


class NaiveScan:
    """rapidfuzz full scan: process.extract(query, corpus, scorer=WRatio, limit=3).

    The corpus is put through ``utils.default_process`` (lower-case, punctuation
    to spaces) once at build time and the query on each call, which is what
    ``processor=default_process`` would do, without redoing 100,000 documents
    per query. Without it WRatio is case-sensitive and the baseline is a straw man.
    """

    def __init__(self, texts: list[str]) -> None:
        from rapidfuzz import utils

        self._process = utils.default_process
        self.corpus = [self._process(t) for t in texts]

    def search(self, query: str, limit: int = 3) -> list[tuple[int, float]]:
        from rapidfuzz import fuzz, process

        found = process.extract(self._process(query), self.corpus, scorer=fuzz.WRatio, limit=limit)
        return [(index, score) for _, score, index in found]

    def search_many(self, queries: list[str], limit: int = 3, workers: int = -1):
        """Same ranking as search() for many queries, using cdist on all cores."""
        import numpy as np
        from rapidfuzz import fuzz, process

        matrix = process.cdist(
            [self._process(q) for q in queries],
            self.corpus,
            scorer=fuzz.WRatio,
            workers=workers,
            dtype=np.float32,
        )
        out = []
        for row in matrix:
            # process.extract: best score first, ties by corpus order
            order = np.argsort(-row, kind="stable")[:limit]
            out.append([(int(i), float(row[i])) for i in order])
        return out

    def memory_bytes(self) -> int:
        return sum(sys.getsizeof(t) for t in self.corpus) + sys.getsizeof(self.corpus)


class BM25:
    """bm25s over the same texts: its tokenizer, English stop words, Snowball stemmer.

    PyStemmer is not installed here; snowballstemmer (the same Snowball English
    algorithm, pure Python, already a dependency of the bot) provides ``stemWords``.
    """

    def __init__(self, texts: list[str]) -> None:
        import bm25s
        import snowballstemmer

        self._bm25s = bm25s
        self.stemmer = snowballstemmer.stemmer("english")
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=self.stemmer, show_progress=False)
        self.retriever = bm25s.BM25()
        self.retriever.index(tokens, show_progress=False)
        self.size = len(texts)

    def search(self, query: str, limit: int = 3) -> list[tuple[int, float]]:
        tokens = self._bm25s.tokenize(
            [query], stopwords="en", stemmer=self.stemmer, return_ids=False, show_progress=False
        )
        docs, scores = self.retriever.retrieve(
            tokens, k=min(limit, self.size), show_progress=False, n_threads=1
        )
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def memory_bytes(self) -> int:
        scores = self.retriever.scores
        arrays = sum(v.nbytes for v in scores.values() if hasattr(v, "nbytes"))
        vocab = self.retriever.vocab_dict
        return arrays + sum(sys.getsizeof(k) + 28 for k in vocab) + sys.getsizeof(vocab)


# ----------------------------------------------------------------------------- output
def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    import math

    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def machine() -> dict[str, object]:
    import platform

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import bot

    return {
        "code_under_test": str(Path(bot.__file__).parent),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
    }
