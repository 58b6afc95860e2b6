"""The optimised index build gives exactly the index of a plain single pass.

``reference_index`` below is the build as it was before it was optimised
(every field analysed at every occurrence, one posting appended at a time):
slow and obviously right. The real build (bot.core.index_build) caches
analyses as term ids, counts with Counter and assembles postings from parts
with numpy; every array of its state, and every answer a user would see,
must equal the reference's, on the bundled claims and a generated store.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import json
import os
import subprocess
import sys
from array import array
from pathlib import Path

import numpy as np
import pytest

from bot.core import text as text_module
from bot.core.index import (
    TF_BONUS,
    PackedStrings,
    TermIndex,
    _letters,
    joinable,
    letter_table,
    meaning_text,
)
from bot.core.index_build import analyse, build_index, merge
from bot.core.match_types import KEY_FIELDS, FieldKind, claim_fields
from bot.core.matcher import Matcher
from bot.core.matching_config import load_matching_config
from bot.core.schema import Claim
from bot.core.semantic import DIMENSIONS, ClaimVectors, Embedder, default_embedder
from bot.core.store import ClaimStore, load_store
from bot.core.text import Analyzer, fold, stem, words
from bot.core.vector_cache import claim_vectors, claim_vectors_of_batches

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


def reference_index(claims: list[Claim], analyzer: Analyzer) -> TermIndex:
    """One posting per (term, claim) with its strongest field, the plain way."""
    term_ids: dict[str, int] = {}
    display: list[str] = []
    surfaces: dict[str, int] = {}
    post_term, post_claim, post_field, post_count = array("i"), array("i"), array("b"), []
    phrases: list[str] = []
    phrase_counts: list[int] = []
    suggestable: set[str] = set()
    for index, claim in enumerate(claims):
        suggestable.update(claim.topics, claim.entities)
        if claim.speaker:
            suggestable.add(claim.speaker.name)
        best: dict[int, int] = {}
        occurrences: dict[int, int] = {}
        count = 0
        for kind, text in claim_fields(claim):
            key = kind in KEY_FIELDS
            tokens = analyzer.canonical_words(text)
            if kind in (FieldKind.TITLE, FieldKind.ALIAS, FieldKind.ENTITY):
                phrases.append(" ".join(tokens))
                count += 1
            pairs = [(w, stem(w)) for w in tokens if len(w) > 1 or w.isdigit()]
            if key:
                pairs += [
                    (a + b, stem(a + b)) for a, b in itertools.pairwise(tokens) if joinable(a, b)
                ]
            for surface, term in pairs:
                tid = term_ids.setdefault(term, len(term_ids))
                if tid == len(display):
                    display.append(surface)
                if key and not surface.isdigit():
                    surfaces.setdefault(surface, tid)
                best[tid] = min(best.get(tid, kind), kind)
                occurrences[tid] = occurrences.get(tid, 0) + 1
        for tid, strongest in best.items():
            post_term.append(tid)
            post_claim.append(index)
            post_field.append(strongest)
            post_count.append(min(occurrences[tid], 60_000))
        phrase_counts.append(count)
    terms = np.frombuffer(post_term, dtype=np.int32)
    order = np.argsort(terms, kind="stable")
    counts = np.bincount(terms, minlength=len(term_ids))
    extra = np.array(post_count, dtype=np.float32)[order] - 1
    n = max(len(claims), 1)
    suggest: dict[str, str] = {}
    for name in sorted(suggestable):
        suggest.setdefault(fold(name).strip(), name)
    return TermIndex(
        size=len(claims),
        term_ids=term_ids,
        display=PackedStrings.pack(display),
        phrases=PackedStrings.pack(phrases),
        phrase_indptr=np.concatenate(([0], np.cumsum(phrase_counts))).astype(np.int64),
        surface_term=surfaces,
        post_claim=np.frombuffer(post_claim, dtype=np.int32)[order],
        post_field=np.frombuffer(post_field, dtype=np.int8)[order],
        post_boost=(TF_BONUS * (1 - np.power(0.5, extra))).astype(np.float32),
        indptr=np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
        idf=np.log1p((n - counts + 0.5) / (counts + 0.5)).astype(np.float32),
        suggest_display=suggest,
    )


def _assert_same(built: TermIndex, reference: TermIndex) -> None:
    ours, theirs = built.state(), reference.state()
    assert ours.keys() == theirs.keys()
    for name, array_ in theirs.items():
        assert ours[name].dtype == array_.dtype, name
        np.testing.assert_array_equal(ours[name], array_, err_msg=name)
    assert built.term_ids == reference.term_ids
    assert built.surface_term == reference.surface_term


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> ClaimStore:
    """600 generated claims and the bundled ones (bench/make_store.py, seed 7)."""
    spec = importlib.util.spec_from_file_location("make_store", ROOT / "bench" / "make_store.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    directory = tmp_path_factory.mktemp("generated")
    module.make_store(600, directory, seed=7)
    return load_store(directory)


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer(load_matching_config(None).synonyms)


def test_the_index_equals_the_reference_build(generated: ClaimStore, analyzer: Analyzer) -> None:
    claims = list(generated)
    index, meanings = build_index(generated, analyzer)
    _assert_same(index, reference_index(claims, analyzer))
    assert meanings == [meaning_text(claim) for claim in claims]


def test_parts_analysed_apart_merge_into_the_same_index(
    generated: ClaimStore, analyzer: Analyzer
) -> None:
    claims = list(generated)
    thirds = [claims[:150], claims[150:151], claims[151:]]
    merged = merge([analyse(part, analyzer) for part in thirds])
    _assert_same(merged, reference_index(claims, analyzer))


def _answers(matcher: Matcher, queries: list[str]) -> list[tuple]:
    out = []
    for query in queries:
        result = matcher.search(query)
        matches = [(m.claim.id, m.score, m.reason, m.phrase) for m in result.matches]
        out.append((query, matches, result.suggestions))
    return out


def test_every_evaluation_answer_is_the_reference_builds(
    generated: ClaimStore, analyzer: Analyzer
) -> None:
    lines = (DATA / "public_queries.tsv").read_text(encoding="utf-8").splitlines()[1:]
    queries = [line.split("\t")[0] for line in lines]
    extra = (ROOT / "bench" / "queries_bench.txt").read_text(encoding="utf-8").splitlines()
    queries += [line for line in extra if line.strip() and not line.startswith("#")]
    reference = reference_index(list(generated), analyzer)
    config = load_matching_config(None)
    built = Matcher(generated, config, index=build_index(generated, analyzer)[0])
    expected = Matcher(generated, config, index=reference)
    answers = _answers(built, queries)
    assert any(matches for _, matches, _ in answers)  # the queries do find claims
    assert answers == _answers(expected, queries)


def test_the_c_stemmer_stems_as_the_pure_python_one(generated: ClaimStore) -> None:
    """PyStemmer (picked by snowballstemmer) must not change a single term."""
    from snowballstemmer.english_stemmer import EnglishStemmer

    assert type(text_module._stemmer).__module__ == "Stemmer"  # the C build is the one in use
    vocabulary = {w for claim in generated for _, text in claim_fields(claim) for w in words(text)}
    vocabulary |= set(words((DATA / "public_queries.tsv").read_text(encoding="utf-8")))
    assert len(vocabulary) > 1_000
    python = EnglishStemmer()
    assert {w: stem(w) for w in vocabulary} == {w: python.stemWord(w) for w in vocabulary}


def test_meanings_embedded_batch_by_batch_equal_all_at_once(
    generated: ClaimStore, analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build hands meaning texts on in batches; the vectors must not notice."""
    monkeypatch.setenv("AI_RACE_CACHE", "off")
    batches: list[list[str]] = []
    _, meanings = build_index(generated, analyzer, meanings=batches.append, batch=128)
    assert [len(b) for b in batches] == [128] * (len(generated) // 128) + [len(generated) % 128]
    assert [text for b in batches for text in b] == meanings
    embedder = default_embedder()
    streamed = claim_vectors_of_batches(embedder, batches)
    whole = claim_vectors(embedder, meanings)
    np.testing.assert_array_equal(streamed.codes, whole.codes)
    np.testing.assert_array_equal(streamed.scales, whole.scales)


def test_the_letter_table_counts_as_the_per_word_loop(generated: ClaimStore) -> None:
    index, _ = build_index(generated, Analyzer())
    surfaces = [*index.surface_term, "", "naïve", "x2", "zz"]
    np.testing.assert_array_equal(letter_table(surfaces), _letters(surfaces))
    assert letter_table([]).shape == (0, 27)


def reference_embed_many(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """``Embedder.embed_many`` as it was: ``encode_batch``, one gather and reduceat for all."""
    table = embedder._table.astype(np.float32)
    encodings = embedder._tokenizer.encode_batch(texts, add_special_tokens=False)
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    lengths = np.array([len(e.ids) for e in encodings], dtype=np.int64)
    filled = np.flatnonzero(lengths)
    ids = np.array([i for e in encodings for i in e.ids], dtype=np.int32)
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))[filled]
    sums = np.add.reduceat(table[ids], offsets, axis=0)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    out[filled] = sums / np.where(norms > 0, norms, 1.0)
    return out


