"""The compact store answers like the validated claims it was built from."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from claim_factory import claim_data, write_store

from bot.core.compact import ClaimFacts
from bot.core.parse_cache import cache_file
from bot.core.schema import Claim, Relation
from bot.core.store import REPO_CLAIMS, validate_dir
from bot.core.yamlfile import read_yaml
from bot.digest.rotation import SentRecord, choose_claims


def _validated(directory: Path) -> list[Claim]:
    """The oracle: every file validated by pydantic straight from its YAML."""
    return [Claim.model_validate(read_yaml(p).data) for p in sorted(directory.glob("*.yaml"))]


@pytest.fixture()
def repo_store(tmp_path: Path):
    directory = tmp_path / "claims"
    shutil.copytree(REPO_CLAIMS, directory)
    store, problems = validate_dir(directory, cache_dir=tmp_path / "cache")
    assert problems == [] and store is not None
    return store, _validated(directory)


def test_every_claim_reads_back_as_validated(repo_store) -> None:
    store, claims = repo_store
    by_id = {c.id: c for c in claims}
    assert list(store.ids) == sorted(by_id)
    for index, claim_id in enumerate(store.ids):
        assert store.claim_at(index).model_dump() == by_id[claim_id].model_dump()
        assert store.claims[index].id == claim_id
    assert store.get("no-such-claim") is None
    assert store.body_bytes > 0


def test_whole_store_views_agree_with_the_claims(repo_store) -> None:
    store, claims = repo_store
    counts = Counter(t for c in claims for t in c.topics)
    assert store.topic_counts() == sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    newest = sorted(claims, key=lambda c: (c.last_touched, c.id), reverse=True)
    assert [c.id for c in store.recent(4)] == [c.id for c in newest[:4]]
    for claim in claims:
        for relation in Relation:
            expected = set(claim.related_ids(relation)) | {
                c.id for c in claims if claim.id in c.related_ids(relation)
            }
            assert {c.id for c in store.related(claim, relation)} == expected


def test_digest_rotation_over_rows_picks_what_it_picks_over_claims(repo_store) -> None:
    store, claims = repo_store
    history = [SentRecord(claims[0].id, 1, claims[0].last_touched)]
    for topics in (None, [claims[3].topics[0]]):
        rows = choose_claims(store.rows(), 4, history, topics=topics)
        full = choose_claims(claims, 4, history, topics=topics)
        assert rows.claim_ids == full.claim_ids and rows.cycles == full.cycles
        assert [c.id for c in store.get_many(rows.claim_ids)] == full.claim_ids


def test_ids_sort_unlike_file_names(tmp_path: Path) -> None:
    """ "a-b.yaml" sorts before "a.yaml", but id "a" before "a-b": indices follow ids."""
    summary = "A summary that is long enough to pass."
    directory = write_store(
        tmp_path / "claims",
        [
            claim_data("ai", "The short one here", summary, topics=["one"]),
            claim_data(
                "ai-race",
                "The longer one here",
                summary,
                topics=["two"],
                related=[{"id": "ai", "relation": "supports"}],
            ),
        ],
    )
    store, problems = validate_dir(directory, cache_dir=None)
    assert problems == [] and store is not None
    assert store.ids == ("ai", "ai-race")
    assert [c.title for c in store] == ["The short one here", "The longer one here"]
    assert store.topics_at(0) == ("one",) and store.topics_at(1) == ("two",)
    short = store.get("ai")
    assert short is not None
    assert [c.id for c in store.related(short, Relation.SUPPORTS)] == ["ai-race"]


# ---------------------------------------------------------------- parse cache


@pytest.fixture()
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the files parsed from YAML in this process, in order."""
    import bot.core.claim_load as load_module

    seen: list[str] = []
    real_parse = load_module.parse_yaml

    def counting_parse(path: Path, text: str):
        seen.append(path.name)
        return real_parse(path, text)

    monkeypatch.setattr(load_module, "parse_yaml", counting_parse)
    return seen


def _dump(store) -> list[dict]:
    return [claim.model_dump() for claim in store]


def test_a_fresh_copy_of_the_directory_is_served_from_the_cache(
    tmp_path: Path, parses: list[str]
) -> None:
    """A clone or copy has new inodes, ctimes and path: the content digest still matches."""
    first_dir = tmp_path / "claims"
    shutil.copytree(REPO_CLAIMS, first_dir)
    cache = tmp_path / "cache"
    first, _ = validate_dir(first_dir, cache_dir=cache)
    assert len(parses) == len(list(REPO_CLAIMS.glob("*.yaml")))
    parses.clear()
    copy = tmp_path / "deploy" / "claims"
    shutil.copytree(first_dir, copy, copy_function=shutil.copy)  # new inodes and mtimes
    assert (copy / CLAIM).stat().st_ino != (first_dir / CLAIM).stat().st_ino
    second, problems = validate_dir(copy, cache_dir=cache)
    assert problems == [] and parses == []
    assert first is not None and second is not None and _dump(second) == _dump(first)


