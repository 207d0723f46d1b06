"""Watermark files: pick the channel by what the file is, keep the rest.

The one entry point the CLI, the label flow and the scanner use, so that a
PNG, an MP4 and an MP3 are handled the same way: images are decoded, marked
and re-encoded in their own format with EXIF and ICC kept; videos go through
the frame rewriter (audio copied). Audio files are not marked yet.
Outputs are atomic and the input is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from deepguard._atomic import atomic_output
from deepguard.config import Limits, Settings
from deepguard.errors import CannotCarryMark, CorruptMedia
from deepguard.media.image import load_image, open_image
from deepguard.media.probe import probe
from deepguard.watermark.base import DEFAULT_FPR, Detection, WatermarkKey
from deepguard.watermark.image import ImageWatermarker
from deepguard.watermark.payload import Payload

__all__ = ["MarkedFile", "detect_file", "embed_file", "embed_file_for"]

# Formats Pillow writes, with settings that keep the output close to the input.
_IMAGE_SAVE: dict[str, dict[str, Any]] = {
    "PNG": {"optimize": False},
    "JPEG": {"quality": 95, "subsampling": "4:2:0"},
    "WEBP": {"quality": 95, "method": 4},
    "TIFF": {"compression": "tiff_lzw"},
    "BMP": {},
}


@dataclass(frozen=True, slots=True)
class MarkedFile:
    """What :func:`embed_file` wrote."""

    source: Path
    output: Path
    kind: str
    payload: Payload
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "output": str(self.output),
            "kind": self.kind,
            "payload": self.payload.hex(),
            "producer_tag": self.payload.producer_tag,
            "content_id": self.payload.content_id,
            "details": self.details,
        }


def embed_file(
    src: Path,
    dst: Path,
    payload: Payload,
    *,
    key: WatermarkKey | None = None,
    limits: Limits | None = None,
    psnr_db: float = 43.0,
) -> MarkedFile:
    """Write a marked copy of ``src`` to ``dst``.

    Raises:
        CannotCarryMark: the content is too small, short, silent or flat.
        UnsupportedFormat: not an image or video format we can write.
        CorruptMedia, MediaLimitExceeded: the input cannot be decoded.
    """
    limits = limits or Limits()
    kind = probe(src, max_file_bytes=limits.max_file_bytes).kind
    if kind == "image":
        details = _embed_image(
            src, dst, payload, ImageWatermarker(key, psnr_db=psnr_db), limits
        )
    elif kind == "video":
        from deepguard.watermark.video import VideoWatermarker

        marker = VideoWatermarker(key, psnr_db=psnr_db)
        video = marker.embed_file(src, dst, payload, limits=limits)
        details = {"codec": video.codec, "frames": video.frames}
    else:
        msg = f"{kind} files cannot carry a watermark yet (images and video can)"
        raise CannotCarryMark(msg, path=src)
    return MarkedFile(src, dst, kind, payload, details)


def embed_file_for(
    src: Path, dst: Path, payload: Payload, settings: Settings
) -> MarkedFile:
    """:func:`embed_file` with the configured key, strength and limits."""
    return embed_file(
        src,
        dst,
        payload,
        key=WatermarkKey.from_text(settings.watermark.key),
        limits=settings.limits,
        psnr_db=settings.watermark.psnr_db,
    )


def _embed_image(
    src: Path, dst: Path, payload: Payload, marker: ImageWatermarker, limits: Limits
) -> dict[str, Any]:
    with open_image(src, limits=limits) as im:
        fmt = im.format or "PNG"
        info: dict[str, Any] = {
            k: im.info[k] for k in ("exif", "icc_profile", "dpi") if k in im.info
        }
        frames = getattr(im, "n_frames", 1)
    if fmt not in _IMAGE_SAVE or frames > 1:
        what = "animated images" if frames > 1 else f"{fmt} images"
        msg = f"cannot write {what} with a watermark; convert to PNG or JPEG first"
        raise CannotCarryMark(msg, path=src)
    rgb = np.asarray(load_image(src, limits=limits))
    try:
        marked = marker.embed(rgb, payload)
    except CannotCarryMark as exc:
        raise CannotCarryMark(exc.msg, path=src) from exc
    options: dict[str, Any] = {**_IMAGE_SAVE[fmt], **info}
    with atomic_output(dst) as tmp:
        try:
            Image.fromarray(marked).save(tmp, format=fmt, **options)
        except (OSError, ValueError) as exc:
            raise CorruptMedia(f"cannot write {fmt}: {exc}", path=dst) from exc
    return {"format": fmt, "size": [int(rgb.shape[1]), int(rgb.shape[0])]}


def detect_file(
    path: Path,
    *,
    key: WatermarkKey | None = None,
    fpr: float = DEFAULT_FPR,
    limits: Limits | None = None,
) -> list[Detection]:
    """Every mark detection for one file.

    Files that cannot reveal a mark come back as one undetectable detection
    with the reason; an unreadable file raises.

    Raises:
        UnsupportedFormat, CorruptMedia, MediaLimitExceeded: unreadable input.
    """
    limits = limits or Limits()
    kind = probe(path, max_file_bytes=limits.max_file_bytes).kind
    if kind == "image":
        rgb = np.asarray(load_image(path, limits=limits))
        return [ImageWatermarker(key, fpr=fpr).detect(rgb)]
    if kind == "video":
        from deepguard.watermark.video import VideoWatermarker

        return [VideoWatermarker(key, fpr=fpr).detect_file(path, limits=limits)]
    return [Detection.undetectable("deepguard", f"{kind} files carry no watermark")]
