"""The digest's closed sets, as ``StrEnum`` so they compare equal to the stored strings.

With them, the typed "not given" sentinel. They live at the bottom of
``bot.digest`` (importing only the ground floor, :mod:`bot.state.leases`) so that the schedule,
the ledger, the poster and the wording can all name the same values without
importing each other. Being ``str`` subclasses,
members go into SQL and JSON as their plain values, and rows read back as
plain strings still compare equal to them.
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Final

from bot.state.leases import LeaseStatus


class Days(StrEnum):
    """Which local days a subscription is due on."""

    WEEKDAYS = "weekdays"  # Monday–Friday where the channel is
    DAILY = "daily"


class Source(StrEnum):
    """Who owns a subscription: the channel (made in Slack) or the operator (digest.yaml)."""

    SLACK = "slack"
    CONFIG = "config"


DeliveryStatus = LeaseStatus
"""The ledger row's state for one (team, channel, local date): the shared lease states."""


class OutcomeStatus(StrEnum):
    """What happened to one due subscription in one run (what ``digest run`` reports)."""

    POSTED = "posted"
    RECONCILED = "reconciled"  # found already in the channel's history and recorded
    WOULD_POST = "would_post"  # --dry-run
    ALREADY_POSTED = "already_posted"
    BUSY = "busy"  # another runner holds the lease
    EMPTY = "empty"  # no eligible claims
    PAUSED = "paused"
    FAILED = "failed"
    UNKNOWN = "unknown"
    GAVE_UP = "gave_up"  # too many attempts today
    LOST_LEASE = "lost_lease"
    ERROR = "error"  # a bug in this channel's delivery; the others carry on


class NotGiven(Enum):
    """The type of :data:`NOT_GIVEN`: "the caller did not pass this", distinct from None.

    ``subscribe(topics=None)`` clears a channel's topics while leaving
    ``topics`` out keeps them; a one-member enum (like httpx's
    ``UseClientDefault``) lets mypy tell the two apart with ``is NOT_GIVEN``.
    """

    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven.NOT_GIVEN

__all__ = [
    "NOT_GIVEN",
    "Days",
    "DeliveryStatus",
    "NotGiven",
    "OutcomeStatus",
    "Source",
]
