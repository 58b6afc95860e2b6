"""The store and its index, loaded together and swapped together.

A reload that finds any problem keeps serving the last good catalog: a typo
pushed to the claims repository must not take the bot down mid-discussion.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from bot.core.matcher import Matcher
from bot.core.matching_config import REPO_MATCHING_CONFIG, load_matching_config
from bot.core.problems import Problem, StoreError
from bot.core.store import ClaimStore, default_claims_dir, load_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Catalog:
    store: ClaimStore
    matcher: Matcher


def load_catalog(claims_dir: Path | None = None, matching_config: Path | None = None) -> Catalog:
    """Load, validate and index; raise StoreError listing every problem."""
    store = load_store(claims_dir or default_claims_dir())
    return Catalog(store, Matcher(store, load_matching_config(matching_config)))


class CatalogHolder:
    """Holds the current catalog for a long-running process and reloads it safely."""

    def __init__(self, catalog: Catalog, matching_config: Path | None = None) -> None:
        self._catalog = catalog
        self._matching_config = matching_config
        self._lock = threading.Lock()

        self._fingerprint = self._stamp()

    @property
    def current(self) -> Catalog:
        return self._catalog

    def _stamp(self) -> tuple[int, int]:
        """Cheap change detector: the claim directory's and the config's mtimes.

        Adding, removing or replacing a file (git pull, rsync, an editor's
        save-and-rename) changes the directory's mtime; no per-file stat is
        needed, which matters at 100,000 claims.
        """
        directory = self._catalog.store.directory
        config = self._matching_config or REPO_MATCHING_CONFIG
        try:
            dir_mtime = directory.stat().st_mtime_ns
        except OSError:
            dir_mtime = -1
        try:
            config_mtime = config.stat().st_mtime_ns
        except OSError:
            config_mtime = -1
        return dir_mtime, config_mtime

    def reload_if_changed(self) -> list[Problem]:
        stamp = self._stamp()
        if stamp == self._fingerprint:
            return []
        self._fingerprint = stamp
        return self.reload()

    def watch(self, interval: float, stop: threading.Event) -> None:
        """Poll for changes until ``stop`` is set (run in a daemon thread)."""
        while not stop.wait(interval):
            try:
                self.reload_if_changed()
            except Exception:  # a watcher must never die silently
                log.exception("claim store watcher failed; will retry")

    def reload(self) -> list[Problem]:
        """Load the store again; on problems keep the old one and return them."""
        with self._lock:
            try:
                fresh = load_catalog(self._catalog.store.directory, self._matching_config)
            except StoreError as exc:
                for problem in exc.problems:
                    log.error("claim store reload refused: %s", problem)
                return exc.problems
            self._catalog = fresh
            log.info("claim store reloaded: %d claims", len(fresh.store))
            return []
