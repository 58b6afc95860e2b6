"""Alembic migrations, shipped inside the package so ``migrate()`` needs no alembic.ini."""
