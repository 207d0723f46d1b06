"""The SQL store: scan history in SQLite or PostgreSQL through SQLAlchemy.

Why one class for both: the CLI and tests use an SQLite file under the data
directory, the service uses PostgreSQL, and both must behave the same. Backend
quirks live in ``_dialect.py``; the schema lives in ``models.py`` and is created
and upgraded by the Alembic migrations next to it whenever a store is opened.

Every SQLAlchemy or driver error is turned into
:class:`~deepguard.errors.StorageError` whose one-line message names the
database (password masked), so callers never see a driver traceback.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.util.exc import CommandError
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from deepguard.accounts import account_key
from deepguard.errors import Conflict, NotFound, StorageError
from deepguard.scan.result import ScanResult
from deepguard.store.interface import (
    NO_LABEL,
    Authorisation,
    FaceReference,
    IStore,
    LabelRecord,
    OfficialAccount,
    Person,
    ReferenceIds,
    ScanSummary,
    VoiceReference,
    account_taken,
    as_utc,
    check_new_references,
    check_one_file,
    check_page,
    no_account,
    no_authorisation,
    no_person,
    no_scan,
    normalise_sha256,
    search_query,
    sha256_query,
)
from deepguard.store.sql import _dialect
from deepguard.store.sql.migrations import alembic_config
from deepguard.store.sql.models import (
    REGISTRY_STATE_ID,
    AuthorisationRow,
    FaceReferenceRow,
    FindingRow,
    LabelRecordRow,
    OfficialAccountRow,
    PersonRow,
    RegistryStateRow,
    ScanRow,
    VoiceReferenceRow,
    summary_from_columns,
)

__all__ = ["SqlStore"]

_WRITE = {_dialect.BEGIN_MODE: "IMMEDIATE"}

# Hex digits sort before "g", so [prefix, prefix + "g") holds exactly the
# digests that start with prefix, and a range scan can use the sha256 index
# on every backend (LIKE cannot on SQLite, where it ignores case).
_AFTER_HEX = "g"

_Domain = TypeVar("_Domain", covariant=True)


class _Readable(Protocol[_Domain]):
    """A registry row: anything with ``to_domain``."""

    def to_domain(self) -> _Domain: ...


class SqlStore(IStore):
    """Scan history in a SQL database; open it with :meth:`SqlStore.open`.

    Each call runs in its own short transaction on a pooled connection, so one
    store may be shared by threads. The exception is in-memory SQLite
    (``sqlite://``), which lives on a single connection and is meant for tests
    and one thread.
    """

    def __init__(self, engine: Engine, *, url: sa.URL) -> None:
        """Wrap an engine whose database is already at the current schema.

        Prefer :meth:`open`, which builds the engine and migrates.
        """
        self._engine = engine
        self._name = _dialect.display_url(url)
        self._closed = False
        self._driver_error: type[Exception] = getattr(
            engine.dialect.loaded_dbapi, "Error", sa.exc.DBAPIError
        )

    @classmethod
    def open(cls, url: str) -> SqlStore:
        """Connect to ``url`` and bring its schema up to date.

        Runs ``alembic upgrade head``, so a new database is created (for SQLite,
        with its directory) and an older one is migrated. Safe to call from
        several processes at once: on SQLite the upgrade holds the write lock.

        Raises:
            StorageError: the URL is invalid, the driver is missing, the
                database cannot be reached or is not a database, or its schema
                is newer than this version of deepguard knows.
        """
        parsed = _dialect.parse_url(url)
        engine = _dialect.make_engine(parsed)
        store = cls(engine, url=parsed)
        try:
            store._upgrade()
        except BaseException:
            engine.dispose()
            raise
        return store

    def save_scan(self, *, result: ScanResult) -> int:
        """Store one result and return its row id.

        Raises:
            StorageError: the database failed, the store is closed, or the
                result holds values that are not JSON.
        """
        with self._session(f"store scan of {result.file.path}", write=True) as s:
            row = ScanRow.from_domain(result)
            s.add(row)
            s.flush()
            return row.id

    def save_scans(self, *, results: Sequence[ScanResult]) -> list[int]:
        """Store many results in one transaction with bulk inserts.

        Scans go in with one multi-row ``INSERT … RETURNING id`` per batch
        (SQLAlchemy's "insertmanyvalues"), findings with one ``executemany``.

        Raises:
            StorageError: as for :meth:`save_scan`; nothing was stored.
        """
        if not results:
            self._check_open()
            return []
        scan_values = [ScanRow.values_from_domain(r) for r in results]
        action = f"store {len(results)} scan{'s' if len(results) > 1 else ''}"
        with self._session(action, write=True) as s:
            insert_scans = sa.insert(ScanRow).returning(
                ScanRow.id, sort_by_parameter_order=True
            )
            ids = list(s.scalars(insert_scans, scan_values))
            finding_values = [
                FindingRow.values_from_domain(finding, scan_id=scan_id)
                for scan_id, result in zip(ids, results, strict=True)
                for finding in result.findings
            ]
            if finding_values:
                s.execute(sa.insert(FindingRow), finding_values)
        return ids

    def save_label_record(self, *, record: LabelRecord) -> int:
        """Store a record (or find the same one) and return its id.

        Raises:
            StorageError: the database failed or the store is closed.
        """
        with self._session(f"store label record {record.produce_id}", write=True) as s:
            existing = s.scalars(
                sa.select(LabelRecordRow.id).where(
                    LabelRecordRow.producer_tag == record.producer_tag,
                    LabelRecordRow.content_id == record.content_id,
                    LabelRecordRow.produce_id == record.produce_id,
                    LabelRecordRow.sha256.is_(None)
                    if record.sha256 is None
                    else LabelRecordRow.sha256 == normalise_sha256(record.sha256),
                )
            ).first()
            if existing is not None:
                return int(existing)
            row = LabelRecordRow.from_domain(record)
            s.add(row)
            s.flush()
            return row.id

    def find_label_records(
        self, *, producer_tags: tuple[int, int], content_ids: tuple[int, int]
    ) -> list[LabelRecord]:
        """Records in the ranges, newest first.

        Raises:
            StorageError: the database failed or the store is closed.
        """
        with self._session("find label records") as s:
            rows = s.scalars(
                sa.select(LabelRecordRow)
                .where(
                    LabelRecordRow.producer_tag.between(*producer_tags),
                    LabelRecordRow.content_id.between(*content_ids),
                )
                .order_by(LabelRecordRow.created_at.desc(), LabelRecordRow.id.desc())
            )
            return [row.to_domain() for row in rows]

    def get_scan(self, *, sha256: str) -> ScanResult:
        """The latest scan of the content with this sha256 or unique prefix.

        Raises:
            NotFound: nothing matches, or ``sha256`` is not a usable prefix.
            Conflict: the prefix matches scans of more than one file.
            StorageError: the database failed or the store is closed.
        """
        query = sha256_query(sha256)
        with self._session(f"read scan {query}") as s:
            digest = query
            if len(query) < 64:
                matching = sa.and_(
                    ScanRow.sha256 >= query, ScanRow.sha256 < query + _AFTER_HEX
                )
                files = s.scalars(
                    sa.select(ScanRow.sha256).where(matching).distinct().limit(2)
                ).all()
                found = len(files)
                if found > 1:
                    count = s.scalar(
                        sa.select(sa.func.count(sa.distinct(ScanRow.sha256))).where(
                            matching
                        )
                    )
                    found = count or found
                check_one_file(query, found)
                digest = files[0] or query
            row = s.scalars(
                sa.select(ScanRow)
                .where(ScanRow.sha256 == digest)
                .order_by(ScanRow.scanned_at.desc(), ScanRow.id.desc())
                .limit(1)
            ).first()
            if row is None:
                raise NotFound(no_scan(query))
            try:
                return row.to_domain()
            except ValueError as exc:
                msg = f"database {self._name}: scan {row.id} is unreadable: {exc}"
                raise StorageError(msg) from exc

    def list_scans(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        label: str | None = None,
        since: dt.datetime | None = None,
    ) -> list[ScanSummary]:
        """Summaries newest first, without loading the result documents.

        Raises:
            ValueError: ``limit`` or ``offset`` is negative.
            StorageError: the database failed or the store is closed.
        """
        check_page(limit, offset)
        finding_count = (
            sa.select(sa.func.count(FindingRow.id))
            .where(FindingRow.scan_id == ScanRow.id)
            .correlate(ScanRow)
            .scalar_subquery()
        )
        stmt = sa.select(
            ScanRow.id,
            ScanRow.scanned_at,
            ScanRow.path,
            ScanRow.sha256,
            ScanRow.kind,
            ScanRow.mime,
            ScanRow.size,
            ScanRow.aigc_label,
            finding_count.label("finding_count"),
            ScanRow.error_count,
        )
        if label == NO_LABEL:
            stmt = stmt.where(ScanRow.aigc_label.is_(None))
        elif label is not None:
            stmt = stmt.where(ScanRow.aigc_label == label)
        if since is not None:
            stmt = stmt.where(ScanRow.scanned_at >= as_utc(since))
        stmt = (
            stmt.order_by(ScanRow.scanned_at.desc(), ScanRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self._session("list scans") as s:
            rows = s.execute(stmt).all()
            try:
                return [summary_from_columns(**row._asdict()) for row in rows]
            except ValueError as exc:
                msg = f"database {self._name}: a scan is unreadable: {exc}"
                raise StorageError(msg) from exc

    def count_scans(self) -> int:
        """How many scans are stored.

        Raises:
            StorageError: the database failed or the store is closed.
        """
        with self._session("count scans") as s:
            return s.scalar(sa.select(sa.func.count(ScanRow.id))) or 0

    # the likeness registry

    def add_person(self, *, person: Person) -> Person:
        """Add a person and return it with its id.

        Raises:
            StorageError: the database failed or the store is closed.
        """
        with self._session(f"add person {person.name}", write=True) as s:
            row = PersonRow.from_domain(person)
            s.add(row)
            s.flush()
            _bump_revision(s)
            return self._domain(row)

    def get_person(self, *, person_id: int) -> Person:
        """The person with this id.

        Raises:
            NotFound: there is none.
            StorageError: the database failed or the store is closed.
        """
        with self._session(f"read person {person_id}") as s:
            return self._domain(_person_row(s, person_id))

    def find_people(self, *, query: str) -> list[Person]:
        """People whose name or an alias contains ``query``, ignoring case.

        Both sides are case-folded in Python (``search_text`` is stored
        folded), so the match is the same on every backend and for every
        script, not only for ASCII as SQL's own case rules would be.

        Raises:
            StorageError: the database failed or the store is closed.
        """
        needle = search_query(query)
        pattern = "%" + _escape_like(needle) + "%"
        with self._session("find people") as s:
            rows = s.scalars(
                sa.select(PersonRow)
                .where(PersonRow.search_text.like(pattern, escape="\\"))
                .order_by(PersonRow.id)
            )
            return [self._domain(row) for row in rows]

    def list_people(self) -> list[Person]:
        """Everyone, by id.

        Raises:
            StorageError: the database failed or the store is closed.
        """
        with self._session("list people") as s:
            rows = s.scalars(sa.select(PersonRow).order_by(PersonRow.id))
            return [self._domain(row) for row in rows]

    def remove_person(self, *, person_id: int) -> None:
        """Remove a person; the database cascades to everything of theirs.

        Raises:
            NotFound: there is no such person.
            StorageError: the database failed or the store is closed.
        """
        with self._session(f"remove person {person_id}", write=True) as s:
            deleted = s.execute(sa.delete(PersonRow).where(PersonRow.id == person_id))
            if _rowcount(deleted) == 0:
                raise NotFound(no_person(person_id))
            _bump_revision(s)

    def add_references(
        self,
        *,
        person_id: int,
        faces: Sequence[FaceReference] = (),
        voices: Sequence[VoiceReference] = (),
    ) -> ReferenceIds:
        """Add a person's references in one transaction, all or none.

        Raises:
            NotFound: there is no such person.
            Conflict: a digest is enrolled already or repeats; nothing added.
            ValueError: a reference names another person.
            StorageError: the database failed or the store is closed.
        """
        action = f"add references of person {person_id}"
        with self._session(action, write=True) as s:
            _person_row(s, person_id)
            check_new_references(
                person_id,
                faces,
                voices,
                enrolled_faces=_digests(s, FaceReferenceRow, person_id),
                enrolled_voices=_digests(s, VoiceReferenceRow, person_id),
            )
            face_rows = [
                FaceReferenceRow.from_domain(r, person_id=person_id) for r in faces
            ]
            voice_rows = [
                VoiceReferenceRow.from_domain(r, person_id=person_id) for r in voices
            ]
            s.add_all([*face_rows, *voice_rows])
            try:
                s.flush()
            except sa.exc.IntegrityError as exc:
                # Another writer enrolled the same file since the check above.
                msg = f"person {person_id}: a reference was enrolled meanwhile"
                raise Conflict(msg) from exc
            if face_rows or voice_rows:
                _bump_revision(s)
            return ReferenceIds(
                faces=[row.id for row in face_rows],
                voices=[row.id for row in voice_rows],
            )

    def face_references(self, *, person_id: int | None = None) -> list[FaceReference]:
        """Face references of one person or of everyone, by id.

        Raises:
            NotFound: ``person_id`` names no person.
            StorageError: the database failed, the store is closed, or an
                embedding has the wrong length.
        """
        with self._session("read face references") as s:
            rows = _owned_rows(s, FaceReferenceRow, person_id)
            return [self._domain(row) for row in rows]

    def voice_references(self, *, person_id: int | None = None) -> list[VoiceReference]:
        """Voice references of one person or of everyone, by id.

        Raises:
            NotFound: ``person_id`` names no person.
            StorageError: as for :meth:`face_references`.
        """
        with self._session("read voice references") as s:
            rows = _owned_rows(s, VoiceReferenceRow, person_id)
            return [self._domain(row) for row in rows]

    def add_account(self, *, account: OfficialAccount) -> OfficialAccount:
        """Register an official account.

        Raises:
            NotFound: the person does not exist.
            Conflict: the account is registered already.
            StorageError: the database failed or the store is closed.
        """
        with self._session(f"add account {account}", write=True) as s:
            _person_row(s, account.person_id)
            existing = _account_row(s, account.key)
            if existing is not None:
                raise Conflict(account_taken(account, existing.person_id))
            row = OfficialAccountRow.from_domain(account)
            s.add(row)
            try:
                s.flush()
            except sa.exc.IntegrityError as exc:
                msg = f"account {account} was registered meanwhile"
                raise Conflict(msg) from exc
            return self._domain(row)

    def remove_account(self, *, platform: str, handle: str) -> OfficialAccount:
        """Unregister an account and return it.

        Raises:
            InvalidSignal: the platform or handle is malformed.
            NotFound: it is not registered.
            StorageError: the database failed or the store is closed.
        """
        key = account_key(platform, handle)
        with self._session(f"remove account {key[0]}:{key[1]}", write=True) as s:
            row = _account_row(s, key)
            if row is None:
                raise NotFound(no_account(key))
            removed = self._domain(row)
            s.delete(row)
            return removed

    def accounts(self, *, person_id: int) -> list[OfficialAccount]:
        """A person's accounts, by id.

        Raises:
            NotFound: there is no such person.
            StorageError: the database failed or the store is closed.
        """
        with self._session(f"read accounts of person {person_id}") as s:
            rows = _owned_rows(s, OfficialAccountRow, person_id)
            return [self._domain(row) for row in rows]

    def owner_of(self, *, platform: str, handle: str) -> Person | None:
        """Who registered this account, if anyone (one indexed lookup).

        Raises:
            InvalidSignal: the platform or handle is malformed.
            StorageError: the database failed or the store is closed.
        """
        key = account_key(platform, handle)
        with self._session(f"look up account {key[0]}:{key[1]}") as s:
            row = s.scalars(
                sa.select(PersonRow)
                .join(OfficialAccountRow, OfficialAccountRow.person_id == PersonRow.id)
                .where(
                    OfficialAccountRow.platform == key[0],
                    OfficialAccountRow.handle_key == key[1],
                )
            ).first()
            return None if row is None else self._domain(row)

    def add_authorisation(self, *, authorisation: Authorisation) -> Authorisation:
        """Record a grant.

        Raises:
            NotFound: the person does not exist.
            StorageError: the database failed or the store is closed.
        """
        action = f"authorise {authorisation.grantee}"
        with self._session(action, write=True) as s:
            _person_row(s, authorisation.person_id)
            row = AuthorisationRow.from_domain(authorisation)
            s.add(row)
            s.flush()
            return self._domain(row)

    def remove_authorisation(self, *, authorisation_id: int) -> Authorisation:
        """Delete a grant and return it.

        Raises:
            NotFound: there is no such grant.
            StorageError: the database failed or the store is closed.
        """
        action = f"remove authorisation {authorisation_id}"
        with self._session(action, write=True) as s:
            row = s.get(AuthorisationRow, authorisation_id)
            if row is None:
                raise NotFound(no_authorisation(authorisation_id))
            removed = self._domain(row)
            s.delete(row)
            return removed

    def authorisations(self, *, person_id: int) -> list[Authorisation]:
        """A person's grants, by id.

        Raises:
            NotFound: there is no such person.
            StorageError: the database failed or the store is closed.
        """
        with self._session(f"read authorisations of person {person_id}") as s:
            rows = _owned_rows(s, AuthorisationRow, person_id)
            return [self._domain(row) for row in rows]

    def registry_revision(self) -> int:
        """Grows with every change to people or references.

        Raises:
            StorageError: the database failed or the store is closed.
        """
        with self._session("read the registry revision") as s:
            revision = s.scalar(
                sa.select(RegistryStateRow.revision).where(
                    RegistryStateRow.id == REGISTRY_STATE_ID
                )
            )
            return int(revision or 0)

    def _domain(self, row: _Readable[_Domain]) -> _Domain:
        """``row.to_domain()``, with an unreadable row as a StorageError.

        Raises:
            StorageError: the row holds what no domain value can (a wrong
                embedding length, an unknown status), e.g. after hand edits.
        """
        try:
            return row.to_domain()
        except ValueError as exc:
            table = getattr(row, "__tablename__", type(row).__name__)
            msg = (
                f"database {self._name}: {table} row {getattr(row, 'id', '?')} "
                f"is unreadable: {exc}"
            )
            raise StorageError(msg) from exc

    def close(self) -> None:
        """Close every pooled connection; later calls raise StorageError."""
        if not self._closed:
            self._closed = True
            self._engine.dispose()

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<SqlStore {self._name}{state}>"

    def _upgrade(self) -> None:
        """Run ``alembic upgrade head`` in one write transaction.

        Raises:
            StorageError: the database failed, or it is at a revision that this
                version of deepguard does not have (written by a newer one).
        """
        try:
            with self._translate("open"), self._engine.connect() as conn:
                conn.execution_options(**_WRITE)
                with conn.begin():
                    command.upgrade(alembic_config(connection=conn), "head")
        except CommandError as exc:
            msg = (
                f"database {self._name}: cannot upgrade the schema: {exc}; was "
                "it written by a newer deepguard?"
            )
            raise StorageError(msg) from exc

    def _check_open(self) -> None:
        if self._closed:
            msg = f"database {self._name} is closed"
            raise StorageError(msg)

    @contextmanager
    def _session(self, action: str, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction, committed on success.

        Raises:
            StorageError: the store is closed or the database failed.
        """
        self._check_open()
        options: dict[str, Any] = _WRITE if write else {}
        with (
            self._translate(action),
            Session(
                self._engine, expire_on_commit=False, execution_options=options
            ) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def _translate(self, action: str) -> Iterator[None]:
        """Turn SQLAlchemy and driver errors into a one-line StorageError.

        Raises:
            StorageError: from any ``SQLAlchemyError`` or DB-API error, or a
                value that is not JSON.
        """
        try:
            yield
        except (sa.exc.SQLAlchemyError, self._driver_error, _dialect.NotJson) as exc:
            msg = f"database {self._name}: cannot {action}: {_reason(exc)}"
            raise StorageError(msg) from exc


def _reason(exc: BaseException) -> str:
    """The driver's own words, without SQLAlchemy's SQL echo and links."""
    cause = exc.orig if isinstance(exc, sa.exc.StatementError) else None
    text = str(cause if cause is not None else exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _person_row(session: Session, person_id: int) -> PersonRow:
    """The row of a person.

    Raises:
        NotFound: there is none.
    """
    row = session.get(PersonRow, person_id)
    if row is None:
        raise NotFound(no_person(person_id))
    return row


_OwnedRow = TypeVar(
    "_OwnedRow",
    FaceReferenceRow,
    VoiceReferenceRow,
    OfficialAccountRow,
    AuthorisationRow,
)


def _owned_rows(
    session: Session, row_type: type[_OwnedRow], person_id: int | None
) -> list[_OwnedRow]:
    """A person's rows of one registry table (everyone's for None), by id.

    Raises:
        NotFound: ``person_id`` names no person.
    """
    stmt = sa.select(row_type).order_by(row_type.id)
    if person_id is not None:
        _person_row(session, person_id)
        stmt = stmt.where(row_type.person_id == person_id)
    return list(session.scalars(stmt))


def _account_row(session: Session, key: tuple[str, str]) -> OfficialAccountRow | None:
    return session.scalars(
        sa.select(OfficialAccountRow).where(
            OfficialAccountRow.platform == key[0],
            OfficialAccountRow.handle_key == key[1],
        )
    ).first()


def _digests(
    session: Session,
    table: type[FaceReferenceRow] | type[VoiceReferenceRow],
    person_id: int,
) -> set[str]:
    """The digests of a person's references in one modality."""
    return set(
        session.scalars(sa.select(table.sha256).where(table.person_id == person_id))
    )


def _bump_revision(session: Session) -> None:
    """Count one change to people or references, in the caller's transaction.

    The migration creates the row; it is recreated if someone deleted it.
    """
    updated = session.execute(
        sa.update(RegistryStateRow)
        .where(RegistryStateRow.id == REGISTRY_STATE_ID)
        .values(revision=RegistryStateRow.revision + 1)
    )
    if _rowcount(updated) == 0:
        session.add(RegistryStateRow(id=REGISTRY_STATE_ID, revision=1))
        session.flush()


def _rowcount(result: sa.Result[Any]) -> int:
    return int(getattr(result, "rowcount", 0))


def _escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
