"""Find faces, align them on 5 landmarks and turn them into 128-d descriptors.

The pipeline is dlib's, with files that ship in pip wheels (nothing compiles,
nothing downloads):

1. **Detection**: dlib's HOG frontal face detector, run on a copy scaled down
   so that its longer side is at most ``detect_max_side``. HOG cost grows with
   the pixel count, and a face large enough to identify is still large enough
   to detect at that scale. The smallest face box the detector reports is
   about 75 px at the scale it scans, so the smallest face found is about
   ``75 / scale / 2**upsample`` input pixels (at the defaults: 75 px in a
   720p frame, 110 px in a 1080p one).
   Smaller faces are not seen at all; every face that *is* seen is reported.
2. **Alignment**: the 5-point landmark model (eye corners and the base of the
   nose) runs on the full-resolution image, so the chip is cut from the best
   pixels available. The 68-point model is never used (see ``_models``).
3. **Descriptor**: dlib's ResNet maps the aligned 150 x 150 chip to 128
   numbers; two photos of one person are usually closer than 0.6 (Euclidean).
4. **Quality**: size, sharpness of the chip, yaw estimated from the landmarks
   and the detector's score. A face that is too small, turned to profile,
   blurred or cut off by the image edge is still returned, with the reason in
   :attr:`Face.not_comparable` and no descriptor, because a descriptor from
   such a face is noise that a matcher would trust.

Threads: dlib's detector, landmark model and network keep scratch buffers in
the objects, and dlib does not document them as safe to share between
threads. Models are therefore cached per thread (loaded once per thread, on
first use); one :class:`FaceEngine` may be shared by any number of threads.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import cv2
import dlib
import numpy as np
import numpy.typing as npt

from deepguard.config import Limits
from deepguard.errors import ConfigError, DependencyError
from deepguard.likeness._models import face_encoder_path, shape_predictor_path
from deepguard.media.image import load_image

__all__ = [
    "CHIP_PADDING",
    "CHIP_SIZE",
    "DEFAULT_DETECT_MAX_SIDE",
    "DEFAULT_MAX_YAW",
    "DEFAULT_MIN_FACE_PX",
    "DEFAULT_MIN_SHARPNESS",
    "EMBEDDING_DIM",
    "LOCAL_FACE_PX",
    "Face",
    "FaceEngine",
    "load_faces",
]

EMBEDDING_DIM: Final = 128
CHIP_SIZE: Final = 150
"""The face recognition network's input side, in pixels."""
CHIP_PADDING: Final = 0.25
"""dlib's default border around the landmarks' face region; the network was
trained on chips cut this way, so any other value costs accuracy."""

DEFAULT_MIN_FACE_PX: Final = 40
"""Smallest face box side (input pixels) whose descriptor is trusted.

Measured on six shared photos by scaling each face down and comparing its
descriptor with the full-size one: the drift is at most 0.11 for 70 px faces,
0.16-0.25 at 40-45 px, 0.27-0.37 at 30 px and 0.44-0.55 at 20 px, against a
match threshold near 0.6. Below 40 px a third or more of the margin is gone.
"""
DEFAULT_DETECT_MAX_SIDE: Final = 1280
"""Detection runs on a copy no larger than this (720p runs at full size)."""
DEFAULT_MIN_SHARPNESS: Final = 15.0
"""Chip sharpness (variance of the Laplacian of its centre) below which a face
is blurred.

Measured on the same six photos blurred with a Gaussian whose sigma is a
fraction of the face size: sharp faces score 82-1630 and 40 px faces 29-48;
1 % blur scores 20-34 (descriptor drift 0.15-0.22), 1.5 % 9-14 (drift
0.24-0.31), 2 % 5-8 (drift 0.30-0.39). The threshold rejects blur that costs
as much as shrinking the face below the size limit does. Not normalised for
contrast: a very dark, flat face can read as blurred.
"""
DEFAULT_MAX_YAW: Final = 0.25
"""Largest nose offset, as a fraction of the eye distance, for a frontal face.

The base of the nose sits between the eyes when a face looks at the camera
and moves toward one eye as the head turns. With the base of the nose about
2 cm in front of the eye corners and the eyes 6.3 cm apart, the offset is
about 0.3 x tan(yaw), so 0.25 is a turn of roughly 40 degrees. The shared
photos, three-quarter views included, stay at 0.21 or less.
"""

