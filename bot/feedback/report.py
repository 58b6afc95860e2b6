"""``ai-race report feedback``: what people said about each claim, as a table, TSV or JSON.

People are counted, never named (the table holds no user ids to name them by).
The TSV is the evaluation format of ``ai-race eval`` (``query, expected, style,
source``): a "Helpful" vote says the question should find that claim, a "Not
what I asked" vote that it should find nothing it was shown — so what people
say in Slack feeds the evaluation claim authors run. Digest votes answer no
question and are left out of the TSV.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Any

from bot.core.feedback import Vote
from bot.state.feedback import ClaimFeedback

TSV_HEADER = ("query", "expected", "style", "source")
TSV_STYLE = "slack-question"  # eval's style for a question typed into Slack


class ReportFormat(StrEnum):
    TABLE = "table"
    TSV = "tsv"
    JSON = "json"


def _count(entry: ClaimFeedback, vote: Vote) -> int:
    return entry.votes.get(vote.value, 0)


def as_json(entries: Iterable[ClaimFeedback]) -> str:
    data: list[dict[str, Any]] = [
        {
            "claim": e.claim_id,
            **{vote.value: _count(e, vote) for vote in Vote},
            "people": e.people,
            "notes": [
                {"date": day.isoformat(), "note": note, "source_url": url}
                for day, note, url in e.notes
            ],
        }
        for e in entries
    ]
    return json.dumps(data, ensure_ascii=False, indent=2)


def _clean(text: str) -> str:
    """One TSV field: no tabs or line breaks can survive from a pasted question."""
    return " ".join(text.split())


def tsv_rows(entries: Iterable[ClaimFeedback]) -> Iterator[tuple[str, str, str, str]]:
    """Evaluation rows, each (question, wanted claim) once, in report order."""
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        for vote, query in entry.queries:
            question = _clean(query)
            if not question or vote not in (Vote.HELPFUL, Vote.NOT_ASKED):
                continue
            expected = entry.claim_id if vote == Vote.HELPFUL else ""
            if (question.lower(), expected) in seen:
                continue
            seen.add((question.lower(), expected))
            yield question, expected, TSV_STYLE, f"feedback:{vote}"


def as_tsv(entries: Iterable[ClaimFeedback]) -> str:
    lines = ["\t".join(TSV_HEADER)] + ["\t".join(row) for row in tsv_rows(entries)]
    return "\n".join(lines)


def as_table(entries: list[ClaimFeedback]) -> str:
    if not entries:
        return "no feedback recorded"
    widths = max(len(e.claim_id) for e in entries)
    head = f"{'CLAIM':<{widths}}  HELPFUL  NOT ASKED  WRONG  PEOPLE"
    lines = [head]
    for e in entries:
        lines.append(
            f"{e.claim_id:<{widths}}  {_count(e, Vote.HELPFUL):>7}  "
            f"{_count(e, Vote.NOT_ASKED):>9}  {_count(e, Vote.WRONG):>5}  {e.people:>6}"
        )
        for day, note, url in e.notes:
            lines.append(f"    {day.isoformat()}: {_clean(note)}" + (f" ({url})" if url else ""))
    return "\n".join(lines)


def render(entries: list[ClaimFeedback], fmt: ReportFormat) -> str:
    if fmt is ReportFormat.JSON:
        return as_json(entries)
    if fmt is ReportFormat.TSV:
        return as_tsv(entries)
    return as_table(entries)
