"""Token ids of many texts with each distinct word tokenised once: the tokenizer's own ids.

Why: WordLlama's tokenizer (Llama 2's SentencePiece BPE as a ``tokenizers``
JSON) has no pre-tokenizer. Its normalizer prepends "▁" and turns every
space into "▁", and BPE then merges the whole text as one word, so nothing is
reused between texts (nor within one): ~1.3 us a token, most of the time
embedding every claim of a cold load takes.

Why it is exact: BPE only ever joins two adjacent symbols that one of its
merges names, and no merge of this vocabulary joins a symbol ending in
another character with one starting with "▁" (``splits_exactly`` checks the
file at load). So no token ever spans the start of a piece "▁+[^▁]*" of the
normalized text: the text's ids are its pieces' ids, end to end, and each
distinct piece (a word with its leading space) is handed to the BPE model
once per call. Texts holding an added token ("<s>", matched before
normalization) go to the tokenizer whole, as does every text when the check
fails (another tokenizer file). A test compares the ids with the
tokenizer's for every claim of a generated store and odd texts.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # imported by bot.core.semantic when it loads the model
    from tokenizers import Tokenizer

SPACE = "\u2581"  # SentencePiece's visible space
_PIECE = re.compile(f"{SPACE}+[^{SPACE}]*")
_CROSSING = re.compile(f"[^{SPACE}\0] {SPACE}")
_NORMALIZERS = [
    {"type": "Prepend", "prepend": SPACE},
    {"type": "Replace", "pattern": {"String": " "}, "content": SPACE},
]


def splits_exactly(config: Mapping[str, Any]) -> bool:
    """Whether the tokenizer ``config`` describes gives a text the ids of its pieces."""
    normalizer, model = config.get("normalizer") or {}, config.get("model") or {}
    if normalizer.get("type") != "Sequence" or normalizer.get("normalizers") != _NORMALIZERS:
        return False
    if config.get("pre_tokenizer") is not None or model.get("type") != "BPE":
        return False
    if (
        model.get("dropout")
        or model.get("continuing_subword_prefix")
        or model.get("end_of_word_suffix")
    ):
        return False
    vocab = model.get("vocab") or {}
    bytes_known = model.get("byte_fallback") and all(f"<0x{b:02X}>" in vocab for b in range(256))
    if model.get("fuse_unk") and not bytes_known:  # unknowns fused across pieces
        return False
    # "a b" strings (or [a, b] pairs), one per merge; token texts hold no space, so a
    # merge joins across a piece's start when a character other than "▁" precedes " ▁".
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or []]
    joined = "\0".join(merges)
    return joined.count(" ") == len(merges) and not _CROSSING.search(joined)


class _Pieces(dict[str, tuple[int, ...]]):
    """Piece -> its ids, from the BPE model on first use."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        super().__init__()
        self._model = tokenizer.model

    def __missing__(self, piece: str) -> tuple[int, ...]:
        ids = tuple(token.id for token in self._model.tokenize(piece))
        self[piece] = ids
        return ids


class PieceTokenizer:
    """A text's ids as ``tokenizer.encode(text, add_special_tokens=False)`` gives them."""

    def __init__(self, tokenizer: Tokenizer, exact: bool, max_tokens: int) -> None:
        self._tokenizer, self._exact, self._max = tokenizer, exact, max_tokens
        self._added = [t.content for t in tokenizer.get_added_tokens_decoder().values()]

    def cache(self) -> dict[str, tuple[int, ...]]:
        """Pieces seen, for the calls of one batch of work (not kept: it only grows)."""
        return _Pieces(self._tokenizer)

    def token_ids(
        self, texts: Sequence[str], cache: dict[str, tuple[int, ...]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each text's number of ids (int64), and all the ids end to end (int32)."""
        if self._exact:
            per_text = [self._ids(text, cache) for text in texts]
        else:
            found = self._tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
            per_text = [encoding.ids for encoding in found]
        lengths = np.fromiter(map(len, per_text), np.int64, len(per_text))
        ids = np.fromiter(itertools.chain.from_iterable(per_text), np.int32, int(lengths.sum()))
        return lengths, ids

    def _ids(self, text: str, cache: dict[str, tuple[int, ...]]) -> list[int]:
        if not text:  # the normalizer prepends "▁" to a non-empty text only
            return []
        if any(token in text for token in self._added):
            return list(self._tokenizer.encode(text, add_special_tokens=False).ids)
        pieces = _PIECE.findall(SPACE + text.replace(" ", SPACE))
        return list(itertools.chain.from_iterable(map(cache.__getitem__, pieces)))[: self._max]