LOCAL_FACE_PX: Final = 100
"""Face size :meth:`FaceEngine.find_near` scales its window to: above the
detector's ~80 px window, so a face that shrank by a fifth is still found."""

_MIN_EYE_DISTANCE: Final = 1.0
_SHARPNESS_KEY: Final = 10.0
"""Sharpness, as a multiple of the blur threshold, that counts as fully sharp."""
_DIGITS: Final = 3


@dataclass(frozen=True, slots=True)
class Face:
    """One face seen in an image, comparable or not.

    ``box`` and ``landmarks`` are in the input image's pixels (for files: after
    EXIF orientation). ``size_px`` is the shorter side of the face box (the
    detector's box spans roughly brow to chin and cheek to cheek), measured
    before the box is clipped to the image. ``sharpness`` is the variance of
    the Laplacian over the centre of the aligned 150 x 150 chip, so it does
    not depend on the face's size in the input. ``frontal`` is False when the
    landmarks show strong yaw. ``quality`` (0..1) is the geometric mean of the
    size, sharpness, pose and detector-score terms, for picking the best
    frame or photo of a person.

    ``embedding`` is present exactly when ``not_comparable`` is None, except in
    sightings from the video fast path, where a face followed between
    detection frames carries no descriptor of its own.
    """

    box: tuple[int, int, int, int]
    landmarks: tuple[tuple[float, float], ...]
    detector_score: float
    size_px: int
    sharpness: float
    frontal: bool
    quality: float
    embedding: npt.NDArray[np.float32] | None = field(repr=False, compare=False)
    not_comparable: str | None

    @property
    def comparable(self) -> bool:
        """True when the face is good enough to compare with references."""
        return self.not_comparable is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the descriptor, which is biometric data)."""
        return {
            "box": list(self.box),
            "landmarks": [[round(x, 1), round(y, 1)] for x, y in self.landmarks],
            "detector_score": round(self.detector_score, _DIGITS),
            "size_px": self.size_px,
            "sharpness": round(self.sharpness, 1),
            "frontal": self.frontal,
            "quality": round(self.quality, _DIGITS),
            "comparable": self.comparable,
            "not_comparable": self.not_comparable,
        }


@dataclass(slots=True)
class _Models:
    detector: Any
    predictor: Any
    encoder: Any


_local = threading.local()


class FaceEngine:
    """Detects, aligns and describes faces; see the module docstring.

    Args:
        min_face_px: smallest face box side whose descriptor is trusted.
        detect_max_side: longest side of the copy the detector scans.
        upsample: how many times dlib doubles that copy before scanning
            (each doubling halves the smallest face found and costs about 4x).
        predictor_path: a 5-point landmark model instead of the packaged one.
        encoder_path: a face recognition network instead of the packaged one.
        min_sharpness: chip sharpness below which a face is "blurred".
        max_yaw: nose offset (fraction of the eye distance) beyond which a face
            is "profile".
        num_jitters: dlib's descriptor averaging over that many jittered copies
            (0 or 1: none); slower, slightly steadier, for enrolment.

    Raises:
        ConfigError: an argument is out of range, or a user-supplied model file
            is missing or of the wrong kind.
        DependencyError: a packaged model file is missing or corrupt.
    """

    def __init__(
        self,
        *,
        min_face_px: int = DEFAULT_MIN_FACE_PX,
        detect_max_side: int = DEFAULT_DETECT_MAX_SIDE,
        upsample: int = 0,
        predictor_path: Path | None = None,
        encoder_path: Path | None = None,
        min_sharpness: float = DEFAULT_MIN_SHARPNESS,
        max_yaw: float = DEFAULT_MAX_YAW,
        num_jitters: int = 0,
    ) -> None:
        _check_range("min_face_px", min_face_px, 1, 10_000)
        _check_range("detect_max_side", detect_max_side, 64, 16_384)
        _check_range("upsample", upsample, 0, 3)
        _check_range("min_sharpness", min_sharpness, 0.0, 1e6)
        _check_range("max_yaw", max_yaw, 0.01, 1.0)
        _check_range("num_jitters", num_jitters, 0, 1000)
        self.min_face_px = min_face_px
        self.detect_max_side = detect_max_side
        self.upsample = upsample
        self.min_sharpness = float(min_sharpness)
        self.max_yaw = float(max_yaw)
        self.num_jitters = num_jitters
        self._user_models = predictor_path is not None or encoder_path is not None
        self.predictor_path = shape_predictor_path(predictor_path)
        self.encoder_path = face_encoder_path(encoder_path)

    def analyse(self, rgb: npt.NDArray[np.uint8]) -> list[Face]:
        """Every face the detector sees, comparable or not, largest first.

        Raises:
            ValueError: ``rgb`` is not an H x W x 3 uint8 array.
        """
        image = _as_rgb(rgb)
        models = self._models()
        seen = [
            self._describe(models, image, rect, score)
            for rect, score in self._detect(models, image)
        ]
        faces = self._embed(models, seen)
        return sorted(faces, key=lambda f: (-f.size_px, -f.detector_score))

    def embed_box(
        self,
        rgb: npt.NDArray[np.uint8],
        box: tuple[int, int, int, int],
        *,
        detector_score: float = 0.0,
        embed: bool = True,
    ) -> Face:
        """Align and describe a face at a known box (left, top, width, height).

        For boxes that come from elsewhere, such as a tracker following a face
        between detections. ``embed=False`` measures quality only (landmarks,
        size, sharpness, pose) and skips the network, the expensive step.

        Raises:
            ValueError: ``rgb`` is not an H x W x 3 uint8 array, or the box is
                empty.
        """
        image = _as_rgb(rgb)
        left, top, width, height = _box(box)
        rect = dlib.rectangle(left, top, left + width - 1, top + height - 1)
        models = self._models()
        seen = self._describe(models, image, rect, detector_score)
        if not embed:
            return seen[0]
        return self._embed(models, [seen])[0]

    def find_near(
        self,
        rgb: npt.NDArray[np.uint8],
        box: tuple[int, int, int, int],
        *,
        search: float = 0.75,
        embed: bool = False,
    ) -> Face | None:
        """The face the detector finds nearest ``box``, searching only around it.

        For following a face from frame to frame: the window is the box grown
        by ``search`` times its side on every side, scaled so that a face of
        the box's size is about :data:`LOCAL_FACE_PX` pixels, which is cheap
        and finds the face whatever its size in the frame. Only faces between
        half and twice the box's size count. None when there is no face there.

        Raises:
            ValueError: ``rgb`` is not an H x W x 3 uint8 array, or the box is
                empty.
        """
        image = _as_rgb(rgb)
        left, top, width, height = _box(box)
        side = max(width, height)
        margin = round(search * side)
        rows, cols = image.shape[:2]
        x0, y0 = max(0, left - margin), max(0, top - margin)
        x1, y1 = min(cols, left + width + margin), min(rows, top + height + margin)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        models = self._models()
        found = _run_detector(
            models.detector, image[y0:y1, x0:x1], LOCAL_FACE_PX / side, 0, (x0, y0)
        )
        cx, cy = left + width / 2, top + height / 2
        near = [
            (math.hypot(r.center().x - cx, r.center().y - cy), i)
            for i, (r, _) in enumerate(found)
            if 0.5 <= min(r.width(), r.height()) / side <= 2.0
        ]
        if not near:
            return None
        rect, score = found[min(near)[1]]
        seen = self._describe(models, image, rect, score)
        if not embed:
            return seen[0]
        return self._embed(models, [seen])[0]

    def _models(self) -> _Models:
        """This thread's copies of the three dlib models (see module docstring)."""
        cache: dict[tuple[Path, Path], _Models] | None = getattr(_local, "models", None)
        if cache is None:
            cache = {}
            _local.models = cache
        key = (self.predictor_path, self.encoder_path)
        models = cache.get(key)
        if models is None:
            models = _Models(
                detector=dlib.get_frontal_face_detector(),
                predictor=self._load(dlib.shape_predictor, self.predictor_path),
                encoder=self._load(dlib.face_recognition_model_v1, self.encoder_path),
            )
            cache[key] = models
        return models

    def _load(self, loader: Any, path: Path) -> Any:
        try:
            return loader(str(path))
        except (RuntimeError, OSError, MemoryError) as exc:
            detail = " ".join(str(exc).split())[:160]
            msg = f"dlib cannot load the model: {detail}"
            if self._user_models:
                raise ConfigError(msg, path=path) from exc
            raise DependencyError(msg, path=path) from exc

    def _detect(
        self, models: _Models, image: npt.NDArray[np.uint8]
    ) -> list[tuple[Any, float]]:
        """Detector boxes over the whole image, in input pixels, with scores."""
        scale = min(1.0, self.detect_max_side / max(image.shape[:2]))
        return _run_detector(models.detector, image, scale, self.upsample, (0, 0))

    def _describe(
        self, models: _Models, image: npt.NDArray[np.uint8], rect: Any, score: float
    ) -> tuple[Face, npt.NDArray[np.uint8]]:
        """Landmarks, quality and the aligned chip for one box; no descriptor."""
        shape = models.predictor(image, rect)
        points = tuple((float(p.x), float(p.y)) for p in shape.parts())
        chip = dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
        size_px = max(0, min(rect.width(), rect.height()))
        sharpness = _sharpness(chip)
        yaw = _yaw(points)
        height, width = image.shape[:2]
        face = Face(
            box=_clip_box(rect, width, height),
            landmarks=points,
            detector_score=score,
            size_px=size_px,
            sharpness=sharpness,
            frontal=yaw <= self.max_yaw,
            quality=self._quality(size_px, sharpness, yaw, score),
            embedding=None,
            not_comparable=self._reason(size_px, yaw, sharpness, points, width, height),
        )
        return face, chip

    def _embed(
        self, models: _Models, seen: list[tuple[Face, npt.NDArray[np.uint8]]]
    ) -> list[Face]:
        """Add descriptors to the comparable faces, in one batch call.

        The network runs on the chips already cut for the sharpness measure;
        that is the same computation as dlib's image-plus-landmarks overload.
        """
        faces = [face for face, _ in seen]
        todo = [i for i, face in enumerate(faces) if face.comparable]
        if not todo:
            return faces
        vectors = models.encoder.compute_face_descriptor(
            [seen[i][1] for i in todo], num_jitters=self.num_jitters
        )
        for i, vector in zip(todo, vectors, strict=True):
            embedding = np.asarray(vector, dtype=np.float32).reshape(EMBEDDING_DIM)
            faces[i] = replace(faces[i], embedding=embedding)
        return faces

    def _reason(
        self,
        size_px: int,
        yaw: float,
        sharpness: float,
        points: tuple[tuple[float, float], ...],
        width: int,
        height: int,
    ) -> str | None:
        """Why a face cannot be compared, most basic reason first, or None."""
        if size_px < self.min_face_px:
            return f"too small ({size_px} px < {self.min_face_px} px)"
        if not all(0 <= x < width and 0 <= y < height for x, y in points):
            return "cut off by the image edge"
        if yaw > self.max_yaw:
            if math.isinf(yaw):
                return "profile (eyes not resolved)"
            return f"profile (yaw {yaw:.2f} > {self.max_yaw:.2f})"
        if sharpness < self.min_sharpness:
            return f"blurred (sharpness {sharpness:.1f} < {self.min_sharpness:g})"
        return None

    def _quality(
        self, size_px: int, sharpness: float, yaw: float, score: float
    ) -> float:
        """Geometric mean of four 0..1 terms, so one bad term pulls it down.

        Size: 1 from twice the minimum. Sharpness: logarithmic, 0 at the blur
        threshold and 1 at ten times it. Pose: 1 when frontal, 0.5 at the yaw
        limit. Detector: HOG scores start at 0 (dlib's threshold) and good
        frontal faces score 1 or more.
        """
        terms = (
            min(1.0, size_px / (2 * self.min_face_px)),
            _log_term(sharpness, max(self.min_sharpness, 1e-6)),
            max(0.0, 1.0 - yaw / (2 * self.max_yaw)) if math.isfinite(yaw) else 0.0,
            min(1.0, max(0.0, (score + 1.0) / 2.0)),
        )
        if min(terms) <= 0.0:
            return 0.0
        return float(math.exp(sum(math.log(t) for t in terms) / len(terms)))


