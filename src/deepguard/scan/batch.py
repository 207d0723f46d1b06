"""Scan many files in parallel, in input order, surviving crashes and hangs.

A platform scans uploads by the thousand, and a hostile file can crash a
native decoder or make it spin. So each file runs in a worker process; if a
worker dies or stops making progress, the pool is replaced, the files that
were in flight are retried one at a time, and only the culprit is reported as
failed. One bad file never stops a batch.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from deepguard import __version__
from deepguard.accounts import AccountRef
from deepguard.config import Settings
from deepguard.scan.detector import Detector
from deepguard.scan.registry import DetectorRegistry
from deepguard.scan.result import FileIdentity, ScanError, ScanResult
from deepguard.scan.scanner import Scanner

__all__ = ["ScanOptions", "iter_input_paths", "scan_paths"]


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """What to run: picklable, so worker processes can rebuild the scanner."""

    metadata_only: bool = False
    detector_names: tuple[str, ...] | None = None
    extra_detectors: tuple[type[Detector], ...] = ()
    """Detector classes added to the registry (importable, so workers can load them)."""
    uploader: AccountRef | None = None
    """The account the files came from; the likeness detector checks its rights."""


def iter_input_paths(
    inputs: Iterable[Path], *, recursive: bool = True
) -> Iterator[Path]:
    """Expand directories into the files below them, sorted, each file once.

    Paths that do not exist are passed through so that the scan reports them.
    Hidden files and directories (``.git``, ``.DS_Store``) are skipped inside
    directories, never when named explicitly. Symlinked directories are not
    followed, so a link loop cannot hang the walk.
    """
    seen: set[Path] = set()
    for raw in inputs:
        path = Path(raw)
        if path.is_dir() and not path.is_symlink() and recursive:
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    child = Path(root) / name
                    if child not in seen:
                        seen.add(child)
                        yield child
        elif path not in seen:
            seen.add(path)
            yield path


def _build_scanner(settings: Settings, options: ScanOptions) -> Scanner:
    registry = DetectorRegistry.default()
    for extra in options.extra_detectors:
        registry.add(extra)
    return Scanner.from_settings(
        settings,
        metadata_only=options.metadata_only,
        detector_names=options.detector_names,
        registry=registry,
        uploader=options.uploader,
    )


# --- worker side -----------------------------------------------------------

_WORKER_SCANNER: Scanner | None = None


def _worker_init(settings: Settings, options: ScanOptions) -> None:
    global _WORKER_SCANNER
    # The parent handles Ctrl-C; workers just stop when the pool shuts down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_SCANNER = _build_scanner(settings, options)


def _worker_scan(path: Path) -> ScanResult:
    assert _WORKER_SCANNER is not None, "worker not initialised"
    return _WORKER_SCANNER.scan_path(path)


# --- parent side -----------------------------------------------------------


def _failed(path: Path, error: str, message: str) -> ScanResult:
    return ScanResult(
        file=FileIdentity(path=str(path), sha256=None, size=None, kind=None, mime=None),
        errors=[ScanError(stage="worker", error=error, message=f"{path}: {message}")],
        deepguard_version=__version__,
    )


class _Pool:
    """A process pool that can be torn down hard when a worker hangs."""

    def __init__(self, workers: int, settings: Settings, options: ScanOptions) -> None:
        self._args = (workers, settings, options)
        self.executor = self._start()

    def _start(self) -> cf.ProcessPoolExecutor:
        workers, settings, options = self._args
        return cf.ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(settings, options),
        )

    def restart(self) -> None:
        self.kill()
        self.executor = self._start()

    def kill(self) -> None:
        processes = dict(getattr(self.executor, "_processes", None) or {})
        for proc in processes.values():
            if proc.is_alive():
                proc.kill()
        self.executor.shutdown(wait=True, cancel_futures=True)


def scan_paths(
    paths: Sequence[Path],
    *,
    settings: Settings,
    options: ScanOptions | None = None,
    workers: int | None = None,
    on_result: Callable[[ScanResult], None] | None = None,
    stall_timeout_s: float | None = None,
) -> Iterator[ScanResult]:
    """Scan ``paths`` and yield one result per path, in input order.

    With one worker (or one path) everything runs in this process, which is
    what a caller embedding deepguard in its own worker wants. In parallel
    mode, a file whose worker produces nothing for ``stall_timeout_s``
    (default: the decode-time limit plus 60 s) is reported as stalled.
    """
    options = options or ScanOptions()
    # Fail fast on a bad detector selection, before any worker starts.
    scanner = _build_scanner(settings, options)
    n_workers = workers if workers is not None else settings.effective_workers
    if n_workers <= 1 or len(paths) <= 1:
        for path in paths:
            result = scanner.scan_path(path)
            if on_result:
                on_result(result)
            yield result
        return
    stall_s = stall_timeout_s or settings.limits.max_decode_s + 60.0
    yield from _scan_parallel(paths, settings, options, n_workers, on_result, stall_s)


def _scan_parallel(
    paths: Sequence[Path],
    settings: Settings,
    options: ScanOptions,
    n_workers: int,
    on_result: Callable[[ScanResult], None] | None,
    stall_s: float,
) -> Iterator[ScanResult]:
    window = n_workers * 8
    pool = _Pool(n_workers, settings, options)
    pending: deque[int] = deque(range(len(paths)))
    in_flight: dict[cf.Future[ScanResult], int] = {}
    done: dict[int, ScanResult] = {}
    next_out = 0
    try:
        while pending or in_flight:
            while pending and len(in_flight) < window:
                idx = pending.popleft()
                in_flight[pool.executor.submit(_worker_scan, paths[idx])] = idx
            finished, _ = cf.wait(
                in_flight, timeout=stall_s, return_when=cf.FIRST_COMPLETED
            )
            if not finished:
                suspects = sorted(in_flight.values())
                in_flight.clear()
                pool.restart()
                done.update(_isolate(pool, paths, suspects, stall_s, "stalled"))
            broken: list[int] = []
            for fut in finished:
                idx = in_flight.pop(fut)
                try:
                    done[idx] = fut.result()
                except cf.process.BrokenProcessPool:
                    broken.append(idx)
                except Exception as exc:  # pickling or unexpected worker error
                    done[idx] = _failed(paths[idx], type(exc).__name__, str(exc))
            if broken:
                broken += list(in_flight.values())
                in_flight.clear()
                pool.restart()
                done.update(_isolate(pool, paths, sorted(broken), stall_s, "crashed"))
            while next_out in done:
                result = done.pop(next_out)
                if on_result:
                    on_result(result)
                yield result
                next_out += 1
    finally:
        pool.kill()


def _isolate(
    pool: _Pool, paths: Sequence[Path], suspects: list[int], stall_s: float, what: str
) -> dict[int, ScanResult]:
    """Re-run suspects one at a time so only the real culprit fails."""
    out: dict[int, ScanResult] = {}
    for idx in suspects:
        fut = pool.executor.submit(_worker_scan, paths[idx])
        started = time.monotonic()
        try:
            out[idx] = fut.result(timeout=stall_s)
        except cf.TimeoutError:
            out[idx] = _failed(
                paths[idx],
                "WorkerStalled",
                f"worker {what}: no result after {time.monotonic() - started:.0f} s",
            )
            pool.restart()
        except cf.process.BrokenProcessPool:
            out[idx] = _failed(
                paths[idx], "WorkerCrashed", f"worker {what} while scanning this file"
            )
            pool.restart()
    return out
