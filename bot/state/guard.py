"""Database side work with a deadline, so answers never wait on an unreachable database.

Search needs no database; only event de-duplication, miss logging and the
digest commands do. When the database is cut off (a partition, a half-open
connection the kernel still acknowledges, a restart), a call may block far
longer than Slack's 3-second ack. :class:`DatabaseGuard` runs each call on a
few threads of its own and waits at most ``timeout``; a call that fails or
overruns turns the guard *degraded*: one warning is logged, callers get their
fallback at once, and after ``cooldown`` seconds one call is let through to
see whether the database is back (then one line says so).

Calls that overran keep their thread until the database answers or the
connection's own timeouts (:func:`bot.state.db.postgres_timeouts`) end
them; while every thread is held that way, calls fail fast.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_TIMEOUT = 2.0  # under the 3 s ack budget, above a busy SQLite writer's usual wait
DEFAULT_COOLDOWN = 5.0
DEFAULT_THREADS = 4


class DatabaseState(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"


class DatabaseGuard:
    """``call(fn, fallback)``: ``fn(engine)`` within a deadline, else ``fallback``."""

    def __init__(
        self,
        engine: Engine,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        cooldown: float = DEFAULT_COOLDOWN,
        threads: int = DEFAULT_THREADS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.timeout = timeout
        self.cooldown = cooldown
        self.threads = threads
        self.clock = clock
        self._lock = threading.Lock()
        self._in_flight = 0
        self._retry_at: float | None = None  # set while degraded
        self._executor: ThreadPoolExecutor | None = None
        self._pid: int | None = None

    @property
    def state(self) -> DatabaseState:
        return DatabaseState.OK if self._retry_at is None else DatabaseState.DEGRADED

    def call(
        self, fn: Callable[[Engine], T], fallback: T, *, what: str, timeout: float | None = None
    ) -> T:
        """Run ``fn(engine)``; ``fallback`` if the database is degraded, fails or overruns."""
        with self._lock:
            if self._retry_at is not None and self.clock() < self._retry_at:
                return fallback
            if self._in_flight >= self.threads:
                self._degrade_locked(f"{self._in_flight} calls still waiting for the database")
                return fallback
            self._in_flight += 1
            future = self._pool().submit(self._run, fn)
        try:
            result = future.result(timeout=self.timeout if timeout is None else timeout)
        except FutureTimeout:
            self._degrade(f"{what} took over {self.timeout if timeout is None else timeout:g} s")
            return fallback
        except SQLAlchemyError as exc:  # anything else is the caller's own error: raised
            self._degrade(f"{what} failed: {type(exc).__name__}: {_first_line(exc)}")
            return fallback
        self._recovered()
        return result

    def probe(self) -> DatabaseState:
        """``SELECT 1`` through the guard: what ``/healthz`` reports."""

        def ping(engine: Engine) -> bool:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True

        self.call(ping, False, what="health check")
        return self.state

    def _run(self, fn: Callable[[Engine], T]) -> T:
        try:
            return fn(self.engine)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _pool(self) -> ThreadPoolExecutor:
        if self._pid != os.getpid():  # threads do not survive gunicorn's fork
            self._pid = os.getpid()
            self._in_flight = 0
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="db-guard")
        assert self._executor is not None
        return self._executor

    def _degrade(self, reason: str) -> None:
        with self._lock:
            self._degrade_locked(reason)

    def _degrade_locked(self, reason: str) -> None:
        if self._retry_at is None:
            log.warning(
                "database unavailable (%s): answering without event de-duplication "
                "and miss logging until it returns",
                reason,
            )
        self._retry_at = self.clock() + self.cooldown

    def _recovered(self) -> None:
        with self._lock:
            if self._retry_at is not None:
                log.warning("database reachable again: de-duplication and miss logging resumed")
            self._retry_at = None


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0][:200] if lines else ""
