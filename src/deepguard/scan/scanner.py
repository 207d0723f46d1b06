"""Scan one media item: probe, read header info, run detectors, decide.

The scanner knows no detector by name. It isolates failures: a detector that
raises is recorded in ``errors`` and the others still run; a file that cannot
be probed still yields a ``ScanResult`` that says why.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from deepguard import __version__
from deepguard.accounts import AccountRef
from deepguard.config import Limits, Settings
from deepguard.errors import DeepguardError
from deepguard.media.info import read_info
from deepguard.media.item import MediaItem
from deepguard.scan.detector import Detector
from deepguard.scan.finding import Finding
from deepguard.scan.registry import DetectorRegistry
from deepguard.scan.result import DetectorRun, FileIdentity, ScanError, ScanResult
from deepguard.scan.verdict import decide

__all__ = ["Scanner"]


def _error(stage: str, exc: BaseException) -> ScanError:
    name = type(exc).__name__
    message = str(exc) if isinstance(exc, DeepguardError) else f"{name}: {exc}"
    return ScanError(stage=stage, error=name, message=" ".join(message.split()))


class Scanner:
    """Runs the applicable detectors over one file at a time."""

    def __init__(
        self,
        *,
        detectors: Sequence[Detector],
        limits: Limits | None = None,
        metadata_only: bool = False,
        uploader: AccountRef | None = None,
    ) -> None:
        self.detectors = list(detectors)
        self.limits = limits or Limits()
        self.metadata_only = metadata_only
        self.uploader = uploader

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        metadata_only: bool = False,
        detector_names: Sequence[str] | None = None,
        registry: DetectorRegistry | None = None,
        uploader: AccountRef | None = None,
    ) -> Scanner:
        """A scanner with the configured detectors and limits.

        Raises:
            ConfigError: an unknown detector was requested.
        """
        registry = registry or DetectorRegistry.default()
        return cls(
            detectors=registry.build(settings, names=detector_names),
            limits=settings.limits,
            metadata_only=metadata_only,
            uploader=uploader,
        )

    def scan_path(self, path: Path) -> ScanResult:
        """Scan one file. Never raises for problems with the file itself."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        try:
            item = MediaItem.open(path, limits=self.limits)
        except DeepguardError as exc:
            return ScanResult(
                file=FileIdentity(
                    path=str(path), sha256=None, size=None, kind=None, mime=None
                ),
                errors=[_error("probe", exc)],
                timings={"total": time.perf_counter() - started},
                deepguard_version=__version__,
            )
        timings["probe"] = time.perf_counter() - started
        return self.scan_item(item, started=started, timings=timings)

    def scan_item(
        self,
        item: MediaItem,
        *,
        started: float | None = None,
        timings: dict[str, float] | None = None,
    ) -> ScanResult:
        """Scan an already opened item."""
        started = time.perf_counter() if started is None else started
        timings = {} if timings is None else timings
        if item.uploader is None:
            item.uploader = self.uploader
        result = ScanResult(
            file=FileIdentity(
                path=str(item.path),
                sha256=item.sha256,
                size=item.size,
                kind=item.kind.value,
                mime=item.mime,
            ),
            deepguard_version=__version__,
        )
        t0 = time.perf_counter()
        try:
            result.media = read_info(item, verify=not self.metadata_only).to_dict()
        except DeepguardError as exc:
            result.errors.append(_error("media", exc))
        timings["media"] = time.perf_counter() - t0
        findings: list[Finding] = []
        for detector in self.detectors:
            if self.metadata_only and not detector.metadata_only:
                continue
            if not detector.supports(item):
                continue
            t0 = time.perf_counter()
            error: str | None = None
            try:
                findings.extend(detector.run(item))
            except DeepguardError as exc:
                error = str(exc)
                result.errors.append(_error(f"detector:{detector.name}", exc))
            except Exception as exc:  # a detector bug must not lose the batch
                error = f"{type(exc).__name__}: {exc}"
                result.errors.append(_error(f"detector:{detector.name}", exc))
            elapsed = time.perf_counter() - t0
            timings[f"detector:{detector.name}"] = elapsed
            result.detectors.append(
                DetectorRun(
                    name=detector.name,
                    version=detector.version,
                    seconds=elapsed,
                    error=error,
                )
            )
        result.findings = findings
        result.verdict = decide(findings)
        timings["total"] = time.perf_counter() - started
        result.timings = timings
        return result
