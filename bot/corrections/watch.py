"""The clock process's hook: after a claim store change, correct the threads that cited it.

``digest run --forever`` calls this after each digest tick. Claim files are
stamped file by file (:class:`bot.core.snapshot.DirSnapshot`); only when they
changed — and once at start, for a store deployed while the clock was down —
is the store loaded and a correction run made. A run that left something
unfinished (Slack refused for now, the database was away) is tried again at
the next tick; the ledger makes the repeat harmless.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bot.core.problems import StoreError
from bot.core.snapshot import DirSnapshot
from bot.core.store import ClaimStore, load_store
from bot.corrections.runner import CorrectionRunner, all_final

log = logging.getLogger(__name__)


class CorrectionsOnStoreChange:
    """Callable once per tick; never raises (the digest loop must go on)."""

    def __init__(
        self,
        runner: CorrectionRunner,
        directory: Path,
        load: Callable[[Path], ClaimStore] = load_store,
    ) -> None:
        self.runner = runner
        self.directory = directory
        self.load = load
        self._done: DirSnapshot | None = None  # the claim files last corrected for in full
        self._loaded: tuple[DirSnapshot, ClaimStore] | None = None  # kept for retries

    def __call__(self) -> None:
        snapshot = DirSnapshot.take(self.directory)
        if snapshot == self._done:
            return
        if self._loaded is not None and self._loaded[0] == snapshot:
            store = self._loaded[1]  # a retry: the files are as when last loaded
        else:
            try:
                store = self.load(self.directory)
            except StoreError as exc:
                log.error("corrections wait for a valid claim store: %s", exc.problems[0])
                self._done = snapshot  # a broken store is not corrected for; the next change is
                return
            self._loaded = (snapshot, store)
        try:
            outcomes = self.runner.run_once(store)
        except Exception as exc:  # e.g. the database is away: one line, retried next tick
            log.error("correction run failed: %s: %s", type(exc).__name__, str(exc)[:200])
            return
        if outcomes:
            counts = Counter(str(o.status) for o in outcomes)
            log.info("corrections after a store change: %s", dict(counts))
        if all_final(outcomes):
            self._done, self._loaded = snapshot, None


__all__ = ["CorrectionsOnStoreChange"]
