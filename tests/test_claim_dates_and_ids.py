"""``claims validate``: cross-field and cross-file problems point at the field to fix.

A comparison (``reviewed`` before ``added``, a date after today, one id in two
files) is reported at the line of the field that is wrong, with its own
message, and never in place of the problems of single fields.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from bot.core.problems import Problem
from bot.core.store import validate_dir

TODAY = date(2026, 11, 24)
CLAIM = "sora2-audio-tell"


def _set(path: Path, field: str, value: str) -> int:
    """Give top-level ``field`` a new value; return the 1-based line it stands on."""
    lines = path.read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(f"{field}:"))
    lines[index] = f"{field}: {value}"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return index + 1


def _problems(directory: Path) -> list[Problem]:
    store, problems = validate_dir(directory, today=TODAY, cache_dir=None)
    assert store is None and problems
    return problems


def test_a_future_added_is_reported_at_its_line_with_its_own_message(store_dir: Path) -> None:
    path = store_dir / f"{CLAIM}.yaml"
    line = _set(path, "added", "2027-01-05")  # reviewed stays 2026-11-24, now before added
    assert [(p.path, p.line, p.field, p.message) for p in _problems(store_dir)] == [
        (str(path), line, "added", "date 2027-01-05 is in the future (today is 2026-11-24)")
    ]


def test_reviewed_before_added_is_reported_at_the_reviewed_line(store_dir: Path) -> None:
    path = store_dir / f"{CLAIM}.yaml"
    _set(path, "added", "2026-06-01")
    line = _set(path, "reviewed", "2026-05-01")
    [problem] = _problems(store_dir)
    assert (problem.path, problem.line, problem.field) == (str(path), line, "reviewed")
    assert problem.message.startswith("reviewed 2026-05-01 is earlier than added 2026-06-01")


def test_date_order_does_not_hide_a_field_error(store_dir: Path) -> None:
    path = store_dir / f"{CLAIM}.yaml"
    _set(path, "added", "2027-01-05")
    title_line = _set(path, "title", "x" * 90)
    found = {(p.line, p.field) for p in _problems(store_dir) if p.path == str(path)}
    assert (title_line, "title") in found
    assert all(line != 1 for line, _ in found), "nothing is blamed on line 1 of the file"


def test_a_claim_related_to_itself_is_reported_at_related(store_dir: Path) -> None:
    path = store_dir / "hassabis-no-breakthroughs.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("  - id: seedance-audio-video", "  - id: hassabis-no-breakthroughs", 1),
        encoding="utf-8",
    )
    related = text.splitlines().index("related:") + 1
    [problem] = _problems(store_dir)
    assert (problem.line, problem.field) == (related, "related")
    assert problem.message == "related[0] links the claim to itself; remove that entry"


def test_a_duplicate_id_blames_the_later_file_and_names_the_earlier(store_dir: Path) -> None:
    first = store_dir / f"{CLAIM}.yaml"
    later = store_dir / f"{CLAIM}.yml"  # sorts after .yaml
    shutil.copy(first, later)
    [problem] = _problems(store_dir)
    assert (problem.path, problem.line, problem.field) == (str(later), 1, "id")
    assert problem.message == f"duplicate id '{CLAIM}', already used by {first}"


def test_a_missing_directory_and_a_file_each_say_what_they_are(store_dir: Path) -> None:
    missing = store_dir / "no-such-dir"
    assert [p.message for p in _problems(missing)] == ["claim directory does not exist"]
    a_file = store_dir / f"{CLAIM}.yaml"
    assert [p.message for p in _problems(a_file)] == [
        "is a file, not a directory: give the directory that holds the claim files"
    ]


def test_date_order_is_checked_on_a_warm_parse_cache_too(store_dir: Path, tmp_path: Path) -> None:
    path = store_dir / f"{CLAIM}.yaml"
    _set(path, "added", "2026-06-01")
    line = _set(path, "reviewed", "2026-05-01")
    for _ in range(2):  # the second load reads the claim's facts from the cache
        store, problems = validate_dir(store_dir, today=TODAY, cache_dir=tmp_path / "cache")
        assert store is None
        assert [(p.line, p.field) for p in problems] == [(line, "reviewed")]
