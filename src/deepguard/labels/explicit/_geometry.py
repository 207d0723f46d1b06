"""Label geometry: how tall the text really is, and where it sits.

OCR boxes are a poor ruler. The detector's boxes are grown from a shrunken
text kernel, so they run 5-40 % taller than the glyphs on small text and can
come out slightly shorter on large text. GB 45438's 5 % rule is about the
text, so the height is measured on the pixels: the box is straightened, the
text/background split is found with Otsu's method inside it, and the ink rows
are followed outwards (into a margin around the box, in case the box clipped
the glyphs) until background resumes. When the pixels do not give a clean
answer (low contrast, clutter touching the glyphs), the OCR box height is
used and the result says so.

Positions: a label is on an edge when it hugs that edge and sits on that
side of the picture (see :func:`classify_position`), in a corner when that
holds for two adjacent edges. The renderer applies the same rule to refuse
placements the detector would reject.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_EDGE_CENTRE",
    "DEFAULT_EDGE_GAP",
    "EDGE_POSITIONS",
    "HeightMeasure",
    "classify_position",
    "measure_text_height",
    "sub_quad",
]

_EXPAND: Final = 0.35
"""Margin searched above and below the OCR box, as a fraction of its height."""
_GAP: Final = 0.08
"""Background rows tolerated inside a text line (between stroke groups)."""
_INK_LEVEL: Final = 0.5
"""A pixel is ink when it is at least this far from the background level
towards the text level: half coverage, the renderer's definition of a glyph
row, and where a blurred or JPEG-softened edge sits."""
_MIN_CONTRAST: Final = 40.0
_ROW_FRACTION: Final = 0.01
"""A row belongs to the text when it holds this share of the densest row's ink:
low enough to keep a serif "y"'s thin descender."""
_SIDE_COLS: Final = 2
_MAX_SIDE_INK: Final = 0.5
"""Text leaves background at both ends of its line; a label's backing box,
seen in the other polarity, fills them."""
_MIN_RUN: Final = 0.4
"""Shortest plausible glyph run, relative to the OCR box height."""
DEFAULT_EDGE_GAP: Final = 0.1
DEFAULT_EDGE_CENTRE: Final = 0.4
_MIN_SIDE_PX: Final = 6

Source = Literal["ink", "glyphs", "box"]


@dataclass(frozen=True, slots=True)
class HeightMeasure:
    """Text height in pixels, the OCR box height, and which one to trust."""

    height_px: float
    box_height_px: float
    source: Source


def measure_text_height(
    gray: npt.NDArray[np.uint8],
    points: tuple[tuple[float, float], ...],
    box_height: float,
    box_width: float,
) -> HeightMeasure:
    """Glyph height of the text line inside the quadrilateral ``points``.

    Both polarities are tried (light text on dark, dark on light): the text is
    the one whose ink forms a run of rows bounded by background on both sides
    within the searched margin, and of the two the sparser one, since strokes
    cover a fraction of their rows while a backing box or a flat background
    covers nearly all of them.
    """
    fallback = HeightMeasure(box_height, box_height, "box")
    if box_height < _MIN_SIDE_PX or box_width < _MIN_SIDE_PX:
        return fallback
    crop, inner = _straighten(gray, points, box_width, box_height)
    levels = _levels(crop, inner)
    if levels is None:
        return fallback
    dark, bright = levels
    masks = (
        crop > dark + _INK_LEVEL * (bright - dark),  # light text
        crop < bright - _INK_LEVEL * (bright - dark),  # dark text
    )
    runs = [r for r in (_text_run(m, inner, box_height) for m in masks) if r]
    if runs:
        return HeightMeasure(float(min(runs)[1]), box_height, "ink")
    # No clean run of rows: the glyphs touch clutter (outlined text on a busy
    # picture). Their own connected components still stand apart.
    glyphs = [g for g in (_glyph_extent(m, inner, box_height) for m in masks) if g]
    if glyphs:
        return HeightMeasure(float(max(glyphs)[1]), box_height, "glyphs")
    return fallback


