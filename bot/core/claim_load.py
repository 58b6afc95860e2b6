"""Reading every claim file once: from the parse cache when unchanged, else in parallel.

Why: parsing YAML (PyYAML's constructor is Python even over libyaml) and
validating with pydantic cost ~0.5 ms per claim, so a cold 100,000-claim store
spends most of its start-up here. Unchanged files come from the parse cache
(bot.core.parse_cache) without being read; the rest are parsed and validated
by a pool of processes, one per core, in chunks. Files with a problem are
only flagged here: bot.core.store explains them from the YAML, with lines,
in the main process (they are few, and a person is waiting for the list).

Workers write their results to a file. When this process runs no other
thread, they are forked from it: they start at once, with the parse modules
already imported (a fresh interpreter spends ~0.3 s of CPU importing pydantic
and building the claim schema), and exit with ``os._exit`` so nothing of this
process (buffers, database connections, atexit hooks) is flushed or closed
twice. With other threads alive (a server's watcher reloading the store),
forking could copy a lock one of them holds, so the workers are then fresh
interpreters (``python -c``). Not ``multiprocessing``: its spawned workers
would run the caller's main script again, and its forked ones fork regardless
of threads.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import NamedTuple, NoReturn, Protocol

import numpy as np
from pydantic import ValidationError

from bot.core.array_files import load_arrays
from bot.core.compact import BodyFile, ClaimFacts, ClaimStore
from bot.core.parse_analysis import AnalysisRequest, WorkerAnalysis, request_beside
from bot.core.parse_cache import (
    CacheIndex,
    CacheWriter,
    Entry,
    cache_file,
    digest_of,
    prune_caches,
    stamp_of,
)
from bot.core.schema import Claim
from bot.core.yamlfile import YamlSyntaxError, parse_yaml

log = logging.getLogger(__name__)
PARALLEL_MIN = 400  # fewer files than this parse faster than processes start
_ROOT = Path(__file__).resolve().parents[2]
# The worker when forking is not safe (see the module's docstring).
_WORKER = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from bot.core.claim_load import work; work(*sys.argv[2:])"
)


class Parsed(NamedTuple):
    """One file read and validated; ``facts`` is None when the file has a problem."""

    name: str
    digest: bytes
    facts: bytes | None
    body: bytes


class Row(NamedTuple):
    """A valid claim file: its facts and where its body is in the body file."""

    path: Path
    facts: ClaimFacts
    start: int
    length: int
    digest: bytes  # of the file's bytes


class FileSet(NamedTuple):
    rows: list[Row]  # in file-name order
    broken: list[Path]  # files with a problem, for bot.core.store to explain
    bodies: BodyFile
    content_key: str  # see ClaimStore.content_key
    snapshot_dir: Path | None  # where the store built from these files is (to be) saved
    snapshot: ClaimStore | None = None  # that store, when it was saved and nothing changed


class _Hit(NamedTuple):
    path: Path
    stamp: bytes
    entry: Entry


def parse_one(path: Path) -> Parsed:
    """Read, parse and validate one claim file (in a worker or in this process)."""
    return _parse(path)[0]


def _parse(path: Path) -> tuple[Parsed, Claim | None]:
    """``parse_one``, and the validated claim (None when the file has a problem)."""
    try:
        data = path.read_bytes()
    except OSError:
        return Parsed(path.name, b"", None, b""), None
    digest = digest_of(data)
    try:
        claim = Claim.model_validate(parse_yaml(path, data.decode("utf-8")).data)
    except (UnicodeDecodeError, YamlSyntaxError, ValidationError):
        return Parsed(path.name, digest, None, b""), None
    if claim.id != path.stem:
        return Parsed(path.name, digest, None, b""), None
    body = claim.model_dump_json().encode()
    return Parsed(path.name, digest, ClaimFacts.of(claim).to_json(), body), claim


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def parse_many(
    paths: Sequence[Path], workers: int | None = None, analysis: AnalysisRequest | None = None
) -> Iterator[Parsed]:
    """``parse_one`` over ``paths``, in order; split across processes when it pays off.

    ``analysis``: the processes also analyse their claims for the term index,
    as contiguous parts of ``paths`` (see bot.core.parse_analysis).
    """
    workers = workers or available_cores()
    if workers < 2 or len(paths) < PARALLEL_MIN:
        yield from map(parse_one, paths)
        return
    size = -(-len(paths) // workers)
    parts = [paths[i : i + size] for i in range(0, len(paths), size)]
    with tempfile.TemporaryDirectory(prefix="ai-race-parse-") as tmp:
        if analysis is not None:
            analysis.begin(Path(tmp))
        started = [_start(part, Path(tmp) / str(n)) for n, part in enumerate(parts)]
        for part, (process, out) in zip(parts, started, strict=True):
            yield from _collect(part, process, out, analysis)


class _Process(Protocol):
    """A started worker: ``subprocess.Popen`` or ``_Forked``."""

    @property
    def returncode(self) -> int | None: ...

    def wait(self) -> int: ...


class _Forked:
    """A worker forked from this process (see ``_start``)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def _may_fork() -> bool:
    """Whether a forked worker is safe: no other thread can hold a lock it would inherit."""
    return hasattr(os, "fork") and threading.active_count() == 1