def test_claim_vectors_are_bit_identical_to_the_plain_pooling(generated: ClaimStore) -> None:
    texts = [meaning_text(claim) for claim in generated]
    texts[5:5] = ["", "   ", "x", "deepseek " * 2_000]  # empty, blank, short, truncated
    embedder = default_embedder()
    ours = embedder.embed_many(texts, batch=300)  # batches that do not divide POOL_TEXTS
    assert ours.tobytes() == reference_embed_many(embedder, texts).tobytes()
    assert not ours[5].any() and ours[7].any()  # "" has no tokens: a zero vector
    few = texts[:9]  # at most POOL_TEXTS: only the gathered rows are widened
    assert embedder.embed_many(few).tobytes() == reference_embed_many(embedder, few).tobytes()


# A cold load in a fresh process (so that no thread of the test run stops the
# workers from forking; "thread" starts one, so they are fresh interpreters),
# three workers, and spies that fail if this process analyses or builds.
_COLD_LOAD = """
import json, os, sys, threading
from pathlib import Path
import bot.core.claim_load as load
from bot.core import index_cache
from bot.core.catalog import load_catalog
from bot.core.index_build import Collector

loading, real_add, real_start, forked = os.getpid(), Collector.add, load._start, []

def add(self, claim):  # forked workers inherit this spy
    assert os.getpid() != loading, "analysed in the loading process"
    real_add(self, claim)

def start(part, out):
    forked.append(load._may_fork())
    return real_start(part, out)

def build(*args, **kwargs):
    raise AssertionError("built in the loading process")

Collector.add, load._start, index_cache.build_index = add, start, build
load.PARALLEL_MIN, load.available_cores = 2, lambda: 3
if sys.argv[2] == "thread":
    threading.Thread(target=threading.Event().wait, daemon=True).start()
catalog = load_catalog(Path(sys.argv[1]))
print(json.dumps([forked, len(catalog.store)]))
"""


