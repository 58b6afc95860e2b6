"""The clock process's loop: run the digest every ``interval`` seconds until told to stop.

Kept apart from :class:`bot.digest.runner.DigestRunner` because its job is
staying up, not delivering: an outage (a database cut off, half-open or
restarting) must cost one log line per *kind* of failure rather than a
traceback a minute, and the loop must come back by itself soon after the
service does (:data:`RETRY_AFTER_FAILURE_S`). Pruning old state rides along
about once an hour (:mod:`bot.state.housekeeping`; the web processes do the
same).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine

from bot.state.housekeeping import DEFAULT_MISS_RETENTION, prune_state

log = logging.getLogger(__name__)
RETRY_AFTER_FAILURE_S = 10.0
"""After a failed run the next comes this soon, so a database that returns is used within ~10 s."""
PRUNE_EVERY_S = 3600.0


def first_line(exc: BaseException) -> str:
    """The first line of an error (the driver's own message when SQLAlchemy wraps one)."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0][:200] if lines else ""


def run_forever(
    run_once: Callable[[], object],
    engine: Engine,
    *,
    interval: float = 60.0,
    stop_event: threading.Event | None = None,
    miss_retention: timedelta = DEFAULT_MISS_RETENTION,
    after_run: Callable[[], None] | None = None,
    retry_after_failure: float = RETRY_AFTER_FAILURE_S,
) -> None:
    """Call ``run_once`` (then ``after_run``) every ``interval`` s until ``stop_event`` is set."""
    stop = stop_event or threading.Event()
    last_prune = float("-inf")
    failing: str | None = None  # the failure class being reported, once
    log.info("digest clock started: checking every %g s", interval)
    while not stop.is_set():
        started = time.monotonic()
        wait = interval
        try:
            run_once()
            if after_run is not None:
                after_run()
            if failing is not None:
                log.warning("digest runs work again after %s", failing)
                failing = None
        except Exception as exc:
            kind = type(exc).__name__
            if kind != failing:  # one line per failure class, not one per minute
                log.error("digest run failed: %s: %s", kind, first_line(exc))
                failing = kind
            wait = min(interval, retry_after_failure)
        if started - last_prune >= PRUNE_EVERY_S and failing is None:
            try:
                prune_state(engine, miss_retention=miss_retention)
                last_prune = started
            except Exception:
                log.warning("pruning old state failed; retrying in an hour")
        stop.wait(max(0.0, wait - (time.monotonic() - started)))


__all__ = ["RETRY_AFTER_FAILURE_S", "first_line", "run_forever"]
