"""What the rest of deepguard may ask of storage: narrow interfaces, domain types.

Why interfaces: the scanner, the CLI and the HTTP service must not care whether
results go to SQLite on a laptop, PostgreSQL in production or a list in a test.
Each caller depends on the narrowest interface it needs (``IScanStore`` for
scan history); ``IStore`` combines them all for the composition root. Methods
take and return domain dataclasses; ORM rows never leave ``store/sql``.

Every implementation raises only :class:`~deepguard.errors.StorageError` and
its subclasses, so the CLI and the API can map failures in one place.
"""

from __future__ import annotations

import abc
import datetime as dt
import enum
import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NamedTuple, NoReturn, Self, TypeVar

import numpy as np
import numpy.typing as npt

from deepguard.accounts import account_key, normalise_account
from deepguard.errors import Conflict, InvalidSignal, NotFound
from deepguard.scan.finding import AigcLabel
from deepguard.scan.result import ScanResult

__all__ = [
    "FACE_DIMS",
    "MIN_PREFIX",
    "NO_LABEL",
    "VOICE_DIMS",
    "Authorisation",
    "FaceReference",
    "ILabelRecordStore",
    "IPersonStore",
    "IScanStore",
    "IStore",
    "LabelRecord",
    "OfficialAccount",
    "Person",
    "ReferenceIds",
    "ScanSummary",
    "Scope",
    "Verification",
    "VoiceReference",
]

MIN_PREFIX = 6
"""Fewest hex characters of a sha256 that :meth:`IScanStore.get_scan` accepts."""

NO_LABEL = "none"
"""The ``label`` filter of :meth:`IScanStore.list_scans` for scans without one."""

_HEX_PREFIX = re.compile(rf"[0-9a-f]{{{MIN_PREFIX},64}}")

_E = TypeVar("_E", bound=enum.Enum)


