"""Waiting on observable state (database rows, a mock's log) with a deadline.

Fault tests watch real processes; they poll what those processes leave behind
instead of sleeping and hoping, and fail with what they were waiting for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

T = TypeVar("T")


def eventually(condition: Callable[[], bool], timeout: float = 10) -> bool:
    """Poll ``condition`` (a database read) until true or ``timeout`` s have passed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def wait_until(
    what: str,
    condition: Callable[[], bool],
    timeout: float = 20,
    context: Callable[[], str] | None = None,
) -> None:
    """Like :func:`eventually`, but fail the test naming ``what`` (and ``context()``, a log)."""
    if not eventually(condition, timeout):
        detail = f":\n{context()}" if context else ""
        raise AssertionError(f"timed out waiting until {what}{detail}")


def rows(engine: Engine, model: type[T]) -> list[T]:
    """Every row of ``model``'s table, detached so tests can read them after the session."""
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(select(model)))
