"""The scan pipeline: detectors, findings, verdicts, and the scanner."""

from __future__ import annotations

from deepguard.scan.batch import ScanOptions, iter_input_paths, scan_paths
from deepguard.scan.detector import Detector
from deepguard.scan.finding import AigcLabel, Finding, Verdict
from deepguard.scan.registry import DetectorRegistry, default_detector_classes
from deepguard.scan.result import (
    SCHEMA,
    DetectorRun,
    FileIdentity,
    ScanError,
    ScanResult,
)
from deepguard.scan.scanner import Scanner
from deepguard.scan.verdict import decide

__all__ = [
    "SCHEMA",
    "AigcLabel",
    "Detector",
    "DetectorRegistry",
    "DetectorRun",
    "FileIdentity",
    "Finding",
    "ScanError",
    "ScanOptions",
    "ScanResult",
    "Scanner",
    "Verdict",
    "decide",
    "default_detector_classes",
    "iter_input_paths",
    "scan_paths",
]
