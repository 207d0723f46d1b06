"""Search the common edits' geometries for the sync template, in the Fourier domain.

Why: the autocorrelation (``_lattice``) finds the tile period only when the
mark is strong next to the picture, since it squares the mark. In a 512 px
photo or a fine texture, a rotated or stretched copy whose sync would still
read at z 8 to 16 at the right geometry leaves no trace there. Correlating
with the known sync chips is coherent (linear in the mark), so it finds that
geometry, but only by trying it: every rescaling, every small rotation and
every stretch of one axis, each at a step fine enough that the tile stays
registered to a pixel or so across the image.

Doing that by warping the residual would cost a warp and a fold per geometry.
Here each costs almost nothing: a tile-periodic mark lives on a lattice of
frequencies, ``A^-T k / TILE`` for the tile harmonics ``k`` and the geometry
``A``, so the folded tile's spectrum under any ``A`` is the residual's
spectrum read at those points. One zero-padded FFT of the residual is taken;
each geometry then reads the ~700 harmonics that hold 90% of the template's
energy (bilinear between bins) and one 64 x 64 inverse FFT gives its
correlation surface over every shift. The geometries that score best are
handed back for the detector's exact read; the p-value pays for every grid
point (see ``ImageWatermarker.trials``).

The families searched are the edits re-uploads actually get: a rescale of
any size the detector supports, a rotation up to 5.6 degrees, and a stretch
of one axis by up to 12%. A rotation combined with a rescale is left to the
autocorrelation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from deepguard.watermark._lattice import MAX_SCALE, MIN_SCALE, Lattice, taper
from deepguard.watermark._tile import TILE, TileLayout

__all__ = ["Candidate", "TemplateSearch", "search_grid"]

Float = npt.NDArray[np.float32]
Matrices = npt.NDArray[np.float64]

HARMONICS = 700
"""Template harmonics read per geometry: the strongest, 90% of its energy."""
_SURFACE = 64
"""Shifts per side of each correlation surface: holds harmonics up to +-31."""
_STEP = 1.9
"""Grid step, in pixels of misregistration at the residual's far side."""
MAX_ROTATION = math.radians(5.6)
MAX_STRETCH = 1.12
_CHUNK = 96
_FULL_RESOLUTION_SIDE = 1024
"""Larger residuals are searched at half size: the FFT is 4x cheaper, and the
harmonics lost are those of shrunken marks, which need no such search (the
autocorrelation sees their many tiles)."""


