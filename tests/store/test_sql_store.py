"""SqlStore specifics on SQLite: files, pragmas, error translation, row layout."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from deepguard.errors import StorageError
from deepguard.store.sql import SqlStore
from deepguard.store.sql._dialect import make_engine
from deepguard.store.sql.models import FindingRow, ScanRow

from .factories import digest, make_result, rich_result


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "deepguard.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SqlStore]:
    opened = SqlStore.open(sqlite_url(db_path))
    yield opened
    opened.close()


@contextmanager
def raw(db_path: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection, to see what is really in the file."""
    conn = sqlite3.connect(db_path)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        with conn:
            yield conn
    finally:
        conn.close()


# opening


def test_open_creates_the_directory_and_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "deepguard.db"
    with SqlStore.open(sqlite_url(path)) as store:
        assert store.count_scans() == 0
    assert path.is_file()
    with raw(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"scans", "findings", "alembic_version"} <= tables


def test_reopening_keeps_the_data(db_path: Path) -> None:
    with SqlStore.open(sqlite_url(db_path)) as store:
        store.save_scan(result=make_result(seed=1))
    with SqlStore.open(sqlite_url(db_path)) as store:
        assert store.count_scans() == 1
        assert store.get_scan(sha256=digest(1)[:8]).file.sha256 == digest(1)


def test_in_memory_database_lives_as_long_as_the_store() -> None:
    with SqlStore.open("sqlite://") as store:
        store.save_scans(results=[make_result(seed=i) for i in range(3)])
        assert store.count_scans() == 3
        assert len(store.list_scans()) == 3


def test_database_is_in_wal_mode(store: SqlStore, db_path: Path) -> None:
    # journal_mode=WAL is persistent, so a fresh plain connection sees it.
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_every_connection_gets_the_pragmas(db_path: Path) -> None:
    engine = make_engine(sa.make_url(sqlite_url(db_path)))
    try:
        for _ in range(2):
            with engine.connect() as conn:
                value = conn.exec_driver_sql
                assert value("PRAGMA journal_mode").scalar() == "wal"
                assert value("PRAGMA foreign_keys").scalar() == 1
                assert value("PRAGMA busy_timeout").scalar() == 5000
                assert value("PRAGMA synchronous").scalar() == 1  # NORMAL
            engine.dispose()
    finally:
        engine.dispose()


def test_corrupt_file_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "deepguard.db"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(StorageError, match="is not a database") as info:
        SqlStore.open(sqlite_url(path))
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    assert info.value.__cause__ is not None


def test_directory_as_database_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="unable to open"):
        SqlStore.open(sqlite_url(tmp_path))


def test_uncreatable_directory_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="cannot create its directory"):
        SqlStore.open(sqlite_url(tmp_path / "file" / "sub" / "deepguard.db"))


@pytest.mark.parametrize(
    "url",
    [
        # Refused at once: no driver here, or nothing listens on port 1.
        "postgresql://deepguard:s3cret@127.0.0.1:1/deepguard",
        "nosuchdb://deepguard:s3cret@localhost/deepguard",
    ],
)
def test_errors_name_the_database_but_never_the_password(url: str) -> None:
    with pytest.raises(StorageError) as info:
        SqlStore.open(url)
    message = str(info.value)
    assert "s3cret" not in message
    assert "deepguard:***@" in message


def test_invalid_url_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match="invalid database URL"):
        SqlStore.open("not a url")


def test_repr_names_the_database(store: SqlStore, db_path: Path) -> None:
    assert str(db_path) in repr(store)


# what is stored


def test_rows_hold_indexed_copies_of_the_document(
    store: SqlStore, db_path: Path
) -> None:
    result = rich_result()
    [scan_id] = store.save_scans(results=[result])
    with raw(db_path) as conn:
        conn.row_factory = sqlite3.Row
        scan = conn.execute("SELECT * FROM scans").fetchone()
        findings = conn.execute(
            "SELECT * FROM findings WHERE scan_id = ? ORDER BY id", (scan_id,)
        ).fetchall()
    assert scan["sha256"] == digest(7)
    assert scan["aigc_label"] == "3"
    assert scan["schema_version"] == "deepguard.scan/1"
    assert scan["deepguard_version"] == "0.1.0"
    assert scan["error_count"] == 2
    assert scan["size"] == 1007
    assert [f["kind"] for f in findings] == ["png.text.0", "png.text.1", "png.text.2"]
    assert findings[1]["where"] in (None, "null")


def test_scan_time_is_stored_in_utc(store: SqlStore, db_path: Path) -> None:
    store.save_scan(result=make_result(scanned_at="2025-01-01T10:00:00+08:00"))
    with raw(db_path) as conn:
        [(stored,)] = conn.execute("SELECT scanned_at FROM scans").fetchall()
    assert stored.startswith("2025-01-01 02:00:00")
    [summary] = store.list_scans()
    assert summary.scanned_at == dt.datetime(2025, 1, 1, 2, tzinfo=dt.UTC)


def test_deleting_a_scan_deletes_its_findings(store: SqlStore, db_path: Path) -> None:
    [keep, drop] = store.save_scans(
        results=[make_result(seed=1, findings=2), make_result(seed=2, findings=3)]
    )
    with raw(db_path) as conn:
        conn.execute("DELETE FROM scans WHERE id = ?", (drop,))
        left = conn.execute("SELECT scan_id FROM findings").fetchall()
    assert left == [(keep,), (keep,)]


def test_rows_convert_to_and_from_domain_objects() -> None:
    result = rich_result()
    row = ScanRow.from_domain(result)
    assert row.to_domain() == result
    assert [f.to_domain() for f in row.findings] == result.findings
    assert FindingRow.from_domain(result.findings[0]).to_domain() == result.findings[0]


def test_document_from_a_newer_schema_is_a_storage_error(
    store: SqlStore, db_path: Path
) -> None:
    store.save_scan(result=make_result(seed=1))
    with raw(db_path) as conn:
        conn.execute(
            "UPDATE scans SET result = json_set(result, '$.schema', 'deepguard.scan/9')"
        )
    with pytest.raises(StorageError, match=r"deepguard\.scan/9"):
        store.get_scan(sha256=digest(1))


# scale and concurrency


def test_thousand_results_with_findings_in_one_call(
    store: SqlStore, db_path: Path
) -> None:
    results = [make_result(seed=i, findings=3, label="1") for i in range(1000)]
    ids = store.save_scans(results=results)
    assert ids == list(range(ids[0], ids[0] + 1000))
    with raw(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM findings").fetchone() == (3000,)
    assert store.list_scans(label="1", limit=1)[0].finding_count == 3


def test_concurrent_writers_wait_instead_of_failing(db_path: Path) -> None:
    SqlStore.open(sqlite_url(db_path)).close()
    failures: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            with SqlStore.open(sqlite_url(db_path)) as own:
                for batch in range(10):
                    seeds = range(
                        worker * 1000 + batch * 10, worker * 1000 + batch * 10 + 10
                    )
                    own.save_scans(results=[make_result(seed=s) for s in seeds])
                    own.list_scans(limit=5)
        except BaseException as exc:  # collected for the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with SqlStore.open(sqlite_url(db_path)) as store:
        assert store.count_scans() == 400
