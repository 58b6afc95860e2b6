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
from bot.core.matching_config import load_matching_config
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

    @property
    def current(self) -> Catalog:
        return self._catalog

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
