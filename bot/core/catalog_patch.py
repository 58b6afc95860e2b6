"""Reloading for a few changed claim files: patch the base store and index, do not rebuild.

Why: a full reload re-reads every file's stamp and the parse cache and
rebuilds the whole index (25 s at 100,000 claims, and ~100 MB of private
arrays per gunicorn worker). A patch parses and validates only the changed
files (bot.core.store_patch) and analyses only the changed claims
(bot.core.index_patch); the base index stays mapped from the cache and
shared. Answers equal a fresh full build's (tests/test_incremental_reload.py).

**Always against the base.** The base is the catalog of the last *full*
load; every patch applies all files changed since then, so patches never
stack, and a file changed back to its old content costs nothing afterwards.

**Compaction.** When the delta grows past ``COMPACT_SHARE`` of the claims
(at least ``MIN_PATCH_FILES`` files are always patched) or its private
postings past ``PRIVATE_POSTINGS`` (~6 MB per worker), no patch is made: the
holder loads the whole store instead, in its watcher thread while the last
catalog keeps serving, and that load saves its index to the cache, where
the next restart (and the next base) maps it from.
"""

from __future__ import annotations

import logging
from collections.abc import Container
from datetime import date
from pathlib import Path

from bot.core.index_patch import NotPatchable, patch_index
from bot.core.matcher import Matcher
from bot.core.parse_cache import cache_dir_from_env
from bot.core.store import ClaimStore
from bot.core.store_patch import patch_store, patchable, read_delta

log = logging.getLogger(__name__)
COMPACT_SHARE = 0.01
MIN_PATCH_FILES = 32
PRIVATE_POSTINGS = 500_000


def patch_catalog(
    base: tuple[ClaimStore, Matcher],
    changed: set[str],
    present: Container[str],
    today: date | None = None,
) -> tuple[ClaimStore, Matcher] | None:
    """``base`` with the claim files ``changed`` since it loaded applied; None: load whole.

    None as well when a changed file has any problem: the full load then
    reports every problem with its line, as it always has.
    """
    store, matcher = base
    if not changed:
        return base
    if len(changed) > max(MIN_PATCH_FILES, COMPACT_SHARE * len(store)):
        log.info("%d claim files changed since the last full load: loading whole", len(changed))
        return None
    delta = read_delta(store.directory, changed, present)
    if delta is None or not patchable(store, delta, today or date.today()):
        return None
    patched, numbering = patch_store(store, delta, _body_dir())
    old = [
        (i, store.claim_at(i))
        for claim_id in sorted(delta.removed | delta.claims.keys())
        if (i := store.index_of(claim_id)) is not None
    ]
    positions = [patched.index_of(claim_id) for claim_id in delta.claims]
    new = [(i, patched.claim_at(i)) for i in positions if i is not None]
    bases = (matcher.index, matcher._vectors)
    try:
        index, vectors = patch_index(
            bases, patched, numbering, (old, new), matcher.analyzer, matcher._embedder
        )
    except NotPatchable as exc:
        log.info("claim store not patched: %s", exc)
        return None
    if index.delta_postings > PRIVATE_POSTINGS:
        log.info("patched postings past %d: loading whole", PRIVATE_POSTINGS)
        return None
    fresh = Matcher(
        patched, matcher.config, embedder=matcher._embedder, index=index, vectors=vectors
    )
    return patched, fresh


def _body_dir() -> Path | None:
    return cache_dir_from_env()
