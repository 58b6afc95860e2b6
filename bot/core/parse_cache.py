"""A cache of parsed claim files, so a restart does not re-parse 100,000 YAML files.

PyYAML's constructor is pure Python even with libyaml: at 100,000 claims YAML
parsing is about 85% of the load time. Valid files are cached as JSON keyed by
file name, size and modification time; a file whose stat changed is parsed
again, and so is every file with a problem (line numbers come from the YAML).
JSON rather than pickle, so a cache file can never run code.

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
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
FORMAT = 1


def cache_dir_from_env() -> Path | None:
    configured = os.environ.get("AI_RACE_CACHE", "").strip()
    if configured.lower() == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "ai-race"


class ParseCache:
    def __init__(self, claims_dir: Path, cache_dir: Path | None) -> None:
        self.file: Path | None = None
        self._entries: dict[str, list[Any]] = {}
        self._fresh: dict[str, list[Any]] = {}
        if cache_dir is None:
            return
        key = hashlib.sha256(str(claims_dir.resolve()).encode()).hexdigest()[:16]
        self.file = cache_dir / f"claims-{key}.json"
        try:
            stored = json.loads(self.file.read_text(encoding="utf-8"))
            if stored.get("format") == FORMAT:
                self._entries = stored["files"]
        except (OSError, ValueError, KeyError, TypeError):
            self._entries = {}

    @staticmethod
    def _stamp(stat: os.stat_result) -> list[int]:
        return [stat.st_size, stat.st_mtime_ns]

    def get(self, path: Path, stat: os.stat_result) -> dict[str, Any] | None:
        entry = self._entries.get(path.name)
        if entry and entry[0] == self._stamp(stat):
            self._fresh[path.name] = entry
            return entry[1]
        return None

    def put(self, path: Path, stat: os.stat_result, data: dict[str, Any]) -> None:
        self._fresh[path.name] = [self._stamp(stat), data]

    def save(self) -> None:
        """Write the entries seen in this load (dropping deleted files), atomically."""
        if self.file is None or self._fresh == self._entries:
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            payload = json.dumps({"format": FORMAT, "files": self._fresh}, default=str)
            with tempfile.NamedTemporaryFile(
                "w", dir=self.file.parent, delete=False, encoding="utf-8", suffix=".tmp"
            ) as handle:
                handle.write(payload)
            os.replace(handle.name, self.file)
        except OSError as exc:
            log.warning("could not write the claim parse cache %s: %s", self.file, exc)
