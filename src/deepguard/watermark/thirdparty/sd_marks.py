"""The invisible marks Stable Diffusion's reference code embeds, and their detector.

Stable Diffusion's reference scripts mark every image with invisible-watermark's
``dwtDct`` scheme and a fixed word:

=========  ==============================  ========  ==========================
method     word                            bits      where
=========  ==============================  ========  ==========================
``sd-v1``  bytes ``StableDiffusionV1``     136       CompVis txt2img/img2img
``sd-2``   bytes ``SDV2``                  32        Stability SD 2.x scripts
``sdxl``   ``0xB3EC907BB19E``              48        SDXL (generative-models,
                                                     diffusers)
=========  ==============================  ========  ==========================

Two rules decide, and both are reported:

* **Compatibility** (``details["meets_script_threshold"]``): SDXL's detect
  script calls an image "very likely watermarked" when at least 36 of the 48
  bits match, read exactly as the reference decoder reads (BGR, ``uint8``,
  majority vote). We apply the same 0.75 ratio to the other words. This is
  what other tools will say about the file.
* **Our decision** (``status``): present only when the binomial p-value of
  the best reading is at most the false-positive rate (default 1e-6). A
  fair coin matches 36 of 48 bits with probability 3.6e-4 and 24 of 32 with
  3.5e-3: read one way, as the script does, the script rule flags one
  unmarked upload in 2,800 (``sdxl``) and one in 290 (``sd-2``); read the 16
  ways we read each word it would flag one in 170 and one in 18. A
  platform scanning millions of uploads cannot act on that. Our p-value is
  the tail of a fair coin times every reading of every word tried
  (:data:`TRIALS`, 48), so the search is paid for.

Present needs, at 1e-6: 31 of 32 bits for ``sd-2``, 43 of 48 for ``sdxl``,
and 100 of 136 for ``sd-v1``. Bits flipped by heavy compression therefore
lose ``sd-2`` first: 32 bits cannot say much more.

The mark lives in fixed 8x8 pixel cells from the top-left corner, so it does
not survive resizing, cropping by a non-multiple of 8, or rotation. JPEG at
quality 90 quantises the chroma it lives in; the mark survives it in some
images only (the benchmark reports the rate).

Images below 256x256 pixels in area cannot carry it, as the reference
encoder refuses them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from deepguard.errors import WatermarkError
from deepguard.watermark.base import DEFAULT_FPR, Detection, Status, z_for_p_value
from deepguard.watermark.thirdparty import _dwtdct
from deepguard.watermark.thirdparty._dwtdct import Convention, Order, Reading
from deepguard.watermark.thirdparty._stats import binomial_tail

__all__ = [
    "MIN_PIXELS",
    "SCRIPT_RATIO",
    "SD_MARKS",
    "TRIALS",
    "SdMark",
    "binomial_tail",
    "detect_sd_marks",
]

MIN_PIXELS = 256 * 256
"""The reference encoder refuses images with fewer pixels than this."""

SCRIPT_RATIO = 36 / 48
"""SDXL's detect script: at least 36 of 48 bits means "very likely marked"."""


def _bytes_bits(word: bytes) -> tuple[int, ...]:
    """Most significant bit first, as invisible-watermark packs bytes."""
    return tuple(int(b) for b in np.unpackbits(np.frombuffer(word, dtype=np.uint8)))


def _int_bits(value: int) -> tuple[int, ...]:
    """SDXL's word, spelled as ``bin(value)[2:]`` in its reference code."""
    return tuple(int(c) for c in bin(value)[2:])


@dataclass(frozen=True, slots=True)
class SdMark:
    """One known word and the method name reported for it."""

    method: str
    bits: tuple[int, ...]
    source: str

    @property
    def n_bits(self) -> int:
        return len(self.bits)

    @property
    def script_threshold(self) -> int:
        """Matching bits the reference detect rule asks for (36 of 48 for SDXL)."""
        return math.ceil(SCRIPT_RATIO * self.n_bits)


SD_MARKS: tuple[SdMark, ...] = (
    SdMark("sd-v1", _bytes_bits(b"StableDiffusionV1"), "bytes 'StableDiffusionV1'"),
    SdMark("sd-2", _bytes_bits(b"SDV2"), "bytes 'SDV2'"),
    SdMark("sdxl", _int_bits(0xB3EC907BB19E), "bits 0xB3EC907BB19E"),
)

_THRESHOLDS = ("reference", "adaptive")
TRIALS = len(SD_MARKS) * len(_dwtdct.READINGS) * len(_THRESHOLDS)
"""Every word read every way with both thresholds: the p-value's multiplier."""

_Bits = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class _Read:
    """The best word read for one mark, and how it was read."""

    matches: int
    bits: _Bits
    fractions: npt.NDArray[np.float64]
    reading: Reading
    threshold: str