def _straighten(
    gray: npt.NDArray[np.uint8],
    points: tuple[tuple[float, float], ...],
    width: float,
    height: float,
) -> tuple[npt.NDArray[np.uint8], tuple[int, int]]:
    """The box rotated upright with a margin above and below; inner row span."""
    import cv2

    margin = _EXPAND * height
    out_w = max(1, round(width))
    out_h = max(1, round(height + 2 * margin))
    src = np.array(points, dtype=np.float32)
    dst = np.array(
        [
            [0, margin],
            [width, margin],
            [width, margin + height],
            [0, margin + height],
        ],
        dtype=np.float32,
    )
    matrix = cv2.getPerspectiveTransform(src, dst)
    crop = np.asarray(
        cv2.warpPerspective(
            gray,
            matrix,
            (out_w, out_h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        ),
        dtype=np.uint8,
    )
    top = min(out_h - 1, math.floor(margin))
    bottom = max(top + 1, min(out_h, math.ceil(margin + height)))
    return crop, (top, bottom)


def _levels(
    crop: npt.NDArray[np.uint8], inner: tuple[int, int]
) -> tuple[float, float] | None:
    """Mean grey of the dark and bright classes in the OCR box's middle (Otsu).

    None when the two are too close to tell text from background.
    """
    import cv2

    top, bottom = inner
    quarter = (bottom - top) // 4
    # The middle half of the box: glyphs and what is right behind them, not
    # the neighbouring clutter the box's margins may reach.
    box = np.ascontiguousarray(crop[top + quarter : bottom - quarter])
    threshold, _ = cv2.threshold(box, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright = box > threshold
    if bright.all() or not bright.any():
        return None
    dark_level = float(box[~bright].mean())
    bright_level = float(box[bright].mean())
    if bright_level - dark_level < _MIN_CONTRAST:
        return None
    return dark_level, bright_level


def _text_run(
    mask: npt.NDArray[np.bool_], inner: tuple[int, int], box_height: float
) -> tuple[float, int] | None:
    """(ink density, height) of the run of ink rows through the box's middle.

    None when the run reaches the end of the searched margin (the ink is
    background or clutter, not glyphs) or is implausibly short.
    """
    rows = mask.sum(axis=1)
    # Start from the densest row of the box's middle half: the glyphs' centre
    # is there, while the box's own edges may already be background.
    top, bottom = inner
    quarter = (bottom - top) // 4
    core = top + quarter + int(np.argmax(rows[top + quarter : bottom - quarter]))
    if rows[core] == 0:
        return None
    on = rows >= max(1, math.ceil(_ROW_FRACTION * float(rows[core])))
    # The tight run stops at the first empty row; if it is implausibly short
    # (a line of "二" has empty rows), bridge short gaps instead.
    for gap in (0, max(1, round(_GAP * box_height))):
        first, last = _walk(on, core, -1, gap), _walk(on, core, 1, gap)
        height = last - first + 1
        if first > 0 and last < len(on) - 1 and height >= _MIN_RUN * box_height:
            break
    else:
        return None
    run = mask[first : last + 1]
    sides = np.concatenate([run[:, :_SIDE_COLS].ravel(), run[:, -_SIDE_COLS:].ravel()])
    if sides.mean() > _MAX_SIDE_INK:
        return None  # a backing box or background reaching past the text's ends
    return float(run.mean()), height


def _glyph_extent(
    mask: npt.NDArray[np.bool_], inner: tuple[int, int], box_height: float
) -> tuple[int, int] | None:
    """(ink area, height) of the glyph-like components crossing the line's middle.

    Glyph-like: not touching the top or bottom of the searched margin (that is
    background reaching into the box), at most twice as wide as the box is
    tall (a glyph is about one em wide; a backing box or a band of background
    is wider). Of the two polarities the one with more such ink is the text;
    in outlined text that is the fill, or the outline, a stroke width taller.
    """
    import cv2

    count, _, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    top, bottom = inner
    quarter = (bottom - top) // 4
    middle = (top + quarter, bottom - quarter)
    last_row = mask.shape[0]
    area = 0
    first, last = last_row, -1
    for i in range(1, count):
        y, w, h, pixels = (int(v) for v in stats[i, 1:5])
        if y == 0 or y + h >= last_row or w > 2 * box_height or pixels < 2:
            continue
        if y + h <= middle[0] or y >= middle[1]:
            continue
        area += pixels
        first, last = min(first, y), max(last, y + h - 1)
    if last < 0 or last - first + 1 < _MIN_RUN * box_height:
        return None
    return area, last - first + 1


def _walk(on: npt.NDArray[np.bool_], start: int, step: int, gap: int) -> int:
    """Last ink row reached from ``start`` going ``step``, bridging short gaps."""
    last = start
    missed = 0
    i = start
    while 0 <= i < len(on):
        if on[i]:
            last, missed = i, 0
        else:
            missed += 1
            if missed > gap:
                break
        i += step
    return last


def sub_quad(
    points: tuple[tuple[float, float], ...], start: float, end: float
) -> tuple[
    tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]
]:
    """The slice ``[start, end]`` (fractions of the length) of a text quad."""

    def lerp(
        a: tuple[float, float], b: tuple[float, float], t: float
    ) -> tuple[float, float]:
        return a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t

    p0, p1, p2, p3 = points[:4]
    return (
        lerp(p0, p1, start),
        lerp(p0, p1, end),
        lerp(p3, p2, end),
        lerp(p3, p2, start),
    )


def classify_position(
    bounds: tuple[float, float, float, float],
    width: int,
    height: int,
    *,
    edge_gap: float = DEFAULT_EDGE_GAP,
    edge_centre: float = DEFAULT_EDGE_CENTRE,
) -> str:
    """Where a box lies: a corner, an edge, "center" or "interior".

    A box is on an edge when its near side is within ``edge_gap`` (a fraction
    of that axis) of the edge *and* its centre lies within the outer
    ``edge_centre`` of the axis. The second condition keeps a wide banner
    through the middle of the picture from counting as "left" just because
    its first letter is near the left border. Corners win over edges
    ("top-left" rather than "top"); a box off every edge is "center" when its
    centre is in the middle third both ways, else "interior".
    """
    x0, y0, x1, y1 = bounds
    cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
    top = y0 <= edge_gap * height and cy <= edge_centre
    bottom = y1 >= (1 - edge_gap) * height and cy >= 1 - edge_centre
    left = x0 <= edge_gap * width and cx <= edge_centre
    right = x1 >= (1 - edge_gap) * width and cx >= 1 - edge_centre
    vertical = "top" if top else "bottom" if bottom else ""
    horizontal = "left" if left else "right" if right else ""
    if vertical and horizontal:
        return f"{vertical}-{horizontal}"
    if vertical or horizontal:
        return vertical or horizontal
    if 1 / 3 <= cx <= 2 / 3 and 1 / 3 <= cy <= 2 / 3:
        return "center"
    return "interior"


EDGE_POSITIONS: Final = frozenset(
    {
        "top",
        "bottom",
        "left",
        "right",
        "top-left",
        "top-right",
        "bottom-left",
        "bottom-right",
    }
)
"""The positions GB 45438 accepts ("edge or corner")."""
