"""Test data for store tests: ScanResults without scanning, empty databases."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from typing import Any

import sqlalchemy as sa

from deepguard.scan.finding import AigcLabel, Finding, Verdict
from deepguard.scan.result import DetectorRun, FileIdentity, ScanError, ScanResult
from deepguard.store.sql.models import Base


def _worker_url(url: str | None) -> str | None:
    """One database per pytest-xdist worker (``deepguard_test_gw0`` ...).

    Workers run PostgreSQL tests at the same time; in one shared database
    their CREATE and DROP TABLE statements race each other.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    base = sa.make_url(url)
    return base.set(database=f"{base.database}_{worker}").render_as_string(
        hide_password=False
    )


_BASE_POSTGRES_URL = os.environ.get("DEEPGUARD_TEST_POSTGRES_URL")
POSTGRES_URL = _worker_url(_BASE_POSTGRES_URL)
"""A PostgreSQL database the tests may wipe; PostgreSQL tests skip without it."""

T0 = dt.datetime(2025, 9, 1, 12, 0, 0, tzinfo=dt.UTC)
"""A fixed scan time; factories count seconds from here."""


def digest(seed: int | str) -> str:
    """A deterministic sha256 hex digest for a seed."""
    return hashlib.sha256(str(seed).encode()).hexdigest()


def make_result(
    *,
    seed: int = 0,
    path: str | None = None,
    sha256: str | None = "",
    label: AigcLabel | None = None,
    scanned_at: dt.datetime | str | None = None,
    findings: int = 1,
    errors: int = 0,
    details: dict[str, Any] | None = None,
) -> ScanResult:
    """A plausible result; ``sha256=""`` derives one from ``seed``, None omits it.

    ``scanned_at`` defaults to ``seed`` seconds after :data:`T0`.
    """
    if scanned_at is None:
        scanned_at = T0 + dt.timedelta(seconds=seed)
    when = scanned_at if isinstance(scanned_at, str) else scanned_at.isoformat()
    return ScanResult(
        file=FileIdentity(
            path=path or f"/data/upload-{seed:04d}.png",
            sha256=digest(seed) if sha256 == "" else sha256,
            size=1000 + seed,
            kind="image",
            mime="image/png",
        ),
        media={"width": 64, "height": 48, "format": "PNG"},
        findings=[
            Finding(
                detector="provenance",
                kind=f"png.text.{i}",
                confidence=0.5 + i / 100,
                summary=f"finding {i} of upload {seed}",
                details=details if details is not None else {"key": "AIGC", "n": i},
                where={"chunk": "tEXt", "offset": 33 + i} if i % 2 == 0 else None,
            )
            for i in range(findings)
        ],
        verdict=Verdict(
            aigc_label=label,
            reasons=(f"label {label} because of png.text.0",) if label else (),
        ),
        detectors=[DetectorRun(name="provenance", version="1", seconds=0.0012)],
        timings={"probe": 0.0001, "total": 0.0123},
        errors=[
            ScanError(stage=f"detector:{i}", error="CorruptMedia", message="truncated")
            for i in range(errors)
        ],
        scanned_at=when,
        deepguard_version="0.1.0",
    )


def rich_result() -> ScanResult:
    """A result using every field: unicode, nesting, nulls, errors, timings."""
    return make_result(
        seed=7,
        path="/数据/上传 文件 #1.png",
        label="3",
        findings=3,
        errors=2,
        details={
            "text": "人工智能生成 — AI",
            "nested": {"list": [1, 2.5, None, True], "empty": {}},
            "quote": 'say "hi"\\n',
        },
    )


def _ensure_database(url: str) -> None:
    """Create this worker's database on first use (from the configured one)."""
    if _BASE_POSTGRES_URL is None or url == _BASE_POSTGRES_URL:
        return
    name = sa.make_url(url).database
    admin = sa.create_engine(_BASE_POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def reset_postgres(url: str) -> None:
    """Drop deepguard's tables, whatever state an earlier test left them in."""
    _ensure_database(url)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            # Every table the models define, children first, so a new table
            # never outlives a reset.
            tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
            conn.execute(
                sa.text(f"DROP TABLE IF EXISTS {', '.join(tables)}, alembic_version")
            )
    finally:
        engine.dispose()
