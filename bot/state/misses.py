"""Questions that matched no claim, so claim authors see what people look for and don't find.

Only the question text, the workspace and the time are kept — never who
asked: the report is about missing content, not about people. Text is
trimmed and capped so one pasted essay cannot bloat the table, and grouped by
a normalised form (lower case, collapsed white space) so "Chip exports?" and
"chip  exports?" count together.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, func, insert, select

from bot.state.models import QUERY_MAX_CHARS, QueryMiss, utcnow


def normalize_query(query: str) -> str:
    """Lower-case, white space collapsed, capped: the grouping key of the report."""
    return " ".join(query.split()).lower()[:QUERY_MAX_CHARS]


def record_miss(engine: Engine, team_id: str, query: str, *, now: datetime | None = None) -> bool:
    """Store one unanswered query; returns False (and stores nothing) for blank text."""
    text = " ".join(query.split())[:QUERY_MAX_CHARS]
    if not text:
        return False
    with engine.begin() as connection:
        connection.execute(
            insert(QueryMiss).values(
                team_id=team_id,
                query=text,
                query_norm=normalize_query(text),
                created_at=now or utcnow(),
            )
        )
    return True


def top_misses(
    engine: Engine, limit: int = 20, since: datetime | None = None, team_id: str | None = None
) -> list[tuple[str, int, datetime]]:
    """``(normalised query, times asked, last asked)``, most frequent first, then most recent.

    ``team_id`` keeps one workspace's questions: with several workspaces
    installed, each one's report shows only what its own people asked.
    """
    count = func.count().label("n")
    last = func.max(QueryMiss.created_at).label("last")
    stmt = select(QueryMiss.query_norm, count, last).group_by(QueryMiss.query_norm)
    if since is not None:
        stmt = stmt.where(QueryMiss.created_at >= since)
    if team_id is not None:
        stmt = stmt.where(QueryMiss.team_id == team_id)
    stmt = stmt.order_by(count.desc(), last.desc(), QueryMiss.query_norm).limit(limit)
    with engine.connect() as connection:
        return [(row[0], int(row[1]), row[2]) for row in connection.execute(stmt)]


def prune_misses(engine: Engine, before: datetime) -> int:
    """Delete misses recorded before ``before``; for operators who want a retention limit."""
    with engine.begin() as connection:
        return connection.execute(delete(QueryMiss).where(QueryMiss.created_at < before)).rowcount