def load_faces(
    path: Path, *, limits: Limits, engine: FaceEngine | None = None
) -> list[Face]:
    """Decode an image file (EXIF orientation applied) and analyse its faces.

    Raises:
        UnsupportedFormat, CorruptMedia, MediaLimitExceeded: the file cannot be
            decoded within the limits (see :func:`deepguard.media.image.open_image`).
    """
    image = load_image(path, limits=limits)
    rgb = np.asarray(image, dtype=np.uint8)
    return (engine or FaceEngine()).analyse(rgb)


def _run_detector(
    detector: Any,
    image: npt.NDArray[np.uint8],
    scale: float,
    upsample: int,
    offset: tuple[int, int],
) -> list[tuple[Any, float]]:
    """Run HOG on ``image`` resized by ``scale``; boxes back in input pixels.

    ``offset`` is where ``image`` sits in the full frame (for crops). The
    threshold stays at dlib's 0: lower ones let in background blobs (a
    chandelier at -0.29 in the shared photos), higher ones lose real faces.
    """
    height, width = image.shape[:2]
    small: npt.NDArray[Any] = np.ascontiguousarray(image)
    sx = sy = 1.0
    if scale != 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
        small = cv2.resize(image, size, interpolation=interpolation)
        sx, sy = size[0] / width, size[1] / height
    rects, scores, _ = detector.run(small, upsample, 0.0)
    dx, dy = offset
    return [
        (
            dlib.rectangle(
                dx + round(r.left() / sx),
                dy + round(r.top() / sy),
                dx + round((r.right() + 1) / sx) - 1,
                dy + round((r.bottom() + 1) / sy) - 1,
            ),
            float(score),
        )
        for r, score in zip(rects, scores, strict=True)
    ]