def _as_rgb(rgb: npt.NDArray[Any]) -> npt.NDArray[np.uint8] | None:
    """The RGB planes of ``rgb``; None for a grayscale image (no chroma).

    Raises:
        WatermarkError: not an 8-bit image array.
    """
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8:
        msg = "Stable Diffusion mark detection needs an 8-bit RGB image array"
        raise WatermarkError(msg)
    if rgb.ndim == 2 or (rgb.ndim == 3 and rgb.shape[2] == 1):
        return None
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        msg = f"expected an HxWx3 RGB image, got an array of shape {rgb.shape}"
        raise WatermarkError(msg)
    return rgb[..., :3]


def _undetectable_all(reason: str) -> list[Detection]:
    return [Detection.undetectable(mark.method, reason) for mark in SD_MARKS]


def detect_sd_marks(
    rgb: npt.NDArray[Any], *, fpr: float = DEFAULT_FPR
) -> list[Detection]:
    """Look for each Stable Diffusion mark; one Detection per mark, in order.

    ``rgb`` is an ``HxWx3`` (or ``HxWx4``) ``uint8`` array in RGB order, as
    Pillow and ``deepguard.media`` decode it. Each detection carries, in
    ``details``: ``matching_bits``/``total_bits`` of the best reading,
    ``script_matching_bits`` and ``meets_script_threshold`` (the reference
    rule), ``channel_order``, ``convention``, ``deblurred``, ``threshold`` and
    ``trials``.

    Raises:
        WatermarkError: ``rgb`` is not an 8-bit image array.
    """
    planes = _as_rgb(rgb)
    if planes is None:
        return _undetectable_all("grayscale image: no chroma to carry the mark")
    height, width = planes.shape[:2]
    if height * width < MIN_PIXELS:
        return _undetectable_all(
            f"image is {width}x{height}; Stable Diffusion marks need at least "
            f"{MIN_PIXELS} pixels (256x256)"
        )
    blocks = _dwtdct.block_count(planes.shape)
    best: dict[str, _Read] = {}
    script: dict[str, int] = {}
    for reading, values in _dwtdct.read_blocks(planes):
        for mark in SD_MARKS:
            if blocks >= mark.n_bits:
                _read_mark(mark, reading, values, best, script)
    return [_detection(mark, best.get(mark.method), script, fpr) for mark in SD_MARKS]


def _read_mark(
    mark: SdMark,
    reading: Reading,
    values: npt.NDArray[np.float64],
    best: dict[str, _Read],
    script: dict[str, int],
) -> None:
    """Decode ``mark`` both ways from one reading, keeping the best match."""
    fractions = _dwtdct.vote_fractions(values, mark.n_bits)
    expected = np.asarray(mark.bits, dtype=np.uint8)
    thresholds = (_dwtdct.REFERENCE_THRESHOLD, _dwtdct.otsu_threshold(fractions))
    for name, threshold in zip(_THRESHOLDS, thresholds, strict=True):
        bits = _dwtdct.decode(fractions, threshold)
        matches = int(np.count_nonzero(bits == expected))
        if _is_script_reading(reading) and name == "reference":
            script[mark.method] = matches
        current = best.get(mark.method)
        if current is None or matches > current.matches:
            best[mark.method] = _Read(matches, bits, fractions, reading, name)


def _is_script_reading(reading: Reading) -> bool:
    """The one reading SD's own detect script does: a BGR file, uint8, as is."""
    return (
        reading.order is Order.BGR
        and reading.convention is Convention.UINT8
        and not reading.deblur
    )


def _detection(
    mark: SdMark, read: _Read | None, script: dict[str, int], fpr: float
) -> Detection:
    if read is None:
        return Detection.undetectable(
            mark.method, f"image has fewer 8x8 cells than the {mark.n_bits}-bit word"
        )
    p_value = min(1.0, TRIALS * binomial_tail(read.matches, mark.n_bits))
    script_matches = script[mark.method]
    # Per bit: the share of its blocks that voted for the value decoded.
    agreement = np.where(read.bits == 1, read.fractions, 1.0 - read.fractions)
    details: dict[str, Any] = {
        "matching_bits": read.matches,
        "total_bits": mark.n_bits,
        "script_matching_bits": script_matches,
        "script_threshold_bits": mark.script_threshold,
        "meets_script_threshold": script_matches >= mark.script_threshold,
        "channel_order": read.reading.order.value,
        "convention": read.reading.convention.value,
        "deblurred": read.reading.deblur,
        "threshold": read.threshold,
        "trials": TRIALS,
        "word": mark.source,
    }
    return Detection(
        status=Status.PRESENT if p_value <= fpr else Status.ABSENT,
        p_value=p_value,
        score=z_for_p_value(p_value, 1),
        bit_confidence=tuple(round(float(a), 4) for a in agreement),
        method=mark.method,
        details=details,
    )
