"""A reader for invisible-watermark's ``dwtDct`` scheme, written from its algorithm.

The scheme (``imwatermark.maxDct``, used by the Stable Diffusion reference
scripts) hides an ``n``-bit word in the U chroma plane:

1. convert the image to YUV (OpenCV's ``COLOR_BGR2YUV``: ``U = 0.492 (B - Y)
   + delta``, where ``delta`` is 128 for ``uint8`` input and 0.5 for float
   input);
2. take the one-level Haar approximation ``cA`` of U (each value is twice
   the mean of a 2x2 pixel cell, cropped to a multiple of 4 pixels);
3. cut ``cA`` into 4x4 blocks in raster order; block ``k`` carries bit
   ``k mod n``;
4. in each block, the largest magnitude coefficient other than the first is
   moved onto a lattice of step 36: ``|v| // 36 * 36 + 9`` for a 0,
   ``+ 27`` for a 1. Reading keeps ``|v| mod 36 > 18`` as a vote for 1 and the
   reference decoder takes the majority of each bit's votes.

Why our own reader and not a port: what matters for detection is *how*
images were marked in practice, and the reference reader misses much of it:

* **Channel order.** The SD scripts convert RGB to BGR first; some pipelines
  hand the encoder an RGB array, so "B" was really red. We read both.
* **Float input.** SDXL pipelines pass ``float32`` arrays, so the encoder's
  ``delta`` was 0.5, not 128: its lattice sits 255 lower in ``cA`` and it
  picked the coefficient by ``|cA - 255|``. Read with the ``uint8``
  convention, every block whose chroma is below neutral votes the wrong way.
  We read both conventions.
* **Vote bias.** Blocks the encoder could not move (flat or saturated chroma
  clips on the way back to RGB) keep their natural residue, which is
  strongly biased towards "0" in low-chroma photos. The fixed majority
  threshold then decodes all zeros. An adaptive threshold (Otsu's split of
  the per-bit vote fractions) does not care about a bias common to all bits.
* **JPEG.** libjpeg's 4:2:0 "fancy" chroma upsampling spreads each chroma
  sample over its neighbours with the separable kernel ``[1, 6, 1] / 8`` in
  ``cA`` units. That kernel is invertible (its inverse is a stable two-sided
  geometric filter), and inverting it recovers part of what JPEG blurred;
  the chroma quantisation on top of it stays.

Every variant read is one more trial that the caller must pay for in its
p-value; :data:`READINGS` lists them so the count cannot drift.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pywt

__all__ = [
    "BLOCK",
    "READINGS",
    "REFERENCE_THRESHOLD",
    "SCALE",
    "Convention",
    "Order",
    "Reading",
    "block_count",
    "decode",
    "otsu_threshold",
    "read_blocks",
    "vote_fractions",
]

BLOCK = 4
"""Side of the ``cA`` blocks, each carrying one bit."""

SCALE = 36.0
"""Lattice step of the embedded coefficient (the encoder's default scale)."""

REFERENCE_THRESHOLD = 127 / 255
"""The reference decoder's majority rule: ``mean * 255 > 127``."""

_Float = npt.NDArray[np.float64]


class Order(enum.StrEnum):
    """How the encoder saw the channels of the RGB image we were given."""

    BGR = "bgr"  # converted to BGR first, as the SD scripts do
    RGB = "rgb"  # handed the RGB array as if it were BGR


class Convention(enum.StrEnum):
    """The dtype the encoder was given, which fixed its chroma offset."""

    UINT8 = "uint8"  # delta 128: SD v1 / v2 scripts
    FLOAT = "float"  # delta 0.5: SDXL pipelines pass float32 arrays


@dataclass(frozen=True, slots=True)
class Reading:
    """One way of reading the blocks; each is a separate hypothesis."""

    order: Order
    convention: Convention
    deblur: bool


READINGS: tuple[Reading, ...] = tuple(
    Reading(order, convention, deblur)
    for order in Order
    for convention in Convention
    for deblur in (False, True)
)
"""All readings, the plain SD-script one (BGR, uint8, no deblur) first."""

_STRIP = 512
"""Rows of ``cA`` computed at a time, to bound float64 temporaries."""


@cache
def _haar_tap() -> float:
    """PyWavelets' Haar analysis tap, ``0.7071067811865476``.

    PyWavelets computes each Haar step as ``h * a + h * b`` in float64, first
    down the rows then along them; the tiny rounding that leaves
    (``270.00000000000006``) decides votes whose residue is exactly 18, and
    which of a plateau of equal values ``argmax`` picks. Reproducing it bit
    for bit is what makes our script reading say what the reference decoder
    says (the tests compare with ``pywt.dwt2``).
    """
    (h, h_again) = pywt.Wavelet("haar").dec_lo
    if h != h_again:
        msg = "PyWavelets' Haar filter is not symmetric"
        raise RuntimeError(msg)
    return float(h)


def _haar_step(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> _Float:
    """``h * a + h * b`` in float64, in PyWavelets' order of operations."""
    h = _haar_tap()
    out: _Float = a.astype(np.float64)
    out *= h
    out += h * b.astype(np.float64)
    return out


def _rounded_approximation(rgb: npt.NDArray[np.uint8], order: Order) -> _Float:
    """``cA`` of U rounded to 8 bits, exactly as a ``uint8`` encoder saw it.

    The encoder and the reference decoder both took U from OpenCV's
    fixed-point ``uint8`` conversion. ``RGB2YUV`` on our RGB array is
    ``BGR2YUV`` on the BGR array the SD scripts passed; ``BGR2YUV`` on it is
    what an encoder handed the RGB array saw. Computed in strips, so that no
    full-size float or 3-channel copy of a large photo is ever made.
    """
    rows, cols = rgb.shape[0] // 4 * 4, rgb.shape[1] // 4 * 4
    code = cv2.COLOR_RGB2YUV if order is Order.BGR else cv2.COLOR_BGR2YUV
    approx = np.empty((rows // 2, cols // 2), dtype=np.float64)
    for top in range(0, rows // 2, _STRIP):
        band = rgb[2 * top : min(2 * (top + _STRIP), rows), :cols]
        u = cv2.cvtColor(band, code)[..., 1]
        down = _haar_step(u[0::2], u[1::2])
        approx[top : top + _STRIP] = _haar_step(down[:, 0::2], down[:, 1::2])
    return approx


def _cell_sums(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """Per channel, the sum of every 2x2 pixel cell the encoder transformed.

    The Haar approximation is ``(a + b + c + d) / 2`` of each cell and U is
    linear in R, G and B, so a float encoder's ``cA`` of U is a weighted sum
    of these channel sums. Summing 8-bit integers first and weighting a
    quarter as many values is ten times faster than transforming a float U
    plane, which matters for 50-megapixel photos.
    """
    rows, cols = rgb.shape[0] // 4 * 4, rgb.shape[1] // 4 * 4
    area = rgb[:rows, :cols]
    sums = (
        area[0::2, 0::2].astype(np.uint16)
        + area[1::2, 0::2]
        + area[0::2, 1::2]
        + area[1::2, 1::2]
    )
    cells: npt.NDArray[np.float32] = sums.astype(np.float32)
    return cells


def _float_approximation(cells: npt.NDArray[np.float32], order: Order) -> _Float:
    """``cA`` of ``U = 0.492 (B - Y) + 0.5`` as a float encoder computed it.

    ``Y = 0.299 R + 0.587 G + 0.114 B`` (OpenCV's ``COLOR_BGR2YUV``); for the
    RGB order the encoder's "blue" was our red and its "red" our blue. The
    0.5 of float input adds 1 to every ``cA`` value.
    """
    red, green, blue = -0.299, -0.587, 1.0 - 0.114
    if order is Order.RGB:
        red, blue = blue, red
    weights = (0.492 / 2) * np.array([red, green, blue], dtype=np.float32)
    approx: _Float = np.asarray(cells @ weights, dtype=np.float64) + 1.0
    return approx


@cache
def _inverse_upsampling_taps(half_width: int = 8) -> _Float:
    """FIR taps of the inverse of ``[1, 6, 1] / 8``.

    ``z + 6 + 1/z = (1 + r z)(1 + r/z) / r`` with ``r = 3 - 2 sqrt 2``, so the
    inverse is ``8 r / (1 - r^2) * (-r)^|k|``; ``r^8 < 1e-6`` makes 17 taps
    exact to well below the rounding of 8-bit pixels.
    """
    r = 3.0 - 2.0 * np.sqrt(2.0)
    k = np.arange(-half_width, half_width + 1)
    taps: _Float = np.asarray(
        (8.0 * r / (1.0 - r * r)) * (-r) ** np.abs(k), dtype=np.float64
    )
    return taps


def _deblurred(approx: _Float) -> _Float:
    """``approx`` with libjpeg's 4:2:0 fancy upsampling undone."""
    taps = _inverse_upsampling_taps()
    restored = cv2.sepFilter2D(
        approx, cv2.CV_64F, taps, taps, borderType=cv2.BORDER_REFLECT
    )
    return np.asarray(restored, dtype=np.float64)


def block_count(shape: tuple[int, ...]) -> int:
    """How many 4x4 ``cA`` blocks (8x8 pixel cells) an image of ``shape`` has."""
    return (shape[0] // 4 * 2 // BLOCK) * (shape[1] // 4 * 2 // BLOCK)


def _marked_coefficients(approx: _Float) -> _Float:
    """Per block, the magnitude of the coefficient the encoder moved.

    As the encoder chose it: the largest magnitude but the first, the first
    of equal ones on a plateau.
    """
    n_rows, n_cols = approx.shape[0] // BLOCK, approx.shape[1] // BLOCK
    blocks = (
        approx[: n_rows * BLOCK, : n_cols * BLOCK]
        .reshape(n_rows, BLOCK, n_cols, BLOCK)
        .transpose(0, 2, 1, 3)
        .reshape(n_rows * n_cols, BLOCK * BLOCK)
    )
    magnitude = np.abs(blocks[:, 1:])
    pick = np.argmax(magnitude, axis=1)
    values: _Float = magnitude[np.arange(len(magnitude)), pick]
    return values


def read_blocks(rgb: npt.NDArray[np.uint8]) -> Iterator[tuple[Reading, _Float]]:
    """Every reading of :data:`READINGS`, with its per-block coefficients.

    One approximation per (order, convention) serves both of its readings,
    plain and deblurred; only one is held at a time, which keeps a
    50-megapixel photo within a few hundred MB.
    """
    cells: npt.NDArray[np.float32] | None = None
    current: tuple[tuple[Order, Convention], _Float] | None = None
    for reading in READINGS:
        key = (reading.order, reading.convention)
        if current is None or current[0] != key:
            if reading.convention is Convention.UINT8:
                plane = _rounded_approximation(rgb, reading.order)
            else:
                cells = _cell_sums(rgb) if cells is None else cells
                plane = _float_approximation(cells, reading.order)
            current = (key, plane)
        approx = _deblurred(current[1]) if reading.deblur else current[1]
        yield reading, _marked_coefficients(approx)


def vote_fractions(values: _Float, n_bits: int) -> _Float:
    """Per bit, the fraction of its blocks that vote 1."""
    votes = (np.mod(values, SCALE) > SCALE / 2).astype(np.float64)
    index = np.arange(len(values)) % n_bits
    ones = np.bincount(index, weights=votes, minlength=n_bits)
    counts = np.bincount(index, minlength=n_bits)
    fractions: _Float = ones / np.maximum(counts, 1)
    return fractions


def otsu_threshold(fractions: _Float) -> float:
    """The split of the vote fractions that best separates two groups.

    Chosen without looking at any known mark, so the decoded word stays a
    fair draw for unmarked images. When every fraction is equal there is no
    split and all bits decode as 0.
    """
    ordered = np.sort(fractions)
    n = len(ordered)
    if n < 2 or ordered[0] == ordered[-1]:
        return float(ordered[-1]) if n else 0.5
    below = np.arange(1, n)
    sums = np.cumsum(ordered)[:-1]
    mean_low = sums / below
    mean_high = (ordered.sum() - sums) / (n - below)
    between = below * (n - below) * (mean_high - mean_low) ** 2
    between[ordered[1:] == ordered[:-1]] = -1.0  # equal values cannot be split
    k = int(np.argmax(between)) + 1
    return float((ordered[k - 1] + ordered[k]) / 2)


def decode(fractions: _Float, threshold: float) -> npt.NDArray[np.uint8]:
    """Bits whose vote fraction is above ``threshold``."""
    bits: npt.NDArray[np.uint8] = (fractions > threshold).astype(np.uint8)
    return bits
