"""Explicit labels in one image: find AI notices with OCR and judge each.

The rules are described in :mod:`deepguard.labels.explicit.detect_visual`.
"""

from __future__ import annotations

import math
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

from deepguard.config import Limits
from deepguard.labels.explicit._geometry import (
    DEFAULT_EDGE_CENTRE,
    DEFAULT_EDGE_GAP,
    EDGE_POSITIONS,
    classify_position,
    measure_text_height,
    sub_quad,
)
from deepguard.labels.explicit.ocr import OcrBox, OcrEngine, get_engine
from deepguard.labels.explicit.phrases import PhraseMatch, match_label
from deepguard.media.image import load_image, open_image

__all__ = [
    "DetectOptions",
    "ImageLabelReport",
    "LabelHit",
    "Status",
    "detect_image",
    "detect_image_file",
    "scaled_hit",
]


Status = Literal[
    "compliant", "too_small", "wrong_position", "too_short", "incomplete", "absent"
]
_CHECK_ORDER: Final[tuple[Status, ...]] = ("incomplete", "too_small", "wrong_position")
_EXIF_ORIENTATION: Final = 0x0112


@dataclass(frozen=True, slots=True)
class DetectOptions:
    """Thresholds and sampling; recorded in every report for reproducibility."""

    min_height_ratio: float = 0.05
    tolerance: float = 0.04
    edge_gap: float = DEFAULT_EDGE_GAP
    edge_centre: float = DEFAULT_EDGE_CENTRE
    opening_s: float = 2.0
    opening_step_s: float = 0.25
    periodic_step_s: float = 5.0
    max_periodic_samples: int = 120
    image_max_side: int = 2560
    """Images are decoded at most this large; OCR rescales again (see ``ocr``)."""

    def __post_init__(self) -> None:
        if not 0 < self.min_height_ratio < 1 or not 0 <= self.tolerance < 0.5:
            msg = "min_height_ratio must be in (0, 1) and tolerance in [0, 0.5)"
            raise ValueError(msg)
        if not 0 < self.edge_gap <= 0.5 or not 0 < self.edge_centre <= 0.5:
            msg = "edge_gap and edge_centre must be in (0, 0.5]"
            raise ValueError(msg)
        if self.opening_s <= 0 or self.opening_step_s <= 0:
            msg = "opening_s and opening_step_s must be positive"
            raise ValueError(msg)
        if self.periodic_step_s <= 0 or self.max_periodic_samples < 0:
            msg = "periodic_step_s must be positive, max_periodic_samples >= 0"
            raise ValueError(msg)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "min_height_ratio": self.min_height_ratio,
            "tolerance": self.tolerance,
            "edge_gap": self.edge_gap,
            "edge_centre": self.edge_centre,
            "opening_s": self.opening_s,
            "opening_step_s": self.opening_step_s,
            "periodic_step_s": self.periodic_step_s,
            "max_periodic_samples": self.max_periodic_samples,
        }


@dataclass(frozen=True, slots=True)
class LabelHit:
    """One AI notice seen in one image, with its measurements and verdict."""

    match: PhraseMatch
    ocr_text: str
    points: tuple[tuple[float, float], ...]
    bounds: tuple[float, float, float, float]
    score: float
    height_px: float
    box_height_px: float
    height_source: str
    height_ratio: float
    position: str
    failures: tuple[Status, ...]

    @property
    def status(self) -> Status:
        """The first failed check, or ``compliant``."""
        return self.failures[0] if self.failures else "compliant"

    def rank(self) -> tuple[int, float, float]:
        """Sort key, smaller is better: fewest failures, tallest, most confident."""
        return (len(self.failures), -self.height_ratio, -self.score)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "status": self.status,
            "failures": list(self.failures),
            "phrase": self.match.phrase,
            "ocr_text": self.ocr_text,
            "both_elements": self.match.both_elements,
            "points": [[round(x, 1), round(y, 1)] for x, y in self.points],
            "bounds": [round(v, 1) for v in self.bounds],
            "score": round(self.score, 4),
            "height_px": round(self.height_px, 1),
            "box_height_px": round(self.box_height_px, 1),
            "height_source": self.height_source,
            "height_ratio": round(self.height_ratio, 5),
            "position": self.position,
        }


