"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from deepguard.errors import StorageError
from deepguard.store.sql import SqlStore
from deepguard.store.sql._dialect import make_engine
from deepguard.store.sql.migrations import MIGRATIONS_DIR, alembic_config
from deepguard.store.sql.models import Base

from .factories import POSTGRES_URL, make_result, reset_postgres

URLS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=pytest.mark.skipif(
            not POSTGRES_URL, reason="DEEPGUARD_TEST_POSTGRES_URL is not set"
        ),
    ),
]


@pytest.fixture(params=URLS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (PostgreSQL: emptied by downgrading to base)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    assert POSTGRES_URL is not None
    reset_postgres(POSTGRES_URL)
    yield POSTGRES_URL
    reset_postgres(POSTGRES_URL)


@pytest.fixture
def engine(url: str) -> Iterator[sa.Engine]:
    built = make_engine(sa.make_url(url))
    yield built
    built.dispose()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(connection=conn), revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(connection=conn), revision)


def schema_diffs(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def current(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


HEAD = "0003"


def test_revisions_form_one_line() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_heads() == [HEAD]
    assert [s.revision for s in scripts.walk_revisions()] == [HEAD, "0002", "0001"]


def test_upgrade_builds_the_schema_of_the_models(engine: sa.Engine) -> None:
    upgrade(engine)
    assert current(engine) == HEAD
    assert schema_diffs(engine) == []


def test_downgrade_to_base_removes_everything(engine: sa.Engine) -> None:
    upgrade(engine)
    downgrade(engine, "base")
    assert current(engine) is None
    assert tables(engine) <= {"alembic_version"}
    upgrade(engine)
    assert schema_diffs(engine) == []


def test_open_migrates_an_empty_database(url: str, engine: sa.Engine) -> None:
    upgrade(engine)
    downgrade(engine, "base")
    with SqlStore.open(url) as store:
        store.save_scan(result=make_result())
    assert current(engine) == HEAD


def test_open_is_idempotent(url: str, engine: sa.Engine) -> None:
    for _ in range(3):
        SqlStore.open(url).close()
    assert current(engine) == HEAD
    assert schema_diffs(engine) == []


def test_database_from_a_newer_deepguard_is_refused(
    url: str, engine: sa.Engine
) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StorageError, match=r"9999.*newer deepguard"):
        SqlStore.open(url)


def test_offline_mode_prints_the_sql(url: str) -> None:
    config = alembic_config(url=url)
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    sql = config.output_buffer.getvalue()
    assert "CREATE TABLE scans" in sql
    assert "CREATE INDEX ix_findings_kind" in sql
    assert "CREATE TABLE label_records" in sql


def test_new_revision_template_renders_and_finds_no_changes(
    tmp_path: Path, engine: sa.Engine
) -> None:
    upgrade(engine)
    scripts = tmp_path / "migrations"
    shutil.copytree(
        MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__")
    )
    with engine.begin() as conn:
        config = alembic_config(connection=conn)
        config.set_main_option("script_location", str(scripts))
        command.revision(config, message="nothing", autogenerate=True, rev_id="9000")
    [generated] = (scripts / "versions").glob("9000_*.py")
    source = generated.read_text()
    compile(source, str(generated), "exec")
    assert re.search(rf"down_revision: .* = [\"']{HEAD}[\"']", source)
    assert "op." not in source  # the models and the migrations agree
