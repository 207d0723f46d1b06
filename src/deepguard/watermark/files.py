"""Watermark files: pick the channel by what the file is, keep the rest.

The one entry point the CLI, the label flow and the scanner use, so that a
PNG, an MP4 and an MP3 are handled the same way: images are decoded, marked
and re-encoded in their own format with EXIF and ICC kept; videos go through
the frame rewriter (audio copied); audio is re-encoded with its own codec,
rate and tags. Detection also reads a video's audio track, and third-party
marks (Stable Diffusion's, and the vendor models a user configured) when a
:class:`ThirdPartyDetector` is given. Outputs are atomic and the input is
never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from deepguard._atomic import atomic_output
from deepguard.config import Limits, Settings
from deepguard.errors import CannotCarryMark, CorruptMedia, DeepguardError
from deepguard.media.av import iter_audio, iter_frames
from deepguard.media.image import load_image, open_image
from deepguard.media.probe import probe
from deepguard.watermark.audio import AudioWatermarker
from deepguard.watermark.base import DEFAULT_FPR, Detection, Status, WatermarkKey
from deepguard.watermark.image import ImageWatermarker
from deepguard.watermark.payload import Payload
from deepguard.watermark.thirdparty.detector import ThirdPartyDetector

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
    psnr_db: float = 42.5,
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
    elif kind == "audio":
        AudioWatermarker(key).embed_file(src, dst, payload, limits=limits)
        details = {"payload_bits": 32}
    else:
        msg = f"{kind} files cannot carry a watermark (images, video and audio can)"
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
    third_party: ThirdPartyDetector | None = None,
) -> list[Detection]:
    """Every mark detection for one file.

    deepguard's own mark always gets one detection (a video gets a second
    for its audio track when it has one); third-party marks are listed only
    when present. Files that cannot reveal a mark come back as an
    undetectable detection with the reason; an unreadable file raises.

    Raises:
        UnsupportedFormat, CorruptMedia, MediaLimitExceeded: unreadable input.
    """
    limits = limits or Limits()
    kind = probe(path, max_file_bytes=limits.max_file_bytes).kind
    if kind == "image":
        rgb = np.asarray(load_image(path, limits=limits))
        found = [ImageWatermarker(key, fpr=fpr).detect(rgb)]
        if third_party is not None:
            found += third_party.detect_image(rgb)
        return found
    if kind == "video":
        from deepguard.watermark.video import VideoWatermarker

        found = [VideoWatermarker(key, fpr=fpr).detect_file(path, limits=limits)]
        track = AudioWatermarker(key, fpr=fpr).detect_file(path, limits=limits)
        if track.status is not Status.UNDETECTABLE:
            found.append(track)
        if third_party is not None and third_party.image_models:
            found += _frame_marks(path, third_party, limits)
        if third_party is not None and third_party.audio_models:
            found += _track_marks(path, third_party, limits)
        return found
    if kind == "audio":
        found = [AudioWatermarker(key, fpr=fpr).detect_file(path, limits=limits)]
        if third_party is not None and third_party.audio_models:
            found += _track_marks(path, third_party, limits)
        return found
    return [Detection.undetectable("deepguard", f"{kind} files carry no watermark")]


# Vendor models see a few frames and the opening of the audio: their marks
# are in every frame and all along the track, and they are slow on a CPU.
_MODEL_FRAMES = 3
_MODEL_AUDIO_S = 30.0


def _frame_marks(
    path: Path, third_party: ThirdPartyDetector, limits: Limits
) -> list[Detection]:
    """Vendor image-model marks in a video's first frames, one per method."""
    found: dict[str, Detection] = {}
    try:
        for index, frame in enumerate(iter_frames(path, limits=limits, fps=1.0)):
            if index >= _MODEL_FRAMES:
                break
            for detection in third_party.detect_image(frame.image, video_frame=True):
                found.setdefault(detection.method, detection)
    except DeepguardError:
        pass  # the video mark's own detection already reports unreadable frames
    return list(found.values())


def _track_marks(
    path: Path, third_party: ThirdPartyDetector, limits: Limits
) -> list[Detection]:
    """Vendor audio-model marks in the opening of the first audio track."""
    rate = third_party.audio_models[0].sample_rate
    try:
        window = next(
            iter_audio(path, limits=limits, sample_rate=rate, window_s=_MODEL_AUDIO_S),
            None,
        )
    except DeepguardError:
        return []
    if window is None:
        return []
    return third_party.detect_audio(window.samples, rate)