@dataclass(frozen=True, slots=True)
class ImageLabelReport:
    """The verdict for one image or frame."""

    status: Status
    width: int
    height: int
    hits: tuple[LabelHit, ...]
    ocr_lines: int
    ocr_ms: float
    options: DetectOptions = field(default_factory=DetectOptions)

    @property
    def best(self) -> LabelHit | None:
        """The hit that decided the status."""
        return min(self.hits, key=LabelHit.rank) if self.hits else None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        best = self.best
        return {
            "kind": "image",
            "status": self.status,
            "width": self.width,
            "height": self.height,
            "best": best.to_dict() if best else None,
            "hits": [h.to_dict() for h in self.hits],
            "ocr_lines": self.ocr_lines,
            "ocr_ms": round(self.ocr_ms, 1),
            "options": self.options.to_dict(),
        }


def detect_image(
    image: npt.NDArray[np.uint8] | Image.Image,
    *,
    options: DetectOptions | None = None,
    engine: OcrEngine | None = None,
) -> ImageLabelReport:
    """Find and judge AI notices in one RGB image (array or PIL image).

    Raises:
        DependencyError: the OCR engine is unavailable.
        ValueError: ``image`` is not an RGB image.
    """
    options = options or DetectOptions()
    engine = engine or get_engine()
    rgb = _as_rgb(image)
    height, width = rgb.shape[:2]
    started = time.perf_counter()
    boxes = engine.read(rgb)
    ocr_ms = (time.perf_counter() - started) * 1000
    gray: npt.NDArray[np.uint8] | None = None
    hits: list[LabelHit] = []
    for box, found in _matched_lines(boxes):
        if gray is None:
            gray = _to_gray(rgb)
        hits.append(_judge(box, found, gray, width, height, options))
    hits.sort(key=LabelHit.rank)
    status: Status = hits[0].status if hits else "absent"
    return ImageLabelReport(
        status, width, height, tuple(hits), len(boxes), ocr_ms, options
    )


def detect_image_file(
    path: Path,
    *,
    limits: Limits | None = None,
    options: DetectOptions | None = None,
    engine: OcrEngine | None = None,
) -> ImageLabelReport:
    """:func:`detect_image` on an image file, boxes in the file's pixels.

    Raises:
        UnsupportedFormat, CorruptMedia, MediaLimitExceeded: the file cannot be
            decoded within the limits.
        DependencyError: the OCR engine is unavailable.
    """
    limits = limits or Limits()
    options = options or DetectOptions()
    with open_image(path, limits=limits) as im:
        full_w, full_h = im.size
        if im.getexif().get(_EXIF_ORIENTATION) in (5, 6, 7, 8):
            full_w, full_h = full_h, full_w
    image = load_image(path, limits=limits, max_side=options.image_max_side)
    report = detect_image(image, options=options, engine=engine)
    scale = full_w / report.width if report.width else 1.0
    if math.isclose(scale, 1.0):
        return report
    return ImageLabelReport(
        report.status,
        full_w,
        full_h,
        tuple(scaled_hit(h, scale) for h in report.hits),
        report.ocr_lines,
        report.ocr_ms,
        options,
    )


# --------------------------------------------------------------------------- hits


def _as_rgb(image: npt.NDArray[np.uint8] | Image.Image) -> npt.NDArray[np.uint8]:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        msg = f"expected an H x W x 3 uint8 RGB array, got {image.shape} {image.dtype}"
        raise ValueError(msg)
    return image


def _to_gray(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    import cv2

    return np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8)


def _matched_lines(boxes: Sequence[OcrBox]) -> Iterator[tuple[OcrBox, PhraseMatch]]:
    """OCR lines that read as notices, also across words OCR split in two.

    Wide letter spacing makes the detector cut "Generated  by  AI" into boxes;
    neighbours on one line (similar height, aligned, close) are joined and
    read together when none of them matches alone.
    """
    used: set[int] = set()
    for i, box in enumerate(boxes):
        found = match_label(box.text)
        if found is not None:
            used.add(i)
            yield box, found
    for group in _line_groups(boxes):
        if len(group) < 2 or any(i in used for i in group):
            continue
        joined = _join([boxes[i] for i in group])
        found = match_label(joined.text)
        if found is not None:
            yield joined, found


