"""Unanswered questions: stored without user ids, grouped by normalised text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, inspect, select

from bot.state.misses import normalize_query, prune_misses, record_miss, top_misses
from bot.state.models import QUERY_MAX_CHARS, QueryMiss

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_the_table_has_no_user_column(db_engine: Engine) -> None:
    columns = {c["name"] for c in inspect(db_engine).get_columns("query_misses")}
    assert columns == {"id", "team_id", "query", "query_norm", "created_at"}


def test_normalisation_lowercases_and_collapses_white_space() -> None:
    assert normalize_query("  Chip\tEXPORTS \n to  China? ") == "chip exports to china?"


def test_top_misses_groups_counts_and_orders(db_engine: Engine) -> None:
    for i, text in enumerate(["Chip exports?", "chip   exports?", "CHIP EXPORTS?", "Huawei"]):
        record_miss(db_engine, "T1", text, now=T0 + timedelta(minutes=i))
    record_miss(db_engine, "T2", "huawei ", now=T0 + timedelta(hours=1))
    record_miss(db_engine, "T1", "gallium", now=T0 + timedelta(hours=2))
    rows = top_misses(db_engine)
    assert [(q, n) for q, n, _ in rows] == [("chip exports?", 3), ("huawei", 2), ("gallium", 1)]
    assert rows[0][2] == T0 + timedelta(minutes=2)
    assert rows[1][2] == T0 + timedelta(hours=1)
    assert top_misses(db_engine, limit=1) == rows[:1]
    since = top_misses(db_engine, since=T0 + timedelta(minutes=30))
    assert [(q, n) for q, n, _ in since] == [("gallium", 1), ("huawei", 1)]


def test_blank_queries_are_skipped_and_long_ones_capped(db_engine: Engine) -> None:
    assert record_miss(db_engine, "T1", "   \n ") is False
    assert record_miss(db_engine, "T1", "x" * 5000) is True
    with db_engine.connect() as connection:
        stored = connection.execute(select(QueryMiss.query)).scalars().all()
    assert [len(s) for s in stored] == [QUERY_MAX_CHARS]


def test_prune_misses(db_engine: Engine) -> None:
    record_miss(db_engine, "T1", "old", now=T0 - timedelta(days=400))
    record_miss(db_engine, "T1", "new", now=T0)
    assert prune_misses(db_engine, T0 - timedelta(days=365)) == 1
    assert [q for q, _, _ in top_misses(db_engine)] == ["new"]
