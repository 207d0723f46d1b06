"""The scan service: scan inputs, decide, persist, in one place.

The CLI, the HTTP API and the demo all call this, so a scan means the same
thing everywhere: results are written to the store in batches as they arrive
(a crash mid-batch keeps what was already scanned), and every result carries
the detector versions and limits it ran under.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from deepguard.config import Settings
from deepguard.scan.batch import ScanOptions, iter_input_paths, scan_paths
from deepguard.scan.result import ScanResult
from deepguard.store.interface import IScanStore

__all__ = ["ScanService"]

_PERSIST_BATCH = 200


class ScanService:
    """Scans files and records the results."""

    def __init__(
        self, *, settings: Settings, store: Callable[[], IScanStore] | None
    ) -> None:
        """``store`` is a provider, so a scan that persists nothing never opens
        (or creates) the database."""
        self.settings = settings
        self._store = store

    def expand_inputs(
        self, inputs: Iterable[Path], *, recursive: bool = True
    ) -> list[Path]:
        """The files a scan of ``inputs`` covers: directories walked once, here,
        so callers can size a progress bar without walking the tree twice."""
        return list(iter_input_paths(inputs, recursive=recursive))

    def scan(
        self,
        *,
        paths: Sequence[Path],
        options: ScanOptions | None = None,
        workers: int | None = None,
        persist: bool = True,
        on_result: Callable[[ScanResult], None] | None = None,
    ) -> Iterator[ScanResult]:
        """Scan each file in ``paths`` (see :meth:`expand_inputs`), yielding results.

        Results of files that could not be scanned are yielded too, with their
        ``errors`` filled; they are stored as well, so history shows failures.

        Raises:
            StorageError: persisting results failed.
        """
        pending: list[ScanResult] = []
        store = self._store() if persist and self._store is not None else None
        try:
            for result in scan_paths(
                paths,
                settings=self.settings,
                options=options,
                workers=workers,
                on_result=on_result,
            ):
                if store is not None:
                    pending.append(result)
                    if len(pending) >= _PERSIST_BATCH:
                        store.save_scans(results=pending)
                        pending = []
                yield result
        finally:
            if store is not None and pending:
                store.save_scans(results=pending)