CLAIM = "tiktok-creation-engine.yaml"


def test_one_changed_file_is_the_only_one_parsed(tmp_path: Path, parses: list[str]) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(REPO_CLAIMS, directory)
    cache = tmp_path / "cache"
    validate_dir(directory, cache_dir=cache)
    parses.clear()
    path = directory / CLAIM
    lines = path.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("title:"))
    lines[at] = "title: Edited — short video apps became creation engines\n"
    path.write_text("".join(lines))
    store, problems = validate_dir(directory, cache_dir=cache)
    assert problems == [] and store is not None
    assert parses == [CLAIM]
    edited = store.get(path.stem)
    assert edited is not None and edited.title.startswith("Edited —")
    parses.clear()
    again, _ = validate_dir(directory, cache_dir=cache)  # the edit was cached in turn
    assert parses == [] and again is not None and _dump(again) == _dump(store)


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: "{not json",
        lambda text: text[: len(text) // 2],  # cut short mid-line
        lambda text: text.replace("\t", " ", 40),  # lines with too few fields
        lambda text: text.replace('["', '[{"', 5),  # facts that are not a row
    ],
    ids=["garbage", "truncated", "fields", "facts"],
)
def test_a_damaged_cache_is_ignored_and_rewritten(tmp_path: Path, damage, parses) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(REPO_CLAIMS, directory)
    cache = tmp_path / "cache"
    clean, _ = validate_dir(directory, cache_dir=cache, today=date(2026, 11, 24))
    assert clean is not None
    expected = _dump(clean)  # before the damage: the store reads bodies from that file
    for file in cache.glob("claims-*.jsonl"):
        file.write_text(damage(file.read_text(encoding="utf-8")), encoding="utf-8")
    parses.clear()
    store, problems = validate_dir(directory, cache_dir=cache, today=date(2026, 11, 24))
    assert problems == [] and store is not None
    assert _dump(store) == expected and parses  # some files were parsed again
    parses.clear()
    validate_dir(directory, cache_dir=cache, today=date(2026, 11, 24))
    assert parses == []  # and the rewritten cache serves them all


def test_worker_processes_parse_like_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.core.claim_load as load_module

    directory = tmp_path / "claims"
    shutil.copytree(REPO_CLAIMS, directory)
    broken = directory / CLAIM
    broken.write_text(broken.read_text().replace("summary:", "sumary: x\nsummary:", 1))
    alone, alone_problems = validate_dir(directory, cache_dir=None, workers=1)
    monkeypatch.setattr(load_module, "PARALLEL_MIN", 2)
    started: list[int] = []
    real_start = load_module._start

    def counting_start(part, out):
        started.append(len(part))
        return real_start(part, out)

    monkeypatch.setattr(load_module, "_start", counting_start)
    pooled, pooled_problems = validate_dir(directory, cache_dir=tmp_path / "cache", workers=2)
    assert len(started) == 2 and sum(started) == len(list(directory.glob("*.yaml")))
    assert alone is None and pooled is None
    assert pooled_problems == alone_problems and [p.field for p in pooled_problems] == ["sumary"]
    broken.write_text(broken.read_text().replace("sumary: x\n", "", 1))
    fixed, problems = validate_dir(directory, cache_dir=tmp_path / "cache", workers=2)
    expected, _ = validate_dir(directory, cache_dir=None, workers=1)
    assert problems == [] and fixed is not None and expected is not None
    assert _dump(fixed) == _dump(expected)


# Loads a store with two workers in a fresh process, every parse_one call
# recorded with its process id: a forked worker inherits the recording
# parse_one, a fresh interpreter does not. "thread": another thread is alive;
# "failing": parse_one fails outside this process (a worker that breaks);
# "signal": this process handles SIGTERM, and each worker gets one.
_WORKERS = """
import hashlib, json, os, signal, sys, threading
from pathlib import Path
import bot.core.claim_load as load
from bot.core.store import validate_dir

parent, real, log = os.getpid(), load.parse_one, Path(sys.argv[2])

def recorded(path):
    with log.open("a") as handle:
        handle.write(f"{os.getpid()}\\n")
    if sys.argv[3] == "failing" and os.getpid() != parent:
        raise RuntimeError("this worker breaks")
    if sys.argv[3] == "signal" and os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)
    return real(path)

def handled(signum, frame):
    with log.open("a") as handle:
        handle.write(f"{-os.getpid()}\\n")  # negative: the parent's handler ran here

signal.signal(signal.SIGTERM, handled)

load.parse_one, load.PARALLEL_MIN = recorded, 2
if sys.argv[3] == "thread":
    threading.Thread(target=threading.Event().wait, daemon=True).start()
store, problems = validate_dir(Path(sys.argv[1]), cache_dir=None, workers=2)
bodies = b"".join(claim.model_dump_json().encode() for claim in store)
print(json.dumps([parent, len(store), hashlib.sha256(bodies).hexdigest(), len(problems)]))
"""


