"""The ``ai-race`` command line on the bundled store.

In-process through ``bot.cli.main`` (tests/support/cli.py), except batch mode,
which runs as a real process reading a real pipe.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bot.core.store import REPO_CLAIMS
from tests.support.cli import Runner, cli_runner


@pytest.fixture
def ai_race(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Runner:
    return cli_runner(monkeypatch, capsys)


def test_ask_prints_a_readable_sourced_answer(ai_race: Runner) -> None:
    done = ai_race("ask", "hassabis")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("1. ")
    for part in ("Evidence:", "Sources:", "https://", "Contrasts with:", "Why it matched:"):
        assert part in out, part
    assert "seedance-audio-video" in out  # the contrasting claim is named


def test_ask_json_format(ai_race: Runner) -> None:
    done = ai_race("ask", "--json", "--limit", "2", "open", "source")
    payload = json.loads(done.stdout)
    assert set(payload) >= {"query", "matches", "suggestions"}
    assert payload["query"] == "open source"
    assert 1 <= len(payload["matches"]) <= 2
    first = payload["matches"][0]
    assert isinstance(first["id"], str) and isinstance(first["score"], float)
    assert first["reason"]
    assert [m["score"] for m in payload["matches"]] == sorted(
        (m["score"] for m in payload["matches"]), reverse=True
    )


def test_ask_json_no_match_has_suggestions(ai_race: Runner) -> None:
    payload = json.loads(ai_race("ask", "--json", "lunch menu for friday").stdout)
    assert payload["matches"] == []
    assert payload["suggestions"]


def test_batch_mode_reads_stdin_one_query_per_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json"],
        input="distilation\n\nkubernetes upgrade\njensen\n",
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
        timeout=60,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    # One output line per input line, the blank one included, so answers line up with queries.
    assert [line["query"] for line in lines] == ["distilation", "", "kubernetes upgrade", "jensen"]
    assert lines[0]["matches"][0]["id"] == "distillation-efficiency"
    assert lines[1] == {"query": "", "matches": [], "suggestions": []}
    assert lines[2]["matches"] == []
    assert lines[3]["matches"][0]["id"] == "huang-deepseek"


def test_claims_dir_from_environment(ai_race: Runner, tmp_path) -> None:
    empty = tmp_path / "nothing"
    empty.mkdir()
    done = ai_race("ask", "distillation", AI_RACE_CLAIMS=str(empty))
    assert done.returncode == 1
    assert "no claim files" in done.stderr
    assert "Traceback" not in done.stderr
    ok = ai_race("ask", "--json", "distillation", AI_RACE_CLAIMS=str(REPO_CLAIMS))
    assert json.loads(ok.stdout)["matches"]


def test_bad_limit_is_a_clear_usage_error(ai_race: Runner) -> None:
    done = ai_race("ask", "--limit", "zero", "x")
    assert done.returncode == 2
    assert "expected a whole number" in done.stderr


def test_topics_lists_counts(ai_race: Runner) -> None:
    lines = ai_race("topics").stdout.splitlines()
    counts = [int(line.split()[0]) for line in lines]
    assert counts == sorted(counts, reverse=True)
    assert any(line.split(maxsplit=1)[1] == "distillation" for line in lines)


def test_terminal_answers_show_what_each_source_shows_and_fit_the_width(ai_race: Runner) -> None:
    done = ai_race("ask", "open", "source", "strategy", COLUMNS="60")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("       shows: ") for line in lines)
    assert any(line.startswith("   See also: ") for line in lines)
    # Prose is wrapped; only headlines and URLs (never broken) may run longer.
    long = [line for line in lines if len(line) > 60]
    assert all(line.startswith(("     - ", "       http")) for line in long), long


def test_compact_answers_are_one_line_per_match(ai_race: Runner) -> None:
    done = ai_race("ask", "--compact", "--limit", "3", "open", "source", COLUMNS="80")
    lines = done.stdout.strip().splitlines()
    assert 1 <= len(lines) <= 3 and lines[0].startswith("1. ")
    assert all(len(line) <= 80 for line in lines)
    rank, confidence, claim_id = lines[0].split()[:3]
    assert (rank, confidence) == ("1.", "strong") and claim_id.startswith("open-source")
