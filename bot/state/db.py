"""Engine creation and start-up migrations for the bot's one database.

Why the details below matter:

* Heroku (and most PaaS) hand out ``postgres://`` URLs, which SQLAlchemy 2
  rejects, and bare ``postgresql://`` would pick psycopg2, which we do not
  ship. Both are rewritten to ``postgresql+psycopg://`` (psycopg 3).
* SQLite is the zero-set-up default. Several processes (web workers, the
  clock) share the file, so every connection uses WAL (readers never block
  the writer), a busy timeout (writers queue instead of failing at once) and
  ``BEGIN IMMEDIATE`` transactions: a read-then-write transaction in WAL mode
  that started as a reader fails with "database is locked" *without* waiting
  when another writer got in first; taking the write lock up front makes the
  busy timeout apply, which is what the digest ledger's claim step relies on.
* Every process runs ``migrate()`` at start-up, often at the same moment
  (``web`` and ``clock`` dynos, gunicorn workers). PostgreSQL serialises them
  with a session-level advisory lock on the migrating connection; SQLite with
  an exclusive ``flock`` on a file next to the database. The second process
  then finds the schema at head and does nothing.
* URLs are only ever logged through :func:`redact_url` (password hidden).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from bot.core.errors import DatabaseError

log = logging.getLogger(__name__)

DEFAULT_SQLITE_FILENAME = "ai-race.sqlite3"
SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CLIENT_TIMEOUTS = {
    "connect_timeout": 5,  # seconds, for the whole connection start-up
    "keepalives": 1,
    "keepalives_idle": 10,  # seconds of silence before the first probe
    "keepalives_interval": 5,
    "keepalives_count": 3,  # a silent peer is declared dead after ~25 s
    "tcp_user_timeout": 15_000,  # ms that sent data may stay unacknowledged
}
PG_SERVER_TIMEOUTS = {
    "statement_timeout": "30s",
    "lock_timeout": "15s",
    "idle_in_transaction_session_timeout": "60s",
}
PG_POOL_TIMEOUT_S = 5  # waiting for a free pooled connection
MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
_PG_LOCK_NAMESPACE = "ai-race-bot:migrate:"


def default_database_url() -> str:
    """``sqlite:///<cwd>/ai-race.sqlite3``: a file in the directory the bot is started from.

    That is the repository root in the README's single-machine set-up and the
    app directory under a Procfile, so ``web`` and ``clock`` share one file.
    Set ``DATABASE_URL`` to pin another place.
    """
    return f"sqlite:///{Path.cwd() / DEFAULT_SQLITE_FILENAME}"


def normalize_database_url(url: str) -> str:
    """Map Heroku-style ``postgres://`` and bare ``postgresql://`` to psycopg 3.

    Other URLs (``sqlite:///…``, explicit ``postgresql+psycopg://…``) pass through.
    """
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def database_url_from_env(environ: dict[str, str] | None = None) -> str:
    """The normalised ``DATABASE_URL``, or :func:`default_database_url` when unset/blank."""
    env = os.environ if environ is None else environ
    raw = (env.get("DATABASE_URL") or "").strip()
    return normalize_database_url(raw) if raw else default_database_url()


def redact_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***``: the only form that may be logged."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def _sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for in-memory databases."""
    database = url.database
    if not database or database == ":memory:" or url.query.get("mode") == "memory":
        return None
    if database.startswith("file:"):
        database = database[len("file:") :].split("?", 1)[0]
    return Path(database).resolve()


def make_engine(url: str | URL | None = None, **kwargs: Any) -> Engine:
    """Create the engine for ``url`` (default: :func:`database_url_from_env`).

    SQLite: WAL, busy timeout, foreign keys, ``BEGIN IMMEDIATE`` (see module doc).
    PostgreSQL: ``pool_pre_ping`` so connections cut by the server or a PaaS
    proxy between digest runs are replaced instead of failing the next query.
    Extra keyword arguments go to :func:`sqlalchemy.create_engine`.
    """
    raw = database_url_from_env() if url is None else url
    parsed = make_url(normalize_database_url(raw) if isinstance(raw, str) else raw)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_path(parsed)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        connect_args.setdefault("check_same_thread", False)
        engine = create_engine(parsed, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine, wal=path is not None)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("pool_timeout", PG_POOL_TIMEOUT_S)
        connect_args = {**postgres_timeouts(parsed), **kwargs.pop("connect_args", {})}
        engine = create_engine(parsed, connect_args=connect_args, **kwargs)
    log.debug("database engine for %s", redact_url(parsed))
    return engine


def database_exists(url: str | URL) -> bool:
    """False only for a SQLite file not there yet (read-only commands must not create it)."""
    parsed = make_url(normalize_database_url(url) if isinstance(url, str) else url)
    if parsed.get_backend_name() != "sqlite":
        return True
    path = _sqlite_path(parsed)
    return path is None or path.exists()


@contextlib.contextmanager
def database_errors(url: str | URL) -> Iterator[None]:
    """SQLAlchemy's errors (and the OS's, for a SQLite file) as one :class:`DatabaseError` line.

    The line names the database with its password hidden and says what to
    check; the traceback is for our bugs, not for a server that is down.
    """
    try:
        yield
    except (SQLAlchemyError, OSError, ImportError) as exc:
        cause = getattr(exc, "orig", None) or exc
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise DatabaseError(
            f"cannot use the database {redact_url(url)}: {first} "
            "(check DATABASE_URL and that the database server is running)"
        ) from None


def open_database(url: str | URL) -> Engine:
    """An engine at the newest schema, or a one-line :class:`DatabaseError`."""
    with database_errors(url):
        engine = make_engine(url)
        migrate(engine)
    return engine


def postgres_timeouts(url: URL) -> dict[str, Any]:
    """libpq settings so a dead or half-open server fails a call instead of hanging it.

    ``connect_timeout`` bounds connecting; TCP keepalives and
    ``tcp_user_timeout`` notice a peer that vanished without closing (a
    partition, a NAT or PaaS proxy dropping state); ``statement_timeout``,
    ``lock_timeout`` and ``idle_in_transaction_session_timeout`` bound the
    server side. Options already in the URL (e.g. ``-csearch_path=…``) are kept,
    and a client setting given in the URL (``?connect_timeout=2``) wins over
    ours: that is how an operator, or a fault test, tunes them.
    """
    ours = " ".join(f"-c{name}={value}" for name, value in PG_SERVER_TIMEOUTS.items())
    existing = str(url.query.get("options") or "").strip()
    client = {k: v for k, v in PG_CLIENT_TIMEOUTS.items() if k not in url.query}
    return {**client, "options": f"{existing} {ours}".strip()}


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below: the
        # sqlite3 module's implicit BEGIN is deferred and comes too late.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(connection: Connection | None = None) -> Any:
    """A programmatic Alembic ``Config`` (no alembic.ini needed at run time).

    With ``connection`` the migration environment runs on it; without, it
    builds an engine from ``DATABASE_URL`` (for ad-hoc ``alembic`` use).
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest revision; safe to call from many processes at once."""
    from alembic import command

    log.info("migrating database %s", redact_url(engine.url))
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            key = text("SELECT hashtextextended(:ns || current_schema(), 0)")
            lock_id = connection.execute(key, {"ns": _PG_LOCK_NAMESPACE}).scalar_one()
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
            connection.commit()  # a session-level lock outlives the transaction
            try:
                command.upgrade(alembic_config(connection), "head")
                connection.commit()
            finally:
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
                connection.commit()
        return
    path = _sqlite_path(engine.url) if engine.dialect.name == "sqlite" else None
    lock = _file_lock(path.with_name(path.name + ".migrate-lock")) if path else _no_lock()
    with lock, engine.connect() as connection:
        command.upgrade(alembic_config(connection), "head")
        connection.commit()


@contextlib.contextmanager
def _no_lock() -> Iterator[None]:
    yield


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock on ``path`` (POSIX ``flock``; released if the process dies)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: BEGIN IMMEDIATE still serialises DDL
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
