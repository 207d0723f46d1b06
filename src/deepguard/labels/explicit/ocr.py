"""A thin wrapper around RapidOCR (PP-OCRv4 on ONNX Runtime).

Why RapidOCR: its detection and recognition models ship inside the wheel (no
download at run time, so air-gapped platforms work), it reads Chinese and
English in one pass, and it runs on CPU at a few hundred milliseconds per
frame.

The engine costs ~0.5 s and ~100 MB to build, so it is built lazily, once per
process, and shared behind a lock (ONNX Runtime sessions are thread-safe but
RapidOCR keeps per-call state). Frames are rescaled before OCR so that cost
does not grow with resolution: the longest side is brought down to
``max_side`` (960 px: a 5 % label on a 16:9 frame is still 27 px tall there)
and small images are brought up to ``min_side``, which keeps a 5 % label on a
thumbnail tall enough to read. Boxes are mapped back to the caller's pixel
coordinates. The text-direction classifier is skipped: labels are upright,
and it costs a pass per line.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from PIL import Image

from deepguard.errors import DependencyError

__all__ = ["OcrBox", "OcrEngine", "get_engine", "read_text"]

_MAX_THREADS: Final = 4
_MIN_INPUT_SIDE: Final = 8
"""Below this no text can be legible; RapidOCR's resizing fails on such input."""
_INSTALL_HINT: Final = "install it with: pip install rapidocr-onnxruntime==1.4.4"

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class OcrBox:
    """One recognised text line: its quadrilateral, text and confidence.

    ``points`` run clockwise from the top-left corner *of the text* (for
    rotated text that is not the top-left of the image), in input pixels.
    """

    points: tuple[Point, Point, Point, Point]
    text: str
    score: float

    @property
    def width(self) -> float:
        """Length along the text direction."""
        p0, p1, p2, p3 = self.points
        return (math.dist(p0, p1) + math.dist(p3, p2)) / 2

    @property
    def height(self) -> float:
        """Extent perpendicular to the text direction (area over width).

        Area over width is the mean perpendicular distance between the top and
        bottom edges, which stays right for rotated and slightly skewed boxes
        where the side lengths overstate the height.
        """
        width = self.width
        return _polygon_area(self.points) / width if width > 0 else 0.0

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Axis-aligned bounding box (x0, y0, x1, y1)."""
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        return min(xs), min(ys), max(xs), max(ys)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "points": [[round(x, 1), round(y, 1)] for x, y in self.points],
            "text": self.text,
            "score": round(self.score, 4),
        }


def _polygon_area(points: tuple[Point, ...]) -> float:
    area = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True):
        area += x0 * y1 - x1 * y0
    return abs(area) / 2


class OcrEngine:
    """RapidOCR with resolution control and typed results.

    ``max_side``/``min_side`` bound the frame size handed to the detector;
    ``threads`` is ONNX Runtime's intra-op thread count (default: up to four,
    a modest share of a worker machine, since scans run several files at once).
    """

    def __init__(
        self,
        *,
        max_side: int = 960,
        min_side: int = 480,
        threads: int | None = None,
        min_score: float = 0.5,
    ) -> None:
        if max_side < 64 or min_side < 16 or min_side > max_side:
            msg = "need 64 <= max_side, 16 <= min_side <= max_side"
            raise ValueError(msg)
        self.max_side = max_side
        self.min_side = min_side
        self.min_score = min_score
        self._threads = threads or max(1, min(_MAX_THREADS, os.cpu_count() or 1))
        self._engine: Any = None
        self._lock = threading.Lock()

    @property
    def threads(self) -> int:
        """ONNX Runtime intra-op threads per call."""
        return self._threads

    def _get(self) -> Any:
        if self._engine is None:
            self._engine = _build(self.max_side, self._threads, self.min_score)
        return self._engine

    def scale_for(self, width: int, height: int) -> float:
        """The resize factor applied to a ``width`` x ``height`` frame."""
        longest, shortest = max(width, height), min(width, height)
        if longest <= 0:
            return 1.0
        scale = min(1.0, self.max_side / longest)
        if shortest * scale < self.min_side:
            scale = min(self.min_side / shortest, self.max_side / longest)
        return scale

    def read(
        self, image: npt.NDArray[np.uint8] | Image.Image, *, bgr: bool = False
    ) -> list[OcrBox]:
        """Text lines in ``image`` (RGB array or PIL image; ``bgr`` for OpenCV).

        Raises:
            DependencyError: RapidOCR or its models are missing or fail.
            ValueError: ``image`` is not an H x W x 3 uint8 array.
        """
        array = _as_bgr(image, bgr=bgr)
        height, width = array.shape[:2]
        if min(height, width) < _MIN_INPUT_SIDE:
            return []
        scale = self.scale_for(width, height)
        if not math.isclose(scale, 1.0):
            array = _resize(array, scale)
        with self._lock:
            engine = self._get()
            try:
                result, _ = engine(array, use_cls=False)
            except Exception as exc:  # ONNX Runtime / OpenCV failures inside
                msg = f"RapidOCR failed: {' '.join(str(exc).split())}"
                raise DependencyError(msg) from exc
        return _boxes(result, 1.0 / scale, self.min_score)


def _as_bgr(
    image: npt.NDArray[np.uint8] | Image.Image, *, bgr: bool
) -> npt.NDArray[np.uint8]:
    if isinstance(image, Image.Image):
        array = np.asarray(image.convert("RGB"))
        bgr = False
    else:
        array = image
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        msg = f"expected an H x W x 3 uint8 image, got {array.shape} {array.dtype}"
        raise ValueError(msg)
    return np.ascontiguousarray(array if bgr else array[:, :, ::-1])


def _resize(array: npt.NDArray[np.uint8], scale: float) -> npt.NDArray[np.uint8]:
    import cv2

    height, width = array.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return np.asarray(
        cv2.resize(array, size, interpolation=interpolation), dtype=np.uint8
    )


def _boxes(result: Any, back: float, min_score: float) -> list[OcrBox]:
    boxes: list[OcrBox] = []
    for entry in result or ():
        points, text, score = entry[0], str(entry[1]), float(entry[2])
        if score < min_score or not text.strip():
            continue
        if len(points) < 4:
            continue
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = (
            (float(x) * back, float(y) * back) for x, y in points[:4]
        )
        quad = ((x0, y0), (x1, y1), (x2, y2), (x3, y3))
        boxes.append(OcrBox(points=quad, text=text, score=score))
    return boxes


def _build(max_side: int, threads: int, min_score: float) -> Any:
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        msg = f"the OCR package rapidocr_onnxruntime is missing; {_INSTALL_HINT}"
        raise DependencyError(msg) from exc
    try:
        return RapidOCR(
            det_limit_type="max",
            det_limit_side_len=max_side,
            intra_op_num_threads=threads,
            inter_op_num_threads=1,
            text_score=min_score,
        )
    except Exception as exc:  # model files missing or ONNX Runtime refusing them
        msg = f"cannot start RapidOCR: {' '.join(str(exc).split())}; {_INSTALL_HINT}"
        raise DependencyError(msg) from exc


_shared: OcrEngine | None = None
_shared_lock = threading.Lock()


def get_engine() -> OcrEngine:
    """The process-wide engine (models load on its first ``read``)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = OcrEngine()
        return _shared


def read_text(
    image: npt.NDArray[np.uint8] | Image.Image, *, bgr: bool = False
) -> list[OcrBox]:
    """OCR ``image`` with the shared engine. See :meth:`OcrEngine.read`."""
    return get_engine().read(image, bgr=bgr)
