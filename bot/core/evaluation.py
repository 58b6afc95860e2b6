"""How well the matcher answers a set of labelled queries: the claim author's check.

After adding aliases or claims, run ``ai-race eval tests/data/eval_tuning.tsv``:
Recall@1 and @3, MRR, how many off-topic queries were answered, and for every
miss what came back instead. The file is the TSV of ``tests/data/``: a header
row with at least ``query`` and ``expected`` (claim ids, best first, comma
separated; empty for a query no claim should answer), any other columns
ignored. A hit is the *first* listed id among the top 3, as in the tests.

Pure: rows in, a report out; reading the file and printing live in the CLI.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.errors import UsageError
from bot.core.matcher import Matcher

TOP = 3


class EvalFileError(UsageError):
    """The evaluation file cannot be read as a query TSV; the message says why, in one line."""


@dataclass(frozen=True)
class Row:
    query: str
    expected: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Outcome:
    row: Row
    found: tuple[str, ...]

    @property
    def rank(self) -> int | None:
        """1-based rank of the first expected id in the top 3, else None."""
        wanted = self.row.expected[0] if self.row.expected else None
        return self.found.index(wanted) + 1 if wanted in self.found[:TOP] else None

    @property
    def wrong(self) -> bool:
        return self.rank is None if self.row.expected else bool(self.found)


@dataclass(frozen=True)
class EvalReport:
    outcomes: tuple[Outcome, ...]
    positives: int = field(init=False)
    negatives: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "positives", sum(1 for o in self.outcomes if o.row.expected))
        object.__setattr__(self, "negatives", len(self.outcomes) - self.positives)

    def _ranks(self) -> list[int | None]:
        return [o.rank for o in self.outcomes if o.row.expected]

    @property
    def recall_at_1(self) -> float:
        return sum(1 for r in self._ranks() if r == 1) / max(self.positives, 1)

    @property
    def recall_at_3(self) -> float:
        return sum(1 for r in self._ranks() if r is not None) / max(self.positives, 1)

    @property
    def mrr(self) -> float:
        return sum(1 / r for r in self._ranks() if r) / max(self.positives, 1)

    @property
    def negatives_answered(self) -> int:
        return sum(1 for o in self.outcomes if not o.row.expected and o.found)

    @property
    def misses(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.wrong)

    def as_json(self) -> dict[str, Any]:
        return {
            "queries": len(self.outcomes),
            "positives": self.positives,
            "negatives": self.negatives,
            "recall_at_1": round(self.recall_at_1, 4),
            "recall_at_3": round(self.recall_at_3, 4),
            "mrr": round(self.mrr, 4),
            "negatives_answered": self.negatives_answered,
            "misses": [
                {
                    "line": o.row.line,
                    "query": o.row.query,
                    "expected": list(o.row.expected),
                    "returned": list(o.found),
                }
                for o in self.misses
            ],
        }

    def as_text(self) -> str:
        lines = [
            f"{len(self.outcomes)} queries: {self.positives} with an expected claim, "
            f"{self.negatives} that should get no answer",
            f"Recall@1 {self.recall_at_1:.3f}  Recall@3 {self.recall_at_3:.3f}  "
            f"MRR {self.mrr:.3f}  negatives answered {self.negatives_answered}/{self.negatives}",
        ]
        for o in self.misses:
            wanted = o.row.expected[0] if o.row.expected else "(no answer)"
            returned = ", ".join(o.found) or "nothing"
            lines.append(
                f"  line {o.row.line}: {o.row.query[:90]!r}: wanted {wanted}, got {returned}"
            )
        return "\n".join(lines)


def read_rows(path: Path) -> list[Row]:
    """Parse a query TSV; any problem is one EvalFileError naming the file and line."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            columns = set(reader.fieldnames or ())
            if not {"query", "expected"} <= columns:
                raise EvalFileError(
                    f"{path}: line 1: the header needs 'query' and 'expected' columns"
                )
            rows = []
            for record in reader:
                query = (record.get("query") or "").strip()
                if not query:
                    raise EvalFileError(f"{path}: line {reader.line_num}: empty query")
                expected = tuple(filter(None, (record.get("expected") or "").split(",")))
                rows.append(Row(query, tuple(e.strip() for e in expected), reader.line_num))
            return rows
    except FileNotFoundError:
        raise EvalFileError(f"{path}: no such file") from None
    except (UnicodeDecodeError, IsADirectoryError, PermissionError) as exc:
        raise EvalFileError(
            f"{path}: cannot read it as UTF-8 text ({type(exc).__name__})"
        ) from None


def evaluate(matcher: Matcher, rows: Iterable[Row], known_ids: Iterable[str] = ()) -> EvalReport:
    """Search each query; ids in ``expected`` that the store lacks are an error."""
    known = set(known_ids)
    outcomes = []
    for row in rows:
        unknown = [e for e in row.expected if known and e not in known]
        if unknown:
            raise EvalFileError(f"line {row.line}: unknown claim id {unknown[0]!r}")
        result = matcher.search(row.query, limit=TOP)
        outcomes.append(Outcome(row, tuple(m.claim.id for m in result.matches)))
    return EvalReport(tuple(outcomes))
