"""Draw a GB 45438 explicit label onto an image.

The standard measures *text height* against the image's shortest side, so the
font size is chosen from the rendered glyphs' bounding box, not from the
nominal point size: a 40 px CJK font draws glyphs about 36 px tall, and a
label sized by point size alone would miss 5 % on small images. Text is
white on a translucent dark box, so it stays legible on any background and
OCR finds it again.

The file-level function re-encodes in the input's own format, keeps EXIF
(with the orientation reset, because the pixels are stored upright after the
label is drawn), ICC profile, XMP and PNG text chunks, so an implicit AIGC
label in the metadata survives the explicit one being added.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal, get_args

import numpy as np
from PIL import Image, ImageDraw, ImageOps, ImageSequence, PngImagePlugin

from deepguard._atomic import atomic_output
from deepguard.config import Limits
from deepguard.errors import CorruptMedia, LabelError, UnsupportedFormat
from deepguard.labels.explicit._geometry import EDGE_POSITIONS, classify_position
from deepguard.labels.explicit.fonts import FontChoice, find_font, load_font
from deepguard.labels.explicit.phrases import match_label
from deepguard.media.image import open_image

__all__ = [
    "MIN_HEIGHT_RATIO",
    "POSITIONS",
    "InvalidLabelStyle",
    "LabelPlacement",
    "LabelStyle",
    "Position",
    "RenderedImage",
    "draw_label",
    "fit_font_size",
    "label_overlay",
    "paint_notice",
    "render_image_file",
    "solid_height",
]

Position = Literal[
    "top-left",
    "top",
    "top-right",
    "left",
    "right",
    "bottom-left",
    "bottom",
    "bottom-right",
]
POSITIONS: Final[tuple[Position, ...]] = get_args(Position)
MIN_HEIGHT_RATIO: Final = 0.05
"""GB 45438: text height at least 5 % of the shortest side."""

_PILLOW_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError)
_JPEG_QUALITY: Final = 95
_EXIF_ORIENTATION: Final = 0x0112
_XMP_PNG_KEY: Final = "XML:com.adobe.xmp"


class InvalidLabelStyle(LabelError, ValueError):
    """The requested label would not be a compliant, legible notice."""

    user_error = True


@dataclass(frozen=True, slots=True)
class LabelStyle:
    """How a label looks and where it goes.

    ``height_ratio`` is the glyph height over the shortest image side and is
    refused below 5 %. ``margin_ratio`` is the gap to the image edge and
    ``padding_ratio`` the contrast box's padding, relative to the shortest side
    and to the text height respectively. ``min_text_px`` keeps labels on tiny
    images readable: 5 % of a 64 px thumbnail is 3 px, which nobody can read.
    """

    text: str = "AI生成"
    position: Position = "bottom-right"
    height_ratio: float = 0.06
    margin_ratio: float = 0.02
    padding_ratio: float = 0.3
    min_text_px: int = 10
    text_rgba: tuple[int, int, int, int] = (255, 255, 255, 255)
    box_rgba: tuple[int, int, int, int] | None = (0, 0, 0, 170)
    font: FontChoice | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not math.isfinite(self.height_ratio) or self.height_ratio < MIN_HEIGHT_RATIO:
            msg = (
                f"label height ratio {self.height_ratio:g} is below the GB 45438 "
                f"minimum of {MIN_HEIGHT_RATIO:g}"
            )
            raise InvalidLabelStyle(msg)
        if self.height_ratio > 0.5:
            msg = f"label height ratio {self.height_ratio:g} is over 0.5"
            raise InvalidLabelStyle(msg)
        if self.position not in POSITIONS:
            msg = f"position must be one of {', '.join(POSITIONS)}"
            raise InvalidLabelStyle(msg)
        if not 0 <= self.margin_ratio <= 0.2 or not 0 <= self.padding_ratio <= 2:
            msg = "margin_ratio must be in [0, 0.2] and padding_ratio in [0, 2]"
            raise InvalidLabelStyle(msg)
        if "\n" in self.text or "\r" in self.text:
            raise InvalidLabelStyle("label text must be a single line")
        found = match_label(self.text)
        if found is None or not found.both_elements:
            msg = (
                f"label text {self.text!r} lacks an AI element (人工智能/AI) and "
                "a generation element (生成/合成)"
            )
            raise InvalidLabelStyle(msg)

    def resolved_font(self) -> FontChoice:
        """The configured font, or the first installed one that has the glyphs."""
        if self.font is not None:
            return self.font
        return find_font(text=self.text)


@dataclass(frozen=True, slots=True)
class LabelPlacement:
    """Where a label was drawn, in image pixels (boxes are x0, y0, x1, y1)."""

    box: tuple[int, int, int, int]
    text_box: tuple[int, int, int, int]
    text_height_px: int
    height_ratio: float
    font_size: int
    position: Position

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "box": list(self.box),
            "text_box": list(self.text_box),
            "text_height_px": self.text_height_px,
            "height_ratio": round(self.height_ratio, 5),
            "font_size": self.font_size,
            "position": self.position,
        }


def draw_label(image: Image.Image, style: LabelStyle | None = None) -> LabelPlacement:
    """Draw ``style``'s label onto ``image`` in place (RGB or RGBA).

    Raises:
        InvalidLabelStyle: the text does not fit the image at that height.
        DependencyError: no font can draw the text.
    """
    style = style or LabelStyle()
    shortest = min(image.size)
    target = max(style.min_text_px, math.ceil(style.height_ratio * shortest))
    _layout_check(image, style, target)
    return paint_notice(
        image,
        style.text,
        font=style.resolved_font(),
        text_height_px=target,
        position=style.position,
        margin_px=round(style.margin_ratio * shortest),
        padding_px=max(1, round(style.padding_ratio * target)),
        text_rgba=style.text_rgba,
        box_rgba=style.box_rgba,
    )


def _layout_check(image: Image.Image, style: LabelStyle, target: int) -> None:
    """Refuse a placement the detector would call off-edge.

    A long notice at "left" on a narrow picture becomes a banner through the
    middle; better to say so than to draw a label that is not compliant.
    """
    font = style.resolved_font()
    _, bbox = fit_font_size(font, style.text, target)
    shortest = min(image.size)
    margin = round(style.margin_ratio * shortest)
    pad = max(1, round(style.padding_ratio * target))
    box_w, box_h = bbox[2] - bbox[0] + 2 * pad, bbox[3] - bbox[1] + 2 * pad
    width, height = image.size
    if box_w + 2 * margin > width or box_h + 2 * margin > height:
        return  # paint_notice reports the misfit with the sizes
    x0, y0 = _anchor(style.position, box_w, box_h, width, height, margin)
    where = classify_position((x0, y0, x0 + box_w, y0 + box_h), width, height)
    if where not in EDGE_POSITIONS:
        msg = (
            f"label {style.text!r} is {box_w} px wide: at {style.position} on a "
            f"{width}x{height} image it reaches the middle; use top or bottom, "
            "or a shorter text"
        )
        raise InvalidLabelStyle(msg)


def label_overlay(
    size: tuple[int, int], style: LabelStyle
) -> tuple[Image.Image, LabelPlacement]:
    """The label alone, as an RGBA patch to paste at ``placement.box``.

    Video frames share one placement, so the text is laid out and rasterised
    once and then alpha-blended onto every frame with ``Image.paste``.
    """
    canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    placement = draw_label(canvas, style)
    return canvas.crop(placement.box), placement


def paint_notice(
    image: Image.Image,
    text: str,
    *,
    font: FontChoice,
    text_height_px: int,
    position: Position | tuple[int, int],
    margin_px: int = 0,
    padding_px: int = 4,
    text_rgba: tuple[int, int, int, int] = (255, 255, 255, 255),
    box_rgba: tuple[int, int, int, int] | None = (0, 0, 0, 170),
) -> LabelPlacement:
    """Paint ``text`` with glyphs exactly ``text_height_px`` tall or just over.

    No compliance checks: this is the drawing primitive behind
    :func:`draw_label`, also used to make non-compliant fixtures (3 % labels,
    centred labels) for tests and benchmarks. ``position`` is a named edge or
    corner, or the top-left pixel of the contrast box.

    Raises:
        InvalidLabelStyle: the text does not fit the image.
    """
    if image.mode not in ("RGB", "RGBA"):
        msg = f"cannot draw on a {image.mode} image; convert it to RGB first"
        raise ValueError(msg)
    size, bbox = fit_font_size(font, text, text_height_px)
    pil_font = load_font(font, size)
    text_w, text_h = bbox[2] - bbox[0], bbox[3] - bbox[1]
    box_w, box_h = text_w + 2 * padding_px, text_h + 2 * padding_px
    width, height = image.size
    if box_w + 2 * margin_px > width or box_h + 2 * margin_px > height:
        msg = (
            f"label {text!r} at {text_h} px needs {box_w}x{box_h} px plus margins; "
            f"the image is {width}x{height}: use a shorter text"
        )
        raise InvalidLabelStyle(msg)
    if isinstance(position, tuple):
        x0, y0 = position
        named: Position = _nearest_position(x0, y0, box_w, box_h, width, height)
    else:
        x0, y0 = _anchor(position, box_w, box_h, width, height, margin_px)
        named = position
    x0 = min(max(0, x0), width - box_w)
    y0 = min(max(0, y0), height - box_h)
    box = (x0, y0, x0 + box_w, y0 + box_h)
    region = image.crop(box).convert("RGBA")
    overlay = Image.new("RGBA", region.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    if box_rgba is not None:
        draw.rectangle((0, 0, box_w - 1, box_h - 1), fill=box_rgba)
    draw.text(
        (padding_px - bbox[0], padding_px - bbox[1]),
        text,
        font=pil_font,
        fill=text_rgba,
    )
    region.alpha_composite(overlay)
    image.paste(region if image.mode == "RGBA" else region.convert("RGB"), box[:2])
    tx0, ty0 = x0 + padding_px, y0 + padding_px
    solid = solid_height(font, text, size)
    return LabelPlacement(
        box=box,
        text_box=(tx0, ty0, tx0 + text_w, ty0 + text_h),
        text_height_px=solid,
        height_ratio=solid / min(width, height),
        font_size=size,
        position=named,
    )


def fit_font_size(
    font: FontChoice, text: str, target_px: int
) -> tuple[int, tuple[int, int, int, int]]:
    """Smallest font size whose solid glyph height is at least ``target_px``.

    "Solid" counts rows where some pixel is at least half covered: the glyph
    bounding box also counts faint anti-aliasing fringes that a viewer (or
    OCR) does not see as text, and sizing by it would fall short by a pixel.
    Returns the size and the glyph bounding box at that size.
    """
    ref_size = 100
    ref_h = solid_height(font, text, ref_size)
    if ref_h <= 0:
        msg = f"label text {text!r} has no visible glyphs"
        raise InvalidLabelStyle(msg)
    size = max(1, math.floor(target_px * ref_size / ref_h))
    # Hinting makes glyph height a step function of size: walk to the edge.
    while solid_height(font, text, size) < target_px:
        size += 1
    while size > 1 and solid_height(font, text, size - 1) >= target_px:
        size -= 1
    return size, _bbox(font, text, size)


def solid_height(font: FontChoice, text: str, size: int) -> int:
    """Rows of ``text`` at ``size`` px holding an at least half-covered pixel."""
    pil_font = load_font(font, size)
    x0, y0, x1, y1 = pil_font.getbbox(text)
    if x1 <= x0 or y1 <= y0:
        return 0
    canvas = Image.new("L", (int(x1 - x0) + 2, int(y1 - y0) + 2), 0)
    ImageDraw.Draw(canvas).text((1 - x0, 1 - y0), text, font=pil_font, fill=255)
    rows = np.flatnonzero(np.asarray(canvas).max(axis=1) >= 128)
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def _bbox(font: FontChoice, text: str, size: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = load_font(font, size).getbbox(text)
    return int(x0), int(y0), int(x1), int(y1)


def _anchor(
    position: Position, box_w: int, box_h: int, width: int, height: int, margin: int
) -> tuple[int, int]:
    vertical, _, horizontal = position.partition("-")
    if not horizontal and vertical in ("left", "right"):
        vertical, horizontal = "middle", vertical
    xs = {
        "left": margin,
        "": (width - box_w) // 2,
        "right": width - margin - box_w,
    }
    ys = {
        "top": margin,
        "middle": (height - box_h) // 2,
        "bottom": height - margin - box_h,
    }
    return xs[horizontal], ys[vertical]


def _nearest_position(
    x0: int, y0: int, box_w: int, box_h: int, width: int, height: int
) -> Position:
    """The corner nearest to a box placed by coordinates (for reporting only)."""
    top = (y0 + box_h / 2) / height < 0.5
    left = (x0 + box_w / 2) / width < 0.5
    corners: dict[tuple[bool, bool], Position] = {
        (True, True): "top-left",
        (True, False): "top-right",
        (False, True): "bottom-left",
        (False, False): "bottom-right",
    }
    return corners[(top, left)]


# --------------------------------------------------------------------------- files


@dataclass(frozen=True, slots=True)
class RenderedImage:
    """What :func:`render_image_file` wrote."""

    path: Path
    format: str
    frames: int
    placement: LabelPlacement


def render_image_file(
    src: Path,
    dst: Path,
    *,
    style: LabelStyle | None = None,
    limits: Limits | None = None,
) -> RenderedImage:
    """Write ``src`` with a label to ``dst``, in ``src``'s format, atomically.

    Every frame of an animated GIF, WebP or PNG is labelled. The input file is
    never opened for writing.

    Raises:
        UnsupportedFormat: Pillow cannot read or write the format.
        CorruptMedia: the pixels cannot be decoded.
        MediaLimitExceeded: the image is over ``limits.max_pixels``.
        InvalidLabelStyle: the label does not fit.
        DependencyError: no font can draw the text.
    """
    style = style or LabelStyle()
    style = replace(style, font=style.resolved_font())
    limits = limits or Limits()
    with open_image(src, limits=limits) as im:
        fmt = im.format
        if not fmt:
            raise UnsupportedFormat("image format unknown", path=src)
        try:
            durations = _durations(im)
            frames, placement = _label_frames(im, style)
            save_args = _save_args(im, fmt, frames, durations)
        except InvalidLabelStyle:
            raise
        except _PILLOW_ERRORS as exc:
            raise CorruptMedia(f"cannot decode image data: {exc}", path=src) from exc
    with atomic_output(dst) as tmp:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frames[0].save(tmp, format=fmt, **save_args)
        except (KeyError, OSError, ValueError) as exc:
            msg = f"cannot write {fmt} images: {exc}"
            raise UnsupportedFormat(msg, path=dst) from exc
    return RenderedImage(dst, fmt, len(frames), placement)


def _label_frames(
    im: Image.Image, style: LabelStyle
) -> tuple[list[Image.Image], LabelPlacement]:
    out: list[Image.Image] = []
    placement: LabelPlacement | None = None
    for frame in _frames(im):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            upright = ImageOps.exif_transpose(frame)
        mode = "RGBA" if _has_alpha(upright) else "RGB"
        canvas = upright.convert(mode)
        placement = draw_label(canvas, style)
        out.append(_restore_mode(canvas, upright.mode))
    assert placement is not None  # _frames yields at least one frame
    return out, placement


_KEPT_MODES: Final = {"L": "L", "LA": "LA", "CMYK": "CMYK"}
"""Modes converted back after drawing, so an embedded grey or CMYK ICC profile
still describes the pixels it is saved with."""


def _restore_mode(canvas: Image.Image, original: str) -> Image.Image:
    target = _KEPT_MODES.get(original)
    return canvas.convert(target) if target else canvas


def _frames(im: Image.Image) -> Iterator[Image.Image]:
    if getattr(im, "n_frames", 1) > 1:
        for frame in ImageSequence.Iterator(im):
            yield frame.copy()
    else:
        im.load()
        yield im


def _durations(im: Image.Image) -> list[int] | None:
    """Per-frame display times of an animation (Pillow reports only the current)."""
    if getattr(im, "n_frames", 1) <= 1:
        return None
    durations: list[int] = []
    for frame in ImageSequence.Iterator(im):
        value = frame.info.get("duration")
        if not isinstance(value, int | float):
            return None
        durations.append(int(value))
    im.seek(0)
    return durations


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info


def _save_args(
    im: Image.Image,
    fmt: str,
    frames: list[Image.Image],
    durations: list[int] | None,
) -> dict[str, Any]:
    """Format options that keep quality, colour and metadata of the original."""
    args: dict[str, Any] = {}
    exif = im.getexif()
    if len(exif):
        exif.pop(_EXIF_ORIENTATION, None)
        args["exif"] = exif.tobytes()
    if icc := im.info.get("icc_profile"):
        args["icc_profile"] = icc
    xmp = im.info.get("xmp")
    if fmt == "JPEG":
        args.update(quality=_JPEG_QUALITY, optimize=True)
        if xmp:
            args["xmp"] = xmp
        if frames[0].mode == "RGBA":
            frames[0] = frames[0].convert("RGB")
    elif fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        for key, value in getattr(im, "text", {}).items():
            if key == _XMP_PNG_KEY:
                info.add_itxt(key, value)
            else:
                info.add_text(key, value)
        args["pnginfo"] = info
    elif fmt in ("WEBP", "AVIF", "HEIF"):
        args["quality"] = _JPEG_QUALITY
        if xmp:
            args["xmp"] = xmp
    if len(frames) > 1:
        args.update(save_all=True, append_images=frames[1:])
        if durations is not None:
            args["duration"] = durations
        if "loop" in im.info:
            args["loop"] = im.info["loop"]
    return args