@dataclass(frozen=True, slots=True)
class ScanSummary:
    """One line of scan history: enough to list and filter, not the evidence.

    Why a separate type: listing thousands of scans must not load and parse
    every full result document; fetch the full :class:`ScanResult` with
    :meth:`IScanStore.get_scan` when it is needed.

    Attributes:
        id: the store's row id, as returned by ``save_scan``.
        scanned_at: when the scan ran, timezone-aware, in UTC.
        path: where the file was when it was scanned.
        sha256: lowercase hex digest of the content, or None if it was not read.
        kind: media kind from the probe (``image``, ``video`` ...), or None.
        mime: MIME type from the probe, or None.
        size: file size in bytes, or None.
        aigc_label: the Art. 6 class of the verdict ("1", "2", "3") or None.
        finding_count: how many findings the scan produced.
        error_count: how many stages failed.
    """

    id: int
    scanned_at: dt.datetime
    path: str
    sha256: str | None
    kind: str | None
    mime: str | None
    size: int | None
    aigc_label: AigcLabel | None
    finding_count: int
    error_count: int

    @classmethod
    def from_result(cls, *, id: int, result: ScanResult) -> ScanSummary:
        """Summarise a result the way every store files it."""
        return cls(
            id=id,
            scanned_at=scan_time(result),
            path=result.file.path,
            sha256=normalise_sha256(result.file.sha256),
            kind=result.file.kind,
            mime=result.file.mime,
            size=result.file.size,
            aigc_label=result.verdict.aigc_label,
            finding_count=len(result.findings),
            error_count=len(result.errors),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``scanned_at`` as ISO 8601), e.g. for ``--json``."""
        return {
            "id": self.id,
            "scanned_at": self.scanned_at.isoformat(),
            "path": self.path,
            "sha256": self.sha256,
            "kind": self.kind,
            "mime": self.mime,
            "size": self.size,
            "aigc_label": self.aigc_label,
            "finding_count": self.finding_count,
            "error_count": self.error_count,
        }


class IScanStore(abc.ABC):
    """Scan history: every result a scan produced, newest first.

    A file scanned twice has two entries; :meth:`get_scan` returns the latest.
    Stores are context managers that :meth:`close` on exit.
    """

    @abc.abstractmethod
    def save_scan(self, *, result: ScanResult) -> int:
        """Store one result and return its row id.

        Raises:
            StorageError: the database failed, the store is closed, or the
                result holds values that are not JSON.
        """

    @abc.abstractmethod
    def save_scans(self, *, results: Sequence[ScanResult]) -> list[int]:
        """Store many results in one transaction; ids come back in input order.

        Why a batch method: a batch scan of thousands of files must not pay one
        commit per file. All results are stored, or none are.

        Raises:
            StorageError: as for :meth:`save_scan`; nothing was stored.
        """

    @abc.abstractmethod
    def get_scan(self, *, sha256: str) -> ScanResult:
        """The latest scan of the content with this sha256.

        ``sha256`` may be a unique prefix of at least :data:`MIN_PREFIX` hex
        characters, as users copy short hashes from listings. Case is ignored.

        Raises:
            NotFound: no scan matches, or ``sha256`` is not a hex prefix of at
                least :data:`MIN_PREFIX` characters.
            Conflict: the prefix matches scans of more than one file.
            StorageError: the database failed or the store is closed.
        """

    @abc.abstractmethod
    def list_scans(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        label: str | None = None,
        since: dt.datetime | None = None,
    ) -> list[ScanSummary]:
        """Summaries of stored scans, newest first (ties: latest saved first).

        ``label`` keeps only verdicts of that Art. 6 class ("1", "2", "3"), or
        with :data:`NO_LABEL` (``"none"``) those without a class. ``since``
        keeps scans that ran at or after that instant (a naive datetime is
        taken as UTC).

        Raises:
            ValueError: ``limit`` or ``offset`` is negative (a caller bug).
            StorageError: the database failed or the store is closed.
        """

    @abc.abstractmethod
    def count_scans(self) -> int:
        """How many scans are stored.

        Raises:
            StorageError: the database failed or the store is closed.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; later calls raise StorageError. Idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """A producer's record of one labelled output, found again by its watermark.

    Why: a metadata label is lost on the first re-upload, the watermark is not,
    but the watermark carries only a compact key. This record maps that key
    (``producer_tag``, ``content_id``) back to the GB 45438 fields the
    producer wrote, so a platform can restore the label and name the producer.

    Attributes:
        producer_tag: 20-bit tag of the ContentProducer code.
        content_id: 44-bit content ID scoped to the producer.
        fields: the label's fields as written (``Label``, ``ContentProducer``,
            ``ProduceID``, ``ReservedCode1`` ...).
        created_at: when it was recorded, in UTC.
        sha256: digest of the labelled output file, when there was one.
        path: where the output was written.
        id: the store's row id (0 before it is saved).
    """

    producer_tag: int
    content_id: int
    fields: dict[str, str]
    created_at: dt.datetime
    sha256: str | None = None
    path: str | None = None
    id: int = 0

    @property
    def producer(self) -> str:
        return self.fields.get("ContentProducer", "")

    @property
    def produce_id(self) -> str:
        return self.fields.get("ProduceID", "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "producer_tag": self.producer_tag,
            "content_id": self.content_id,
            "fields": dict(self.fields),
            "created_at": self.created_at.isoformat(),
            "sha256": self.sha256,
            "path": self.path,
        }


class ILabelRecordStore(abc.ABC):
    """Label records of watermarked outputs, looked up by payload bits."""

    @abc.abstractmethod
    def save_label_record(self, *, record: LabelRecord) -> int:
        """Store a record and return its id.

        Recording the same output again (same tag, content ID, ProduceID and
        digest) returns the existing id instead of adding a duplicate.

        Raises:
            StorageError: the database failed or the store is closed.
        """

    @abc.abstractmethod
    def find_label_records(
        self, *, producer_tags: tuple[int, int], content_ids: tuple[int, int]
    ) -> list[LabelRecord]:
        """Records whose tag and content ID fall in the inclusive ranges.

        Ranges, not values, because short (32-bit) payloads know only the top
        bits of each field. Newest first.

        Raises:
            StorageError: the database failed or the store is closed.
        """


# The likeness registry: protected people, their references, accounts, grants.

FACE_DIMS = 128
"""Length of a face reference embedding (dlib's descriptor)."""

VOICE_DIMS = 256
"""Length of a voice reference embedding (the GE2E speaker encoder's)."""

