"""Alembic environment, driven programmatically by :func:`bot.state.db.migrate`.

``migrate()`` passes the connection it holds the migration lock on in
``config.attributes["connection"]``; without one (ad-hoc use, e.g.
``alembic revision --autogenerate`` with a config built by
:func:`bot.state.db.alembic_config`) an engine is made from ``DATABASE_URL``.
SQLite gets ``render_as_batch`` because it can only ALTER by copying tables.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from bot.state.db import make_engine
from bot.state.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine()
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run migrate() instead")
run_migrations_online()
