"""Every kind of broken claim file is reported with its file, line and field."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from bot.core.catalog import CatalogHolder, load_catalog
from bot.core.problems import StoreError
from bot.core.store import REPO_CLAIMS, load_store, validate_dir
from tests.support.cli import cli_runner

TODAY = date(2026, 11, 24)


def _edit(path: Path, old: str, new: str) -> int:
    """Replace ``old`` once and return the 1-based line where the change sits."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1))
    return line


def _only_problem(directory: Path):
    store, problems = validate_dir(directory, today=TODAY)
    assert store is None
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_bundled_claims_are_valid() -> None:
    store, problems = validate_dir(REPO_CLAIMS)
    assert problems == []
    assert store is not None and len(store) == 11


def test_yaml_syntax_error_names_file_and_line(store_dir: Path) -> None:
    path = store_dir / "tsai-adoption-marathon.yaml"
    line = _edit(path, "evidence:\n", "evidence: [unclosed\n")
    problem = _only_problem(store_dir)
    assert problem.path == str(path)
    assert problem.field == "(file)"
    assert "invalid YAML" in problem.message
    assert problem.line is not None and abs(problem.line - line) <= 2


def test_unknown_field_names_its_line(store_dir: Path) -> None:
    path = store_dir / "sora2-audio-tell.yaml"
    line = _edit(path, "summary:", "sumary: oops\nsummary:")
    store, problems = validate_dir(store_dir, today=TODAY)
    assert store is None
    unknown = [p for p in problems if p.field == "sumary"]
    assert len(unknown) == 1
    assert unknown[0].line == line and unknown[0].path == str(path)
    assert "unknown field" in unknown[0].message


def test_missing_field_points_at_parent(store_dir: Path) -> None:
    path = store_dir / "video-is-the-moat.yaml"
    text = path.read_text()
    start = text.index("evidence:")
    note_start = text.index("  note:", start)
    note_end = text.index("\n", note_start) + 1
    path.write_text(text[:note_start] + text[note_end:])
    problem = _only_problem(store_dir)
    assert problem.field == "evidence.note"
    assert problem.message == "required field is missing"
    assert problem.line == text[:start].count("\n") + 1


def test_wrong_type_and_bad_enum(store_dir: Path) -> None:
    path = store_dir / "huang-deepseek.yaml"
    text = path.read_text()
    level_line = text[: text.index("  level:")].count("\n") + 1
    _edit(
        path,
        text[text.index("  level:") : text.index("\n", text.index("  level:"))],
        "  level: certain",
    )
    problem = _only_problem(store_dir)
    assert (problem.field, problem.line) == ("evidence.level", level_line)
    assert "strong" in problem.message


def test_invalid_url_names_the_source(store_dir: Path) -> None:
    path = store_dir / "tiktok-creation-engine.yaml"
    text = path.read_text()
    first_url = text[text.index("url:") : text.index("\n", text.index("url:"))]
    line = _edit(path, first_url, "url: not-a-link")
    problem = _only_problem(store_dir)
    assert problem.field == "sources[0].url"
    assert problem.line == line
    assert problem.path == str(path)


def test_id_must_match_file_name(store_dir: Path) -> None:
    path = store_dir / "society-wide-adoption.yaml"
    line = _edit(path, "id: society-wide-adoption", "id: society-adoption")
    store, problems = validate_dir(store_dir, today=TODAY)
    assert store is None
    mismatch = [p for p in problems if p.path == str(path)]
    assert mismatch[0].field == "id" and mismatch[0].line == line
    assert "differs from the file name" in mismatch[0].message


def test_duplicate_ids_are_reported(store_dir: Path) -> None:
    original = store_dir / "open-source-strategy.yaml"
    twin = store_dir / "open-source-strategy.yml"
    twin.write_text(original.read_text())
    problem = _only_problem(store_dir)
    assert problem.field == "id" and problem.line == 1
    assert "duplicate id 'open-source-strategy'" in problem.message
    assert str(original) in problem.message or str(twin) in problem.message


