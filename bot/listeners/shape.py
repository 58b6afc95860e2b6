"""Listener matchers for the fields a handler cannot do without.

Slack always sends them, but a signed request without them (a replay edited
by hand, a test tool, a future payload change) must get a 4xx, never a 500
from a ``KeyError`` deep in a handler. An event that fails its matcher is
"unhandled", which Bolt answers with 404; nothing is queued or posted.
Small pure functions in the style of bolt-python's ``payload_utils``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def event_has(*fields: str) -> Callable[..., bool]:
    """A Bolt matcher: the event carries each of ``fields`` as a non-empty string."""

    def matches(event: dict[str, Any]) -> bool:
        return all(isinstance(event.get(name), str) and event[name] for name in fields)

    return matches
