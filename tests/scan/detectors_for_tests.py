"""Detectors used by the scan tests; importable so worker processes load them."""

from __future__ import annotations

import os
import time

from deepguard.errors import CorruptMedia
from deepguard.media.item import MediaItem
from deepguard.scan.detector import Detector
from deepguard.scan.finding import Finding


class MarkerDetector(Detector):
    """Reports a trace when the file's bytes contain the marker ``AI-TRACE``."""

    name = "marker"
    version = "7"

    def supports(self, item: MediaItem) -> bool:
        return True

    def run(self, item: MediaItem) -> list[Finding]:
        data = item.path.read_bytes()
        if b"AI-TRACE" not in data:
            return []
        return [
            Finding(
                detector=self.name,
                kind="generator.name",
                confidence=0.9,
                summary="marker found",
                details={"field": "bytes", "value": "AI-TRACE"},
                where={"offset": data.index(b"AI-TRACE")},
            )
        ]


class FailingDetector(Detector):
    """Raises for every file: the scanner must record it and go on."""

    name = "failing"

    def supports(self, item: MediaItem) -> bool:
        return True

    def run(self, item: MediaItem) -> list[Finding]:
        raise CorruptMedia("synthetic failure", path=item.path)


class CrashingDetector(Detector):
    """Kills its worker process on files containing ``CRASH``, hangs on ``HANG``.

    Stands in for a native decoder that segfaults or spins on a hostile file.
    """

    name = "crashing"

    def supports(self, item: MediaItem) -> bool:
        return True

    def run(self, item: MediaItem) -> list[Finding]:
        data = item.path.read_bytes()
        if b"CRASH" in data:
            os._exit(139)
        if b"HANG" in data:
            time.sleep(3600)
        return []
