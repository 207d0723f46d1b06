"""Burn a GB 45438 explicit label into a video's opening frames.

The standard wants the notice on the opening frames for at least two seconds
at normal speed. Every frame whose start time is under ``opening_s`` gets the
label, which covers at least ``opening_s`` of playback whatever the frame
rate; an optional persistent label stays for the whole video.

Re-encoding, audio copying and limits are :mod:`deepguard.media.video_rewrite`'s
job; this module only decides which frames get which label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import av
import numpy as np
from PIL import Image

from deepguard.config import Limits
from deepguard.labels.explicit.render_image import (
    InvalidLabelStyle,
    LabelStyle,
    label_overlay,
)
from deepguard.media.video_rewrite import rewrite_video

__all__ = [
    "MIN_OPENING_S",
    "RenderedVideo",
    "VideoLabelStyle",
    "render_video_file",
]

MIN_OPENING_S: Final = 2.0
"""GB 45438: the opening label stays at least two seconds."""


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
    result = rewrite_video(src, dst, _Labeller(style), limits=limits)
    return RenderedVideo(
        result.path,
        result.codec,
        result.frames,
        result.edited_frames,
        result.audio_streams,
        result.audio_packets,
    )


class _Labeller:
    """Pastes the opening (and persistent) label onto each frame that needs it."""

    def __init__(self, style: VideoLabelStyle) -> None:
        self.style = style
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

    def __call__(self, frame: Any, t: float) -> Any | None:
        opening = t < self.style.opening_s - 1e-9
        labels = self._labels((frame.width, frame.height), opening)
        if not labels:
            return None
        image = frame.to_image()
        for patch, xy in labels:
            image.paste(patch, xy, patch)
        return av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
