"""deepguard's video watermark: the image mark, identical in every frame.

Why the same pattern in every frame: temporal redundancy. A detector averages
the residuals of many frames; the content changes from frame to frame and
averages out, the mark does not, so a short, re-encoded, rescaled fragment
still reveals it. Any fragment decodes on its own, because every frame carries
the whole payload.

Embedding edits only the luma plane of each decoded YUV 4:2:0 frame (no RGB
round trip, which would cost time and chroma precision), through
:func:`deepguard.media.video_rewrite.rewrite_video`, which re-encodes the
picture and copies the audio packets untouched.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import numpy.typing as npt

from deepguard.config import Limits
from deepguard.errors import CannotCarryMark, DeepguardError
from deepguard.media.av import iter_frames, open_container
from deepguard.media.video_rewrite import RewrittenVideo, rewrite_video
from deepguard.watermark.base import DEFAULT_FPR, Detection, WatermarkKey
from deepguard.watermark.image import (
    MIN_DETECT_SIDE,
    MIN_EMBED_SIDE,
    ImageWatermarker,
    detection_luma,
    residual,
)
from deepguard.watermark.payload import Payload

__all__ = ["METHOD", "MIN_FRAMES", "VideoWatermarker"]

METHOD = "deepguard-video"
MIN_FRAMES = 2
"""A single frame is a still image: label it as one."""

_ENCODE = {"preset": "veryfast", "crf": "18"}
"""x264 settings for marked output: fast enough for real time at 720p30 on two
cores, and transparent enough (CRF 18) to leave the mark for later attacks."""


class _Marker:
    """The per-frame edit: add the luma delta to the Y plane."""

    def __init__(self, image: ImageWatermarker, payload: Payload) -> None:
        self.image = image
        self.payload = payload

    def __call__(self, frame: Any, t: float) -> Any:
        if frame.format.name != "yuv420p" or frame.width % 2 or frame.height % 2:
            rgb = frame.to_ndarray(format="rgb24")
            marked = self.image.embed(rgb, self.payload, verify=False)
            return av.VideoFrame.from_ndarray(marked, format="rgb24")
        planes = frame.to_ndarray()
        h = frame.height
        y = planes[:h].astype(np.float32)
        delta = self.image.luma_delta(y, self.payload)
        planes[:h] = np.clip(np.rint(y + delta), 0, 255).astype(np.uint8)
        return av.VideoFrame.from_ndarray(planes, format="yuv420p")


class VideoWatermarker:
    """Embeds and detects deepguard's video mark for one key.

    Args:
        key: the shared secret (default: the public key).
        fpr: false-positive probability per video the detector accepts.
        psnr_db: luma PSNR each marked frame keeps.
        max_frames: how many frames detection reads (from ``start_s``).
    """

    def __init__(
        self,
        key: WatermarkKey | None = None,
        *,
        fpr: float = DEFAULT_FPR,
        psnr_db: float = 42.5,
        max_frames: int = 150,
    ) -> None:
        self.image = ImageWatermarker(key, fpr=fpr, psnr_db=psnr_db)
        self.max_frames = max_frames

    def embed_file(
        self,
        src: Path,
        dst: Path,
        payload: Payload,
        *,
        limits: Limits | None = None,
        quality: dict[str, str] | None = None,
    ) -> RewrittenVideo:
        """Write a marked copy of ``src`` to ``dst`` (atomically; audio kept).

        Raises:
            CannotCarryMark: frames smaller than one tile, or fewer than two.
            UnsupportedFormat, CorruptMedia, MediaLimitExceeded,
            DependencyError: as :func:`rewrite_video`.
        """
        limits = limits or Limits()
        self._check_carrier(src, limits)
        return rewrite_video(
            src,
            dst,
            _Marker(self.image, payload),
            limits=limits,
            quality={**_ENCODE, **(quality or {})},
        )

    def _check_carrier(self, src: Path, limits: Limits) -> None:
        container = open_container(src, limits=limits)
        try:
            if not container.streams.video:
                msg = "no video stream to mark"
                raise CannotCarryMark(msg, path=src)
            ctx = container.streams.video[0].codec_context
            w, h = int(ctx.width or 0), int(ctx.height or 0)
        finally:
            container.close()
        if min(w, h) < MIN_EMBED_SIDE:
            side = MIN_EMBED_SIDE
            msg = f"frames are {w}x{h}; a mark needs at least {side}x{side}"
            raise CannotCarryMark(msg, path=src)
        frames = itertools.islice(
            iter_frames(src, limits=limits, fps=None, max_side=64), MIN_FRAMES
        )
        if sum(1 for _ in frames) < MIN_FRAMES:
            msg = "a one-frame video cannot carry a video mark; mark it as an image"
            raise CannotCarryMark(msg, path=src)

    def detect_file(
        self,
        path: Path,
        *,
        limits: Limits | None = None,
        start_s: float = 0.0,
        duration_s: float | None = None,
    ) -> Detection:
        """Detect the mark in a video file, or a fragment of it.

        Reads up to ``max_frames`` frames from ``start_s`` (for ``duration_s``
        seconds when given). Unreadable files raise; files that cannot reveal
        a mark (too few frames, frames too small) come back undetectable.
        """
        limits = limits or Limits()
        end = None if duration_s is None else start_s + duration_s
        frames = iter_frames(
            path, limits=limits, fps=None, max_side=1920, start_s=start_s, end_s=end
        )
        lumas = (
            cv2.cvtColor(f.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
            for f in itertools.islice(frames, self.max_frames)
        )
        return self.detect_lumas(lumas)

    def detect_lumas(self, lumas: Any) -> Detection:
        """Detect the mark from an iterable of luma frames (float32, H x W)."""
        total: npt.NDArray[np.float32] | None = None
        count = 0
        for raw in lumas:
            y = detection_luma(raw)
            if min(y.shape) < MIN_DETECT_SIDE:
                h, w = y.shape
                return Detection.undetectable(
                    METHOD, f"frames are {w}x{h}; detection needs {MIN_DETECT_SIDE}"
                )
            if total is not None and total.shape != y.shape:
                continue  # a resolution switch mid-stream: keep the first size
            r = residual(y)
            total = r if total is None else total + r
            count += 1
        if total is None or count < MIN_FRAMES:
            return Detection.undetectable(
                METHOD, f"{count} frame(s) decoded; detection needs {MIN_FRAMES}"
            )
        found = self.image.detect_residual(np.asarray(total / count, np.float32))
        return replace(found, method=METHOD, details={**found.details, "frames": count})


def detect_video_file(path: Path, *, limits: Limits | None = None) -> Detection:
    """Detection with the default key; errors become an undetectable result."""
    try:
        return VideoWatermarker().detect_file(path, limits=limits)
    except DeepguardError as exc:
        return Detection.undetectable(METHOD, str(exc))