def _start(part: Sequence[Path], out: Path) -> tuple[_Process | None, Path]:
    """A worker process parsing ``part`` into ``out`` (None: it could not be started)."""
    try:
        if _may_fork():
            pid = os.fork()
            if pid == 0:
                _forked_worker(part, out)
            return _Forked(pid), out
        listing = out.with_suffix(".in")
        listing.write_text("\n".join(map(str, part)), encoding="utf-8")
        command = [sys.executable, "-c", _WORKER, str(_ROOT), str(listing), str(out)]
        spec = request_beside(out)
        command += [str(spec)] if spec is not None else []
        return subprocess.Popen(command, stdin=subprocess.DEVNULL), out
    except OSError as exc:
        log.warning("parsing claim files in this process: %s", exc)
        return None, out


def _forked_worker(part: Sequence[Path], out: Path) -> NoReturn:
    """The forked worker's whole life: parse, write, and leave without cleaning up.

    ``os._exit`` skips this process's exit handlers and buffer flushes, which
    belong to the parent. ``gc.freeze()`` puts the inherited objects out of the
    collector's reach: scanning them would cost time and copy their pages.
    """
    code = 1
    try:
        _fresh_signals()
        gc.freeze()
        _write(part, out, request_beside(out))
        code = 0
    except BaseException:  # the parent parses the part itself; say why
        traceback.print_exc()
    finally:
        os._exit(code)


def _fresh_signals() -> None:
    """Signals as a fresh interpreter has them: the parent's handlers are not a worker's.

    A SIGTERM to the process group must end the worker, not run a copy of the
    parent's handler (a server's "stop soon" flag would keep it parsing), and
    a signal must not wake the parent through its inherited wake-up pipe.
    """
    signal.set_wakeup_fd(-1)
    for signum in signal.valid_signals():
        if callable(signal.getsignal(signum)):  # a Python handler, not SIG_DFL / SIG_IGN
            fresh = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
            signal.signal(signum, fresh)


def _collect(
    part: Sequence[Path],
    process: _Process | None,
    out: Path,
    analysis: AnalysisRequest | None = None,
) -> Iterator[Parsed]:
    """The worker's results, or ``part`` parsed here if the worker failed."""
    parsed: list[Parsed] = []
    if process is not None and process.wait() == 0:
        with out.open("rb") as handle:
            for line in handle:
                name, digest, facts, body = line.rstrip(b"\n").split(b"\t", 3)
                parsed.append(Parsed(name.decode(), digest, None if facts == b"-" else facts, body))
    if len(parsed) != len(part):
        if process is not None:
            log.warning("claim parsing process failed (exit %s)", process.returncode)
        parsed = [parse_one(path) for path in part]
        if analysis is not None:
            analysis.lost()
    elif analysis is not None:
        analysis.received(out)
    return iter(parsed)


