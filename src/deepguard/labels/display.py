"""Render an explicit (perceivable) notice into a file of any kind.

One entry point for providers (``deepguard label --explicit``) and platforms
(``deepguard propagate --display-label``): images and video get the text
drawn on an edge or corner at the configured height (at least 5 % of the
shortest side; video for the opening 2 s), audio gets the rhythm cue
"short long short short" at the start, and text gets the notice as a
prefix. Documents other than text have no explicit-label renderer.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from deepguard.config import Settings
from deepguard.errors import UnsupportedFormat
from deepguard.media.probe import MediaKind, probe

__all__ = ["jsonable", "render_notice"]


def jsonable(value: Any) -> Any:
    """A JSON-ready copy of a renderer's or signer's result dataclass."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else str(value)


def render_notice(
    src: Path, dst: Path, *, text: str, settings: Settings
) -> dict[str, Any]:
    """Write ``src`` with an explicit notice ``text`` to ``dst``; describe it.

    Raises:
        UnsupportedFormat: the kind of file has no explicit-label renderer.
        DependencyError: no CJK font (images, video) or encoder is available.
        DeepguardError: the input cannot be decoded or the output written.
    """
    kind = probe(src, max_file_bytes=settings.limits.max_file_bytes).kind
    cfg = settings.labels
    result: Any
    if kind in (MediaKind.IMAGE, MediaKind.VIDEO):
        from deepguard.labels.explicit.fonts import find_font
        from deepguard.labels.explicit.render_image import LabelStyle

        style = LabelStyle(
            text=text,
            height_ratio=cfg.explicit_height_ratio,
            font=find_font(cfg.font, text=text),
        )
        if kind is MediaKind.IMAGE:
            from deepguard.labels.explicit.render_image import render_image_file

            result = render_image_file(src, dst, style=style, limits=settings.limits)
        else:
            from deepguard.labels.explicit.render_video import (
                VideoLabelStyle,
                render_video_file,
            )

            result = render_video_file(
                src, dst, style=VideoLabelStyle(opening=style), limits=settings.limits
            )
        summary = f"'{text}' drawn at {cfg.explicit_height_ratio:.0%} of the short side"
    elif kind is MediaKind.AUDIO:
        from deepguard.labels.explicit.render_audio import render_audio_label

        result = render_audio_label(src, dst, at=("start",), limits=settings.limits)
        summary = "rhythm cue 'short long short short' at the start"
    elif kind is MediaKind.TEXT:
        from deepguard.labels.explicit.render_text import (
            TextNoticeStyle,
            render_text_file,
        )

        notice = f"【{text}】"
        result = render_text_file(
            src, dst, style=TextNoticeStyle(notice=notice), limits=settings.limits
        )
        summary = f"notice {notice} added as a prefix"
    else:
        raise UnsupportedFormat(
            f"no explicit-label renderer for {kind} files; label the source "
            "images or text before building the document",
            path=src,
        )
    return {"kind": str(kind), "summary": summary, "result": jsonable(result)}