def _box(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """(left, top, width, height) as ints.

    Raises:
        ValueError: the box is empty.
    """
    left, top, width, height = (int(v) for v in box)
    if width < 1 or height < 1:
        msg = f"face box {tuple(box)} is empty"
        raise ValueError(msg)
    return left, top, width, height


def _as_rgb(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        msg = f"expected an H x W x 3 uint8 image, got {rgb.dtype} {rgb.shape}"
        raise ValueError(msg)
    if min(rgb.shape[:2]) < 1:
        msg = f"empty image {rgb.shape}"
        raise ValueError(msg)
    return np.ascontiguousarray(rgb)


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        msg = f"FaceEngine {name}={value} is outside {low:g}..{high:g}"
        raise ConfigError(msg)


def _clip_box(rect: Any, width: int, height: int) -> tuple[int, int, int, int]:
    left = min(max(int(rect.left()), 0), width - 1)
    top = min(max(int(rect.top()), 0), height - 1)
    right = min(max(int(rect.right()), left), width - 1)
    bottom = min(max(int(rect.bottom()), top), height - 1)
    return left, top, right - left + 1, bottom - top + 1


def _sharpness(chip: npt.NDArray[np.uint8]) -> float:
    """Variance of the Laplacian over the chip's centre (the face, not the border).

    The centre is the middle two thirds: with dlib's 0.25 padding that is the
    face region the landmarks span, so a sharp background around a blurred
    face does not count as sharpness.
    """
    gray = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    lap = cv2.Laplacian(gray, cv2.CV_64F)
    margin = CHIP_SIZE // 6
    return float(lap[margin:-margin, margin:-margin].var())


def _yaw(points: tuple[tuple[float, float], ...]) -> float:
    """Nose offset along the eye line, as a fraction of the eye distance.

    The 5 points are two corners of each eye (0-1 and 2-3) and the base of the
    nose (4). 0 means the nose is midway between the eyes; 0.5 means it is
    under one eye, as in a near-profile view.
    """
    pts = np.asarray(points, dtype=np.float64)
    eye_a = pts[0:2].mean(axis=0)
    eye_b = pts[2:4].mean(axis=0)
    axis = eye_b - eye_a
    span = float(np.dot(axis, axis))
    if span < _MIN_EYE_DISTANCE**2:
        return math.inf
    offset = float(np.dot(pts[4] - (eye_a + eye_b) / 2, axis)) / span
    return abs(offset)


def _log_term(value: float, threshold: float) -> float:
    if value <= threshold:
        return 0.0
    return min(1.0, math.log(value / threshold) / math.log(_SHARPNESS_KEY))
