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
    FACE_DIMS,
    VOICE_DIMS,
    Authorisation,
    FaceReference,
    LabelRecord,
    OfficialAccount,
    Person,
    ScanSummary,
    Scope,
    Verification,
    VoiceReference,
    as_utc,
    embedding_bytes,
    embedding_from_bytes,
    normalise_sha256,
    scan_time,
)
from deepguard.store.sql._dialect import IdInteger, UtcDateTime

__all__ = [
    "NAMING_CONVENTION",
    "REGISTRY_STATE_ID",
    "AuthorisationRow",
    "Base",
    "FaceReferenceRow",
    "FindingRow",
    "LabelRecordRow",
    "OfficialAccountRow",
    "PersonRow",
    "RegistryStateRow",
    "ScanRow",
    "VoiceReferenceRow",
]

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


# The likeness registry. Every table of a person refers to ``people`` with ON
# DELETE CASCADE, so removing a person is one DELETE in any backend.


def _person_fk() -> sa.ForeignKey:
    return sa.ForeignKey("people.id", ondelete="CASCADE")


class PersonRow(Base):
    """A protected person; ``search_text`` is what name queries search."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(IdInteger, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(256))
    aliases: Mapped[list[str]] = mapped_column(sa.JSON)
    notes: Mapped[str] = mapped_column(sa.Text)
    verification: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    search_text: Mapped[str] = mapped_column(sa.Text)

    @classmethod
    def from_domain(cls, person: Person) -> PersonRow:
        return cls(
            name=person.name,
            aliases=list(person.aliases),
            notes=person.notes,
            verification=str(person.verification),
            created_at=person.created_at,
            search_text=person.search_text(),
        )

    def to_domain(self) -> Person:
        """The person this row holds.

        Raises:
            ValueError: a column holds what no person can (edited by hand).
        """
        return Person(
            id=self.id,
            name=self.name,
            aliases=tuple(str(a) for a in self.aliases),
            notes=self.notes,
            verification=Verification(self.verification),
            created_at=self.created_at,
        )


class FaceReferenceRow(Base):
    """A face reference: digest, box, quality and the embedding's bytes.

    The unique (person_id, sha256) index also serves "references of a person".
    """

    __tablename__ = "face_references"
    __table_args__ = (sa.UniqueConstraint("person_id", "sha256"),)

    id: Mapped[int] = mapped_column(IdInteger, primary_key=True)
    person_id: Mapped[int] = mapped_column(IdInteger, _person_fk())
    sha256: Mapped[str] = mapped_column(sa.String(64))
    box_left: Mapped[int] = mapped_column(sa.Integer)
    box_top: Mapped[int] = mapped_column(sa.Integer)
    box_width: Mapped[int] = mapped_column(sa.Integer)
    box_height: Mapped[int] = mapped_column(sa.Integer)
    quality: Mapped[float] = mapped_column(sa.Float)
    embedding: Mapped[bytes] = mapped_column(sa.LargeBinary)
    source: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    @classmethod
    def from_domain(cls, ref: FaceReference, *, person_id: int) -> FaceReferenceRow:
        left, top, width, height = ref.box
        return cls(
            person_id=person_id,
            sha256=ref.sha256,
            box_left=left,
            box_top=top,
            box_width=width,
            box_height=height,
            quality=ref.quality,
            embedding=embedding_bytes(ref.embedding),
            source=ref.source,
            created_at=ref.created_at,
        )

    def to_domain(self) -> FaceReference:
        """The reference this row holds.

        Raises:
            ValueError: the embedding has the wrong length, or another column
                holds what no reference can.
        """
        return FaceReference(
            id=self.id,
            person_id=self.person_id,
            sha256=self.sha256,
            box=(self.box_left, self.box_top, self.box_width, self.box_height),
            quality=self.quality,
            embedding=embedding_from_bytes(self.embedding, FACE_DIMS, "face"),
            source=self.source,
            created_at=self.created_at,
        )


class VoiceReferenceRow(Base):
    """A voice reference: digest, seconds of speech and the embedding's bytes."""

    __tablename__ = "voice_references"
    __table_args__ = (sa.UniqueConstraint("person_id", "sha256"),)

    id: Mapped[int] = mapped_column(IdInteger, primary_key=True)
    person_id: Mapped[int] = mapped_column(IdInteger, _person_fk())
    sha256: Mapped[str] = mapped_column(sa.String(64))
    speech_s: Mapped[float] = mapped_column(sa.Float)
    embedding: Mapped[bytes] = mapped_column(sa.LargeBinary)
    source: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    @classmethod
    def from_domain(cls, ref: VoiceReference, *, person_id: int) -> VoiceReferenceRow:
        return cls(
            person_id=person_id,
            sha256=ref.sha256,
            speech_s=ref.speech_s,
            embedding=embedding_bytes(ref.embedding),
            source=ref.source,
            created_at=ref.created_at,
        )

    def to_domain(self) -> VoiceReference:
        """The reference this row holds.

        Raises:
            ValueError: as for :meth:`FaceReferenceRow.to_domain`.
        """
        return VoiceReference(
            id=self.id,
            person_id=self.person_id,
            sha256=self.sha256,
            speech_s=self.speech_s,
            embedding=embedding_from_bytes(self.embedding, VOICE_DIMS, "voice"),
            source=self.source,
            created_at=self.created_at,
        )


