"""Shared pytest fixtures."""

from __future__ import annotations

# ---------------------------------------------------------------------------
# Database fixtures (bot.state, bot.digest) — BEGIN
#
# `db_url` / `db_engine` run each test on SQLite (a file in tmp_path) and, when
# AI_RACE_TEST_DATABASE_URL is set, again on PostgreSQL in a fresh schema of
# its own (search_path set through libpq `options` in the URL, so every engine
# and subprocess built from `db_url` lands in it); the schema is dropped after.
# `db_engine` is already migrated to head.
# ---------------------------------------------------------------------------
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from bot.state.db import make_engine, migrate, normalize_database_url
from tests.support.mock_slack import MockSlack

PG_TEST_URL_ENV = "AI_RACE_TEST_DATABASE_URL"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'state.sqlite3'}"
        return
    base = os.environ.get(PG_TEST_URL_ENV, "").strip()
    if not base:
        pytest.skip(f"{PG_TEST_URL_ENV} is not set")
    base_url = make_url(normalize_database_url(base))
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base_url, poolclass=NullPool)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = base_url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            # Fail the teardown instead of hanging if a test leaked a connection.
            connection.execute(text("SET LOCAL lock_timeout = '10s'"))
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()


# Database fixtures — END
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Claim parse cache: each test session (and every subprocess it starts) gets
# its own, so nothing leaks between runs or into the user's ~/.cache.
# ---------------------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    import tempfile

    os.environ["AI_RACE_CACHE"] = tempfile.mkdtemp(prefix="ai-race-test-cache-")


def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    shutil.rmtree(os.environ.pop("AI_RACE_CACHE", ""), ignore_errors=True)


# ---------------------------------------------------------------------------
# The mock Slack Web API (tests/support/mock_slack.py), one per test module;
# a module that needs its own (a strict one, say) defines ``mock`` itself.
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mock() -> Iterator[MockSlack]:
    with MockSlack() as server:
        yield server


# ---------------------------------------------------------------------------
# Claim files a test may break: a private copy of the bundled claims/.
# ---------------------------------------------------------------------------
@pytest.fixture()
def store_dir(tmp_path: Path) -> Path:
    """A private copy of the bundled claims that a test may break."""
    from bot.core.store import REPO_CLAIMS

    target = tmp_path / "claims"
    shutil.copytree(REPO_CLAIMS, target)
    return target
