"""What the claim directory looks like on disk, file by file, for change detection.

The directory's own mtime only changes when names are added, removed or
renamed: an editor or ``git checkout`` that overwrites a file in place leaves
it untouched, so a watcher that trusted it would keep serving the old claim
(or keep refusing a file that was broken and then fixed in place). Each claim
file is therefore identified by its inode, size, mtime and ctime: ctime cannot
be set back by tools that preserve mtimes (``rsync -t``, ``touch -r``), and
the inode changes when a file is replaced by rename.

One ``scandir`` plus one ``stat`` per file costs ~0.3 s at 100,000 files, which
a 30-second poll affords.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bot.core.store import CLAIM_SUFFIXES

FileStamp = tuple[int, int, int, int]  # inode, size, mtime_ns, ctime_ns


def file_stamp(stat: os.stat_result) -> FileStamp:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


@dataclass(frozen=True)
class DirSnapshot:
    """Claim file name -> stamp, for one directory at one moment."""

    files: dict[str, FileStamp]

    @classmethod
    def take(cls, directory: Path) -> DirSnapshot:
        """Stamp every claim file; a missing or unreadable directory is an empty snapshot."""
        files: dict[str, FileStamp] = {}
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if not entry.name.endswith(CLAIM_SUFFIXES):
                        continue
                    try:
                        if entry.is_file():
                            st = entry.stat()  # inlined file_stamp: 100,000 calls a poll
                            files[entry.name] = (
                                st.st_ino,
                                st.st_size,
                                st.st_mtime_ns,
                                st.st_ctime_ns,
                            )
                    except OSError:  # removed between listing and stat
                        continue
        except OSError:
            pass
        return cls(files)

    def changed_names(self, other: DirSnapshot) -> set[str]:
        """Names added, removed or modified between ``self`` and ``other``.

        One symmetric difference of the two item views, in C: at 100,000 files
        a per-name comparison in Python cost ~0.25 s of a one-file reload.
        """
        return {name for name, _ in self.files.items() ^ other.files.items()}
