"""Builders shared by the report tests: scan results and short H.264 clips."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from deepguard.scan import Finding, Scanner, ScanResult, decide


def scanned(path: Path, *findings: Finding) -> ScanResult:
    """A real scan result (probe, hash, media info) with the given findings."""
    result = Scanner(detectors=[]).scan_path(path)
    result.findings = list(findings)
    result.verdict = decide(result.findings)
    return result


def write_h264(
    path: Path,
    frames: Iterable[npt.NDArray[np.uint8]],
    *,
    side: int,
    options: dict[str, str],
    fps: int = 10,
) -> Path:
    """An MP4 of square ``side`` x ``side`` RGB ``frames``, one pts apart.

    ``options`` are libx264 encoder options (preset, GOP size ...).
    """
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        stream.options = options
        for i, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path