def work(listing: str, out: str, spec: str | None = None) -> None:
    """A worker process: parse the files listed in ``listing`` into ``out``, one line each.

    The line is the parse cache's format without the stamp; JSON escapes tabs
    and newlines, so neither appears inside a field. ``spec``: see ``_write``.
    """
    paths = Path(listing).read_text(encoding="utf-8").split("\n")
    _write(map(Path, paths), out, Path(spec) if spec else None)


def _write(paths: Iterable[Path], out: str | Path, spec: Path | None = None) -> None:
    """Parse ``paths`` into ``out`` (see ``work``); ``spec``: analyse the claims too."""
    analysis = WorkerAnalysis(spec) if spec is not None else None
    with open(out, "wb") as handle:
        for path in paths:
            if analysis is None:
                parsed, claim = parse_one(path), None
            else:
                parsed, claim = _parse(path)
                if claim is not None:
                    analysis.add(claim)
            fields = (parsed.name.encode(), parsed.digest, parsed.facts or b"-", parsed.body)
            handle.write(b"\t".join(fields) + b"\n")
    if analysis is not None:
        analysis.save(Path(out))


def _cached_facts(entry: Entry) -> ClaimFacts | None:
    try:
        return ClaimFacts.from_json(entry.facts)
    except (ValueError, TypeError):  # a damaged line: parse the file instead
        return None


def _same_content(path: Path, digest: bytes) -> bool:
    try:
        return digest_of(path.read_bytes()) == digest
    except OSError:
        return False


def _sort_out(
    files: Sequence[Path], index: CacheIndex
) -> tuple[list[_Hit], list[tuple[Path, bytes]]]:
    """Files the cache still answers for (same stamp, or same bytes), and the rest.

    Each stamp is taken *before* the file is read, so a file rewritten while
    it is parsed is cached under its old stamp and looked at again next time.
    """
    hits: list[_Hit] = []
    misses: list[tuple[Path, bytes]] = []
    for path in files:
        entry = index.entries.get(path.name)
        try:
            stamp = stamp_of(os.stat(path))
        except OSError:
            stamp, entry = b"-", None  # "-" never equals a real stamp
        if entry is not None and (entry.stamp == stamp or _same_content(path, entry.digest)):
            hits.append(_Hit(path, stamp, entry))
        else:
            misses.append((path, stamp))
    return hits, misses


def _source(target: Path | None) -> Path | None:
    """The cache to read: this directory's, else the newest one beside it.

    Entries are matched by file name and content digest, so another copy's
    cache is as good as this one's: a deploy that clones the claims into a new
    directory starts warm.
    """
    if target is None or target.exists():
        return target
    try:
        others = [(p.stat().st_mtime_ns, p) for p in target.parent.glob("claims-*.jsonl")]
    except OSError:
        return None
    return max(others)[1] if others else None


def _content_key(files: Iterable[tuple[str, bytes]]) -> str:
    """A digest of every valid file's name and content, in name order."""
    h = hashlib.blake2b(digest_size=16)
    for name, digest in files:
        h.update(name.encode() + b"\0" + digest + b"\n")
    return h.hexdigest()


def _snapshot_dir(cache_dir: Path | None, content_key: str, bodies: BodyFile) -> Path | None:
    """Where the store built from these files and this body file is saved."""
    if cache_dir is None:
        return None
    key = hashlib.blake2b(f"{content_key}\0{bodies.identity()}".encode(), digest_size=16)
    return cache_dir / f"store-{key.hexdigest()}"


def _snapshot(found: FileSet, directory: Path, today: date) -> ClaimStore | None:
    """The saved store for ``found``, if any; refused when it holds a date after ``today``."""

    def assemble(state: dict[str, np.ndarray]) -> ClaimStore:
        if int(state["latest"][0]) > today.toordinal():
            raise ValueError("saved store has dates after today")  # an earlier --today
        return ClaimStore.from_state(directory, state, found.bodies, found.content_key)

    if found.snapshot_dir is None:
        return None
    return load_arrays(found.snapshot_dir, assemble)


