"""Fit the confidence model (bot/core/confidence.py) and store it in config/matching.yaml.

    python bench/fit_confidence.py \
        [--train tests/data/public_queries.tsv,tests/data/eval_tuning.tsv] \
        [--check tests/data/eval_heldout.tsv] [--cv 5] [--write]

Reproducible: deterministic features from the real claims and an
L2-regularised logistic regression solved by Newton's method (IRLS). Each
candidate a query proposes is one example, labelled 1 when its id is listed
in ``expected``. A claim is answered when its words alone pass the index's
thresholds, or when the model finds it more likely than not (``--threshold``
0.5): the threshold is a probability, not a knob tuned per query length.
``--check`` files are only scored, never fitted on: report them, do not tune
to them. ``--write`` replaces the ``confidence:`` block of config/matching.yaml.

``--cv K`` estimates, inside the training files alone, how a change would do on
queries the model was not fitted on: the queries are dealt into K folds (seeded,
``--cv-repeats`` times), each fold scored by a model fitted on the others, and
the hits and answered negatives summed over the folds. A feature, threshold or
alias that only raises the in-sample figures is fitting noise; compare the
cross-validated ones instead, so the held-out files stay unread until the end.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.core.catalog import load_catalog  # noqa: E402
from bot.core.confidence import FEATURES, Feature, probability  # noqa: E402
from bot.core.matcher import Matcher  # noqa: E402
from bot.core.matching_config import REPO_MATCHING_CONFIG  # noqa: E402
from bot.core.store import REPO_CLAIMS  # noqa: E402

L2 = 0.3
RELATIVE_TO_BEST = 0.55


def read_rows(paths: list[Path]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            rows += list(csv.DictReader(handle, delimiter="\t"))
    return rows


# (row, candidate ids, feature matrix, the words' rank of each: Candidates.words_rank)
Example = tuple[dict[str, str], list[str], np.ndarray, np.ndarray]


def features_of(matcher: Matcher, rows: list[dict[str, str]]) -> list[Example]:
    """(row, candidate ids, feature matrix, words' rank) per query."""
    out = []
    for row in rows:
        found = matcher.candidates(row["query"])
        if found is None:
            out.append((row, [], np.zeros((0, len(FEATURES))), np.zeros(0)))
            continue
        ids = [matcher.store.ids[i] for i in found.indices.tolist()]
        out.append((row, ids, found.features, found.words_rank()))
    return out


def fit(examples: list[Example]) -> tuple[float, np.ndarray]:
    xs, ys = [], []
    for row, ids, feats, _ in examples:
        wanted = set(filter(None, row["expected"].split(",")))
        for cid, vector in zip(ids, feats, strict=True):
            xs.append(vector)
            ys.append(1.0 if cid in wanted else 0.0)
    x = np.hstack([np.ones((len(xs), 1)), np.array(xs)])
    y = np.array(ys)
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], L2)
    penalty[0] = 0.0  # the intercept is not shrunk
    for _ in range(100):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (y - p) - penalty * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w += step
        if np.abs(step).max() < 1e-8:
            break
    return float(w[0]), w[1:]


def evaluate(
    examples: list[Example], intercept: float, weights: np.ndarray, threshold: float
) -> dict:
    """Answers as ``Judge.decide`` gives them: in the words' order, the chance breaking ties."""
    named = dict(zip(FEATURES, weights.tolist(), strict=True))
    hits = rr = positives = negatives = answered = 0
    misses = []
    for row, ids, feats, words in examples:
        found: list[str] = []
        if ids:
            chance = probability(feats, intercept, named)
            lexical = (feats[:, FEATURES.index(Feature.LEXICAL)] > 0) & (
                feats[:, FEATURES.index(Feature.NAMES_ONLY)] == 0
            )
            order = sorted(
                (i for i in range(len(ids)) if chance[i] >= threshold or lexical[i]),
                key=lambda i: (-words[i], -chance[i], ids[i]),
            )
            if order:
                floor = max(chance[i] for i in order) * RELATIVE_TO_BEST
                found = [ids[i] for i in order if chance[i] >= floor or lexical[i]][:3]
        if row["expected"]:
            positives += 1
            wanted = row["expected"].split(",")[0]
            if wanted in found:
                hits += 1
                rr += 1 / (found.index(wanted) + 1)
            else:
                misses.append(f"{row['query'][:80]!r}: wanted {wanted}, got {found}")
        else:
            negatives += 1
            if found:
                answered += 1
                misses.append(f"NEGATIVE {row['query'][:80]!r} -> {found[0]}")
    return {
        "recall_at_3": round(hits / max(positives, 1), 4),
        "mrr": round(rr / max(positives, 1), 4),
        "hits": hits,
        "positives": positives,
        "negatives_answered": answered,
        "negatives": negatives,
        "misses": misses,
    }


