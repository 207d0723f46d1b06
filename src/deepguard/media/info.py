"""Read technical facts (size, duration, codecs) from headers without decoding.

This runs for every scanned file, so it reads headers only: Pillow's lazy
open for images, the container header for audio and video. It is also where
inputs that cannot be media at all are rejected (a video with no frames, an
image whose header claims more pixels than the limit).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from fractions import Fraction

from deepguard.errors import CorruptMedia
from deepguard.media.av import (
    container_duration,
    iter_audio,
    iter_frames,
    open_container,
)
from deepguard.media.image import image_size, load_image
from deepguard.media.item import MediaInfo, MediaItem
from deepguard.media.probe import MediaKind

__all__ = ["read_info"]


def _image_info(item: MediaItem) -> MediaInfo:
    width, height, fmt = image_size(item.path, limits=item.limits)
    if width <= 0 or height <= 0:
        raise CorruptMedia(f"image header gives size {width}x{height}", path=item.path)
    return MediaInfo(width=width, height=height, format_name=fmt)


def _av_info(item: MediaItem) -> MediaInfo:
    container = open_container(item.path, limits=item.limits)
    try:
        info = MediaInfo(format_name=container.format.name)
        info.duration_s = container_duration(container)
        for stream in container.streams:
            ctx = stream.codec_context
            name = getattr(ctx, "name", None) or stream.type
            info.codecs.append(f"{stream.type}:{name}")
            if stream.type == "video" and info.width is None:
                info.width = int(ctx.width or 0) or None
                info.height = int(ctx.height or 0) or None
                rate = stream.average_rate or stream.guessed_rate
                if isinstance(rate, Fraction) and rate > 0:
                    info.frame_rate = round(float(rate), 3)
                if stream.frames:
                    info.extra["frames"] = int(stream.frames)
            elif stream.type == "audio" and info.sample_rate is None:
                info.sample_rate = int(ctx.sample_rate or 0) or None
                info.channels = int(getattr(ctx, "channels", 0) or 0) or None
    finally:
        container.close()
    _reject_empty(item, info)
    return info


def _reject_empty(item: MediaItem, info: MediaInfo) -> None:
    """A container with no playable content is not media, whatever its header."""
    wanted = "video" if item.kind is MediaKind.VIDEO else "audio"
    if not any(c.startswith(wanted + ":") for c in info.codecs):
        if item.kind is MediaKind.VIDEO and any(
            c.startswith("audio:") for c in info.codecs
        ):
            return  # an audio-only MP4 is still valid media
        raise CorruptMedia(f"no {wanted} stream in the container", path=item.path)
    frames = info.extra.get("frames")
    if (info.duration_s is not None and info.duration_s <= 0) or (
        item.kind is MediaKind.VIDEO and frames == 0 and not info.duration_s
    ):
        raise CorruptMedia(f"{wanted} has no content (duration 0 s)", path=item.path)


def _no_info(item: MediaItem) -> MediaInfo:
    return MediaInfo()


_READERS: dict[MediaKind, Callable[[MediaItem], MediaInfo]] = {
    MediaKind.IMAGE: _image_info,
    MediaKind.VIDEO: _av_info,
    MediaKind.AUDIO: _av_info,
    MediaKind.DOCUMENT: _no_info,
    MediaKind.TEXT: _no_info,
}


def read_info(item: MediaItem, *, verify: bool = False) -> MediaInfo:
    """Fill ``item.info`` from headers and return it.

    With ``verify``, also decode the content once (images at reduced scale,
    the first video frame, the first audio window), so that a file whose
    headers are intact but whose data is truncated is reported as corrupt.

    Raises:
        MediaError: the headers are unreadable, the content is damaged (with
            ``verify``), or it breaks a limit.
    """
    item.info = _READERS[item.kind](item)
    if verify:
        _VERIFIERS.get(item.kind, _no_verify)(item)
    return item.info


def _verify_image(item: MediaItem) -> None:
    load_image(item.path, limits=item.limits, max_side=_VERIFY_SIDE)


def _verify_av(item: MediaItem) -> None:
    decoded: Generator[object, None, None]
    if any(c.startswith("video:") for c in item.info.codecs):
        decoded = iter_frames(item.path, limits=item.limits, fps=None, max_side=64)
    else:
        decoded = iter_audio(item.path, limits=item.limits, window_s=0.5)
    try:
        if next(decoded, None) is None:
            raise CorruptMedia("no decodable frame", path=item.path)
    finally:
        decoded.close()


def _no_verify(item: MediaItem) -> None:
    return None


# Reduced-scale decode still reads every byte of entropy-coded data, which is
# what detects truncation, at a fraction of the cost of a full decode.
_VERIFY_SIDE = 512

_VERIFIERS: dict[MediaKind, Callable[[MediaItem], None]] = {
    MediaKind.IMAGE: _verify_image,
    MediaKind.VIDEO: _verify_av,
    MediaKind.AUDIO: _verify_av,
}
