"""Decode video frames and audio samples with PyAV, streaming.

Long inputs (a four-hour livestream recording) must never be held in memory:
frames and audio windows are generators that decode as the consumer pulls.
Every loop checks the decode-time budget, and the container duration is
checked against the duration limit before decoding starts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from deepguard.config import Limits
from deepguard.errors import (
    CorruptMedia,
    MediaError,
    MediaLimitExceeded,
    UnsupportedFormat,
)

__all__ = [
    "AudioWindow",
    "Deadline",
    "VideoFrame",
    "check_frame_size",
    "iter_audio",
    "iter_frames",
    "open_container",
]

# PyAV raises av.error.FFmpegError subclasses, plus ValueError/IndexError on
# malformed side data, and OSError on I/O errors.
_AV_ERRORS: tuple[type[BaseException], ...] = (
    av.error.FFmpegError,
    ValueError,
    IndexError,
    OSError,
)


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One decoded frame: RGB pixels (H x W x 3, uint8) and its time in seconds."""

    timestamp: float
    image: npt.NDArray[np.uint8]
    keyframe: bool


@dataclass(frozen=True, slots=True)
class AudioWindow:
    """A window of mono float32 samples in [-1, 1] starting at ``timestamp``."""

    timestamp: float
    samples: npt.NDArray[np.float32]
    sample_rate: int


class Deadline:
    """Wall-clock budget for one file, so hostile files cannot stall a worker.

    ``what`` names the work in the error ("decoding", "watermarking" ...).
    """

    def __init__(self, path: Path, seconds: float, what: str = "decoding") -> None:
        self._path = path
        self._seconds = seconds
        self._what = what
        self._end = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self._end:
            msg = (
                f"{self._what} took longer than the max_decode_s limit of "
                f"{self._seconds:g} s"
            )
            raise MediaLimitExceeded(
                msg, path=self._path, limit="max_decode_s", maximum=self._seconds
            )


def open_container(path: Path, *, limits: Limits) -> Any:
    """Open a media container and check its declared duration.

    Returns the PyAV ``InputContainer``; the caller closes it.

    Raises:
        UnsupportedFormat: FFmpeg does not recognise the content.
        CorruptMedia: the container is damaged.
        MediaLimitExceeded: the declared duration is over ``limits.max_duration_s``.
    """
    try:
        # ``timeout`` makes FFmpeg's own I/O interrupt callback enforce the
        # decode-time budget inside reads, where Python cannot interrupt.
        container = av.open(
            str(path), mode="r", metadata_errors="ignore", timeout=limits.max_decode_s
        )
    except av.error.ExitError as exc:
        msg = (
            "opening took longer than the max_decode_s limit of "
            f"{limits.max_decode_s:g} s"
        )
        raise MediaLimitExceeded(
            msg, path=path, limit="max_decode_s", maximum=limits.max_decode_s
        ) from exc
    except av.error.InvalidDataError as exc:
        raise CorruptMedia(
            f"invalid or truncated media data: {_av_message(exc)}", path=path
        ) from exc
    except av.error.FFmpegError as exc:
        raise UnsupportedFormat(
            f"FFmpeg cannot open it: {_av_message(exc)}", path=path
        ) from exc
    except _AV_ERRORS as exc:
        raise MediaError(f"cannot open media: {exc}", path=path) from exc
    duration = container_duration(container)
    if duration is not None and duration > limits.max_duration_s:
        container.close()
        msg = (
            f"duration is {duration:.1f} s, over the max_duration_s limit of "
            f"{limits.max_duration_s:g} s"
        )
        raise MediaLimitExceeded(
            msg,
            path=path,
            limit="max_duration_s",
            value=duration,
            maximum=limits.max_duration_s,
        )
    return container


def container_duration(container: Any) -> float | None:
    """Declared duration in seconds, from the container or its longest stream."""
    if container.duration is not None and container.duration > 0:
        return float(container.duration) / av.time_base
    best: float | None = None
    for stream in container.streams:
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
            best = seconds if best is None else max(best, seconds)
    return best


def _av_message(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())


def check_frame_size(width: int, height: int, *, limits: Limits, path: Path) -> None:
    """Refuse a video whose declared frame size is over ``max_pixels``.

    Checked from the stream header, before any frame is decoded.

    Raises:
        MediaLimitExceeded: ``width * height`` is over the limit.
    """
    if width * height > limits.max_pixels:
        msg = (
            f"video is {width}x{height}, over the max_pixels limit of "
            f"{limits.max_pixels}"
        )
        raise MediaLimitExceeded(
            msg,
            path=path,
            limit="max_pixels",
            value=width * height,
            maximum=limits.max_pixels,
        )


