"""A cache of validated claim files, so a restart neither parses nor validates them again.

PyYAML's constructor and pydantic's validation are pure work per file: at
100,000 claims they are most of a cold load. A valid file is cached as one
line holding its name, its stat stamp, the digest of its bytes, the facts the
store's columns need (bot.core.compact.ClaimFacts) and the validated claim's
JSON. A file is a hit when its stamp is unchanged (no read at all) or, failing
that, when its *content* digest is: a fresh ``git clone`` or a copied
directory gives every file a new inode and ctime, and must not cost a cold
load. The stamp includes ctime and inode because tools that restore mtimes
(``rsync -t``, ``touch -r``) can rewrite a file to the same size and mtime,
never to the same ctime.

The cache file is also where the running store reads claim bodies from (by
offset, see bot.core.compact.BodyFile): when nothing changed, a restart opens
the old file and copies nothing; otherwise the next file is written once, kept
lines copied and new ones appended, and replaces the old one atomically. JSON
rather than pickle, so a cache file can never run code. Any failure to read or
write the cache only costs time: a damaged line is ignored and its file parsed.

``AI_RACE_CACHE`` sets the cache directory, or ``off`` disables the cache;
default ``$XDG_CACHE_HOME/ai-race`` (``~/.cache/ai-race``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import IO, NamedTuple

log = logging.getLogger(__name__)
HEADER = b"ai-race claim parse cache v4\n"
_FIELDS = 5  # name, stamp, digest, facts, body


def cache_dir_from_env() -> Path | None:
    configured = os.environ.get("AI_RACE_CACHE", "").strip()
    if configured.lower() == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "ai-race"


def cache_file(claims_dir: Path, cache_dir: Path) -> Path:
    key = hashlib.sha256(str(claims_dir.resolve()).encode()).hexdigest()[:16]
    return cache_dir / f"claims-{key}.jsonl"


def prune_caches(kept: Path, keep: int = 3) -> None:
    """Keep the ``keep`` newest parse caches in ``kept``'s directory, ``kept`` among them.

    A deploy that checks the claims out to a new path each time would
    otherwise leave one cache file per release (~175 MB at 100,000 claims).
    A process still reading bodies from a removed file keeps its inode.
    """
    try:
        others = [(p.stat().st_mtime_ns, p) for p in kept.parent.glob("claims-*.jsonl")]
    except OSError:
        return
    for _, old in sorted((o for o in others if o[1] != kept), reverse=True)[keep - 1 :]:
        with contextlib.suppress(OSError):
            old.unlink()


def stamp_of(stat: os.stat_result) -> bytes:
    return f"{stat.st_size}.{stat.st_mtime_ns}.{stat.st_ctime_ns}.{stat.st_ino}".encode()


def digest_of(data: bytes) -> bytes:
    """What a file's cache entry is keyed by when its stamp changed: its bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest().encode()


class Entry(NamedTuple):
    """One cached file; the body is at (body_start, body_length) in the cache file."""

    stamp: bytes
    digest: bytes
    facts: bytes
    body_start: int
    body_length: int


class CacheIndex:
    """The previous cache file: entries by file name, and an open handle to read bodies."""

    def __init__(self, file: Path | None) -> None:
        self.entries: dict[str, Entry] = {}
        self.handle: IO[bytes] | None = None
        if file is None:
            return
        try:
            handle = file.open("rb")  # kept open: the store reads bodies from it
        except OSError:
            return
        try:
            if handle.readline() != HEADER:
                handle.close()
                return
            self._scan(handle, len(HEADER))
        except (OSError, UnicodeDecodeError) as exc:
            log.info("claim parse cache unreadable, parsing the files: %s", exc)
            self.entries.clear()
            handle.close()
            return
        self.handle = handle

    def _scan(self, handle: IO[bytes], offset: int) -> None:
        for line in handle:
            start, offset = offset, offset + len(line)
            parts = line.split(b"\t", _FIELDS - 1)
            # A line without its newline was cut short (a full disk, a crash).
            if len(parts) != _FIELDS or not line.endswith(b"\n"):
                continue
            name, stamp, digest, facts, body = parts
            body_start = start + len(line) - len(body)
            self.entries[name.decode()] = Entry(stamp, digest, facts, body_start, len(body) - 1)

    def body(self, entry: Entry) -> bytes:
        assert self.handle is not None
        return os.pread(self.handle.fileno(), entry.body_length, entry.body_start)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


class CacheWriter:
    """The next cache file, written line by line; bodies are read back from it.

    ``file`` None writes an unlinked temporary file that only serves bodies.
    """

    def __init__(self, file: Path | None, temp_dir: Path | None = None) -> None:
        self.file = file
        self._temp_name: str | None = None
        handle: IO[bytes] | None = None
        if file is not None:
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
                handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - handed to the store
                    "w+b", dir=file.parent, delete=False, suffix=".tmp"
                )
                self._temp_name = handle.name
            except OSError as exc:
                log.warning("claim parse cache not written (%s): %s", file.parent, exc)
                self.file = None
        if handle is None:
            handle = tempfile.TemporaryFile("w+b", dir=temp_dir)  # noqa: SIM115
        self.handle: IO[bytes] = handle
        handle.write(HEADER)
        self._offset = len(HEADER)

    def write(self, name: str, stamp: bytes, digest: bytes, facts: bytes, body: bytes) -> int:
        """Append one entry; return where its body starts."""
        head = b"\t".join((name.encode(), stamp, digest, facts, b""))
        self.handle.write(head + body + b"\n")
        start = self._offset + len(head)
        self._offset = start + len(body) + 1
        return start

    def finish(self) -> IO[bytes]:
        """Flush and put the file in place; return the handle the store reads bodies from."""
        self.handle.flush()
        if self.file is not None and self._temp_name is not None:
            try:
                os.replace(self._temp_name, self.file)
            except OSError as exc:
                log.warning("could not write the claim parse cache %s: %s", self.file, exc)
                with contextlib.suppress(OSError):
                    os.unlink(self._temp_name)
        return self.handle
