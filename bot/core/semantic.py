"""Meaning, not spelling: sentence vectors from WordLlama's shipped weights.

Why this model (BENCHMARKS.md, "Choosing the embedding model"): the
``wordllama`` wheel ships its 256-d static token embeddings (16 MB of
float16) and the tokenizer in the package itself, so nothing is fetched
from a model hub at run time, there is no torch, and a query costs a
tokenizer call and a mean of a few rows (~0.1 ms). A sentence vector is the mean of its tokens'
vectors, L2-normalised, as WordLlama computes it.

We read the two shipped files directly (``safetensors`` and ``tokenizers``,
both wordllama dependencies) instead of calling ``WordLlama.load``: its
loader looks for the tokenizer under ``tokenizer/`` while the wheel ships
``tokenizers/`` (so it would try to download), and importing
``wordllama.inference`` calls ``logging.basicConfig`` as a side effect.

Claim vectors keep the first 128 dimensions, quantised to int8 with one
scale per claim: 132 bytes a claim (13.2 MB at 100,000 claims) in one
contiguous array that threads share read-only. Cosine similarity is only
ever computed for the few hundred claims the lexical index proposes, never
by scanning every claim.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from pathlib import Path

import numpy as np

from bot.core.token_pieces import PieceTokenizer, splits_exactly

MODEL_ID = "wordllama-l2_supercat-256"
MODEL_DIMENSIONS = 256
# WordLlama is trained Matryoshka-style: its first 128 dimensions are a model
# of their own. On our tuning set they rank as well as all 256 (BENCHMARKS.md)
# at half the memory, so claim and query vectors keep only those.
DIMENSIONS = 128
_WEIGHTS = Path("weights") / "l2_supercat_256.safetensors"
_TOKENIZER = Path("tokenizers") / "l2_supercat_tokenizer_config.json"
_TENSOR = "embedding.weight"
MAX_TOKENS = 512
POOL_TEXTS = 64  # texts pooled at a time by embed_many (their token rows fit in cache)
WORD_CACHE = 8_192  # query words' vectors kept (512 bytes each)


class SemanticModelMissing(RuntimeError):
    """The embedding package is not installed (or its files are incomplete)."""


def _package_dir() -> Path:
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise SemanticModelMissing("the 'wordllama' package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


class Embedder:
    """Text -> unit vectors. Immutable after construction; safe to share across threads."""

    def __init__(self, package_dir: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        root = package_dir or _package_dir()
        weights, tokenizer = root / _WEIGHTS, root / _TOKENIZER
        if not weights.exists() or not tokenizer.exists():
            raise SemanticModelMissing(f"embedding files missing under {root}")
        table = load_file(str(weights))[_TENSOR]
        if table.ndim != 2 or table.shape[1] != MODEL_DIMENSIONS:
            raise SemanticModelMissing(f"unexpected embedding table shape {table.shape}")
        self._table: np.ndarray = np.ascontiguousarray(table[:, :DIMENSIONS], dtype=np.float16)
        self._tokenizer = Tokenizer.from_file(str(tokenizer))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        exact = splits_exactly(json.loads(tokenizer.read_text(encoding="utf-8")))
        self._pieces = PieceTokenizer(self._tokenizer, exact, MAX_TOKENS)

    def _pool(self, ids: Sequence[int]) -> np.ndarray:
        if not ids:
            return np.zeros(DIMENSIONS, dtype=np.float32)
        vector = self._table[np.asarray(ids, dtype=np.int32)].astype(np.float32).mean(axis=0)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector

    def embed(self, text: str) -> np.ndarray:
        """One unit vector (zeros for text without tokens)."""
        return self._pool(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def embed_words(self, words: Sequence[str]) -> np.ndarray:
        """Unit vectors for a query's few words, one row each.

        ``encode_batch`` hands even three words to a thread pool, which costs
        more than the work; single ``encode`` calls, cached per word, do not.
        """
        out = np.empty((len(words), DIMENSIONS), dtype=np.float32)
        for row, word in enumerate(words):
            out[row] = self._word(word)
        return out

    @lru_cache(maxsize=WORD_CACHE)  # noqa: B019 - one Embedder per process, never freed
    def _word(self, word: str) -> np.ndarray:
        vector = self.embed(word)
        vector.setflags(write=False)
        return vector

    def embed_many(self, texts: Sequence[str], batch: int = 2_048) -> np.ndarray:
        """Unit vectors for many texts: tokenised in batches, pooled a few texts at a time.

        Ids come word by word through bot.core.token_pieces (the tokenizer's
        ids; each distinct word tokenised once per call). Pooling gathers each
        text's token rows and sums them with one ``reduceat``; done
        ``POOL_TEXTS`` texts at a time the gathered rows stay in the CPU cache,
        where a whole batch's (~100 MB) did not: ~8x faster, and bit-identical
        since every text's sum is the same sum.
        """
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        # Widen the table once (16 MB, freed on return), not every gathered row:
        # converting each chunk's ~200,000 float16 rows cost more than the sums.
        # For a few texts (a reload's changed claims) widen only their rows: the
        # 16 MB would cost ~0.1 s and stay with the allocator of every process.
        few = len(texts) <= POOL_TEXTS
        table = self._table if few else self._table.astype(np.float32)
        pieces = self._pieces.cache()
        for start in range(0, len(texts), batch):
            lengths, ids = self._pieces.token_ids(texts[start : start + batch], pieces)
            ends = np.cumsum(lengths)
            for first in range(0, len(lengths), POOL_TEXTS):
                rows = np.arange(first, min(first + POOL_TEXTS, len(lengths)))
                rows = rows[lengths[rows] > 0]  # texts without tokens stay zero
                if not rows.size:
                    continue
                low, high = ends[rows[0]] - lengths[rows[0]], ends[rows[-1]]
                gathered = table[ids[low:high]].astype(np.float32, copy=False)
                sums = np.add.reduceat(gathered, ends[rows] - lengths[rows] - low, axis=0)
                norms = np.linalg.norm(sums, axis=1, keepdims=True)
                out[start + rows] = sums / np.where(norms > 0, norms, 1.0)
        return out


@cache
def default_embedder() -> Embedder:
    """The process-wide embedder: loaded once, shared by every matcher and thread."""
    return Embedder()


@dataclass(frozen=True)
class ClaimVectors:
    """One int8 vector per claim, with its scale: cosine for a few claims at a time."""

    codes: np.ndarray  # (claims, DIMENSIONS) int8
    scales: np.ndarray  # (claims,) float32

    @classmethod
    def quantise(cls, vectors: np.ndarray) -> ClaimVectors:
        peak = np.abs(vectors).max(axis=1) if len(vectors) else np.zeros(0, np.float32)
        scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
        codes = np.rint(vectors / scales[:, None]).astype(np.int8)
        codes.setflags(write=False)
        scales.setflags(write=False)
        return cls(codes, scales)

    @cached_property
    def nbytes(self) -> int:
        return int(self.codes.nbytes + self.scales.nbytes)

    def cosine(self, query: np.ndarray, claims: np.ndarray) -> np.ndarray:
        """Cosine similarity of a unit query vector with the given claims."""
        if not len(claims):
            return np.zeros(0, dtype=np.float32)
        rows = self.codes[claims].astype(np.float32)
        return (rows @ query) * self.scales[claims]
