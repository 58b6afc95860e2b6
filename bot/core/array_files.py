"""Named numpy arrays saved as a directory of ``.npy`` files and memory-mapped back.

Why a directory of ``.npy`` rather than one ``.npz``: ``np.load`` can map a
``.npy`` file (``mmap_mode="r"``) but must copy every member of an archive.
Mapped pages belong to the page cache: clean, shared by every process that
maps the file (gunicorn workers included), and resident only where read.

A directory appears whole or not at all (written under a temporary name, then
renamed), so one that fails to load was damaged afterwards: it is removed, and
the caller rebuilds what it held. Arrays are loaded with ``allow_pickle=False``,
so a file can never run code. A mapped file stays readable after its
directory is removed (the inode lives while mapped), which is what makes
pruning old directories safe under running processes.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import numpy as np

log = logging.getLogger(__name__)
T = TypeVar("T")
_DAMAGE = (OSError, ValueError, KeyError, TypeError, IndexError)


def save_arrays(directory: Path, arrays: Mapping[str, np.ndarray], keep: int) -> bool:
    """Write ``arrays`` as ``directory`` atomically; keep the ``keep`` newest siblings.

    Siblings are directories whose name starts like this one's up to the
    first ``-`` (``index-…``, ``store-…``). False when nothing could be written.
    """
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=".tmp-"))
    except OSError as exc:
        log.info("%s not saved: %s", directory, exc)
        return False
    try:
        for name, array in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        tmp.rename(directory)
    except OSError as exc:  # includes a concurrent writer that renamed first
        log.info("%s not saved: %s", directory, exc)
        shutil.rmtree(tmp, ignore_errors=True)
        return directory.is_dir()
    _prune(directory, keep)
    return True


def _prune(kept: Path, keep: int) -> None:
    prefix = kept.name.split("-", 1)[0] + "-"
    try:
        found = [(p.stat().st_mtime_ns, p) for p in kept.parent.glob(prefix + "*") if p != kept]
    except OSError:
        return
    for _, old in sorted(found, reverse=True)[keep - 1 :]:
        shutil.rmtree(old, ignore_errors=True)


def load_arrays(directory: Path, assemble: Callable[[dict[str, np.ndarray]], T]) -> T | None:
    """``assemble`` applied to the mapped arrays of ``directory``; None if absent or damaged.

    ``assemble`` raises ValueError (or KeyError, TypeError, IndexError) for
    arrays that do not fit together.
    """
    if not directory.is_dir():
        return None
    try:
        arrays = {
            p.stem: np.load(p, mmap_mode="r", allow_pickle=False) for p in directory.glob("*.npy")
        }
        return assemble(arrays)
    except _DAMAGE as exc:
        log.info("%s unusable, rebuilding: %s", directory, exc)
        shutil.rmtree(directory, ignore_errors=True)
        return None
