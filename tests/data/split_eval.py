"""Split the evaluation set once into a tuning half and a held-out half, and check it.

Why a script: the halves must be chosen before anyone looks at scores, by a rule that
anyone can re-run and audit, and they must never drift afterwards.  The rule is a
seeded, stratified split: rows are grouped by style group (news text, Slack message,
negative, same-entity negative) and by their first expected claim, each group is put in
a fixed pseudo-random order (then grouped by style, so each style is dealt across both
halves too), and its rows are dealt alternately to the two halves.  The half that
receives a group's first row alternates from group to group, so odd-sized groups do not
all tip the same way.

Usage (from the repository root)::

    python tests/data/split_eval.py split ALL_ROWS.tsv            # once, when the set is made
    python tests/data/split_eval.py split MORE_ROWS.tsv --pair 2  # once, for an extension
    python tests/data/split_eval.py check                         # any time: every pair

The set grows by *pairs* of files, never by editing a split pair: pair 1 is
``eval_tuning.tsv``/``eval_heldout.tsv``, pair 2 ``eval_tuning_2.tsv``/
``eval_heldout_2.tsv`` (more same-name negatives and news, added when pair 1's
tuning half had too few name-only rows to learn from). Each pair has its own
seed, and no query may appear in two pairs.

``check`` validates both halves (columns, closed style set, known claim ids, no tabs or
newlines, no row in both halves) and re-derives the split from their union: if a row was
moved between halves, or a row added to one half by hand, the derived split differs and
the check fails.  Only the standard library is used, so it runs anywhere.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

SEED = 20261124
HERE = Path(__file__).resolve().parent
CLAIMS_DIR = HERE.parent.parent / "claims"
TUNING = HERE / "eval_tuning.tsv"
HELDOUT = HERE / "eval_heldout.tsv"
TUNING_2 = HERE / "eval_tuning_2.tsv"
HELDOUT_2 = HERE / "eval_heldout_2.tsv"
#: Every pair: (tuning half, held-out half, the seed its split was dealt with).
PAIRS = {1: (TUNING, HELDOUT, SEED), 2: (TUNING_2, HELDOUT_2, SEED + 2)}
HEADER = ("query", "expected", "style", "source")

#: The closed set of styles, mapped to the style group that stratifies the split.
STYLE_GROUPS = {
    "headline": "news",
    "lede": "news",
    "social": "news",
    "slack-question": "slack",
    "slack-markup": "slack",
    "slack-link": "slack",
    "slack-emoji": "slack",
    "slack-inflection": "slack",
    "slack-paraphrase": "slack",
    "slack-typo": "slack",
    "slack-long": "slack",
    "negative": "negative",
    "negative-entity": "negative-entity",
}


class Row(NamedTuple):
    query: str
    expected: tuple[str, ...]
    style: str
    source: str

    def line(self) -> str:
        return "\t".join((self.query, ",".join(self.expected), self.style, self.source))


def read_rows(path: Path, claim_ids: set[str]) -> tuple[list[Row], list[str]]:
    """Parse one TSV; return its rows and every problem as ``file:line: message``."""
    rows: list[Row] = []
    problems: list[str] = []
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or tuple(lines[0].split("\t")) != HEADER:
        return [], [f"{path.name}:1: header must be {' '.join(HEADER)}"]
    for number, text in enumerate(lines[1:], start=2):
        fields = text.split("\t")
        if len(fields) != 4:
            problems.append(f"{path.name}:{number}: expected 4 fields, found {len(fields)}")
            continue
        query, expected, style, source = fields
        ids = tuple(e for e in expected.split(",") if e)
        problems += [
            f"{path.name}:{number}: {message}"
            for message in row_problems(query, ids, style, source, claim_ids)
        ]
        rows.append(Row(query, ids, style, source))
    return rows, problems


def row_problems(
    query: str, ids: tuple[str, ...], style: str, source: str, claim_ids: set[str]
) -> list[str]:
    """The rules a single row must meet; negatives expect nothing, the rest a claim."""
    problems = []
    if not query.strip() or "\r" in query:
        problems.append("query is empty or holds a carriage return")
    if style not in STYLE_GROUPS:
        problems.append(f"unknown style {style!r}")
    problems += [f"unknown claim id {i!r}" for i in ids if i not in claim_ids]
    if style.startswith("negative") and ids:
        problems.append("a negative row must have an empty expected column")
    if not style.startswith("negative") and not ids:
        problems.append("a non-negative row needs at least one expected claim")
    if style.startswith("slack-") and source != "written":
        problems.append("Slack-style rows are written by us: source must be 'written'")
    if not (source == "written" or source.startswith(("http://", "https://"))):
        problems.append("source must be a URL or 'written'")
    return problems


def stratum(row: Row) -> tuple[str, str]:
    return STYLE_GROUPS.get(row.style, "?"), row.expected[0] if row.expected else ""


def split(rows: list[Row], seed: int = SEED) -> tuple[list[Row], list[Row]]:
    """Deal each stratum alternately to (tuning, held-out); pure and deterministic."""
    strata: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        strata[stratum(row)].append(row)
    halves: tuple[list[Row], list[Row]] = ([], [])
    for index, key in enumerate(sorted(strata)):
        members = sorted(strata[key], key=lambda r: hashlib.sha256(r.line().encode()).digest())
        random.Random(f"{seed}:{key[0]}:{key[1]}").shuffle(members)
        members.sort(key=lambda r: r.style)  # stable: styles interleave across halves too
        for position, row in enumerate(members):
            halves[(position + index) % 2].append(row)
    return halves


def write(path: Path, rows: list[Row]) -> None:
    ordered = sorted(rows, key=lambda r: (stratum(r), r.style, r.query))
    path.write_text(
        "\n".join(["\t".join(HEADER)] + [r.line() for r in ordered]) + "\n", encoding="utf-8"
    )


def claim_ids() -> set[str]:
    return {p.stem for p in CLAIMS_DIR.glob("*.yaml")}


def check(tuning_path: Path = TUNING, heldout_path: Path = HELDOUT, seed: int = SEED) -> list[str]:
    """Every problem with one pair of halves; empty when they are sound."""
    ids = claim_ids()
    tuning, problems = read_rows(tuning_path, ids)
    heldout, more = read_rows(heldout_path, ids)
    problems += more
    overlap = {r.query for r in tuning} & {r.query for r in heldout}
    problems += [f"query in both halves: {q!r}" for q in sorted(overlap)]
    derived_tuning, derived_heldout = split(tuning + heldout, seed)
    if set(derived_tuning) != set(tuning) or set(derived_heldout) != set(heldout):
        moved = set(tuning) ^ set(derived_tuning)
        problems.append(
            f"{len(moved)} row(s) are not where the seeded split puts them: rows were moved "
            "or added by hand; the halves are frozen (see tests/data/README.md)"
        )
    return problems


def check_all() -> list[str]:
    """Every pair's problems, plus any query that appears in two pairs."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, (tuning, heldout, seed) in PAIRS.items():
        problems += check(tuning, heldout, seed)
        for path in (tuning, heldout):
            rows, _ = read_rows(path, claim_ids())
            for row in rows:
                first = seen.setdefault(row.query.casefold(), number)
                if first != number:
                    problems.append(f"query in pairs {first} and {number}: {row.query!r}")
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("split", help="split ALL_ROWS.tsv into the two halves (once)")
    make.add_argument("source", type=Path)
    make.add_argument("--force", action="store_true", help="overwrite existing halves")
    make.add_argument("--pair", type=int, choices=sorted(PAIRS), default=1)
    sub.add_parser("check", help="validate every pair of halves and re-derive the splits")
    args = parser.parse_args(argv)
    if args.command == "check":
        problems = check_all()
    else:
        tuning_path, heldout_path, seed = PAIRS[args.pair]
        if (tuning_path.exists() or heldout_path.exists()) and not args.force:
            print("the halves already exist and are frozen; not overwriting", file=sys.stderr)
            return 1
        rows, problems = read_rows(args.source, claim_ids())
        if not problems:
            tuning, heldout = split(rows, seed)
            write(tuning_path, tuning)
            write(heldout_path, heldout)
            print(f"tuning: {len(tuning)} rows, held-out: {len(heldout)} rows")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
