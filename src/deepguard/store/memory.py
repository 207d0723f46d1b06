"""An in-memory store with the same behaviour as the SQL one.

Why ship a fake in the package: tests of the scanner, the CLI and the service
need a store that is fast and has no files, and plug-in authors need one too.
It passes the same contract tests as :class:`~deepguard.store.sql.SqlStore`, so
code tested against it behaves the same against a database. Like a database, it
keeps a serialised copy of each document, so a caller mutating a result after
saving it does not change what is stored, and values that are not JSON fail at
save time.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

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
    search_query,
    sha256_query,
)

__all__ = ["MemoryStore"]


@dataclass(frozen=True, slots=True)
class _Entry:
    summary: ScanSummary
    document: str


class MemoryStore(IStore):
    """Scans kept in a list; thread-safe; gone when the object is.

    Registry values are frozen dataclasses with read-only embeddings, so they
    are kept and handed out as they are; ids come from one counter per kind,
    like database sequences, and are never reused.
    """

    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self._records: list[LabelRecord] = []
        self._people: dict[int, Person] = {}
        self._faces: dict[int, FaceReference] = {}
        self._voices: dict[int, VoiceReference] = {}
        self._accounts: dict[int, OfficialAccount] = {}
        self._grants: dict[int, Authorisation] = {}
        self._ids = {
            kind: itertools.count(1)
            for kind in ("person", "face", "voice", "account", "grant")
        }
        self._revision = 0
        self._lock = threading.Lock()
        self._closed = False

    def save_scan(self, *, result: ScanResult) -> int:
        """Store one result and return its id.

        Raises:
            StorageError: the store is closed or the result is not JSON.
        """
        return self.save_scans(results=[result])[0]

    def save_scans(self, *, results: Sequence[ScanResult]) -> list[int]:
        """Store all results or none; ids come back in input order.

        Raises:
            StorageError: the store is closed or a result is not JSON.
        """
        documents = [_serialise(result) for result in results]
        with self._lock:
            self._check_open()
            first = len(self._entries) + 1
            ids = list(range(first, first + len(results)))
            self._entries.extend(
                _Entry(ScanSummary.from_result(id=id_, result=result), document)
                for id_, result, document in zip(ids, results, documents, strict=True)
            )
        return ids

    def save_label_record(self, *, record: LabelRecord) -> int:
        """Store a record (or find the same one) and return its id.

        Raises:
            StorageError: the store is closed.
        """
        with self._lock:
            self._check_open()
            for existing in self._records:
                if _same_record(existing, record):
                    return existing.id
            saved = replace(
                record,
                id=len(self._records) + 1,
                fields=dict(record.fields),
                created_at=as_utc(record.created_at),
            )
            self._records.append(saved)
            return saved.id

    def find_label_records(
        self, *, producer_tags: tuple[int, int], content_ids: tuple[int, int]
    ) -> list[LabelRecord]:
        """Records in the ranges, newest first.

        Raises:
            StorageError: the store is closed.
        """
        with self._lock:
            self._check_open()
            found = [
                replace(r, fields=dict(r.fields))
                for r in self._records
                if producer_tags[0] <= r.producer_tag <= producer_tags[1]
                and content_ids[0] <= r.content_id <= content_ids[1]
            ]
        return sorted(found, key=lambda r: (r.created_at, r.id), reverse=True)

    def get_scan(self, *, sha256: str) -> ScanResult:
        """The latest scan of the content with this sha256 or unique prefix.

        Raises:
            NotFound: nothing matches, or ``sha256`` is not a usable prefix.
            Conflict: the prefix matches scans of more than one file.
            StorageError: the store is closed.
        """
        query = sha256_query(sha256)
        with self._lock:
            self._check_open()
            matches = [
                entry
                for entry in self._entries
                if entry.summary.sha256 and entry.summary.sha256.startswith(query)
            ]
        check_one_file(query, len({entry.summary.sha256 for entry in matches}))
        latest = max(matches, key=lambda e: (e.summary.scanned_at, e.summary.id))
        return ScanResult.from_dict(json.loads(latest.document))

    def list_scans(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        label: str | None = None,
        since: dt.datetime | None = None,
    ) -> list[ScanSummary]:
        """Summaries newest first, filtered by label and time.

        Raises:
            ValueError: ``limit`` or ``offset`` is negative.
            StorageError: the store is closed.
        """
        check_page(limit, offset)
        start = as_utc(since) if since is not None else None
        with self._lock:
            self._check_open()
            rows = [
                entry.summary
                for entry in self._entries
                if _has_label(entry.summary, label)
                and (start is None or entry.summary.scanned_at >= start)
            ]
        rows.sort(key=lambda s: (s.scanned_at, s.id), reverse=True)
        return rows[offset : offset + limit]

    def count_scans(self) -> int:
        """How many scans are stored.

        Raises:
            StorageError: the store is closed.
        """
        with self._lock:
            self._check_open()
            return len(self._entries)

    # the likeness registry

    def add_person(self, *, person: Person) -> Person:
        """Add a person and return it with its id.

        Raises:
            StorageError: the store is closed.
        """
        with self._lock:
            self._check_open()
            saved = replace(person, id=next(self._ids["person"]))
            self._people[saved.id] = saved
            self._revision += 1
            return saved

    def get_person(self, *, person_id: int) -> Person:
        """The person with this id.

        Raises:
            NotFound: there is none.
            StorageError: the store is closed.
        """
        with self._lock:
            self._check_open()
            return self._person(person_id)

    def find_people(self, *, query: str) -> list[Person]:
        """People whose name or an alias contains ``query``, ignoring case.

        Raises:
            StorageError: the store is closed.
        """
        needle = search_query(query)
        with self._lock:
            self._check_open()
            return [p for p in self._people.values() if needle in p.search_text()]

    def list_people(self) -> list[Person]:
        """Everyone, by id.

        Raises:
            StorageError: the store is closed.
        """
        with self._lock:
            self._check_open()
            return list(self._people.values())

    def remove_person(self, *, person_id: int) -> None:
        """Remove a person and everything registered for them.

        Raises:
            NotFound: there is no such person.
            StorageError: the store is closed.
        """
        with self._lock:
            self._check_open()
            self._person(person_id)
            del self._people[person_id]
            # What ON DELETE CASCADE does in the database.
            self._faces = _without(self._faces, person_id)
            self._voices = _without(self._voices, person_id)
            self._accounts = _without(self._accounts, person_id)
            self._grants = _without(self._grants, person_id)
            self._revision += 1

    def add_references(
        self,
        *,
        person_id: int,
        faces: Sequence[FaceReference] = (),
        voices: Sequence[VoiceReference] = (),
    ) -> ReferenceIds:
        """Add a person's references, all or none.

        Raises:
            NotFound: there is no such person.
            Conflict: a digest is enrolled already or repeats; nothing added.
            ValueError: a reference names another person.
            StorageError: the store is closed.
        """
        with self._lock:
            self._check_open()
            self._person(person_id)
            check_new_references(
                person_id,
                faces,
                voices,
                enrolled_faces={
                    r.sha256 for r in self._faces.values() if r.person_id == person_id
                },
                enrolled_voices={
                    r.sha256 for r in self._voices.values() if r.person_id == person_id
                },
            )
            ids = ReferenceIds(faces=[], voices=[])
            for face in faces:
                saved_face = replace(
                    face, id=next(self._ids["face"]), person_id=person_id
                )
                self._faces[saved_face.id] = saved_face
                ids.faces.append(saved_face.id)
            for voice in voices:
                saved_voice = replace(
                    voice, id=next(self._ids["voice"]), person_id=person_id
                )
                self._voices[saved_voice.id] = saved_voice
                ids.voices.append(saved_voice.id)
            if faces or voices:
                self._revision += 1
            return ids

    def face_references(self, *, person_id: int | None = None) -> list[FaceReference]:
        """Face references of one person or of everyone, by id.

        Raises:
            NotFound: ``person_id`` names no person.
            StorageError: the store is closed.
        """
        with self._lock:
            return self._owned(self._faces, person_id)

    def voice_references(self, *, person_id: int | None = None) -> list[VoiceReference]:
        """Voice references of one person or of everyone, by id.

        Raises:
            NotFound: ``person_id`` names no person.
            StorageError: the store is closed.
        """
        with self._lock:
            return self._owned(self._voices, person_id)

    def add_account(self, *, account: OfficialAccount) -> OfficialAccount:
        """Register an official account.

        Raises:
            NotFound: the person does not exist.
            Conflict: the account is registered already.
            StorageError: the store is closed.
        """
        with self._lock:
            self._check_open()
            self._person(account.person_id)
            existing = self._account(account.key)
            if existing is not None:
                raise Conflict(account_taken(account, existing.person_id))
            saved = replace(account, id=next(self._ids["account"]))
            self._accounts[saved.id] = saved
            return saved

    def remove_account(self, *, platform: str, handle: str) -> OfficialAccount:
        """Unregister an account and return it.

        Raises:
            InvalidSignal: the platform or handle is malformed.
            NotFound: it is not registered.
            StorageError: the store is closed.
        """
        key = account_key(platform, handle)
        with self._lock:
            self._check_open()
            existing = self._account(key)
            if existing is None:
                raise NotFound(no_account(key))
            del self._accounts[existing.id]
            return existing

    def accounts(self, *, person_id: int) -> list[OfficialAccount]:
        """A person's accounts, by id.

        Raises:
            NotFound: there is no such person.
            StorageError: the store is closed.
        """
        with self._lock:
            return self._owned(self._accounts, person_id)

    def owner_of(self, *, platform: str, handle: str) -> Person | None:
        """Who registered this account, if anyone.

        Raises:
            InvalidSignal: the platform or handle is malformed.
            StorageError: the store is closed.
        """
        key = account_key(platform, handle)
        with self._lock:
            self._check_open()
            existing = self._account(key)
            return None if existing is None else self._people[existing.person_id]

    def add_authorisation(self, *, authorisation: Authorisation) -> Authorisation:
        """Record a grant.

        Raises:
            NotFound: the person does not exist.
            StorageError: the store is closed.
        """
        with self._lock:
            self._check_open()
            self._person(authorisation.person_id)
            saved = replace(authorisation, id=next(self._ids["grant"]))
            self._grants[saved.id] = saved
            return saved

    def remove_authorisation(self, *, authorisation_id: int) -> Authorisation:
        """Delete a grant and return it.

        Raises:
            NotFound: there is no such grant.
            StorageError: the store is closed.
        """
        with self._lock:
            self._check_open()
            try:
                return self._grants.pop(authorisation_id)
            except KeyError:
                raise NotFound(no_authorisation(authorisation_id)) from None

    def authorisations(self, *, person_id: int) -> list[Authorisation]:
        """A person's grants, by id.

        Raises:
            NotFound: there is no such person.
            StorageError: the store is closed.
        """
        with self._lock:
            return self._owned(self._grants, person_id)

    def registry_revision(self) -> int:
        """Grows with every change to people or references.

        Raises:
            StorageError: the store is closed.
        """
        with self._lock:
            self._check_open()
            return self._revision

    def _owned(self, table: dict[int, _Row], person_id: int | None) -> list[_Row]:
        """A person's rows of one table (everyone's for None), by id.

        Call with the lock held. Raises NotFound for an unknown person and
        StorageError when the store is closed.
        """
        self._check_open()
        if person_id is None:
            return list(table.values())
        self._person(person_id)
        return [row for row in table.values() if row.person_id == person_id]

    def _person(self, person_id: int) -> Person:
        try:
            return self._people[person_id]
        except KeyError:
            raise NotFound(no_person(person_id)) from None

    def _account(self, key: tuple[str, str]) -> OfficialAccount | None:
        return next((a for a in self._accounts.values() if a.key == key), None)

    def close(self) -> None:
        """Forget nothing, but refuse further calls, like a closed database."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            msg = "the memory store is closed"
            raise StorageError(msg)


class _Owned(Protocol):
    @property
    def person_id(self) -> int: ...


_Row = TypeVar("_Row", bound=_Owned)


def _without(table: dict[int, _Row], person_id: int) -> dict[int, _Row]:
    """The rows of a table that do not belong to ``person_id``."""
    return {id_: row for id_, row in table.items() if row.person_id != person_id}


def _has_label(summary: ScanSummary, label: str | None) -> bool:
    if label is None:
        return True
    if label == NO_LABEL:
        return summary.aigc_label is None
    return summary.aigc_label == label


def _serialise(result: ScanResult) -> str:
    """The result document as JSON text, as a database would keep it.

    Raises:
        StorageError: the document holds a value that JSON cannot represent.
    """
    try:
        return json.dumps(result.to_dict(), allow_nan=False)
    except (TypeError, ValueError) as exc:
        msg = f"cannot store scan of {result.file.path}: {exc}"
        raise StorageError(msg) from exc


def _same_record(a: LabelRecord, b: LabelRecord) -> bool:
    return (a.producer_tag, a.content_id, a.produce_id, a.sha256) == (
        b.producer_tag,
        b.content_id,
        b.produce_id,
        b.sha256,
    )
