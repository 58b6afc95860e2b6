"""Matching quality of each layer on the evaluation files, at the 11 real claims.

    python bench/semantic_eval.py [--out bench/results/semantic_eval.json]

Methods, each scored like tests/test_eval.py (a hit is the first expected id
in the top 3; a negative is "answered" when anything comes back):

* ours: ``Matcher.search`` (words, meaning and the calibrated confidence);
* words only: the same candidates, answered only when the index's own
  thresholds pass (the ``lexical`` feature), ranked by the same probability;
* wordllama only: cosine of query and claim vectors (128-d, as shipped in
  bot.core.semantic), top 3, answered when the best cosine >= 0.35;
* bm25: bm25s over each claim's meaning text, top 3 with a score above 0
  (needs the ``bench`` extra).

The held-out files are reported here, never used to fit: see
bench/fit_confidence.py for what the model is fitted on.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.core.catalog import load_catalog  # noqa: E402
from bot.core.confidence import FEATURES, Feature  # noqa: E402
from bot.core.escape import searchable  # noqa: E402
from bot.core.matcher import Matcher, meaning_text  # noqa: E402
from bot.core.store import REPO_CLAIMS  # noqa: E402

FILES = [
    "public_queries.tsv",
    "eval_tuning.tsv",
    "eval_heldout.tsv",
    "eval_tuning_2.tsv",
    "eval_heldout_2.tsv",
    "heldout_queries.tsv",
]
COSINE_ANSWER = 0.35


def _rows(name: str) -> list[dict[str, str]]:
    with (REPO / "tests" / "data" / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _score(rows: list[dict[str, str]], found: list[list[str]]) -> dict:
    hits = rr = positives = negatives = answered = 0
    for row, ids in zip(rows, found, strict=True):
        if row["expected"]:
            positives += 1
            wanted = row["expected"].split(",")[0]
            if wanted in ids[:3]:
                hits += 1
                rr += 1 / (ids.index(wanted) + 1)
        else:
            negatives += 1
            answered += bool(ids)
    return {
        "recall_at_3": round(hits / positives, 3),
        "mrr": round(rr / positives, 3),
        "negatives_answered": f"{answered}/{negatives}",
    }


def ours(matcher: Matcher, query: str) -> list[str]:
    return [m.claim.id for m in matcher.search(query).matches]


def words_only(matcher: Matcher, query: str) -> list[str]:
    found = matcher.candidates(query)
    if found is None:
        return []
    chance = matcher._probability(found.features)
    lexical = found.features[:, FEATURES.index(Feature.LEXICAL)] > 0
    rows = sorted(np.flatnonzero(lexical).tolist(), key=lambda r: -chance[r])
    return [matcher.store.ids[int(found.indices[r])] for r in rows][:3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    matcher = load_catalog(REPO_CLAIMS).matcher
    claims = list(matcher.store)
    ids = [c.id for c in claims]
    embedder = matcher._embedder
    vectors = embedder.embed_many([meaning_text(c) for c in claims])

    def wordllama_only(query: str) -> list[str]:
        cos = vectors @ embedder.embed(searchable(query))
        order = np.argsort(-cos)[:3]
        return [ids[i] for i in order] if cos[order[0]] >= COSINE_ANSWER else []

    methods = {"ours": lambda q: ours(matcher, q), "words only": lambda q: words_only(matcher, q)}
    methods["wordllama only"] = wordllama_only
    try:
        import bm25s

        corpus = [meaning_text(c) for c in claims]
        retriever = bm25s.BM25()
        retriever.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False))

        def bm25(query: str) -> list[str]:
            tokens = bm25s.tokenize([searchable(query)], stopwords="en", show_progress=False)
            if not tokens.vocab:
                return []
            docs, scores = retriever.retrieve(tokens, k=3, show_progress=False)
            return [ids[int(d)] for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

        methods["bm25"] = bm25
    except ImportError:
        print("bm25s not installed (pip install -e '.[bench]'): skipping BM25", file=sys.stderr)

    report: dict = {}
    for name in FILES:
        rows = _rows(name)
        report[name] = {}
        for method, run in methods.items():
            started = time.perf_counter()
            found = [run(r["query"]) for r in rows]
            per_query = (time.perf_counter() - started) / len(rows) * 1000
            report[name][method] = {**_score(rows, found), "ms_per_query": round(per_query, 2)}
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
