"""One calibrated confidence for every query, short or pasted, lexical or by meaning.

The lexical index and the embeddings each give evidence a person can check
(which words matched; how close the meaning is). A small logistic model,
fitted by ``bench/fit_confidence.py`` on the tuning half of the evaluation set
and stored in ``config/matching.yaml``, turns that evidence into one
probability that the claim is what the query is about. One threshold then
decides for a two-word query and a pasted paragraph alike, and the same
number gives the confidence word people see (strong / likely / weak).

Features (all roughly 0..1, so the coefficients are comparable):

* ``lexical``: 1 when the words alone pass the length-dependent thresholds
  of ``config/matching.yaml`` (the index's own decision), else 0;
* ``coverage``: share of the query's IDF-weighted content words the claim
  explains, over the share its length calls for (0.55 for one or two words,
  0.26 for a pasted message: see ``thresholds`` in config/matching.yaml),
  capped at twice that and halved, so 0.5 means "just enough";
* ``enough_words``: explained words (key fields count 1, summary words less)
  over the number the query's length requires, capped at 1;
* ``cosine``: cosine similarity of query and claim sentence vectors;
* ``rest_cosine``: cosine of the words the claim does *not* explain with the
  claim (1 when it explains them all). This is what tells "Hassabis wins the
  Nobel prize" (a name plus an unrelated rest) from "distillation is theft"
  (a name plus a related rest), where the whole-query cosine is dominated by
  the shared name;
* ``shortness``: 1 / content words, so length can shift the balance;
* ``phrase``: how closely the whole query equals or contains a title or alias;
* ``closest_meaning``: 1 for the claim closest in meaning (highest cosine)
  among two or more proposed, when the words alone do not decide and the
  claim explains at least one query word that is not one of its names
  (entities, speaker). A headline names several companies the store knows,
  so the words propose several claims, and the one it is about is the one
  its meaning is nearest to; news that only shares a name ("Jensen Huang's
  leather jacket", "DeepSeek suspends sign-ups") gets no credit from it, nor
  does a lone candidate (nothing to compare), nor a claim the words already
  answer (a title hit keeps its lead over a summary that reads closer);
* ``names_only``: 1 when every word the claim explains is one of its names
  and the query says more ("Jensen Huang promises a new computing age").
  Such a claim is never answered on words alone, only when the model, which
  weighs this feature, finds it likely.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np


class Feature(StrEnum):
    LEXICAL = "lexical"
    COVERAGE = "coverage"
    ENOUGH_WORDS = "enough_words"
    COSINE = "cosine"
    REST_COSINE = "rest_cosine"
    SHORTNESS = "shortness"
    PHRASE = "phrase"
    CLOSEST_MEANING = "closest_meaning"
    NAMES_ONLY = "names_only"


FEATURES: tuple[Feature, ...] = tuple(Feature)


class Confidence(StrEnum):
    """The word shown instead of a bare percentage."""

    STRONG = "strong"
    LIKELY = "likely"
    WEAK = "weak"


def closest_in_meaning(cosine: np.ndarray) -> np.ndarray:
    """1.0 for the claim(s) with the highest cosine among two or more, else 0.0."""
    if cosine.size < 2:
        return np.zeros(cosine.size, dtype=np.float64)
    return (cosine >= cosine.max() - 1e-6).astype(np.float64)


def probability(
    features: np.ndarray, intercept: float, weights: dict[Feature, float]
) -> np.ndarray:
    """Logistic model over a (candidates, len(FEATURES)) feature matrix."""
    coefficients = np.array([weights.get(f, 0.0) for f in FEATURES], dtype=np.float64)
    logits = features.astype(np.float64) @ coefficients + intercept
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
