"""What the claim directory looks like on disk, file by file, for change detection.

The directory's own mtime only changes when names are added, removed or
renamed: an editor or ``git checkout`` that overwrites a file in place leaves
it untouched, so a watcher that trusted it would keep serving the old claim
(or keep refusing a file that was broken and then fixed in place). Each claim
file is therefore identified by its inode, size, mtime and ctime: ctime cannot
be set back by tools that preserve mtimes (``rsync -t``, ``touch -r``), and
the inode changes when a file is replaced by rename.

One ``scandir`` plus one ``stat`` per file costs ~0.3 s at 100,000 files, which
a 30-second poll affords. What is kept is compact: the names joined in one
string and the stamps in one int64 array (~7 MB at 100,000 files). A dict of
100,000 names and stamp tuples was ~30 MB of Python objects in every watching
process, and comparing it with the snapshot a gunicorn worker inherited
touched every inherited object, so copy-on-write copied those pages as well.
"""

from __future__ import annotations

import os
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.core.store import CLAIM_SUFFIXES

FileStamp = tuple[int, int, int, int]  # inode, size, mtime_ns, ctime_ns
_SEP = "\0"  # never in a file name


def file_stamp(stat: os.stat_result) -> FileStamp:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


@dataclass(frozen=True, eq=False)
class DirSnapshot:
    """Claim file names (in directory order, NUL-separated) and their stamps, at one moment."""

    names: str
    stamps: np.ndarray  # int64 (files, 4): inode, size, mtime_ns, ctime_ns

    @classmethod
    def take(cls, directory: Path) -> DirSnapshot:
        """Stamp every claim file; a missing or unreadable directory is an empty snapshot."""
        names: list[str] = []
        stamps = array("q")
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if not entry.name.endswith(CLAIM_SUFFIXES):
                        continue
                    try:
                        if entry.is_file():
                            stamps.extend(file_stamp(entry.stat()))
                            names.append(entry.name)
                    except OSError:  # removed between listing and stat
                        continue
        except OSError:
            pass
        return cls(_SEP.join(names), np.frombuffer(stamps, dtype=np.int64).reshape(-1, 4))

    def __len__(self) -> int:
        return len(self.stamps)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DirSnapshot):
            return NotImplemented
        return self.names == other.names and np.array_equal(self.stamps, other.stamps)

    __hash__ = None  # type: ignore[assignment]

    def __contains__(self, name: object) -> bool:
        """Whether a claim file of this name was there."""
        if not isinstance(name, str) or not name or _SEP in name:
            return False
        text, at = self.names, self.names.find(name)
        while at != -1:  # a match that starts and ends at separators (no split of 100,000)
            end = at + len(name)
            if (at == 0 or text[at - 1] == _SEP) and (end == len(text) or text[end] == _SEP):
                return True
            at = text.find(name, at + 1)
        return False

    def _listed(self) -> list[str]:
        return self.names.split(_SEP) if len(self) else []

    @property
    def files(self) -> dict[str, FileStamp]:
        """Name -> stamp as a dict (built on each call: for the rare slow path and tests)."""
        rows = [(int(a), int(b), int(c), int(d)) for a, b, c, d in self.stamps.tolist()]
        return dict(zip(self._listed(), rows, strict=True))

    def changed_names(self, other: DirSnapshot) -> set[str]:
        """Names added, removed or modified between ``self`` and ``other``.

        With the same names in the same order (files edited in place or
        replaced, none added or removed: the usual poll), one comparison of the
        two stamp arrays; otherwise one symmetric difference of the two dicts.
        """
        if self.names == other.names:
            rows = np.flatnonzero((self.stamps != other.stamps).any(axis=1))
            if not rows.size:
                return set()
            listed = self._listed()
            return {listed[i] for i in rows.tolist()}
        return {name for name, _ in self.files.items() ^ other.files.items()}