def _decoded(hits: list[_Hit]) -> tuple[list[Row], list[tuple[Path, bytes]]]:
    """Rows of the hits whose cached facts decode; the others are to be parsed."""
    rows: list[Row] = []
    damaged: list[tuple[Path, bytes]] = []
    for h in hits:
        facts = _cached_facts(h.entry)
        if facts is None or facts.id != h.path.stem:
            damaged.append((h.path, h.stamp))
        else:
            rows.append(Row(h.path, facts, h.entry.body_start, h.entry.body_length, h.entry.digest))
    return rows, damaged


def read_claim_files(
    directory: Path,
    files: Sequence[Path],
    cache_dir: Path | None,
    today: date,
    workers: int | None = None,
    analysis: AnalysisRequest | None = None,
) -> FileSet:
    """Every claim file's facts and body, parsing only what the cache cannot answer for.

    When no file changed since the cache was written and the store built from
    it was saved, that store comes back as ``snapshot`` (no facts decoded).
    ``analysis``: when every file is parsed, the parse workers also analyse the
    claims for the term index (bot.core.parse_analysis).
    """
    target = cache_file(directory, cache_dir) if cache_dir else None
    index = CacheIndex(_source(target))
    hits, misses = _sort_out(files, index)
    unchanged = all(h.stamp == h.entry.stamp for h in hits)
    if index.handle is not None and not misses and unchanged and len(index.entries) == len(hits):
        bodies = BodyFile(handle=index.handle)
        key = _content_key((h.path.name, h.entry.digest) for h in hits)
        found = FileSet([], [], bodies, key, _snapshot_dir(cache_dir, key, bodies))
        snapshot = _snapshot(found, directory, today)
        if snapshot is not None:
            return found._replace(snapshot=snapshot)
        rows, damaged = _decoded(hits)
        if not damaged:
            return found._replace(rows=rows)
    rows, damaged = _decoded(hits)
    stamps = {h.path.name: h.stamp for h in hits}
    # By stem, the store's order (ids are stems), so the workers' parts are its ranges.
    todo = sorted(misses + damaged, key=lambda miss: (miss[0].stem, miss[0].name))
    return _rewrite(target, index, (rows, stamps), todo, (workers, analysis), cache_dir)


def _rewrite(
    target: Path | None,
    index: CacheIndex,
    kept_rows: tuple[list[Row], dict[str, bytes]],
    misses: list[tuple[Path, bytes]],
    workers: tuple[int | None, AnalysisRequest | None],
    cache_dir: Path | None,
) -> FileSet:
    """The next cache file: kept rows copied from the old one (with their current
    stamps), ``misses`` parsed (and analysed when no row is kept)."""
    kept, stamps = kept_rows
    writer = CacheWriter(target)
    rows = []
    for row in kept:
        entry = index.entries[row.path.name]
        body = index.body(entry)
        start = writer.write(row.path.name, stamps[row.path.name], entry.digest, entry.facts, body)
        rows.append(row._replace(start=start))
    index.close()
    broken: list[Path] = []
    count, analysis = workers
    parsed_files = parse_many([path for path, _ in misses], count, None if kept else analysis)
    for (path, stamp), parsed in zip(misses, parsed_files, strict=True):
        if parsed.facts is None:
            broken.append(path)
            continue
        start = writer.write(parsed.name, stamp, parsed.digest, parsed.facts, parsed.body)
        facts = ClaimFacts.from_json(parsed.facts)
        rows.append(Row(path, facts, start, len(parsed.body), parsed.digest))
    rows.sort(key=lambda row: row.path.name)
    log.info("claim files: %d from the parse cache, %d parsed", len(kept), len(misses))
    bodies = BodyFile(handle=writer.finish())
    if target is not None:
        prune_caches(target)
    key = _content_key((row.path.name, row.digest) for row in rows)
    return FileSet(rows, broken, bodies, key, _snapshot_dir(cache_dir, key, bodies))