_MAX_NAME = 256
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _refuse(msg: str) -> NoReturn:
    """Reject a registry value that cannot be stored, as a one-line user error.

    Raises:
        InvalidSignal: always; it is also a ``ValueError``.
    """
    raise InvalidSignal(msg)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Verification(enum.StrEnum):
    """How the identity of an enrolled person was checked.

    Why it is recorded: an impersonation alert about someone whose identity
    nobody checked deserves less weight than one about a person whose platform
    verified them, and a reviewer needs to see which it is.
    """

    UNVERIFIED = "unverified"
    SELF_DECLARED = "self_declared"
    DOCUMENT_CHECKED = "document_checked"
    PLATFORM_VERIFIED = "platform_verified"

    @classmethod
    def parse(cls, value: object) -> Verification:
        """A status from its name (``"self_declared"``) or a status.

        Raises:
            InvalidSignal: it names no status.
        """
        return _enum(cls, value)


class Scope(enum.StrEnum):
    """What an authorisation lets its grantee use: the face, the voice or both."""

    FACE = "face"
    VOICE = "voice"
    BOTH = "both"

    @classmethod
    def parse(cls, value: object) -> Scope:
        """A scope from its name (``"face"``) or a scope.

        Raises:
            InvalidSignal: it names no scope.
        """
        return _enum(cls, value)

    def includes(self, other: Scope) -> bool:
        """Whether a grant of this scope allows using ``other``.

        ``both`` includes everything; ``face`` does not include ``both``,
        because a clip that uses face and voice needs a grant for each.
        """
        return self is Scope.BOTH or self is other


