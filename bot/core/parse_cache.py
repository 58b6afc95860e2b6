"""A cache of parsed claim files, so a restart does not re-parse 100,000 YAML files.

PyYAML's constructor is pure Python even with libyaml: at 100,000 claims YAML
parsing is most of the load time. Valid files are cached as JSON keyed by file
name, size and modification time; a file whose stat changed is parsed again,
and so is every file with a problem (line numbers come from the YAML). JSON
rather than pickle, so a cache file can never run code.

The cache is one JSON-lines file sorted by file name, read and rewritten in
step with the (sorted) claim files: loading never holds a second copy of the
store in memory, which at 100,000 claims would cost hundreds of megabytes.

``AI_RACE_CACHE`` sets the cache directory, or ``off`` disables the cache;
default ``$XDG_CACHE_HOME/ai-race`` (``~/.cache/ai-race``). Any failure to read
or write the cache only costs time: the claims are then parsed from YAML.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)
HEADER = "ai-race claim parse cache v3\n"


def cache_dir_from_env() -> Path | None:
    configured = os.environ.get("AI_RACE_CACHE", "").strip()
    if configured.lower() == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "ai-race"


def _stamp(stat: os.stat_result) -> str:
    # ctime and inode too: tools that restore mtimes (rsync -t, touch -r) can
    # rewrite a file to the same size and mtime, never to the same ctime.
    return f"{stat.st_size}\t{stat.st_mtime_ns}.{stat.st_ctime_ns}.{stat.st_ino}"


class ParseCache:
    """Read the previous cache and write the next one while files are loaded in name order."""

    def __init__(self, claims_dir: Path, cache_dir: Path | None) -> None:
        self.file: Path | None = None
        self._reader: Iterator[tuple[str, str, str]] = iter(())
        self._current: tuple[str, str, str] | None = None
        self._writer: IO[str] | None = None
        self._hit: str | None = None  # the raw cached data returned by the last get()
        self._changed = False
        if cache_dir is None:
            return
        key = hashlib.sha256(str(claims_dir.resolve()).encode()).hexdigest()[:16]
        self.file = cache_dir / f"claims-{key}.jsonl"
        self._reader = self._entries(self.file)
        self._current = next(self._reader, None)
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self._writer = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in save()
                "w", dir=cache_dir, delete=False, encoding="utf-8", suffix=".tmp"
            )
            self._writer.write(HEADER)
        except OSError as exc:
            log.warning("claim parse cache disabled (%s): %s", cache_dir, exc)
            self._writer = None

    @staticmethod
    def _entries(file: Path) -> Iterator[tuple[str, str, str]]:
        try:
            with file.open(encoding="utf-8") as handle:
                if handle.readline() != HEADER:
                    return
                for line in handle:
                    name, size, mtime, data = line.rstrip("\n").split("\t", 3)
                    yield name, f"{size}\t{mtime}", data
        except (OSError, ValueError):
            return

    def get(self, path: Path, stat: os.stat_result) -> dict[str, Any] | None:
        """The cached data for ``path`` if its size and mtime are unchanged."""
        while self._current is not None and self._current[0] < path.name:
            self._changed = True  # an entry for a file that no longer exists
            self._current = next(self._reader, None)
        if self._current is None or self._current[0] != path.name:
            return None
        _, stamp, data = self._current
        self._current = next(self._reader, None)
        self._hit = None
        if stamp != _stamp(stat):
            return None
        try:
            value = json.loads(data)
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        self._hit = data
        return value

    def keep(self, path: Path, stat: os.stat_result) -> None:
        """The data from the last get() was valid: carry it into the next cache as is."""
        if self._writer is not None and self._hit is not None:
            self._writer.write(f"{path.name}\t{_stamp(stat)}\t{self._hit}\n")
        self._hit = None

    def put(self, path: Path, stat: os.stat_result, data: dict[str, Any]) -> None:
        """Record a freshly parsed, valid file for the next load."""
        self._changed = True
        if self._writer is not None:
            encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
            self._writer.write(f"{path.name}\t{_stamp(stat)}\t{encoded}\n")

    def save(self) -> None:
        """Replace the cache if anything changed; otherwise keep the old file."""
        if self._writer is None or self.file is None:
            return
        self._writer.close()
        changed = self._changed or self._current is not None
        try:
            if changed:
                os.replace(self._writer.name, self.file)
            else:
                os.unlink(self._writer.name)
        except OSError as exc:
            log.warning("could not write the claim parse cache %s: %s", self.file, exc)
