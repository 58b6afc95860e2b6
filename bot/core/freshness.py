"""When a claim is due for review, and how an answer says that it is overdue.

A claim is *stale* once more than ``review_every`` days have passed since its
``reviewed`` date: the claim's own ``review_every`` when it sets one (fast-moving
subjects), else the store-wide interval from ``config/freshness.yaml`` (default
180 days). Everything here is pure and takes ``today`` as an argument, so the
Slack app, the digest and ``ai-race claims stale`` agree, and tests move the
clock instead of waiting for it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bot.core.compact import ClaimStore
from bot.core.config_files import load_config_file
from bot.core.schema import REVIEW_EVERY_MAX, Claim

REPO_FRESHNESS_CONFIG = Path(__file__).resolve().parents[2] / "config" / "freshness.yaml"
DEFAULT_REVIEW_EVERY = 180


class Reviewable(Protocol):
    """What freshness reads: a full Claim, or a store's compact ClaimRow."""

    @property
    def reviewed(self) -> date: ...
    @property
    def review_every(self) -> int | None: ...


class FreshnessConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    review_every: int = Field(DEFAULT_REVIEW_EVERY, ge=1, le=REVIEW_EVERY_MAX)


def load_freshness_config(path: Path | None = None) -> FreshnessConfig:
    """Read the review interval; a missing file means the default, a broken one an error."""
    return load_config_file(path or REPO_FRESHNESS_CONFIG, FreshnessConfig)


@functools.cache
def configured_review_every() -> int:
    """The store-wide interval from the repository's config, read once per process."""
    return load_freshness_config().review_every


def review_due(claim: Reviewable, review_every: int | None = None) -> date:
    """The last day on which the claim is still fresh."""
    days = claim.review_every or review_every or configured_review_every()
    return claim.reviewed + timedelta(days=days)


def is_stale(claim: Reviewable, today: date, review_every: int | None = None) -> bool:
    """True once ``today`` is past the claim's review date."""
    return today > review_due(claim, review_every)


def ago(then: date, today: date) -> str:
    """ "3 days ago", "7 months ago", "2 years ago": a reader's sense of age, not a date."""
    days = max((today - then).days, 0)
    if days < 60:
        amount, unit = days, "day"
    elif days < 730:
        amount, unit = round(days * 12 / 365), "month"
    else:
        amount, unit = days // 365, "year"
    return f"{amount} {unit}{'' if amount == 1 else 's'} ago"


def stale_note(claim: Claim, today: date, review_every: int | None = None) -> str | None:
    """The one line a stale answer carries, or None for a fresh claim."""
    if not is_stale(claim, today, review_every):
        return None
    return f"Last reviewed {ago(claim.reviewed, today)} — may be out of date"


def stale_ids(store: ClaimStore, today: date, review_every: int | None = None) -> list[str]:
    """Ids of the store's stale claims, longest unreviewed first, read from its columns.

    The same rule as :func:`is_stale`, vectorised: at 100,000 claims the App Home
    and ``ai-race claims stale`` must not materialise every claim to find a few.
    """
    reviewed, own = store.review_columns()
    default = review_every or configured_review_every()
    due = reviewed.astype(np.int64) + np.where(own > 0, own, default)
    stale = np.flatnonzero(today.toordinal() > due)
    # Indices follow id order, so a stable sort by date keeps ids ascending within a day.
    order = stale[np.argsort(reviewed[stale], kind="stable")]
    return [store.ids[i] for i in order.tolist()]


@dataclass(frozen=True)
class Freshness:
    """``today`` and the store-wide interval, handed to renderers as one value."""

    today: date
    review_every: int | None = None

    def note(self, claim: Claim) -> str | None:
        return stale_note(claim, self.today, self.review_every)

    def is_stale(self, claim: Claim) -> bool:
        return is_stale(claim, self.today, self.review_every)