def iter_frames(
    path: Path,
    *,
    limits: Limits,
    fps: float | None = 1.0,
    keyframes_only: bool = False,
    max_side: int | None = None,
    start_s: float = 0.0,
    end_s: float | None = None,
) -> Generator[VideoFrame, None, None]:
    """Yield RGB frames sampled at ``fps`` frames per second (``None``: every frame).

    ``keyframes_only`` asks the decoder to skip non-key frames entirely, which is
    what thumbnails and fast scans want. Frames are scaled by the decoder so the
    longer side is at most ``max_side``.

    Raises:
        UnsupportedFormat: no video stream.
        CorruptMedia: decoding failed before any frame was produced.
        MediaLimitExceeded: pixels, duration or decode time over the limits.
    """
    deadline = Deadline(path, limits.max_decode_s)
    container = open_container(path, limits=limits)
    produced = 0
    try:
        if not container.streams.video:
            raise UnsupportedFormat("no video stream", path=path)
        stream = container.streams.video[0]
        ctx = stream.codec_context
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        check_frame_size(width, height, limits=limits, path=path)
        stream.thread_type = "AUTO"
        if keyframes_only:
            ctx.skip_frame = "NONKEY"
        step = 1.0 / fps if fps else 0.0
        next_t = start_s
        out_w, out_h = _scaled(width, height, max_side)
        for frame in container.decode(stream):
            deadline.check()
            t = (
                float(frame.time)
                if frame.time is not None
                else produced * (step or 0.04)
            )
            if t < next_t - 1e-6 and not keyframes_only:
                continue
            if end_s is not None and t > end_s:
                break
            if out_w and out_h and (out_w, out_h) != (frame.width, frame.height):
                image = frame.to_ndarray(format="rgb24", width=out_w, height=out_h)
            else:
                image = frame.to_ndarray(format="rgb24")
            produced += 1
            yield VideoFrame(timestamp=t, image=image, keyframe=bool(frame.key_frame))
            if step:
                next_t = (math.floor(t / step + 1e-6) + 1) * step
    except _AV_ERRORS as exc:
        if produced == 0:
            raise CorruptMedia(
                f"cannot decode video: {_av_message(exc)}", path=path
            ) from exc
        # Truncated tail: the frames we produced are real; stop cleanly.
    finally:
        container.close()


def _scaled(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    if not max_side or not width or not height or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    # Even dimensions keep swscale happy with subsampled formats.
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


class _Samples:
    """Decoded samples waiting to be windowed.

    Frames are kept as a list and joined only when a window is taken, so each
    sample is copied a bounded number of times however long the window:
    appending to one growing array would copy the whole window per frame.
    """

    def __init__(self) -> None:
        self._parts: list[npt.NDArray[np.float32]] = []
        self.size = 0

    def add(self, frame: npt.NDArray[Any]) -> None:
        data = frame.reshape(-1).astype(np.float32, copy=False)
        self._parts.append(data)
        self.size += data.size

    def _joined(self) -> npt.NDArray[np.float32]:
        if len(self._parts) != 1:
            self._parts = [np.concatenate(self._parts)]
        return self._parts[0]

    def head(self, n: int) -> npt.NDArray[np.float32]:
        """A copy of the first ``n`` samples."""
        return self._joined()[:n].copy()

    def drop(self, n: int) -> None:
        rest = self._joined()[n:]
        self._parts = [rest] if rest.size else []
        self.size = rest.size


def iter_audio(
    path: Path,
    *,
    limits: Limits,
    sample_rate: int = 16_000,
    window_s: float = 1.0,
    hop_s: float | None = None,
) -> Generator[AudioWindow, None, None]:
    """Yield mono float32 windows of ``window_s`` seconds, ``hop_s`` apart.

    Audio is resampled and downmixed by FFmpeg's resampler as it is decoded, so
    memory stays at one window plus one decoded frame however long the input.
    The last, shorter window is yielded as is.

    Raises:
        UnsupportedFormat: no audio stream.
        CorruptMedia: decoding failed before any sample was produced.
        MediaLimitExceeded: duration or decode time over the limits.
    """
    if window_s <= 0 or sample_rate <= 0:
        msg = "window_s and sample_rate must be positive"
        raise ValueError(msg)
    hop = hop_s if hop_s is not None else window_s
    win = round(window_s * sample_rate)
    hop_n = max(1, round(hop * sample_rate))
    deadline = Deadline(path, limits.max_decode_s)
    container = open_container(path, limits=limits)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    pending = _Samples()
    consumed = 0  # samples dropped from the front so far
    produced = 0
    try:
        if not container.streams.audio:
            raise UnsupportedFormat("no audio stream", path=path)
        stream = container.streams.audio[0]
        try:
            for frame in container.decode(stream):
                deadline.check()
                for out in resampler.resample(frame):
                    pending.add(out.to_ndarray())
                while pending.size >= win:
                    yield AudioWindow(
                        consumed / sample_rate, pending.head(win), sample_rate
                    )
                    produced += 1
                    pending.drop(hop_n)
                    consumed += hop_n
            for out in resampler.resample(None):
                pending.add(out.to_ndarray())
        except _AV_ERRORS as exc:
            if produced == 0 and pending.size == 0:
                raise CorruptMedia(
                    f"cannot decode audio: {_av_message(exc)}", path=path
                ) from exc
        while pending.size >= win:
            yield AudioWindow(consumed / sample_rate, pending.head(win), sample_rate)
            pending.drop(hop_n)
            consumed += hop_n
        if pending.size:
            yield AudioWindow(
                consumed / sample_rate, pending.head(pending.size), sample_rate
            )
    finally:
        container.close()
