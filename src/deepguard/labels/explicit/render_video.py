"""Burn a GB 45438 explicit label into a video's opening frames.

The standard wants the notice on the opening frames for at least two seconds
at normal speed. Every frame whose start time is under ``opening_s`` gets the
label, which covers at least ``opening_s`` of playback whatever the frame
rate; an optional persistent label stays for the whole video.

Only the picture changes, so only the picture is re-encoded: audio streams
are copied packet for packet (``add_stream_from_template``), which keeps
them bit-identical and in sync. The video keeps its codec where FFmpeg has an
encoder for it (H.264 through libx264 otherwise), its time base, timestamps
and frame rate. Container metadata is copied; for MP4/MOV custom keys such as
an implicit ``AIGC`` label are written as ``mdta`` keys, the only way FFmpeg
keeps them. Subtitle and data streams are not carried over.

Limits: the declared duration and the frame size are checked before any
frame is decoded; reads are bounded by FFmpeg's I/O timeout
(``max_decode_s``). The whole re-encode is not, because a legitimate long
video takes longer to encode than a hostile one takes to be refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import av
import numpy as np
from PIL import Image

from deepguard._atomic import atomic_output
from deepguard.config import Limits
from deepguard.errors import (
    CorruptMedia,
    DependencyError,
    MediaLimitExceeded,
    UnsupportedFormat,
)
from deepguard.labels.explicit.render_image import (
    InvalidLabelStyle,
    LabelStyle,
    label_overlay,
)
from deepguard.media.av import open_container

__all__ = [
    "MIN_OPENING_S",
    "RenderedVideo",
    "VideoLabelStyle",
    "render_video_file",
]

MIN_OPENING_S: Final = 2.0
"""GB 45438: the opening label stays at least two seconds."""

_ENCODERS: Final[dict[str, tuple[str, ...]]] = {
    "h264": ("libx264",),
    "hevc": ("libx265", "libx264"),
    "vp9": ("libvpx-vp9", "libvpx"),
    "vp8": ("libvpx", "libvpx-vp9"),
    "av1": ("libsvtav1", "libaom-av1", "libvpx-vp9"),
    "mpeg4": ("mpeg4",),
    "mjpeg": ("mjpeg",),
}
_WEBM_SAFE: Final = ("libvpx-vp9", "libvpx", "libsvtav1")
_QUALITY: Final[dict[str, dict[str, str]]] = {
    "libx264": {"crf": "18", "preset": "medium"},
    "libx265": {"crf": "20", "preset": "medium"},
    "libvpx-vp9": {"crf": "24", "b": "0"},
    "libsvtav1": {"crf": "28"},
}
"""Visually transparent settings: the label should be the only visible change."""
_FORMAT_BY_SUFFIX: Final[dict[str, str]] = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
    ".avi": "avi",
    ".flv": "flv",
    ".ts": "mpegts",
}
_STANDARD_MP4_KEYS: Final = frozenset(
    {
        "title",
        "artist",
        "album",
        "comment",
        "date",
        "genre",
        "copyright",
        "description",
        "encoder",
        "major_brand",
        "minor_version",
        "compatible_brands",
        "creation_time",
        "composer",
        "album_artist",
        "track",
        "disc",
        "grouping",
        "lyrics",
        "synopsis",
        "show",
        "episode_id",
        "network",
        "location",
    }
)
_AV_ERRORS: Final[tuple[type[BaseException], ...]] = (
    av.error.FFmpegError,
    ValueError,
    IndexError,
    OSError,
)


def _default_opening() -> LabelStyle:
    return LabelStyle(position="top-left", height_ratio=0.08)


@dataclass(frozen=True, slots=True)
class VideoLabelStyle:
    """The opening label, how long it stays, and an optional persistent one."""

    opening: LabelStyle = field(default_factory=_default_opening)
    opening_s: float = MIN_OPENING_S
    persistent: LabelStyle | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.opening_s) or self.opening_s < MIN_OPENING_S:
            msg = (
                f"opening label duration {self.opening_s:g} s is below the GB 45438 "
                f"minimum of {MIN_OPENING_S:g} s"
            )
            raise InvalidLabelStyle(msg)


@dataclass(frozen=True, slots=True)
class RenderedVideo:
    """What :func:`render_video_file` wrote."""

    path: Path
    codec: str
    frames: int
    labelled_frames: int
    audio_streams: int
    audio_packets: int


def render_video_file(
    src: Path,
    dst: Path,
    *,
    style: VideoLabelStyle | None = None,
    limits: Limits | None = None,
) -> RenderedVideo:
    """Write ``src`` with an explicit label to ``dst``, atomically.

    Raises:
        UnsupportedFormat: no video stream, or no encoder for the container.
        CorruptMedia: the input cannot be decoded.
        MediaLimitExceeded: duration or frame size over ``limits``.
        InvalidLabelStyle: the label does not fit the frame.
        DependencyError: no font, or FFmpeg refuses to encode.
    """
    style = style or VideoLabelStyle()
    style = replace(
        style,
        opening=replace(style.opening, font=style.opening.resolved_font()),
        persistent=(
            replace(style.persistent, font=style.persistent.resolved_font())
            if style.persistent is not None
            else None
        ),
    )
    limits = limits or Limits()
    source = open_container(src, limits=limits)
    try:
        with atomic_output(dst) as tmp:
            return _render(source, src, dst, tmp, style, limits)
    finally:
        source.close()


def _render(
    source: Any,
    src: Path,
    dst: Path,
    tmp: Path,
    style: VideoLabelStyle,
    limits: Limits,
) -> RenderedVideo:
    if not source.streams.video:
        raise UnsupportedFormat("no video stream to label", path=src)
    vin = source.streams.video[0]
    width, height = int(vin.codec_context.width), int(vin.codec_context.height)
    if width * height > limits.max_pixels:
        msg = f"video is {width}x{height}, over the max_pixels limit"
        raise MediaLimitExceeded(
            msg,
            path=src,
            limit="max_pixels",
            value=width * height,
            maximum=limits.max_pixels,
        )
    if width <= 0 or height <= 0:
        raise CorruptMedia("video stream has no frame size", path=src)
    fmt = _output_format(dst, source)
    audio_in = list(source.streams.audio)
    options = _mux_options(fmt, source.metadata)
    try:
        out = av.open(str(tmp), mode="w", format=fmt, options=options)
    except _AV_ERRORS as exc:
        msg = f"FFmpeg cannot write {fmt}: {exc}"
        raise UnsupportedFormat(msg, path=dst) from exc
    with out:
        out.metadata.update(dict(source.metadata))
        encoder = _encoder(vin.codec_context.name, fmt)
        vout = _video_stream(out, vin, encoder, width, height)
        audio_out = {s.index: out.add_stream_from_template(s) for s in audio_in}
        job = _Job(style, vout)
        try:
            for packet in source.demux(vin, *audio_in):
                if packet.stream.type == "video":
                    for frame in packet.decode():
                        job.encode(out, frame)
                elif packet.dts is not None:
                    packet.stream = audio_out[packet.stream.index]
                    out.mux(packet)
                    job.audio_packets += 1
            job.flush(out)
        except av.error.InvalidDataError as exc:
            raise CorruptMedia(f"cannot decode video: {exc}", path=src) from exc
        except _AV_ERRORS as exc:
            raise DependencyError(
                f"re-encoding failed: {' '.join(str(exc).split())}", path=dst
            ) from exc
        if job.frames == 0:
            raise CorruptMedia("no video frame could be decoded", path=src)
    return RenderedVideo(
        dst, encoder, job.frames, job.labelled, len(audio_in), job.audio_packets
    )


class _Job:
    """Per-frame drawing and encoding state."""

    def __init__(self, style: VideoLabelStyle, stream: Any) -> None:
        self.style = style
        self.stream = stream
        self.t0: float | None = None
        self.frames = 0
        self.labelled = 0
        self.audio_packets = 0
        self._patches: dict[tuple[int, int, bool], list[tuple[Image.Image, Any]]] = {}

    def _labels(self, size: tuple[int, int], opening: bool) -> list[Any]:
        """Rasterised labels for a frame size, built once per size and phase."""
        key = (*size, opening)
        if key not in self._patches:
            styles = [self.style.opening] if opening else []
            persistent = self.style.persistent
            if persistent is not None and not (
                opening and persistent.position == self.style.opening.position
            ):
                styles.append(persistent)
            patches = []
            for label in styles:
                patch, placement = label_overlay(size, label)
                patches.append((patch, placement.box[:2]))
            self._patches[key] = patches
        return self._patches[key]

    def encode(self, out: Any, frame: Any) -> None:
        t = _frame_time(frame, self.frames)
        if self.t0 is None:
            self.t0 = t
        opening = t - self.t0 < self.style.opening_s - 1e-9
        labels = self._labels((frame.width, frame.height), opening)
        if labels:
            image = frame.to_image()
            for patch, xy in labels:
                image.paste(patch, xy, patch)
            new = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
            new.pts, new.time_base = frame.pts, frame.time_base
            frame = new
            self.labelled += 1
        frame.pict_type = av.video.frame.PictureType.NONE
        for packet in self.stream.encode(frame):
            out.mux(packet)
        self.frames += 1

    def flush(self, out: Any) -> None:
        for packet in self.stream.encode():
            out.mux(packet)


def _frame_time(frame: Any, index: int) -> float:
    if frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * frame.time_base)
    return float(index)  # no timestamps at all: every frame is a new second


def _output_format(dst: Path, source: Any) -> str:
    by_suffix = _FORMAT_BY_SUFFIX.get(dst.suffix.lower())
    if by_suffix:
        return by_suffix
    name: str = str(source.format.name).split(",")[0]
    return name


def _mux_options(fmt: str, metadata: Any) -> dict[str, str]:
    if fmt in ("mp4", "mov") and any(
        key.lower() not in _STANDARD_MP4_KEYS for key in metadata
    ):
        return {"movflags": "use_metadata_tags"}
    return {}


def _encoder(decoder: str, fmt: str) -> str:
    """An available encoder for the input codec, else H.264 (VP9 for WebM)."""
    fallback: tuple[str, ...] = _WEBM_SAFE if fmt == "webm" else ("libx264", "mpeg4")
    candidates: tuple[str, ...] = (*_ENCODERS.get(decoder, ()), *fallback)
    for name in candidates:
        if fmt == "webm" and name not in _WEBM_SAFE:
            continue
        try:
            av.codec.Codec(name, "w")
        except ValueError:
            continue
        return name
    msg = f"no video encoder available for {decoder} in {fmt}"
    raise DependencyError(msg)


def _video_stream(out: Any, vin: Any, encoder: str, width: int, height: int) -> Any:
    rate = vin.average_rate or vin.guessed_rate or Fraction(25)
    stream = out.add_stream(encoder, rate=rate, options=_QUALITY.get(encoder, {}))
    stream.width, stream.height = width, height
    even = width % 2 == 0 and height % 2 == 0
    if encoder == "mjpeg":
        stream.pix_fmt = "yuvj420p"
    else:
        stream.pix_fmt = "yuv420p" if even or encoder != "libx264" else "yuv444p"
    if vin.time_base is not None:
        stream.time_base = vin.time_base
        stream.codec_context.time_base = vin.time_base
    if vin.codec_context.bit_rate and encoder not in _QUALITY:
        stream.bit_rate = vin.codec_context.bit_rate
    return stream
