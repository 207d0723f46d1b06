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
import re
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from deepguard.errors import Conflict, NotFound
from deepguard.scan.finding import AigcLabel
from deepguard.scan.result import ScanResult

__all__ = [
    "MIN_PREFIX",
    "NO_LABEL",
    "ILabelRecordStore",
    "IScanStore",
    "IStore",
    "LabelRecord",
    "ScanSummary",
]

MIN_PREFIX = 6
"""Fewest hex characters of a sha256 that :meth:`IScanStore.get_scan` accepts."""

NO_LABEL = "none"
"""The ``label`` filter of :meth:`IScanStore.list_scans` for scans without one."""

_HEX_PREFIX = re.compile(rf"[0-9a-f]{{{MIN_PREFIX},64}}")


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


class IStore(IScanStore, ILabelRecordStore):
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
