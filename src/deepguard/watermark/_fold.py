"""Folding a residual onto one tile period, after undoing a geometry.

Why a module of its own: every detection path ends here. The detector sums
every repetition of the tile into one (``fold``), after undoing the geometry
that the autocorrelation or the template search found
(``warp_to_reference``).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from deepguard.watermark._lattice import Lattice
from deepguard.watermark._tile import TILE

__all__ = ["fold", "warp_to_reference"]

Float = npt.NDArray[np.float32]


def fold(r: Float) -> Float:
    """Sum every TILE-periodic repetition of ``r`` into one tile."""
    h, w = r.shape
    ph, pw = -h % TILE, -w % TILE
    if ph or pw:
        r = np.pad(r, ((0, ph), (0, pw)))
    hh, ww = r.shape
    tiles = r.reshape(hh // TILE, TILE, ww // TILE, TILE)
    return np.asarray(tiles.sum(axis=(0, 2), dtype=np.float64), np.float32)


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