@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    """A protected person: who they are, not what they look or sound like.

    Names and aliases are kept as written (surrounding and repeated spaces
    removed) and found case-insensitively; aliases repeating the name or each
    other are dropped, so a listing never shows the same name twice.

    Attributes:
        id: the store's id (0 before the person is added).
        name: the name the person is known by.
        aliases: other names, stage names, transliterations.
        notes: free text for reviewers.
        verification: how the identity was checked.
        created_at: when the person was enrolled, in UTC.

    Raises:
        InvalidSignal: the name is empty or too long, an alias is, or the
            verification status is unknown.
    """

    id: int = 0
    name: str
    aliases: tuple[str, ...] = ()
    notes: str = ""
    verification: Verification = Verification.UNVERIFIED
    created_at: dt.datetime = field(default_factory=_now)

    def __post_init__(self) -> None:
        name = clean_name(self.name, what="name")
        seen = {name.casefold()}
        aliases: list[str] = []
        for alias in self.aliases:
            cleaned = clean_name(alias, what="alias")
            if cleaned.casefold() not in seen:
                seen.add(cleaned.casefold())
                aliases.append(cleaned)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "aliases", tuple(aliases))
        object.__setattr__(self, "notes", str(self.notes))
        object.__setattr__(self, "verification", _enum(Verification, self.verification))
        object.__setattr__(self, "created_at", as_utc(self.created_at))

    def search_text(self) -> str:
        """Name and aliases, case-folded, one per line: what queries search.

        Why one string: the SQL store keeps it in a column and searches it
        with ``LIKE``, the memory store searches it in Python; names hold no
        line breaks, so a query can never match across two of them.
        """
        return "\n".join(n.casefold() for n in (self.name, *self.aliases))

    def matches(self, query: str) -> bool:
        """Whether ``query`` is part of the name or of an alias, ignoring case."""
        return search_query(query) in self.search_text()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``created_at`` as ISO 8601)."""
        return {
            "id": self.id,
            "name": self.name,
            "aliases": list(self.aliases),
            "notes": self.notes,
            "verification": str(self.verification),
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class FaceReference:
    """One reference photo of a person, kept as an embedding, never as pixels.

    Why the hash, box and quality are kept: the hash proves which photo was
    enrolled (and stops the same photo being enrolled twice), the box says
    which face in it, and the quality lets a reviewer judge a weak match. The
    embedding is copied into a read-only float32 array.

    Equality ignores the embedding (arrays have no single truth value);
    compare embeddings with ``numpy.array_equal``.

    Attributes:
        id: the store's id (0 before it is added).
        person_id: whose face it is (assigned by ``add_references``).
        sha256: lowercase hex digest of the photo file.
        box: the face in the photo: left, top, width, height in pixels.
        quality: 0 to 1, the face engine's summary of size, sharpness and pose.
        embedding: the 128-d face descriptor.
        source: where the photo came from (its path as given at enrolment).
        created_at: when it was enrolled, in UTC.

    Raises:
        InvalidSignal: a field is malformed (digest, box, quality, embedding).
    """

    id: int = 0
    person_id: int = 0
    sha256: str
    box: tuple[int, int, int, int]
    quality: float
    embedding: npt.NDArray[np.float32] = field(compare=False, repr=False)
    source: str = ""
    created_at: dt.datetime = field(default_factory=_now)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", clean_sha256(self.sha256))
        object.__setattr__(self, "box", _box(self.box))
        object.__setattr__(self, "quality", _unit(self.quality, what="quality"))
        object.__setattr__(
            self, "embedding", embedding_array(self.embedding, FACE_DIMS, "face")
        )
        object.__setattr__(self, "created_at", as_utc(self.created_at))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict without the embedding (it means nothing to a reader)."""
        return {
            "id": self.id,
            "person_id": self.person_id,
            "sha256": self.sha256,
            "box": list(self.box),
            "quality": self.quality,
            "source": self.source,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceReference:
    """One reference clip of a person's voice, kept as a speaker embedding.

    Equality ignores the embedding, as for :class:`FaceReference`.

    Attributes:
        id: the store's id (0 before it is added).
        person_id: whose voice it is (assigned by ``add_references``).
        sha256: lowercase hex digest of the clip file.
        speech_s: seconds of speech the embedding was computed from.
        embedding: the 256-d speaker embedding.
        source: where the clip came from (its path as given at enrolment).
        created_at: when it was enrolled, in UTC.

    Raises:
        InvalidSignal: a field is malformed (digest, speech time, embedding).
    """

    id: int = 0
    person_id: int = 0
    sha256: str
    speech_s: float
    embedding: npt.NDArray[np.float32] = field(compare=False, repr=False)
    source: str = ""
    created_at: dt.datetime = field(default_factory=_now)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", clean_sha256(self.sha256))
        speech = float(self.speech_s)
        if not math.isfinite(speech) or speech < 0:
            _refuse(f"speech time must be a non-negative number, got {speech}")
        object.__setattr__(self, "speech_s", speech)
        object.__setattr__(
            self, "embedding", embedding_array(self.embedding, VOICE_DIMS, "voice")
        )
        object.__setattr__(self, "created_at", as_utc(self.created_at))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict without the embedding."""
        return {
            "id": self.id,
            "person_id": self.person_id,
            "sha256": self.sha256,
            "speech_s": self.speech_s,
            "source": self.source,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class OfficialAccount:
    """An account that belongs to a protected person, on one platform.

    Uploads from it may show the person: they are the person's own. The
    platform is lowercase, the handle loses a leading ``@``; handles keep
    their spelling for display but compare case-insensitively (:attr:`key`),
    and one handle on one platform belongs to at most one person.

    Attributes:
        id: the store's id (0 before it is added).
        person_id: whose account it is.
        platform: e.g. ``douyin``, ``weibo``, ``youtube``.
        handle: the handle or numeric ID on that platform.

    Raises:
        InvalidSignal: the platform or handle is empty, too long or contains
            whitespace, or the platform contains other than ``a-z0-9._-``.
    """

    id: int = 0
    person_id: int
    platform: str
    handle: str

    def __post_init__(self) -> None:
        platform, handle = normalise_account(self.platform, self.handle)
        object.__setattr__(self, "platform", platform)
        object.__setattr__(self, "handle", handle)

    @property
    def key(self) -> tuple[str, str]:
        """What makes two accounts the same: platform and case-folded handle."""
        return account_key(self.platform, self.handle)

    def __str__(self) -> str:
        return f"{self.platform}:{self.handle}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "id": self.id,
            "person_id": self.person_id,
            "platform": self.platform,
            "handle": self.handle,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Authorisation:
    """A right someone holds to use a person's likeness, for a time and a scope.

    ``grantee`` is either an account, written ``platform:handle`` (normalised
    like an :class:`OfficialAccount`), or the name of a licensee. Text is an
    account when it has exactly that form: a platform of ``a-z0-9._-``, a
    colon, and a handle without whitespace; anything else (``Acme Media
    Ltd``) is a licensee name. Only account grants decide whether an upload
    from an account is authorised; licensee grants document a licence.

    The validity window is ``valid_from <= t < valid_until``; either end may
    be open (None). Times are UTC (a naive time is taken as UTC).

    Attributes:
        id: the store's id (0 before it is added).
        person_id: whose likeness it grants.
        grantee: the account or licensee.
        scope: face, voice or both.
        valid_from: first instant it is valid, or None for "always was".
        valid_until: first instant it is no longer valid, or None for "open".
        note: free text (contract number, who approved it).

    Raises:
        InvalidSignal: the grantee is empty, the scope unknown, or the window
            ends before it starts.
    """

    id: int = 0
    person_id: int
    grantee: str
    scope: Scope
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "grantee", clean_grantee(self.grantee))
        object.__setattr__(self, "scope", _enum(Scope, self.scope))
        start = as_utc(self.valid_from) if self.valid_from is not None else None
        end = as_utc(self.valid_until) if self.valid_until is not None else None
        if start is not None and end is not None and end <= start:
            _refuse(
                f"authorisation ends ({end.isoformat()}) before it starts "
                f"({start.isoformat()})"
            )
        object.__setattr__(self, "valid_from", start)
        object.__setattr__(self, "valid_until", end)
        object.__setattr__(self, "note", str(self.note))

    @property
    def account(self) -> tuple[str, str] | None:
        """The grantee as (platform, handle) when it is an account, else None."""
        return parse_account(self.grantee)

    def is_valid_at(self, at: dt.datetime) -> bool:
        """Whether ``at`` falls inside the validity window."""
        when = as_utc(at)
        if self.valid_from is not None and when < self.valid_from:
            return False
        return self.valid_until is None or when < self.valid_until

    def covers(self, scope: Scope | str, at: dt.datetime) -> bool:
        """Whether this grant allows using ``scope`` at instant ``at``.

        Raises:
            InvalidSignal: ``scope`` is not a scope.
        """
        return self.scope.includes(_enum(Scope, scope)) and self.is_valid_at(at)

    def grants_account(self, platform: str, handle: str) -> bool:
        """Whether the grantee is this account (case-insensitive handle).

        Raises:
            InvalidSignal: the platform or handle is malformed.
        """
        mine = self.account
        return mine is not None and account_key(*mine) == account_key(platform, handle)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO 8601 or None)."""
        return {
            "id": self.id,
            "person_id": self.person_id,
            "grantee": self.grantee,
            "scope": str(self.scope),
            "valid_from": _iso(self.valid_from),
            "valid_until": _iso(self.valid_until),
            "note": self.note,
        }


class ReferenceIds(NamedTuple):
    """Ids of references added in one call, in input order per modality."""

    faces: list[int]
    voices: list[int]


class IPersonStore(abc.ABC):
    """The likeness registry: protected people and what identifies them.

    Why one interface for people, references, accounts and grants: they live
    and die together (removing a person removes everything about them), and
    the matching index is rebuilt from the references alone, guided by
    :meth:`registry_revision`.

    Domain values arrive validated (their constructors normalise them); the
    store assigns ids and keeps everything else as given.
    """

    @abc.abstractmethod
    def add_person(self, *, person: Person) -> Person:
        """Add a person; returns it with its new id (``person.id`` is ignored).

        Raises:
            StorageError: the database failed or the store is closed.
        """

    @abc.abstractmethod
    def get_person(self, *, person_id: int) -> Person:
        """The person with this id.

        Raises:
            NotFound: there is none.
            StorageError: the database failed or the store is closed.
        """

    @abc.abstractmethod
    def find_people(self, *, query: str) -> list[Person]:
        """People whose name or an alias contains ``query``, ignoring case.

        Spaces in the query are collapsed like names are; an empty query
        matches everyone. Ordered by id.

        Raises:
            StorageError: the database failed or the store is closed.
        """

    @abc.abstractmethod
    def list_people(self) -> list[Person]:
        """Everyone, ordered by id.

        Raises:
            StorageError: the database failed or the store is closed.
        """

    @abc.abstractmethod
    def remove_person(self, *, person_id: int) -> None:
        """Remove a person with their references, accounts and authorisations.

        Raises:
            NotFound: there is no such person.
            StorageError: the database failed or the store is closed.
        """

    @abc.abstractmethod
    def add_references(
        self,
        *,
        person_id: int,
        faces: Sequence[FaceReference] = (),
        voices: Sequence[VoiceReference] = (),
    ) -> ReferenceIds:
        """Add face and voice references of one person in one transaction.

        All are added or none are. Each reference's ``id`` is ignored and its
        ``person_id`` must be 0 or ``person_id``.

        Raises:
            NotFound: there is no such person.
            Conflict: a digest is already enrolled for this person in the same
                modality, or appears twice in the call; nothing was added.
            ValueError: a reference names another person (a caller bug).
            StorageError: the database failed or the store is closed.
        """

    @abc.abstractmethod
    def face_references(self, *, person_id: int | None = None) -> list[FaceReference]:
        """Face references of one person, or of everyone when None; by id.

        Raises:
            NotFound: ``person_id`` names no person.
            StorageError: the database failed, the store is closed, or a stored
                embedding has the wrong length.
        """

    @abc.abstractmethod
    def voice_references(self, *, person_id: int | None = None) -> list[VoiceReference]:
        """Voice references of one person, or of everyone when None; by id.

        Raises:
            NotFound: ``person_id`` names no person.
            StorageError: as for :meth:`face_references`.
        """

    @abc.abstractmethod
    def add_account(self, *, account: OfficialAccount) -> OfficialAccount:
        """Register an official account; returns it with its id.

        Raises:
            NotFound: ``account.person_id`` names no person.
            Conflict: that platform and handle (ignoring case) are registered
                already, to this person or another.
            StorageError: the database failed or the store is closed.
        """

    @abc.abstractmethod
    def remove_account(self, *, platform: str, handle: str) -> OfficialAccount:
        """Unregister an account; returns what was removed.

        Raises:
            InvalidSignal: the platform or handle is malformed.
            NotFound: the account is not registered.
            StorageError: the database failed or the store is closed.
        """

    @abc.abstractmethod
    def accounts(self, *, person_id: int) -> list[OfficialAccount]:
        """A person's official accounts, by id.

        Raises:
            NotFound: there is no such person.
            StorageError: the database failed or the store is closed.
        """

    @abc.abstractmethod
    def owner_of(self, *, platform: str, handle: str) -> Person | None:
        """The person who registered this account as theirs, if anyone.

        Raises:
            InvalidSignal: the platform or handle is malformed.
            StorageError: the database failed or the store is closed.
        """

    @abc.abstractmethod
    def add_authorisation(self, *, authorisation: Authorisation) -> Authorisation:
        """Record a grant; returns it with its id.

        Raises:
            NotFound: ``authorisation.person_id`` names no person.
            StorageError: the database failed or the store is closed.
        """

    @abc.abstractmethod
    def remove_authorisation(self, *, authorisation_id: int) -> Authorisation:
        """Delete a grant; returns what was removed.

        Raises:
            NotFound: there is no grant with this id.
            StorageError: the database failed or the store is closed.
        """

    @abc.abstractmethod
    def authorisations(self, *, person_id: int) -> list[Authorisation]:
        """A person's grants, by id, whether currently valid or not.

        Raises:
            NotFound: there is no such person.
            StorageError: the database failed or the store is closed.
        """

    @abc.abstractmethod
    def registry_revision(self) -> int:
        """A number that grows with every change to people or references.

        Why: the matching index is built from all references and cached; it
        records the revision it was built at and is stale when this differs.
        Adding or removing people and adding references bump it; accounts
        and authorisations do not, as the index does not contain them.

        Raises:
            StorageError: the database failed or the store is closed.
        """


class IStore(IScanStore, ILabelRecordStore, IPersonStore):
    """Everything deepguard stores; the composition root builds one of these.

    It grows by inheriting further narrow interfaces (labels, banks, cases) as
    those packages arrive; callers keep depending on the narrow ones.
    """


# Shared rules, so that every store files and finds scans the same way.


def normalise_sha256(sha256: str | None) -> str | None:
    """Hex digests are compared in lowercase."""
    return sha256.strip().lower() if sha256 else None


def sha256_query(sha256: str) -> str:
    """Validate what a user typed as a sha256 or prefix; return it in lowercase.

    Raises:
        NotFound: it is not hex, or shorter than :data:`MIN_PREFIX`.
    """
    query = sha256.strip().lower()
    if not _HEX_PREFIX.fullmatch(query):
        msg = (
            f"no scan can match {sha256!r}: give a sha256 or a hex prefix of "
            f"at least {MIN_PREFIX} characters"
        )
        raise NotFound(msg)
    return query


def ambiguous_prefix(prefix: str, files: int) -> str:
    """The message for a prefix that matches several different files."""
    return (
        f"prefix {prefix} matches {files} scans of different files; "
        "give more characters"
    )


def check_one_file(query: str, files: int) -> None:
    """Require that ``query`` matched scans of exactly one file.

    ``files`` is how many different digests the query matched.

    Raises:
        NotFound: it matched none.
        Conflict: it matched scans of more than one file.
    """
    if files == 0:
        raise NotFound(no_scan(query))
    if files > 1:
        raise Conflict(ambiguous_prefix(query, files))


def no_scan(query: str) -> str:
    """The message for a sha256 or prefix that matches nothing."""
    return f"no scan of content with sha256 {query}"


def scan_time(result: ScanResult) -> dt.datetime:
    """When the scan ran, in UTC; the key scans are ordered and filtered by.

    ``scanned_at`` is ISO 8601 text in the result document. A naive time is
    taken as UTC. A result without a readable time (an empty string from an
    old or hand-made document) is filed under the moment it is saved, so that
    it still sorts sensibly; the document itself is stored unchanged.
    """
    try:
        when = dt.datetime.fromisoformat(result.scanned_at)
    except ValueError:
        return dt.datetime.now(dt.UTC)
    return as_utc(when)


def as_utc(when: dt.datetime) -> dt.datetime:
    """Convert to UTC, taking a naive datetime as UTC already."""
    if when.tzinfo is None:
        return when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


def check_page(limit: int, offset: int) -> None:
    """Reject negative paging arguments, which are caller bugs.

    Raises:
        ValueError: ``limit`` or ``offset`` is negative.
    """
    if limit < 0 or offset < 0:
        msg = f"limit and offset must not be negative, got {limit} and {offset}"
        raise ValueError(msg)


# Shared rules of the likeness registry, so that every store agrees.


def clean_name(text: str, *, what: str = "name") -> str:
    """A person's name or alias with spaces trimmed and collapsed.

    Raises:
        InvalidSignal: it is empty or longer than 256 characters.
    """
    name = " ".join(str(text).split())
    if not name:
        _refuse(f"a person's {what} must not be empty")
    if len(name) > _MAX_NAME:
        _refuse(f"a person's {what} is {len(name)} characters, over {_MAX_NAME}")
    return name


def search_query(query: str) -> str:
    """A find query as names are searched: spaces collapsed, case-folded."""
    return " ".join(query.split()).casefold()


def parse_account(text: str) -> tuple[str, str] | None:
    """``platform:handle`` as (platform, handle), normalised; else None.

    Used for authorisation grantees and for the uploader named on the command
    line; text that is not of that form (a licensee's name) gives None.
    """
    platform, sep, handle = text.strip().partition(":")
    if not sep:
        return None
    try:
        return normalise_account(platform, handle)
    except InvalidSignal:
        return None


def clean_grantee(text: str) -> str:
    """An account grantee as ``platform:handle``, or a licensee name trimmed.

    Raises:
        InvalidSignal: it is empty or longer than 256 characters.
    """
    account = parse_account(text)
    if account is not None:
        return f"{account[0]}:{account[1]}"
    return clean_name(text, what="grantee")


def clean_sha256(text: str) -> str:
    """A lowercase hex sha256 digest.

    Raises:
        InvalidSignal: it is not 64 hex digits.
    """
    digest = str(text).strip().lower()
    if not _SHA256.fullmatch(digest):
        _refuse(f"not a sha256 digest: {text!r}")
    return digest


def embedding_array(
    values: npt.ArrayLike, dims: int, modality: str
) -> npt.NDArray[np.float32]:
    """A read-only float32 copy of an embedding of ``dims`` finite values.

    Raises:
        InvalidSignal: it has another shape or holds NaN or infinity.
    """
    try:
        array = np.array(values, dtype=np.float32, copy=True)
    except (TypeError, ValueError) as exc:
        _refuse(f"{modality} embedding is not numeric: {exc}")
    if array.shape != (dims,):
        _refuse(f"{modality} embedding has shape {array.shape}, expected ({dims},)")
    if not np.isfinite(array).all():
        _refuse(f"{modality} embedding holds NaN or infinity")
    array.flags.writeable = False
    return array


def embedding_bytes(embedding: npt.NDArray[np.float32]) -> bytes:
    """The embedding as little-endian float32 bytes, the stored form."""
    return np.asarray(embedding, dtype="<f4").tobytes()


def embedding_from_bytes(
    blob: bytes, dims: int, modality: str
) -> npt.NDArray[np.float32]:
    """An embedding from its stored bytes, checking the length.

    Raises:
        InvalidSignal: the blob is not ``dims`` float32 values.
    """
    if len(blob) != dims * 4:
        _refuse(
            f"stored {modality} embedding is {len(blob)} bytes, expected {dims * 4}"
        )
    return embedding_array(np.frombuffer(blob, dtype="<f4"), dims, modality)


def no_person(person_id: int) -> str:
    """The message for a person id that names nobody."""
    return f"no person with id {person_id}"


def no_account(key: tuple[str, str]) -> str:
    """The message for an account nobody registered."""
    return f"account {key[0]}:{key[1]} is not registered"


def no_authorisation(authorisation_id: int) -> str:
    """The message for an authorisation id that names nothing."""
    return f"no authorisation with id {authorisation_id}"


def account_taken(account: OfficialAccount, owner: int) -> str:
    """The message for an account registered already."""
    return f"account {account} is already registered to person {owner}"


def check_new_references(
    person_id: int,
    faces: Sequence[FaceReference],
    voices: Sequence[VoiceReference],
    *,
    enrolled_faces: Collection[str],
    enrolled_voices: Collection[str],
) -> None:
    """Refuse a batch of references that would duplicate a digest.

    ``enrolled_*`` are the digests the person already has per modality.

    Raises:
        ValueError: a reference names another person.
        Conflict: a digest is enrolled already or repeats within the batch.
    """
    batches: tuple[
        tuple[str, Sequence[FaceReference | VoiceReference], Collection[str]], ...
    ] = (
        ("face", faces, enrolled_faces),
        ("voice", voices, enrolled_voices),
    )
    for modality, refs, enrolled in batches:
        seen: set[str] = set()
        for ref in refs:
            if ref.person_id not in (0, person_id):
                msg = (
                    f"a {modality} reference of person {ref.person_id} cannot be "
                    f"added to person {person_id}"
                )
                raise ValueError(msg)
            if ref.sha256 in enrolled:
                msg = (
                    f"person {person_id} already has a {modality} reference "
                    f"with sha256 {ref.sha256}"
                )
                raise Conflict(msg)
            if ref.sha256 in seen:
                msg = f"{modality} reference with sha256 {ref.sha256} is given twice"
                raise Conflict(msg)
            seen.add(ref.sha256)


def _enum(kind: type[_E], value: object) -> _E:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(str(member.value) for member in kind)
        _refuse(f"unknown {kind.__name__.lower()} {value!r}: expected one of {choices}")


def _box(values: Sequence[int]) -> tuple[int, int, int, int]:
    try:
        left, top, width, height = (int(v) for v in values)
    except (TypeError, ValueError):
        _refuse(f"a face box is four integers, got {values!r}")
    if width <= 0 or height <= 0:
        _refuse(f"a face box needs a positive width and height, got {values!r}")
    return left, top, width, height


def _unit(value: float, *, what: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        _refuse(f"{what} must be between 0 and 1, got {value}")
    return number


def _iso(when: dt.datetime | None) -> str | None:
    return when.isoformat() if when is not None else None