def test_dangling_related_id(store_dir: Path) -> None:
    path = store_dir / "hassabis-no-breakthroughs.yaml"
    text = path.read_text()
    related_id = text.index("- id:", text.index("related:"))
    line = text[:related_id].count("\n") + 1
    end = text.index("\n", related_id)
    path.write_text(text[:related_id] + "- id: no-such-claim" + text[end:])
    problem = _only_problem(store_dir)
    assert (problem.field, problem.line) == ("related[0].id", line)
    assert "no claim with id 'no-such-claim'" in problem.message


def test_future_date_is_refused(store_dir: Path) -> None:
    path = store_dir / "open-source-leaderboards.yaml"
    line = _edit(path, "reviewed: 2026-11-24", "reviewed: 2027-01-01")
    problem = _only_problem(store_dir)
    assert (problem.field, problem.line) == ("reviewed", line)
    assert "in the future" in problem.message


def test_every_problem_is_reported_in_one_run(store_dir: Path) -> None:
    _edit(store_dir / "tsai-adoption-marathon.yaml", "summary:", "sumary: x\nsummary:")
    _edit(store_dir / "sora2-audio-tell.yaml", "reviewed: 2026-11-24", "reviewed: 2099-01-01")
    (store_dir / "broken.yaml").write_text("id: [\n")
    _store, problems = validate_dir(store_dir, today=TODAY)
    files = {Path(p.path).name for p in problems}
    assert files == {"tsai-adoption-marathon.yaml", "sora2-audio-tell.yaml", "broken.yaml"}


def test_non_mapping_and_empty_files(store_dir: Path) -> None:
    (store_dir / "empty.yaml").write_text("")
    (store_dir / "listy.yaml").write_text("- a\n- b\n")
    _store, problems = validate_dir(store_dir, today=TODAY)
    messages = {Path(p.path).name: p.message for p in problems}
    assert "got empty" in messages["empty.yaml"]
    assert "got a list" in messages["listy.yaml"]


