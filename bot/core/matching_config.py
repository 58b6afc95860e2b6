"""Matcher settings from ``config/matching.yaml``, validated like claims are."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from bot.core.confidence import Confidence, Feature
from bot.core.config_files import load_config_file

REPO_MATCHING_CONFIG = Path(__file__).resolve().parents[2] / "config" / "matching.yaml"


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    short_query_coverage: float = Field(0.55, ge=0, le=1)
    medium_query_coverage: float = Field(0.5, ge=0, le=1)
    long_query_coverage: float = Field(0.26, ge=0, le=1)
    medium_query_matched: int = Field(2, ge=1)
    long_query_matched: int = Field(4, ge=1)
    long_query_matched_share: float = Field(0.3, ge=0, le=1)
    relative_to_best: float = Field(0.55, ge=0, le=1)


class ConfidenceModel(BaseModel):
    """Coefficients fitted by bench/fit_confidence.py; see bot.core.confidence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Defaults: the fit shipped in config/matching.yaml, so a store without
    # that file (tests, a bare checkout) decides the same way.
    intercept: float = -7.0665
    weights: dict[Feature, float] = Field(
        default_factory=lambda: {
            Feature.LEXICAL: 1.9118,
            Feature.COVERAGE: 3.9303,
            Feature.ENOUGH_WORDS: -0.0051,
            Feature.COSINE: 3.0946,
            Feature.REST_COSINE: 0.4427,
            Feature.SHORTNESS: -0.9592,
            Feature.PHRASE: 3.0629,
            Feature.CLOSEST_MEANING: 1.9056,
            Feature.NAMES_ONLY: 1.4442,
        }
    )
    threshold: float = Field(0.5, gt=0, lt=1)  # answer at or above this (or on clear words)
    strong: float = Field(0.9, gt=0, le=1)  # "strong" at or above, else "likely"...
    likely: float = Field(0.6, gt=0, le=1)  # ...at or above, else "weak"

    def word(self, probability: float) -> Confidence:
        if probability >= self.strong:
            return Confidence.STRONG
        return Confidence.LIKELY if probability >= self.likely else Confidence.WEAK


class MatchingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    synonyms: dict[str, list[str]] = Field(default_factory=dict)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    confidence: ConfidenceModel = Field(default_factory=ConfidenceModel)


def load_matching_config(path: Path | None = None) -> MatchingConfig:
    """Read the matching config; a missing file means defaults, a broken one an error."""
    return load_config_file(path or REPO_MATCHING_CONFIG, MatchingConfig)
