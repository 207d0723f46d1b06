"""Everything that differs between SQLite and PostgreSQL, in one place.

Why: the store runs on SQLite for the CLI, tests and small installations and on
PostgreSQL for the service. The models and queries are written once; the
quirks of each backend (connection settings, transaction control, how
timestamps are stored, id column types) are handled here so that nothing else
needs an ``if sqlite``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from deepguard.errors import StorageError

__all__ = [
    "BEGIN_MODE",
    "IdInteger",
    "NotJson",
    "UtcDateTime",
    "display_url",
    "make_engine",
    "parse_url",
]

BEGIN_MODE = "deepguard_sqlite_begin"
"""Execution option naming the SQLite ``BEGIN`` flavour (``IMMEDIATE`` for writes).

A write transaction that starts as a reader and later needs the write lock can
fail at once with "database is locked" when another process wrote meanwhile;
``BEGIN IMMEDIATE`` takes the lock up front and so waits (``busy_timeout``)
instead. Other backends ignore the option.
"""

SQLITE_PRAGMAS = (
    # First, so the journal-mode switch below waits for other connections.
    ("busy_timeout", "5000"),
    # Readers never block the writer and vice versa; persistent in the file.
    ("journal_mode", "WAL"),
    # Safe with WAL (a power loss may lose the last commits, never corrupts).
    ("synchronous", "NORMAL"),
    # SQLite ignores ON DELETE CASCADE unless asked, per connection.
    ("foreign_keys", "ON"),
)

IdInteger = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""Primary keys: 64-bit on PostgreSQL; on SQLite only ``INTEGER`` is a rowid alias
and autoincrements."""


class NotJson(ValueError):
    """A value to store is not JSON (bytes, NaN ...).

    Its own type because some drivers (psycopg) serialise JSON themselves and
    let the error through unwrapped; the store must still recognise it.
    """


def _json_serializer(value: object) -> str:
    """``json.dumps`` that refuses NaN and infinities, which PostgreSQL rejects.

    Raises:
        NotJson: the value cannot be written as standard JSON.
    """
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise NotJson(str(exc)) from exc


class UtcDateTime(sa.TypeDecorator[dt.datetime]):
    """A timezone-aware datetime stored as UTC and always read back as UTC.

    Why: PostgreSQL keeps ``timestamptz`` but SQLite has no timestamp type, and
    SQLAlchemy writes it as naive text, dropping the offset. Normalising to UTC
    before writing makes SQLite's text sort chronologically and gives both
    backends the same values back.

    Raises:
        ValueError: (when binding) a naive datetime, whose instant is unknown.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: dt.datetime | None, dialect: sa.Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = f"naive datetime {value.isoformat()} cannot be stored as UTC"
            raise ValueError(msg)
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: sa.Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def parse_url(url: str) -> sa.URL:
    """Parse a SQLAlchemy URL.

    Raises:
        StorageError: it is not a URL; the message masks a password.
    """
    try:
        return make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        masked = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
        msg = f"invalid database URL {masked}: expected e.g. sqlite:///path/to.db"
        raise StorageError(msg) from exc


def display_url(url: sa.URL) -> str:
    """The URL as it may appear in messages and logs: password masked."""
    return url.render_as_string(hide_password=True)


def make_engine(url: sa.URL) -> Engine:
    """An engine configured for the backend the URL names.

    SQLite: creates the file's directory, sets the pragmas on every connection
    and lets SQLAlchemy (not the sqlite3 module) emit ``BEGIN``, so DDL in
    migrations is transactional. An in-memory database gets a single shared
    connection, else each connection would see its own empty database.
    PostgreSQL and others: connections are checked before use.

    Raises:
        StorageError: the directory cannot be created or the driver is missing.
    """
    try:
        if url.get_backend_name() == "sqlite":
            return _sqlite_engine(url)
        return sa.create_engine(
            url, pool_pre_ping=True, json_serializer=_json_serializer
        )
    except ImportError as exc:
        msg = (
            f"database {display_url(url)}: cannot open: its driver is not "
            f"installed ({exc})"
        )
        raise StorageError(msg) from exc
    except sa.exc.SQLAlchemyError as exc:
        msg = f"database {display_url(url)}: cannot open: {exc}"
        raise StorageError(msg) from exc


def _sqlite_engine(url: sa.URL) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or "mode=memory" in database
    kwargs: dict[str, Any] = {"json_serializer": _json_serializer}
    if in_memory:
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    elif not database.startswith("file:"):
        _make_parent(Path(database), url)
    engine = sa.create_engine(url, **kwargs)
    sa.event.listen(engine, "connect", _on_sqlite_connect)
    sa.event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _make_parent(path: Path, url: sa.URL) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = (
            f"database {display_url(url)}: cannot create its directory "
            f"{path.parent}: {exc.strerror or exc}"
        )
        raise StorageError(msg) from exc


def _on_sqlite_connect(
    dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry
) -> None:
    # Stop the sqlite3 module from issuing BEGIN itself: it skips BEGIN before
    # DDL, which would commit half a migration. _on_sqlite_begin takes over.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for name, value in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {name}={value}")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(BEGIN_MODE, "")
    if mode not in ("", "DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
        msg = f"unknown SQLite BEGIN mode {mode!r}"
        raise ValueError(msg)
    connection.exec_driver_sql(f"BEGIN {mode}".strip())