def _line_groups(boxes: Sequence[OcrBox]) -> list[list[int]]:
    order = sorted(range(len(boxes)), key=lambda i: boxes[i].bounds[0])
    groups: list[list[int]] = []
    for i in order:
        b = boxes[i]
        for group in groups:
            last = boxes[group[-1]]
            if _same_line(last, b):
                group.append(i)
                break
        else:
            groups.append([i])
    return groups


def _same_line(a: OcrBox, b: OcrBox) -> bool:
    ha, hb = a.height, b.height
    if ha <= 0 or hb <= 0 or not 0.6 <= ha / hb <= 1.6:
        return False
    ay = (a.bounds[1] + a.bounds[3]) / 2
    by = (b.bounds[1] + b.bounds[3]) / 2
    gap = b.bounds[0] - a.bounds[2]
    return abs(ay - by) < 0.5 * min(ha, hb) and -0.5 * ha < gap < 1.5 * max(ha, hb)


def _join(parts: list[OcrBox]) -> OcrBox:
    x0 = min(p.bounds[0] for p in parts)
    y0 = min(p.bounds[1] for p in parts)
    x1 = max(p.bounds[2] for p in parts)
    y1 = max(p.bounds[3] for p in parts)
    text = ""
    for p in parts:
        sep = " " if text and text[-1].isascii() and p.text[:1].isascii() else ""
        text += sep + p.text
    return OcrBox(
        points=((x0, y0), (x1, y0), (x1, y1), (x0, y1)),
        text=text,
        score=min(p.score for p in parts),
    )


def _judge(
    box: OcrBox,
    found: PhraseMatch,
    gray: npt.NDArray[np.uint8],
    width: int,
    height: int,
    options: DetectOptions,
) -> LabelHit:
    box = _phrase_box(box, found)
    measure = measure_text_height(gray, box.points, box.height, box.width)
    ratio = measure.height_px / min(width, height)
    position = classify_position(
        box.bounds,
        width,
        height,
        edge_gap=options.edge_gap,
        edge_centre=options.edge_centre,
    )
    failed: set[Status] = set()
    if not found.both_elements:
        failed.add("incomplete")
    if ratio < options.min_height_ratio * (1 - options.tolerance):
        failed.add("too_small")
    if position not in EDGE_POSITIONS:
        failed.add("wrong_position")
    return LabelHit(
        match=found,
        ocr_text=box.text,
        points=box.points,
        bounds=box.bounds,
        score=box.score,
        height_px=measure.height_px,
        box_height_px=measure.box_height_px,
        height_source=measure.source,
        height_ratio=ratio,
        position=position,
        failures=tuple(s for s in _CHECK_ORDER if s in failed),
    )


def _phrase_box(box: OcrBox, found: PhraseMatch) -> OcrBox:
    """The part of an OCR line the notice occupies.

    OCR sometimes runs a neighbouring word into the label's line ("Aid
    人工智能合成"); measuring and placing the whole line would judge the
    neighbour. The span is located by character widths (CJK counts double),
    which is close enough to keep the neighbour's glyphs out.
    """
    text = box.text
    weights = [_char_width(ch) for ch in text]
    total = sum(weights)
    if total <= 0:
        return box
    start = sum(weights[: found.start]) / total
    end = sum(weights[: found.end]) / total
    if start <= 0.05 and end >= 0.95:
        return box
    pad = 0.5 / max(1, len(text))
    return OcrBox(
        points=sub_quad(box.points, max(0.0, start - pad), min(1.0, end + pad)),
        text=text,
        score=box.score,
    )


def _char_width(ch: str) -> float:
    if ch.isspace():
        return 0.5
    return 2.0 if unicodedata.east_asian_width(ch) in ("W", "F") else 1.0


def scaled_hit(hit: LabelHit, scale: float) -> LabelHit:
    x0, y0, x1, y1 = hit.bounds
    return LabelHit(
        match=hit.match,
        ocr_text=hit.ocr_text,
        points=tuple((x * scale, y * scale) for x, y in hit.points),
        bounds=(x0 * scale, y0 * scale, x1 * scale, y1 * scale),
        score=hit.score,
        height_px=hit.height_px * scale,
        box_height_px=hit.box_height_px * scale,
        height_source=hit.height_source,
        height_ratio=hit.height_ratio,
        position=hit.position,
        failures=hit.failures,
    )