@pytest.mark.parametrize("mode", ["alone", "thread", "failing", "signal"])
def test_workers_fork_only_without_other_threads(tmp_path: Path, mode: str) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(REPO_CLAIMS, directory)
    expected, _ = validate_dir(directory, cache_dir=None, workers=1)
    assert expected is not None
    log = tmp_path / "parsed.log"
    done = subprocess.run(
        [sys.executable, "-c", _WORKERS, str(directory), str(log), mode],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    parent, size, digest, problems = json.loads(done.stdout.splitlines()[-1])
    bodies = b"".join(claim.model_dump_json().encode() for claim in expected)
    assert (size, digest, problems) == (len(expected), hashlib.sha256(bodies).hexdigest(), 0)
    pids = Counter(int(line) for line in log.read_text().split()) if log.exists() else Counter()
    if mode == "alone":  # two forked workers parsed every file; this process none
        assert len(pids) == 2 and parent not in pids and pids.total() == len(expected)
    elif mode == "thread":  # fresh interpreters, which know nothing of the recording
        assert pids == Counter()
    elif mode == "failing":  # each forked worker failed on its first file: parsed here
        assert pids[parent] == len(expected) and pids.total() == len(expected) + 2
        assert done.stderr.count("RuntimeError: this worker breaks") == 2
    else:  # SIGTERM ended each forked worker, not the parent's handler: parsed here
        assert pids[parent] == len(expected) and pids.total() == len(expected) + 2
        assert min(pids) > 0  # the handler never ran (it records a negative pid)
        assert "exit -15" in done.stderr


# ------------------------------------------------------------ the saved store


@pytest.fixture()
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts claims whose cached facts were decoded (the path without a saved store)."""
    seen: list[int] = []
    real = ClaimFacts.from_json.__func__  # type: ignore[attr-defined]

    def counting(cls, data: bytes) -> ClaimFacts:
        seen.append(1)
        return real(cls, data)

    monkeypatch.setattr(ClaimFacts, "from_json", classmethod(counting))
    return seen


def test_a_restart_with_nothing_changed_reads_the_saved_store(
    tmp_path: Path, parses: list[str], decodes: list[int]
) -> None:
    directory = tmp_path / "claims"
    shutil.copytree(REPO_CLAIMS, directory)
    cache = tmp_path / "cache"
    first, _ = validate_dir(directory, cache_dir=cache)
    parses.clear()
    decodes.clear()
    second, problems = validate_dir(directory, cache_dir=cache)
    assert problems == [] and parses == [] and decodes == []  # columns loaded, not rebuilt
    assert first is not None and second is not None
    assert _dump(second) == _dump(first) and second.content_key == first.content_key
    assert second.topic_counts() == first.topic_counts() and second.rows() == first.rows()
    for snapshot in cache.glob("store-*"):  # damaged: rebuilt from the cached facts
        (snapshot / "ids.npy").write_bytes(b"garbage")
    third, problems = validate_dir(directory, cache_dir=cache)
    assert problems == [] and third is not None and _dump(third) == _dump(first)
    assert parses == [] and len(decodes) == len(first)


def test_the_saved_store_is_not_used_for_an_earlier_today(tmp_path: Path) -> None:
    """A claim valid today is dated in the future for ``--today`` a year ago."""
    directory = tmp_path / "claims"
    shutil.copytree(REPO_CLAIMS, directory)
    cache = tmp_path / "cache"
    store, _ = validate_dir(directory, cache_dir=cache)
    assert store is not None
    latest = max(store.last_touched(i) for i in range(len(store)))
    earlier = date(latest.year - 1, 1, 1)
    store, problems = validate_dir(directory, cache_dir=cache, today=earlier)
    assert store is None and problems and all("in the future" in p.message for p in problems)


def test_parse_caches_of_old_checkouts_are_pruned(tmp_path: Path) -> None:
    """A deploy that checks the claims out to a new path each time keeps three caches."""
    cache = tmp_path / "cache"
    for release in range(5):
        directory = tmp_path / f"release-{release}" / "claims"
        shutil.copytree(REPO_CLAIMS, directory, copy_function=shutil.copy)
        store, problems = validate_dir(directory, cache_dir=cache)
        assert problems == [] and store is not None
    kept = list(cache.glob("claims-*.jsonl"))
    assert len(kept) == 3
    assert cache_file(directory, cache) in kept
    assert store.get(store.ids[0]) is not None  # its body file is among those kept
