"""Folding a residual onto one tile period, at the image's scale or another.

Why a module of its own: every detection path ends here. The detector sums
every repetition of the tile into one (``fold``), after undoing a lattice's
geometry (``warp_to_reference``), or, for images too small for the lattice to
show, directly at each scale of a search grid (``search_scales`` and
``fold_scaled``).
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

from deepguard.watermark._lattice import MAX_SCALE, MIN_SCALE, Lattice
from deepguard.watermark._tile import TILE

__all__ = ["fold", "fold_scaled", "search_scales", "warp_to_reference"]

Float = npt.NDArray[np.float32]
_SEARCH_MAX_SIDE = 400


def fold(r: Float) -> Float:
    """Sum every TILE-periodic repetition of ``r`` into one tile."""
    h, w = r.shape
    ph, pw = -h % TILE, -w % TILE
    if ph or pw:
        r = np.pad(r, ((0, ph), (0, pw)))
    hh, ww = r.shape
    tiles = r.reshape(hh // TILE, TILE, ww // TILE, TILE)
    return np.asarray(tiles.sum(axis=(0, 2), dtype=np.float64), np.float32)


def search_scales(shape: tuple[int, int]) -> tuple[float, ...]:
    """The scales a small residual is searched at when no lattice explains it.

    Why: the autocorrelation needs several tile repetitions to show the
    period, so in a thumbnail (a 256 px image halved holds two) it often
    points at noise, while correlating with the sync chips at the right scale
    still finds the mark. The step keeps the misregistration at the far edge
    under a pixel and a half; the scale 1 is skipped (already tried).
    Residuals larger than ``_SEARCH_MAX_SIDE`` hold enough repetitions for
    the lattice and get no search.
    """
    side = max(shape)
    if side > _SEARCH_MAX_SIDE:
        return ()
    return _scale_grid(side)


@lru_cache(maxsize=64)
def _scale_grid(side: int) -> tuple[float, ...]:
    scales = []
    s = MIN_SCALE
    while s <= MAX_SCALE:
        if abs(s - 1.0) > 0.015:
            scales.append(round(s, 5))
        s *= 1.0 + 3.0 * s / side
    # Nearest the identity first: small edits are the commonest.
    return tuple(sorted(scales, key=lambda v: abs(math.log(v))))


def fold_scaled(r: Float, scale: float) -> Float:
    """``fold`` for an image rescaled by ``scale``: every pixel into its tile bin.

    Cheaper than warping the residual back first (one pass, no
    interpolation); bins a shrunken image leaves empty stay 0, which only
    adds noise to the correlation.
    """
    h, w = r.shape
    iy = (np.floor((np.arange(h) + 0.5) / scale).astype(np.int64) % TILE) * TILE
    ix = np.floor((np.arange(w) + 0.5) / scale).astype(np.int64) % TILE
    index = (iy[:, None] + ix[None, :]).ravel()
    sums = np.bincount(index, weights=r.ravel(), minlength=TILE * TILE)
    return np.asarray(sums.reshape(TILE, TILE), np.float32)


def warp_to_reference(r: Float, lattice: Lattice) -> Float:
    """Resample a residual into reference-tile coordinates."""
    a = lattice.matrix()
    h, w = r.shape
    if abs(float(np.linalg.det(a))) < 0.05:
        return np.zeros((8, 8), np.float32)
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float64).T
    ref = np.linalg.solve(a, corners)
    x0, y0 = ref.min(axis=1)
    x1, y1 = ref.max(axis=1)
    width, height = math.ceil(x1 - x0), math.ceil(y1 - y0)
    if width * height > 64_000_000 or width < 8 or height < 8:
        return np.zeros((8, 8), np.float32)
    # dst (u, v) -> src x = A @ (u + x0, v + y0)
    offset = a @ np.array([x0, y0])
    matrix = np.hstack([a, offset.reshape(2, 1)]).astype(np.float64)
    return np.asarray(
        cv2.warpAffine(
            r,
            matrix,
            (width, height),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        ),
        np.float32,
    )