def search_grid(side: int) -> Matrices:
    """The geometries (2x2 maps, reference tile to image) searched at ``side``.

    The step shrinks with the residual: a relative error ``e`` moves the
    tile by ``e * side`` pixels at the far edge, and beyond a pixel or two the
    chips stop adding up.
    """
    step = 2.0 * _STEP / max(side, 64)
    grid: list[Matrices] = []
    s = MIN_SCALE
    while s <= MAX_SCALE:
        if abs(s - 1.0) > step / 2:
            grid.append(np.diag([s, s]))
        s *= 1.0 + step * s
    angle = -MAX_ROTATION
    while angle <= MAX_ROTATION:
        if abs(angle) > step / 2:
            c, n = math.cos(angle), math.sin(angle)
            grid.append(np.array([[c, -n], [n, c]]))
        angle += step
    a = 1.0 / MAX_STRETCH
    while a <= MAX_STRETCH:
        if abs(a - 1.0) > step / 2:
            grid.append(np.diag([a, 1.0]))
            grid.append(np.diag([1.0, a]))
        a *= 1.0 + step
    return np.stack(grid)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One searched geometry and how well the sync template fits there."""

    lattice: Lattice
    score: float


class TemplateSearch:
    """The sync template's strongest harmonics, ready to be read at any geometry."""

    def __init__(self, layout: TileLayout) -> None:
        spectrum = np.fft.fft2(layout.sync_tile.astype(np.float64))
        k = np.fft.fftfreq(TILE, 1.0 / TILE).astype(np.int64)
        ky, kx = np.meshgrid(k, k, indexing="ij")
        power = np.abs(spectrum) ** 2
        reachable = (np.abs(kx) < _SURFACE // 2) & (np.abs(ky) < _SURFACE // 2)
        power[~reachable] = 0.0
        power[0, 0] = 0.0
        strongest = np.argsort(power, axis=None)[::-1][:HARMONICS]
        ix, iy = kx.flat[strongest], ky.flat[strongest]
        # A mirrored image's folded tile has the mirrored spectrum: its
        # harmonic (kx, ky) is read where the mark put (-kx, ky).
        self._k = np.stack([ix, iy]).astype(np.float64) / TILE
        self._k_mirrored = np.stack([-ix, iy]).astype(np.float64) / TILE
        self._conj = np.conj(spectrum.flat[strongest]).astype(np.complex64)
        self._slot = (iy % _SURFACE) * _SURFACE + ix % _SURFACE

    def candidates(self, r: Float, limit: int) -> list[Candidate]:
        """The ``limit`` grid geometries where the sync fits ``r`` best."""
        h, w = r.shape
        grid = search_grid(max(h, w))
        factor = 1.0
        if max(h, w) > _FULL_RESOLUTION_SIDE:
            size = ((w + 1) // 2, (h + 1) // 2)
            r = np.asarray(cv2.resize(r, size, interpolation=cv2.INTER_AREA))
            factor = 0.5
        spectrum = _padded_spectrum(r)
        scores = np.concatenate(
            [
                self._scores(spectrum, grid[i : i + _CHUNK] * factor)
                for i in range(0, len(grid), _CHUNK)
            ]
        )
        best = np.argsort(scores)[::-1][:limit]
        return [
            Candidate(_lattice(grid[i]), float(scores[i]))
            for i in best
            if math.isfinite(scores[i])
        ]

    def _scores(
        self, spectrum: npt.NDArray[np.float32], grid: Matrices
    ) -> npt.NDArray[np.float64]:
        """Peak z of each geometry's correlation surface, either orientation."""
        inverse_t = np.linalg.inv(grid).transpose(0, 2, 1)
        n = _SURFACE
        surfaces = np.zeros((len(grid), 2, n * n), np.complex64)
        for orientation, k in enumerate((self._k, self._k_mirrored)):
            # Each harmonic's frequency (cycles per pixel) under each geometry.
            f = inverse_t @ k
            values = _read(spectrum, f[:, 0], f[:, 1]) * self._conj
            surfaces[:, orientation, self._slot] = values
        real = np.fft.ifft2(surfaces.reshape(len(grid), 2, n, n)).real
        flat = real.reshape(len(grid), 2, n * n)
        spread = flat.std(axis=2)
        z = (flat.max(axis=2) - flat.mean(axis=2)) / np.where(spread > 0, spread, 1.0)
        return np.asarray(z.max(axis=1), np.float64)


def _padded_spectrum(r: Float) -> npt.NDArray[np.float32]:
    """The residual's spectrum (real and imaginary planes), tapered and
    zero-padded 2x for interpolation."""
    h, w = r.shape
    ph, pw = cv2.getOptimalDFTSize(2 * h), cv2.getOptimalDFTSize(2 * w)
    padded = np.zeros((ph, pw), np.float32)
    padded[:h, :w] = r * taper(h, w, edge=32)
    return np.asarray(cv2.dft(padded, flags=cv2.DFT_COMPLEX_OUTPUT), np.float32)


def _read(
    spectrum: npt.NDArray[np.float32],
    fx: npt.NDArray[np.float64],
    fy: npt.NDArray[np.float64],
) -> npt.NDArray[np.complex64]:
    """The spectrum at frequencies ``(fx, fy)``, bilinear between bins.

    One ``cv2.remap`` does the reading (bins wrap: negative frequencies sit at
    the far end). Frequencies past Nyquist read 0: the image no longer holds
    them.
    """
    ph, pw = spectrum.shape[:2]
    cols = (fx * pw).astype(np.float32)
    rows = (fy * ph).astype(np.float32)
    read = cv2.remap(spectrum, cols, rows, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    values = read[..., 0] + 1j * read[..., 1]
    inside = (np.abs(fx) < 0.5) & (np.abs(fy) < 0.5)
    return np.asarray(np.where(inside, values, 0), np.complex64)


def _lattice(matrix: Matrices) -> Lattice:
    v1 = matrix[:, 0] * TILE
    v2 = matrix[:, 1] * TILE
    return Lattice((float(v1[0]), float(v1[1])), (float(v2[0]), float(v2[1])), 0.0)