def test_cli_validate_exit_codes(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ai_race = cli_runner(monkeypatch, capsys)
    ok = ai_race("claims", "validate", str(store_dir))
    assert ok.returncode == 0, ok.stderr
    assert "11 claims OK" in ok.stdout
    path = store_dir / "seedance-audio-video.yaml"
    line = _edit(path, "summary:", "sumary: x\nsummary:")
    bad = ai_race("claims", "validate", str(store_dir))
    assert bad.returncode == 1
    assert f"{path}:{line}: sumary: unknown field" in bad.stdout


def test_load_refuses_a_broken_store(store_dir: Path) -> None:
    _edit(store_dir / "sora2-audio-tell.yaml", "id: sora2-audio-tell", "id: Not A Slug")
    with pytest.raises(StoreError) as caught:
        load_store(store_dir, today=TODAY)
    assert any(p.field == "id" for p in caught.value.problems)


def test_reload_keeps_last_good_store(store_dir: Path) -> None:
    holder = CatalogHolder(load_catalog(store_dir))
    before = holder.current
    path = store_dir / "tiktok-creation-engine.yaml"
    good_text = path.read_text()
    _edit(path, "summary:", "sumary: x\nsummary:")
    problems = holder.reload()
    assert [p.field for p in problems] == ["sumary"]
    assert holder.current is before
    assert holder.current.matcher.search("tiktok").found

    path.write_text(good_text)
    extra = good_text.replace("id: tiktok-creation-engine", "id: tiktok-copy", 1)
    extra = extra[: extra.index("related:")] + extra[extra.index("added:") :]
    (store_dir / "tiktok-copy.yaml").write_text(extra)
    assert holder.reload() == []
    assert len(holder.current.store) == 12


def test_readme_example_claim_is_valid(tmp_path: Path) -> None:
    readme = (REPO_CLAIMS.parent / "README.md").read_text()
    start = readme.index("```yaml\nid: ") + len("```yaml\n")
    example = readme[start : readme.index("```", start)]
    directory = tmp_path / "claims"
    shutil.copytree(REPO_CLAIMS, directory)
    (directory / "hassabis-no-breakthroughs.yaml").write_text(example)
    store, problems = validate_dir(directory, today=TODAY)
    assert problems == [] and store is not None


def test_parse_cache_skips_unchanged_files_and_sees_changes(
    store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.core.claim_load as load_module

    cache = tmp_path / "cache"
    parsed: list[str] = []
    real_parse = load_module.parse_yaml

    def counting_parse(path: Path, text: str):
        parsed.append(path.name)
        return real_parse(path, text)

    monkeypatch.setattr(load_module, "parse_yaml", counting_parse)
    first, _ = validate_dir(store_dir, today=TODAY, cache_dir=cache)
    assert len(parsed) == 11 and list(cache.glob("claims-*.jsonl"))
    parsed.clear()
    second, _ = validate_dir(store_dir, today=TODAY, cache_dir=cache)
    assert parsed == []  # every file came from the cache
    assert first is not None and second is not None
    assert [c.model_dump() for c in first] == [c.model_dump() for c in second]

    line = _edit(store_dir / "tiktok-creation-engine.yaml", "summary:", "sumary: x\nsummary:")
    store, problems = validate_dir(store_dir, today=TODAY, cache_dir=cache)
    assert parsed == ["tiktok-creation-engine.yaml"]
    assert store is None and [(p.field, p.line) for p in problems] == [("sumary", line)]


def test_unreadable_cache_falls_back_to_yaml(store_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    validate_dir(store_dir, today=TODAY, cache_dir=cache)
    for file in cache.glob("claims-*.jsonl"):
        file.write_text("{not json")
    store, problems = validate_dir(store_dir, today=TODAY, cache_dir=cache)
    assert problems == [] and store is not None and len(store) == 11


def test_reload_if_changed_notices_new_files_only(store_dir: Path) -> None:
    holder = CatalogHolder(load_catalog(store_dir))
    before = holder.current
    assert holder.reload_if_changed() == [] and holder.current is before  # nothing changed
    text = (store_dir / "tiktok-creation-engine.yaml").read_text()
    text = text.replace("id: tiktok-creation-engine", "id: tiktok-second", 1)
    (store_dir / "tiktok-second.yaml").write_text(
        text[: text.index("related:")] + text[text.index("added:") :]
    )
    assert holder.reload_if_changed() == []
    assert holder.current is not before and len(holder.current.store) == 12


def test_a_duplicate_key_is_an_error_at_its_line_not_a_silent_overwrite(store_dir: Path) -> None:
    path = store_dir / "sora2-audio-tell.yaml"
    line = _edit(path, "summary:", "summary: first version\nsummary:")
    problem = _only_problem(store_dir)
    assert (problem.path, problem.line) == (str(path), line + 1)
    assert f"'summary' is given twice (also on line {line})" in problem.message


def test_a_file_given_as_the_directory_says_so(store_dir: Path) -> None:
    path = store_dir / "sora2-audio-tell.yaml"
    store, problems = validate_dir(path, today=TODAY)
    assert store is None
    assert [p.message for p in problems] == [
        "is a file, not a directory: give the directory that holds the claim files"
    ]


def test_messages_say_how_to_fix_in_our_words(store_dir: Path) -> None:
    from bot.core.schema import TITLE_MAX

    path = store_dir / "sora2-audio-tell.yaml"
    _edit(path, "summary:", "sumary: x\nsummary:")
    text = path.read_text()
    reviewed = next(line for line in text.splitlines() if line.startswith("reviewed:"))
    _edit(path, reviewed, "reviewed: next week")
    title = next(line for line in text.splitlines() if line.startswith("title:"))
    _edit(path, title, "title: " + "t" * (TITLE_MAX + 7))
    _edit(path, "  - url:", "  - titel: x\n    url:")
    store, problems = validate_dir(store_dir, today=TODAY)
    assert store is None
    messages = {p.field: p.message for p in problems}
    assert messages["sumary"] == "unknown field 'sumary' — did you mean 'summary'?"
    assert messages["sources[0].titel"] == "unknown field 'titel' — did you mean 'title'?"
    assert messages["reviewed"] == "expected a date like 2026-11-24, got 'next week'"
    limit = f"title is {TITLE_MAX + 7} characters; the limit is {TITLE_MAX}"
    assert messages["title"] == limit
