"""The store and its index, loaded together and swapped together.

A reload that finds any problem keeps serving the last good catalog: a typo
pushed to the claims repository must not take the bot down mid-discussion.
A reload for a few changed files patches the last fully loaded catalog
instead of loading everything again (bot.core.catalog_patch).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.core import index_cache
from bot.core.catalog_patch import patch_catalog
from bot.core.matcher import Matcher
from bot.core.matching_config import REPO_MATCHING_CONFIG, load_matching_config
from bot.core.parse_analysis import AnalysisRequest
from bot.core.problems import Problem, StoreError
from bot.core.snapshot import DirSnapshot, FileStamp, file_stamp
from bot.core.store import ClaimStore, default_claims_dir, load_store

log = logging.getLogger(__name__)
_Stamp = tuple[DirSnapshot, FileStamp | None]


@dataclass(frozen=True)
class Catalog:
    store: ClaimStore
    matcher: Matcher


def load_catalog(
    claims_dir: Path | None = None,
    matching_config: Path | None = None,
    *,
    build_elsewhere: bool = False,
) -> Catalog:
    """Load, validate and index; raise StoreError listing every problem.

    A load that parses every file has the parse workers analyse the claims
    too (bot.core.parse_analysis); the index is then merged and saved here.
    ``build_elsewhere``: an index not saved yet (nor merged from the workers)
    is built by a child process and mapped from its files
    (bot.core.index_cache.build_elsewhere): for a process whose heap forked
    workers share.
    """
    directory = claims_dir or default_claims_dir()
    try:
        config = load_matching_config(matching_config)
    except StoreError:
        load_store(directory)  # the store's own problems are reported first, as always
        raise
    analysis = AnalysisRequest(config.synonyms)
    store = load_store(directory, analysis=analysis)
    built = analysis.index_of(store.ids)
    if built is not None and index_cache.save_built(store, config.synonyms, *built):
        built = None  # saved: the matcher maps it, as after any other load
    if build_elsewhere and built is None:
        index_cache.build_elsewhere(store, config.synonyms, matching_config)
    index, vectors = built or (None, None)
    return Catalog(store, Matcher(store, config, index=index, vectors=vectors))


class CatalogHolder:
    """Holds the current catalog for a long-running process and reloads it safely."""

    def __init__(
        self,
        catalog: Catalog,
        matching_config: Path | None = None,
        *,
        build_elsewhere: bool = False,
    ) -> None:
        self._catalog = catalog
        self._matching_config = matching_config
        self._build_elsewhere = build_elsewhere  # see load_catalog
        self._lock = threading.Lock()

        self._fingerprint: _Stamp | None = self._stamp()
        # The last fully loaded catalog (and the config it was loaded with), which patches
        # apply to, and the claim files changed since: names, not a second snapshot of
        # every file's stamp (~30 MB of Python objects at 100,000 files, per process).
        self._base: tuple[Catalog, FileStamp | None] = (catalog, self._fingerprint[1])
        self._since_base: set[str] | None = set()

    @property
    def current(self) -> Catalog:
        return self._catalog

    def _stamp(self) -> _Stamp:
        """Every claim file's (inode, size, mtime, ctime) and the matching config's.

        Per file, not the directory's mtime: overwriting a file in place (editors,
        ``git pull``) leaves the directory untouched. See bot.core.snapshot.
        """
        config = self._matching_config or REPO_MATCHING_CONFIG
        try:
            config_stamp: FileStamp | None = file_stamp(config.stat())
        except OSError:
            config_stamp = None
        return DirSnapshot.take(self._catalog.store.directory), config_stamp

    def reload_if_changed(self) -> list[Problem]:
        """Reload when any claim file or the config changed since the last attempt.

        The stamp is taken *before* loading, so a file written while the load
        ran is seen as changed at the next poll. A reload that raised (rather
        than reporting problems) leaves no stamp, so the next poll retries it.
        """
        stamp, previous = self._stamp(), self._fingerprint
        changed = previous[0].changed_names(stamp[0]) if previous is not None else None
        if previous is not None and not changed and stamp[1] == previous[1]:
            return []
        self._fingerprint = None
        if changed:
            names = sorted(changed)
            log.info(
                "claim files changed: %s%s",
                ", ".join(names[:5]),
                f" and {len(names) - 5} more" if len(names) > 5 else "",
            )
        problems = [] if self._patch(stamp, changed) else self.reload(stamp)
        self._fingerprint = stamp
        return problems

    def _patch(self, stamp: _Stamp, changed: set[str] | None) -> bool:
        """Serve the base catalog patched for the files changed since; False: load whole.

        ``changed``: the names changed since the last poll (None: not known, after
        a reload that raised). They join the names changed since the base even
        when the patch is refused, so a refused change is patched once fixed.
        """
        with self._lock:
            base, config = self._base
            if changed is None or self._since_base is None or stamp[1] != config:
                self._since_base = None  # unknown until the next full load
                return False
            self._since_base |= changed
            since = self._since_base
            patched = patch_catalog((base.store, base.matcher), since, stamp[0])
            if patched is None:
                return False
            self._catalog = Catalog(*patched)
        log.info("claim store patched: %d files since the last full load", len(since))
        return True

    def watch(
        self,
        interval: float,
        stop: threading.Event,
        changed: Callable[[Catalog], None] = lambda _catalog: None,
    ) -> None:
        """Poll now and then every ``interval`` s until ``stop`` is set (in a daemon thread).

        The first poll is at once: a process forked from an older one (a
        restarted answer process) serves what the files say without waiting
        a whole interval. ``changed`` is told each new catalog.
        """
        while True:
            try:
                before = self._catalog
                self.reload_if_changed()
                if self._catalog is not before:
                    changed(self._catalog)
            except Exception:  # a watcher must never die silently
                log.exception("claim store watcher failed; will retry")
            if stop.wait(interval):
                return

    def reload(self, stamp: _Stamp | None = None) -> list[Problem]:
        """Load the store again; on problems keep the old one and return them.

        ``stamp``: the files as seen before this load (taken now if not given);
        a successful load becomes the base that later changes patch.
        """
        stamp = stamp or self._stamp()
        with self._lock:
            try:
                fresh = load_catalog(
                    self._catalog.store.directory,
                    self._matching_config,
                    build_elsewhere=self._build_elsewhere,
                )
            except StoreError as exc:
                for problem in exc.problems:
                    log.error("claim store reload refused: %s", problem)
                return exc.problems
            self._catalog = fresh
            self._base, self._since_base = (fresh, stamp[1]), set()
            log.info("claim store reloaded: %d claims", len(fresh.store))
            return []