def cross_validate(examples: list[Example], folds: int, repeats: int, threshold: float) -> dict:
    """Out-of-fold Recall@3 and answered negatives, averaged over seeded repeats.

    One query is one unit: all its candidates fall in the same fold, as they
    would for a query the model never saw.
    """
    totals = np.zeros(4)  # hits, positives, negatives answered, negatives
    for seed in range(repeats):
        fold_of = np.random.default_rng(seed).permutation(len(examples)) % folds
        for fold in range(folds):
            fitted = fit([e for e, f in zip(examples, fold_of, strict=True) if f != fold])
            scored = evaluate(
                [e for e, f in zip(examples, fold_of, strict=True) if f == fold], *fitted, threshold
            )
            totals += [scored[k] for k in ("hits", "positives", "negatives_answered", "negatives")]
    hits, positives, answered, negatives = totals / repeats
    return {
        "folds": folds,
        "repeats": repeats,
        "recall_at_3": round(hits / max(positives, 1), 4),
        "hits": round(hits, 2),
        "positives": int(positives),
        "negatives_answered": round(answered, 2),
        "negatives": int(negatives),
    }


def yaml_block(intercept: float, weights: np.ndarray, threshold: float) -> str:
    lines = [
        "confidence:  # fitted by bench/fit_confidence.py; do not edit by hand",
        f"  intercept: {intercept:.4f}",
        "  weights:",
        *(f"    {f.value}: {w:.4f}" for f, w in zip(FEATURES, weights.tolist(), strict=True)),
        f"  threshold: {threshold:.2f}",
        "  strong: 0.9",
        "  likely: 0.6",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--train",
        default="tests/data/public_queries.tsv,tests/data/eval_tuning.tsv,tests/data/eval_tuning_2.tsv",
    )
    parser.add_argument("--check", default="")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--cv", type=int, default=0, help="folds for cross-validation (0: off)")
    parser.add_argument("--cv-repeats", type=int, default=10)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    matcher = load_catalog(REPO_CLAIMS).matcher
    train = features_of(matcher, read_rows([REPO / p for p in args.train.split(",") if p]))
    intercept, weights = fit(train)
    threshold = args.threshold
    report = {
        "intercept": round(intercept, 4),
        "weights": {f.value: round(w, 4) for f, w in zip(FEATURES, weights.tolist(), strict=True)},
        "threshold": threshold,
        "train": evaluate(train, intercept, weights, threshold),
    }
    if args.cv:
        report["cross_validated"] = cross_validate(train, args.cv, args.cv_repeats, threshold)
    for path in filter(None, args.check.split(",")):
        report[path] = evaluate(
            features_of(matcher, read_rows([REPO / path])), intercept, weights, threshold
        )
    print(json.dumps(report, indent=1))
    if args.write:
        text = REPO_MATCHING_CONFIG.read_text(encoding="utf-8")
        block = yaml_block(intercept, weights, threshold)
        pattern = re.compile(r"^confidence:.*?(?=^\S|\Z)", re.MULTILINE | re.DOTALL)
        text = pattern.sub(block, text) if pattern.search(text) else text + "\n" + block
        REPO_MATCHING_CONFIG.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