@pytest.mark.parametrize("mode", ["alone", "thread"])
def test_a_cold_load_merges_the_parse_workers_parts_into_the_same_index(
    generated: ClaimStore, analyzer: Analyzer, tmp_path: Path, mode: str
) -> None:
    """The parse workers analyse and embed their claims; the loading process only merges.

    Parts meet inside runs of ids whose file names sort otherwise ("a-b.yaml"
    before "a.yaml"). The index it saved (and serves, mapped) equals the
    reference build array for array, its vectors the embedder's, its answers
    the reference's.
    """
    from bot.core import index_cache
    from bot.core.array_files import load_arrays

    assert sorted(generated.ids) != [p.stem for p in sorted(generated.directory.glob("*.yaml"))]
    cache = tmp_path / "cache"
    done = subprocess.run(
        [sys.executable, "-c", _COLD_LOAD, str(generated.directory), mode],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "AI_RACE_CACHE": str(cache)},
    )
    forked, size = json.loads(done.stdout.splitlines()[-1])
    assert forked == [mode == "alone"] * 3 and size == len(generated)
    [saved] = cache.glob("index-*")
    loaded = load_arrays(saved, functools.partial(index_cache._assemble, size))
    assert loaded is not None
    index, vectors = loaded
    claims = list(generated)
    reference = reference_index(claims, analyzer)
    _assert_same(index, reference)
    expected = ClaimVectors.quantise(Embedder().embed_many([meaning_text(c) for c in claims]))
    np.testing.assert_array_equal(vectors.codes, expected.codes)
    np.testing.assert_array_equal(vectors.scales, expected.scales)
    lines = (DATA / "public_queries.tsv").read_text(encoding="utf-8").splitlines()[1:]
    queries = [line.split("\t")[0] for line in lines]
    config = load_matching_config(None)
    served = Matcher(generated, config, index=index, vectors=vectors)
    assert _answers(served, queries) == _answers(
        Matcher(generated, config, index=reference), queries
    )


ODD_TEXTS = [
    *("", " ", "   ", "a  b", " lead", "trail ", "tab\there", "new\nline", "x\u00a0y\u2009z"),
    *("\u2581literal \u2581\u2581x\u2581", "<s> special </s> and <unk>", "a<s>b", "ﬁ ligature"),
    *("emoji 🤖 naïve 中文 Ǆ", "x" * 3_000, "word " * 600, 'U.S. AI-chips: 2025\'s "race"'),
]


def test_word_by_word_token_ids_are_the_tokenizers(generated: ClaimStore) -> None:
    """bot.core.token_pieces: every text's ids as the tokenizer gives them, truncation too."""
    embedder = default_embedder()
    assert embedder._pieces._exact  # the shipped tokenizer splits exactly
    texts = [meaning_text(claim) for claim in generated]
    texts += [text for claim in generated for _, text in claim_fields(claim)]
    texts += [*ODD_TEXTS, *(DATA / "public_queries.tsv").read_text(encoding="utf-8").splitlines()]
    lengths, ids = embedder._pieces.token_ids(texts, embedder._pieces.cache())
    expected = [e.ids for e in embedder._tokenizer.encode_batch(texts, add_special_tokens=False)]
    assert lengths.tolist() == [len(e) for e in expected]
    assert ids.tolist() == [i for e in expected for i in e]
    assert max(lengths) == 512  # some were truncated


def test_a_tokenizer_that_merges_across_words_is_not_split() -> None:
    from bot.core.semantic import _TOKENIZER, _package_dir
    from bot.core.token_pieces import SPACE, splits_exactly

    config = json.loads((_package_dir() / _TOKENIZER).read_text(encoding="utf-8"))
    assert splits_exactly(config)
    crossing = json.loads(json.dumps(config))
    crossing["model"]["merges"].append(f"o {SPACE}w")  # "o" + "▁w": a token across a space
    assert not splits_exactly(crossing)
    pretokenized = config | {"pre_tokenizer": {"type": "Whitespace"}}
    assert not splits_exactly(pretokenized)
    assert not splits_exactly(config | {"normalizer": None})
