"""SQLAlchemy models: how scans and findings are laid out in the database.

Why both a full document and columns: the ``result`` column keeps the exact
``deepguard.scan/1`` document, so a stored scan is reproduced byte for byte
whatever later versions add to it; the other columns are copies of the fields
people filter and sort by (content hash, Art. 6 label, time, finding kind),
indexed so that lookups stay fast as history grows.

Rows convert to and from domain objects with ``to_domain``/``from_domain``;
they never leave ``deepguard.store.sql``. A schema change here needs a new
Alembic revision in ``migrations/versions`` (``test_migrations`` checks that
the two agree).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from deepguard.scan.finding import AigcLabel, Finding
from deepguard.scan.result import ScanResult
from deepguard.store.interface import (
    LabelRecord,
    ScanSummary,
    as_utc,
    normalise_sha256,
    scan_time,
)
from deepguard.store.sql._dialect import IdInteger, UtcDateTime

__all__ = ["NAMING_CONVENTION", "Base", "FindingRow", "LabelRecordRow", "ScanRow"]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names are fixed, so migrations can name what they alter on every
backend (SQLite and PostgreSQL would otherwise invent different names)."""


class Base(DeclarativeBase):
    """Declarative base carrying the shared metadata and naming convention."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class ScanRow(Base):
    """One scan of one file: the full result document plus indexed copies."""

    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(IdInteger, primary_key=True)
    scanned_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    path: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    kind: Mapped[str | None] = mapped_column(sa.String(32))
    mime: Mapped[str | None] = mapped_column(sa.String(255))
    aigc_label: Mapped[str | None] = mapped_column(sa.String(1), index=True)
    verdict_reasons: Mapped[list[str]] = mapped_column(sa.JSON)
    result: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    schema_version: Mapped[str] = mapped_column(sa.String(64))
    deepguard_version: Mapped[str] = mapped_column(sa.String(64))
    error_count: Mapped[int] = mapped_column(sa.Integer)

    findings: Mapped[list[FindingRow]] = relationship(
        back_populates="scan",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="FindingRow.id",
    )

    @staticmethod
    def values_from_domain(result: ScanResult) -> dict[str, Any]:
        """Column values for a result, keyed by attribute name.

        Why a dict: bulk inserts of thousands of scans take plain dicts; the
        same function feeds :meth:`from_domain`, so both paths agree.
        """
        document = result.to_dict()
        return {
            "scanned_at": scan_time(result),
            "path": result.file.path,
            "sha256": normalise_sha256(result.file.sha256),
            "size": result.file.size,
            "kind": result.file.kind,
            "mime": result.file.mime,
            "aigc_label": result.verdict.aigc_label,
            "verdict_reasons": list(result.verdict.reasons),
            "result": document,
            "schema_version": document["schema"],
            "deepguard_version": result.deepguard_version,
            "error_count": len(result.errors),
        }

    @classmethod
    def from_domain(cls, result: ScanResult) -> ScanRow:
        """A new row, with its finding rows, for a result."""
        return cls(
            **cls.values_from_domain(result),
            findings=[FindingRow.from_domain(f) for f in result.findings],
        )

    def to_domain(self) -> ScanResult:
        """The stored result document, rebuilt.

        Raises:
            ValueError: the stored document is not ``deepguard.scan/1`` (written
                by a newer deepguard, or edited by hand).
        """
        return ScanResult.from_dict(self.result)


class FindingRow(Base):
    """One finding of a scan, so scans can be searched by what was found.

    The finding is also inside the scan's ``result`` document, which stays the
    source of truth when a scan is read back.
    """

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(IdInteger, primary_key=True)
    scan_id: Mapped[int] = mapped_column(
        IdInteger, sa.ForeignKey("scans.id", ondelete="CASCADE"), index=True
    )
    detector: Mapped[str] = mapped_column(sa.String(128))
    kind: Mapped[str] = mapped_column(sa.String(128), index=True)
    confidence: Mapped[float] = mapped_column(sa.Float)
    summary: Mapped[str] = mapped_column(sa.Text)
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    where: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)

    scan: Mapped[ScanRow] = relationship(back_populates="findings")

    @staticmethod
    def values_from_domain(
        finding: Finding, *, scan_id: int | None = None
    ) -> dict[str, Any]:
        """Column values for a finding, keyed by attribute name (for bulk inserts)."""
        values = finding.to_dict()
        if scan_id is not None:
            values["scan_id"] = scan_id
        return values

    @classmethod
    def from_domain(cls, finding: Finding) -> FindingRow:
        """A new row for a finding; attach it to a :class:`ScanRow`."""
        return cls(**cls.values_from_domain(finding))

    def to_domain(self) -> Finding:
        """The finding this row holds."""
        return Finding(
            detector=self.detector,
            kind=self.kind,
            confidence=self.confidence,
            summary=self.summary,
            details=dict(self.details or {}),
            where=self.where,
        )


class LabelRecordRow(Base):
    """A producer's label record, indexed by the watermark payload fields."""

    __tablename__ = "label_records"
    __table_args__ = (
        sa.Index("ix_label_records_payload", "producer_tag", "content_id"),
    )

    id: Mapped[int] = mapped_column(IdInteger, primary_key=True)
    producer_tag: Mapped[int] = mapped_column(sa.Integer)
    content_id: Mapped[int] = mapped_column(sa.BigInteger)
    producer: Mapped[str] = mapped_column(sa.String(64))
    produce_id: Mapped[str] = mapped_column(sa.Text)
    fields: Mapped[dict[str, str]] = mapped_column(sa.JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    path: Mapped[str | None] = mapped_column(sa.Text)

    @classmethod
    def from_domain(cls, record: LabelRecord) -> LabelRecordRow:
        return cls(
            producer_tag=record.producer_tag,
            content_id=record.content_id,
            producer=record.producer,
            produce_id=record.produce_id,
            fields=dict(record.fields),
            created_at=as_utc(record.created_at),
            sha256=normalise_sha256(record.sha256),
            path=record.path,
        )

    def to_domain(self) -> LabelRecord:
        return LabelRecord(
            producer_tag=self.producer_tag,
            content_id=self.content_id,
            fields={str(k): str(v) for k, v in self.fields.items()},
            created_at=as_utc(self.created_at),
            sha256=self.sha256,
            path=self.path,
            id=self.id,
        )


def summary_from_columns(
    *,
    id: int,
    scanned_at: dt.datetime,
    path: str,
    sha256: str | None,
    kind: str | None,
    mime: str | None,
    size: int | None,
    aigc_label: str | None,
    finding_count: int,
    error_count: int,
) -> ScanSummary:
    """Build a summary from column values selected without loading the row."""
    return ScanSummary(
        id=id,
        scanned_at=scanned_at,
        path=path,
        sha256=sha256,
        kind=kind,
        mime=mime,
        size=size,
        aigc_label=_label(aigc_label),
        finding_count=finding_count,
        error_count=error_count,
    )


_LABELS: dict[str, AigcLabel] = {"1": "1", "2": "2", "3": "3"}


def _label(value: str | None) -> AigcLabel | None:
    """Narrow a stored label to the Art. 6 classes.

    Raises:
        ValueError: the column holds something else (edited by hand).
    """
    if value is None:
        return None
    try:
        return _LABELS[value]
    except KeyError:
        msg = f"invalid aigc_label {value!r} in the scans table"
        raise ValueError(msg) from None
