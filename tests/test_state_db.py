"""Engine set-up and start-up migrations on real SQLite and PostgreSQL databases."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from bot.state.db import (
    alembic_config,
    database_url_from_env,
    default_database_url,
    make_engine,
    migrate,
    normalize_database_url,
    redact_url,
)
from bot.state.models import Base

REPO = Path(__file__).resolve().parents[1]
TABLES = {
    "alembic_version",
    "digest_subscriptions",
    "digest_deliveries",
    "digest_sent_claims",
    "processed_events",
    "query_misses",
    "slack_installations",
    "slack_bots",
    "slack_oauth_states",
    "feedback_votes",
    "claim_citations",
    "correction_deliveries",
}
# The newest revision, whoever added it: a linear chain has exactly one head.
HEAD_REVISION = ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgresql://u@h/d?sslmode=require", "postgresql+psycopg://u@h/d?sslmode=require"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:////tmp/x.sqlite3", "sqlite:////tmp/x.sqlite3"),
        ("  postgres://h/d \n", "postgresql+psycopg://h/d"),
    ],
)
def test_heroku_style_urls_are_mapped_to_psycopg3(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


def test_url_from_env_defaults_to_a_sqlite_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert database_url_from_env({}) == f"sqlite:///{tmp_path / 'ai-race.sqlite3'}"
    assert database_url_from_env({"DATABASE_URL": "  "}) == default_database_url()
    assert database_url_from_env({"DATABASE_URL": "postgres://h/d"}) == "postgresql+psycopg://h/d"


def test_passwords_never_appear_in_the_loggable_url() -> None:
    shown = redact_url("postgresql+psycopg://bot:s3cret-pw@db.example:5432/prod")
    assert "s3cret-pw" not in shown
    assert "bot:***@db.example" in shown


def test_migrate_logs_no_password(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with caplog.at_level("DEBUG"):
        migrate(engine)
    engine.dispose()
    assert "migrating database sqlite:///" in caplog.text


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'bot.sqlite3'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    engine.dispose()


def test_postgresql_engines_ping_pooled_connections() -> None:
    engine = make_engine("postgres://nobody@127.0.0.1:1/none")
    assert engine.dialect.name == "postgresql"
    assert engine.dialect.driver == "psycopg"
    assert engine.pool._pre_ping  # type: ignore[attr-defined]
    engine.dispose()


def test_migrate_creates_every_table_and_is_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        migrate(engine)
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).all() == [
                (HEAD_REVISION,)
            ]
    finally:
        engine.dispose()


def test_models_and_migrations_agree(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_processes_starting_at_once_migrate_without_errors(db_url: str) -> None:
    script = (
        "import sys\n"
        "from bot.state.db import make_engine, migrate\n"
        "engine = make_engine(sys.argv[1])\n"
        "migrate(engine)\n"
        "engine.dispose()\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, db_url],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [(proc.wait(timeout=60), proc.stderr.read() if proc.stderr else "") for proc in procs]
    for proc in procs:
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
    assert all(code == 0 for code, _ in results), results
    engine = make_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) >= TABLES
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        assert versions == [(HEAD_REVISION,)]
    finally:
        engine.dispose()
