"""Re-encode a video's picture frame by frame, copying everything else.

Why one module: burning an explicit label into the opening frames and
embedding an invisible watermark in every frame are the same job with a
different edit per frame. Only the picture changes, so only the picture is
re-encoded: audio streams are copied packet for packet
(``add_stream_from_template``), which keeps them bit-identical and in sync.
The video keeps its codec where FFmpeg has an encoder for it (H.264 through
libx264 otherwise), its time base, timestamps and frame rate. Container
metadata is copied; for MP4/MOV custom keys such as an implicit ``AIGC`` label
are written as ``mdta`` keys, the only way FFmpeg keeps them. Subtitle and
data streams are not carried over.

Limits: the frame size is checked before any frame is decoded; reads are
bounded by FFmpeg's I/O timeout (``max_decode_s``). The whole re-encode is
not, because a legitimate long video takes longer to encode than a hostile one
takes to be refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import av

from deepguard._atomic import atomic_output
from deepguard.config import Limits
from deepguard.errors import (
    CorruptMedia,
    DependencyError,
    UnsupportedFormat,
)
from deepguard.media.av import check_frame_size, open_container

__all__ = ["FrameEdit", "RewrittenVideo", "rewrite_video"]

FrameEdit = Callable[[Any, float], Any | None]
"""``edit(frame, t)`` gets each decoded frame and its time from the first
frame in seconds; it returns a replacement frame, or None to keep it."""

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


@dataclass(frozen=True, slots=True)
class RewrittenVideo:
    """What :func:`rewrite_video` wrote."""

    path: Path
    codec: str
    frames: int
    edited_frames: int
    audio_streams: int
    audio_packets: int


def rewrite_video(
    src: Path,
    dst: Path,
    edit: FrameEdit,
    *,
    limits: Limits | None = None,
    quality: Mapping[str, str] | None = None,
) -> RewrittenVideo:
    """Write ``src`` to ``dst`` atomically with every frame passed to ``edit``.

    ``quality`` overrides the encoder options (e.g. a faster x264 preset).

    Raises:
        UnsupportedFormat: no video stream, or no encoder for the container.
        CorruptMedia: the input cannot be decoded.
        MediaLimitExceeded: the frame size is over ``limits``.
        DependencyError: FFmpeg refuses to encode.
    """
    limits = limits or Limits()
    source = open_container(src, limits=limits)
    try:
        with atomic_output(dst) as tmp:
            return _rewrite(source, src, dst, tmp, edit, limits, quality)
    finally:
        source.close()


def _rewrite(
    source: Any,
    src: Path,
    dst: Path,
    tmp: Path,
    edit: FrameEdit,
    limits: Limits,
    quality: Mapping[str, str] | None,
) -> RewrittenVideo:
    if not source.streams.video:
        raise UnsupportedFormat("no video stream", path=src)
    vin = source.streams.video[0]
    width, height = int(vin.codec_context.width), int(vin.codec_context.height)
    check_frame_size(width, height, limits=limits, path=src)
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
        vout = _video_stream(out, vin, encoder, width, height, quality)
        audio_out = {s.index: out.add_stream_from_template(s) for s in audio_in}
        job = _Job(edit, vout)
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
    return RewrittenVideo(
        dst, encoder, job.frames, job.edited, len(audio_in), job.audio_packets
    )


class _Job:
    """Per-frame editing and encoding state."""

    def __init__(self, edit: FrameEdit, stream: Any) -> None:
        self.edit = edit
        self.stream = stream
        self.t0: float | None = None
        self.frames = 0
        self.edited = 0
        self.audio_packets = 0

    def encode(self, out: Any, frame: Any) -> None:
        t = _frame_time(frame, self.frames)
        if self.t0 is None:
            self.t0 = t
        new = self.edit(frame, t - self.t0)
        if new is not None:
            new.pts, new.time_base = frame.pts, frame.time_base
            frame = new
            self.edited += 1
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


def _video_stream(
    out: Any,
    vin: Any,
    encoder: str,
    width: int,
    height: int,
    quality: Mapping[str, str] | None,
) -> Any:
    rate = vin.average_rate or vin.guessed_rate or Fraction(25)
    options = {**_QUALITY.get(encoder, {}), **(quality or {})}
    stream = out.add_stream(encoder, rate=rate, options=options)
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
