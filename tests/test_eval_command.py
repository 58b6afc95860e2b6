"""``ai-race eval``: the numbers a claim author reads after adding aliases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main


def _tsv(tmp_path: Path, rows: list[tuple[str, str]]) -> Path:
    path = tmp_path / "queries.tsv"
    lines = ["query\texpected\tstyle"] + [f"{q}\t{e}\tx" for q, e in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_scores_hits_misses_and_negatives(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _tsv(
        tmp_path,
        [
            ("jensen huang", "huang-deepseek"),  # a hit at rank 1
            ("jensen huang", "hassabis-no-breakthroughs"),  # a miss: something else came back
            ("where are we going for lunch", ""),  # a negative, rightly unanswered
            ("hassabis :fire:", "hassabis-no-breakthroughs"),
        ],
    )
    assert main(["eval", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["positives"], report["negatives"]) == (3, 1)
    assert report["recall_at_3"] == pytest.approx(2 / 3, abs=1e-3)
    assert report["recall_at_1"] == pytest.approx(2 / 3, abs=1e-3)
    assert report["negatives_answered"] == 0
    [miss] = report["misses"]
    assert miss["line"] == 3 and miss["expected"] == ["hassabis-no-breakthroughs"]
    assert miss["returned"][0] == "huang-deepseek"


def test_text_report_names_each_miss(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _tsv(tmp_path, [("jensen huang", "hassabis-no-breakthroughs")])
    assert main(["eval", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Recall@1 0.000  Recall@3 0.000" in out
    assert "line 2: 'jensen huang': wanted hassabis-no-breakthroughs, got huang-deepseek" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("a\tb\nx\ty\n", "line 1: the header needs 'query' and 'expected' columns"),
        ("query\texpected\n\thuang-deepseek\n", "line 2: empty query"),
        ("query\texpected\njensen\tno-such-claim\n", "line 2: unknown claim id 'no-such-claim'"),
    ],
)
def test_bad_files_get_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture, content: str | None, message: str
) -> None:
    path = tmp_path / "q.tsv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main(["eval", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
