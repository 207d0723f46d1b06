"""Alembic environment: how migrations reach the database.

The store passes its own connection (``config.attributes["connection"]``), so
the upgrade runs in the store's transaction with its SQLite settings. Without
one, a connection is made from ``sqlalchemy.url`` through the same engine
factory; with ``--sql`` (offline mode) the SQL is printed for a DBA instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from deepguard.store.sql._dialect import make_engine, parse_url
from deepguard.store.sql.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def run_migrations_offline() -> None:
    """Print the SQL of the migrations instead of running it."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the caller's connection or a new one."""
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        msg = "alembic_config() needs a connection or a url"
        raise RuntimeError(msg)
    engine = make_engine(parse_url(url))
    try:
        with engine.connect() as own:
            _configure(own)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
