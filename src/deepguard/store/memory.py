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
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

from deepguard.errors import StorageError
from deepguard.scan.result import ScanResult
from deepguard.store.interface import (
    NO_LABEL,
    IStore,
    LabelRecord,
    ScanSummary,
    as_utc,
    check_one_file,
    check_page,
    sha256_query,
)

__all__ = ["MemoryStore"]


@dataclass(frozen=True, slots=True)
class _Entry:
    summary: ScanSummary
    document: str


class MemoryStore(IStore):
    """Scans kept in a list; thread-safe; gone when the object is."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []
        self._records: list[LabelRecord] = []
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

    def close(self) -> None:
        """Forget nothing, but refuse further calls, like a closed database."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            msg = "the memory store is closed"
            raise StorageError(msg)


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
