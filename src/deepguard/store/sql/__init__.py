"""Scan history in SQLite or PostgreSQL (SQLAlchemy 2.0 models, Alembic migrations).

Only :class:`SqlStore` is public; rows and sessions stay inside this package.
"""

from __future__ import annotations

from deepguard.store.sql.store import SqlStore

__all__ = ["SqlStore"]
