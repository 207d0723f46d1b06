"""Alembic migrations of the deepguard database, driven from code.

Why from code: ``SqlStore.open`` upgrades the database on every start, so a
fresh ``--home`` just works and an older database is brought up to date; an
installed package has no ``alembic.ini`` to point the ``alembic`` command at.
:func:`alembic_config` builds the configuration instead. To add a revision
after changing ``models.py``::

    from alembic import command
    from deepguard.store.sql.migrations import alembic_config

    command.revision(
        alembic_config(url="sqlite:///dev.db"),
        message="what changed",
        autogenerate=True,
        rev_id="0002",
    )

then review the generated file in ``versions/``. When ruff is installed (the
``dev`` extra) the new file is fixed and formatted by it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic.config import Config
from sqlalchemy.engine import Connection

__all__ = ["MIGRATIONS_DIR", "alembic_config"]

MIGRATIONS_DIR = Path(__file__).resolve().parent
"""Alembic's script location: ``env.py``, ``script.py.mako`` and ``versions/``."""


def alembic_config(
    *, connection: Connection | None = None, url: str | None = None
) -> Config:
    """An Alembic configuration for deepguard's migrations, without an ini file.

    Pass ``connection`` to migrate inside the caller's transaction (what the
    store does), or ``url`` to let ``env.py`` connect by itself (for
    ``command.revision`` and offline SQL generation).
    """
    config = Config()
    config.set_main_option("script_location", _escape(str(MIGRATIONS_DIR)))
    config.set_main_option("path_separator", "os")
    if importlib.util.find_spec("ruff") is not None:
        _format_new_revisions_with_ruff(config)
    if url is not None:
        config.set_main_option("sqlalchemy.url", _escape(url))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _format_new_revisions_with_ruff(config: Config) -> None:
    """Run ``ruff check --fix`` and ``ruff format`` on generated revisions."""
    hooks = {"ruff_fix": "check --fix --quiet", "ruff_format": "format --quiet"}
    config.set_section_option("post_write_hooks", "hooks", ", ".join(hooks))
    for name, options in hooks.items():
        config.set_section_option("post_write_hooks", f"{name}.type", "module")
        config.set_section_option("post_write_hooks", f"{name}.module", "ruff")
        config.set_section_option(
            "post_write_hooks", f"{name}.options", f"{options} REVISION_SCRIPT_FILENAME"
        )


def _escape(value: str) -> str:
    # Config values go through configparser, where "%" starts interpolation.
    return value.replace("%", "%%")