class OfficialAccountRow(Base):
    """An official account; ``handle_key`` (case-folded) makes it unique.

    The unique (platform, handle_key) index is the account lookup of every
    scan that names its uploader.
    """

    __tablename__ = "official_accounts"
    __table_args__ = (sa.UniqueConstraint("platform", "handle_key"),)

    id: Mapped[int] = mapped_column(IdInteger, primary_key=True)
    person_id: Mapped[int] = mapped_column(IdInteger, _person_fk(), index=True)
    platform: Mapped[str] = mapped_column(sa.String(64))
    handle: Mapped[str] = mapped_column(sa.String(256))
    handle_key: Mapped[str] = mapped_column(sa.String(256))

    @classmethod
    def from_domain(cls, account: OfficialAccount) -> OfficialAccountRow:
        return cls(
            person_id=account.person_id,
            platform=account.platform,
            handle=account.handle,
            handle_key=account.key[1],
        )

    def to_domain(self) -> OfficialAccount:
        """The account this row holds.

        Raises:
            ValueError: the platform or handle is malformed (edited by hand).
        """
        return OfficialAccount(
            id=self.id,
            person_id=self.person_id,
            platform=self.platform,
            handle=self.handle,
        )


class AuthorisationRow(Base):
    """A grant to an account or licensee, with its scope and validity window."""

    __tablename__ = "authorisations"

    id: Mapped[int] = mapped_column(IdInteger, primary_key=True)
    person_id: Mapped[int] = mapped_column(IdInteger, _person_fk(), index=True)
    grantee: Mapped[str] = mapped_column(sa.String(512))
    scope: Mapped[str] = mapped_column(sa.String(8))
    valid_from: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    valid_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    note: Mapped[str] = mapped_column(sa.Text)

    @classmethod
    def from_domain(cls, grant: Authorisation) -> AuthorisationRow:
        return cls(
            person_id=grant.person_id,
            grantee=grant.grantee,
            scope=str(grant.scope),
            valid_from=grant.valid_from,
            valid_until=grant.valid_until,
            note=grant.note,
        )

    def to_domain(self) -> Authorisation:
        """The grant this row holds.

        Raises:
            ValueError: a column holds what no grant can (edited by hand).
        """
        return Authorisation(
            id=self.id,
            person_id=self.person_id,
            grantee=self.grantee,
            scope=Scope(self.scope),
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            note=self.note,
        )


REGISTRY_STATE_ID = 1
"""The one row of ``registry_state``."""


class RegistryStateRow(Base):
    """One row counting changes to people and references.

    Why a row and not ``max(id)``: removals must bump it too. Every change
    updates it in the same transaction, so readers never see data newer than
    the revision (PostgreSQL's row lock also orders concurrent writers).
    """

    __tablename__ = "registry_state"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(sa.BigInteger)
