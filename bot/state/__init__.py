"""Durable state shared by every process of the bot: one database, one setting.

``DATABASE_URL`` selects it: a SQLite file by default (zero set-up on one
machine), PostgreSQL in production (Heroku-style ``postgres://`` URLs work).
The schema is owned by Alembic migrations that run at start-up.
"""

from bot.state.db import database_url_from_env, make_engine, migrate, redact_url

__all__ = ["database_url_from_env", "make_engine", "migrate", "redact_url"]
