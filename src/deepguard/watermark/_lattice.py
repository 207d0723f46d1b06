"""Find the tile period in an image: undo rescaling, aspect change and rotation.

Why the autocorrelation: a tiled mark makes the image residual correlate with
itself at every multiple of the tile's period vectors, whatever was done to
the image since. The peaks of the autocorrelation therefore form a lattice
whose two basis vectors are the tile's edges as they now appear: their lengths
give the scale per axis, their angles the rotation. Mirroring leaves the
lattice unchanged; the detector tries both orientations of the folded tile.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from deepguard.watermark._tile import TILE

__all__ = ["Lattice", "autocorrelation", "find_lattices", "taper"]

Float = npt.NDArray[np.float32]

MIN_SCALE = 0.45
MAX_SCALE = 2.2


@dataclass(frozen=True, slots=True)
class Lattice:
    """Two period vectors (x, y) in image pixels and how strongly they repeat."""

    v1: tuple[float, float]
    v2: tuple[float, float]
    strength: float

    def matrix(self) -> npt.NDArray[np.float64]:
        """The 2x2 map from reference-tile pixels to image pixels."""
        return np.array([self.v1, self.v2], dtype=np.float64).T / TILE

    def describe(self) -> dict[str, float]:
        a = self.matrix()
        sx = math.hypot(a[0, 0], a[1, 0])
        sy = math.hypot(a[0, 1], a[1, 1])
        angle = math.degrees(math.atan2(a[1, 0], a[0, 0]))
        return {
            "scale_x": round(sx, 4),
            "scale_y": round(sy, 4),
            "rotation": round(angle, 2),
        }


def autocorrelation(residual: Float) -> tuple[Float, int, int]:
    """Circular autocorrelation, centred, normalised by its zero-lag value.

    Returns the map and the (cy, cx) index of zero lag.
    """
    h, w = residual.shape
    fh, fw = cv2.getOptimalDFTSize(h), cv2.getOptimalDFTSize(w)
    padded = np.zeros((fh, fw), np.float32)
    # Stripes (curtains, scan lines, resampling) put ridges along the axes,
    # right where an unrotated lattice has its peaks; a tile-periodic mark has
    # almost no row or column mean, so removing those loses nothing. The
    # taper stops the wrap-around edge from adding ridges of its own.
    flat = residual - residual.mean(axis=0, keepdims=True)
    flat -= flat.mean(axis=1, keepdims=True)
    padded[:h, :w] = flat * taper(h, w)
    spectrum = cv2.dft(padded, flags=cv2.DFT_COMPLEX_OUTPUT)
    power = spectrum[..., 0] ** 2 + spectrum[..., 1] ** 2
    power_c = np.dstack([power, np.zeros_like(power)])
    acf = cv2.idft(power_c, flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)
    acf = np.fft.fftshift(acf)
    cy, cx = fh // 2, fw // 2
    zero = float(acf[cy, cx]) or 1.0
    return (acf / zero).astype(np.float32), cy, cx


def taper(h: int, w: int, edge: int = 16) -> Float:
    """A window that is 1 inside and falls smoothly to 0 over ``edge`` pixels."""

    def ramp(n: int) -> npt.NDArray[np.float32]:
        k = min(edge, n // 4)
        out = np.ones(n, np.float32)
        if k:
            rise = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, k, dtype=np.float32))
            out[:k] = rise
            out[-k:] = rise[::-1]
        return out

    return np.outer(ramp(h), ramp(w))


def _refine_peak(
    acf: Float, cy: int, cx: int, dy: float, dx: float
) -> tuple[float, float, float] | None:
    """Sub-pixel position of the peak nearest (dy, dx): parabolic fit."""
    h, w = acf.shape
    y0, x0 = round(cy + dy), round(cx + dx)
    if not (3 <= y0 < h - 3 and 3 <= x0 < w - 3):
        return None
    win = acf[y0 - 2 : y0 + 3, x0 - 2 : x0 + 3]
    iy, ix = np.unravel_index(int(np.argmax(win)), win.shape)
    y, x = y0 - 2 + int(iy), x0 - 2 + int(ix)
    if not (1 <= y < h - 1 and 1 <= x < w - 1):
        return None

    def vertex(a: float, b: float, c: float) -> float:
        den = a - 2 * b + c
        return 0.0 if den >= 0 else 0.5 * (a - c) / den

    oy = vertex(float(acf[y - 1, x]), float(acf[y, x]), float(acf[y + 1, x]))
    ox = vertex(float(acf[y, x - 1]), float(acf[y, x]), float(acf[y, x + 1]))
    return y + oy - cy, x + ox - cx, float(acf[y, x])


def _fit(
    acf: Float,
    cy: int,
    cx: int,
    v1: npt.NDArray[np.float64],
    v2: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Least-squares refinement of the basis from many lattice points."""
    h, w = acf.shape
    reach = min(h, w) / 2 - 4
    for order in (1, 2, 4, 8):
        rows, targets = [], []
        for i, j in itertools.product(range(-order, order + 1), repeat=2):
            if (i, j) == (0, 0):
                continue
            p = i * v1 + j * v2
            if (
                abs(p[0]) > w / 2 - 4
                or abs(p[1]) > h / 2 - 4
                or math.hypot(*p) > reach * 1.4
            ):
                continue
            peak = _refine_peak(acf, cy, cx, p[1], p[0])
            if peak is None:
                continue
            rows.append((i, j))
            targets.append((peak[1], peak[0]))
        if len(rows) < 2:
            break
        m = np.array(rows, dtype=np.float64)
        t = np.array(targets, dtype=np.float64)
        sol, *_ = np.linalg.lstsq(m, t, rcond=None)
        if sol.shape != (2, 2) or not np.isfinite(sol).all():
            break
        v1, v2 = sol[0], sol[1]
    return v1, v2


def _oriented(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Pick signs and order: v1 nearest the +x axis, v2 nearest +y."""
    options = [a, -a, b, -b]
    v1 = max(options, key=lambda v: v[0] / (math.hypot(*v) or 1))
    rest = [v for v in options if not (np.allclose(v, v1) or np.allclose(v, -v1))]
    v2 = max(rest, key=lambda v: v[1] / (math.hypot(*v) or 1))
    return v1, v2


def _peakiness(acf: Float) -> Float:
    """The autocorrelation minus its local floor and any ridge through a point.

    Subtracting the larger of a row-wise and a column-wise average removes
    straight ridges (content stripes) while a lattice peak, a point, keeps
    almost all of its height. The 3x3 maximum tolerates a pixel of error.
    """
    along_x = cv2.blur(acf, (21, 1))
    along_y = cv2.blur(acf, (1, 21))
    peaky = acf - np.maximum(along_x, along_y)
    return np.asarray(cv2.dilate(peaky, np.ones((3, 3), np.uint8)), np.float32)


def _comb_scores(
    peaky: Float,
    cy: int,
    cx: int,
    lengths: npt.NDArray[np.float64],
    angles: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Mean peakiness at the multiples k * (length, angle), k = 1..8, in range."""
    h, w = peaky.shape
    k = np.arange(1, 9, dtype=np.float64)
    l3 = lengths[:, None, None] * k[None, None, :]
    a3 = angles[None, :, None]
    x = cx + l3 * np.cos(a3)
    y = cy + l3 * np.sin(a3)
    valid = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    xi = np.clip(np.rint(x), 0, w - 1).astype(np.intp)
    yi = np.clip(np.rint(y), 0, h - 1).astype(np.intp)
    values = np.where(valid, peaky[yi, xi], 0.0)
    count = valid.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = values.sum(axis=2) / count
    return np.where(count >= 1, score, -np.inf)


def _axis_candidates(
    peaky: Float, cy: int, cx: int, base_angle: float, keep: int = 4
) -> list[npt.NDArray[np.float64]]:
    h, w = peaky.shape
    extent = (w if abs(math.cos(base_angle)) > 0.5 else h) / 2 - 2
    lo = TILE * MIN_SCALE * 0.9
    hi = min(TILE * MAX_SCALE * 1.1, extent)
    if hi <= lo:
        return []
    lengths = np.exp(np.arange(math.log(lo), math.log(hi), 0.004))
    angles = np.radians(np.arange(-8.0, 8.01, 0.25)) + base_angle
    scores = _comb_scores(peaky, cy, cx, lengths, angles)
    out: list[npt.NDArray[np.float64]] = []
    # Plain rescaling, by far the commonest edit, leaves the axes where they
    # were; in a small image the best-scoring angle is often noise, so the
    # best period on the axis itself always competes.
    centre = int(np.argmin(np.abs(angles - base_angle)))
    on_axis = scores[:, centre]
    if np.isfinite(on_axis).any():
        length = lengths[int(np.argmax(on_axis))]
        out.append(length * np.array([math.cos(base_angle), math.sin(base_angle)]))
    flat = np.argsort(scores, axis=None)[::-1]
    for index in flat[: keep * 50]:
        li, ai = np.unravel_index(int(index), scores.shape)
        if not np.isfinite(scores[li, ai]):
            break
        vec = lengths[li] * np.array([math.cos(angles[ai]), math.sin(angles[ai])])
        if any(np.linalg.norm(vec - o) < 4 for o in out):
            continue
        out.append(vec)
        # Shorter harmonics of a strong candidate are candidates too.
        for div in (2, 3):
            if np.linalg.norm(vec) / div >= lo:
                out.append(vec / div)
        if len(out) >= keep * 3:
            break
    return out


def _joint_score(
    peaky: Float,
    cy: int,
    cx: int,
    v1: npt.NDArray[np.float64],
    v2: npt.NDArray[np.float64],
    reach: float,
) -> float:
    h, w = peaky.shape
    values = []
    for i, j in itertools.product(range(-3, 4), repeat=2):
        if (i, j) == (0, 0):
            continue
        p = i * v1 + j * v2
        if math.hypot(*p) > reach:
            continue
        x, y = round(cx + p[0]), round(cy + p[1])
        if 0 <= x < w and 0 <= y < h:
            values.append(float(peaky[y, x]))
    return float(np.mean(values)) if len(values) >= 3 else -math.inf


def find_lattices(residual: Float, limit: int = 3) -> list[Lattice]:
    """Candidate tile lattices in a residual image, strongest first.

    Each axis is searched on its own with a comb (the mean of the
    autocorrelation at every multiple of a candidate period vector); the best
    axis pairs are then scored on the whole lattice, diagonals included, which
    content stripes cannot fake, and refined by least squares.
    """
    acf, cy, cx = autocorrelation(residual)
    h, w = residual.shape
    reach = float(max(h, w))
    peaky = _peakiness(acf)
    spread = float(np.std(peaky)) or 1e-9
    horizontal = _axis_candidates(peaky, cy, cx, 0.0)
    vertical = _axis_candidates(peaky, cy, cx, math.pi / 2)
    scored: list[tuple[float, npt.NDArray[np.float64], npt.NDArray[np.float64]]] = []
    for a in horizontal:
        for b in vertical:
            if not _similar_lengths(a, b):
                continue
            scored.append((_joint_score(peaky, cy, cx, a, b, reach) / spread, a, b))
    scored.sort(key=lambda item: item[0], reverse=True)

    def lattice_of(
        a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], strength: float
    ) -> Lattice:
        a, b = _shortest(peaky, cy, cx, a, b, reach, strength * spread)
        v1, v2 = _oriented(a, b)
        f1, f2 = _fit(acf, cy, cx, v1, v2)
        if _plausible(f1, f2):
            v1, v2 = _oriented(f1, f2)
        return Lattice(
            (float(v1[0]), float(v1[1])), (float(v2[0]), float(v2[1])), strength
        )

    lattices: list[Lattice] = []
    for strength, a, b in scored:
        if not math.isfinite(strength) or len(lattices) >= limit:
            break
        candidate = lattice_of(a, b, strength)
        if not any(_same(candidate, other) for other in lattices):
            lattices.append(candidate)
    # The unrotated pair always gets the second try (see _axis_candidates).
    if horizontal and vertical:
        a, b = horizontal[0], vertical[0]
        strength = _joint_score(peaky, cy, cx, a, b, reach) / spread
        if math.isfinite(strength) and _similar_lengths(a, b):
            candidate = lattice_of(a, b, strength)
            if not any(_same(candidate, other) for other in lattices):
                lattices.insert(min(1, len(lattices)), candidate)
    return lattices[:limit]


def _similar_lengths(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> bool:
    """Tile edges within 25% of each other: the aspect changes we undo."""
    return 0.8 <= math.hypot(*a) / math.hypot(*b) <= 1.25


def _shortest(
    peaky: Float,
    cy: int,
    cx: int,
    a: npt.NDArray[np.float64],
    b: npt.NDArray[np.float64],
    reach: float,
    score: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The finest lattice that explains the peaks as well as ``(a, b)`` does.

    Every other peak of the true lattice is also a lattice, with the same
    mean peakiness, so a comb can lock onto twice the period. Halving an axis
    of the true lattice puts three quarters of its points between peaks and
    drops the score far below; halving a doubled one keeps it.
    """
    lo = TILE * MIN_SCALE * 0.9
    for _ in range(2):
        options = [(a / 2, b), (a, b / 2), (a / 2, b / 2)]
        best = None
        for na, nb in options:
            if min(math.hypot(*na), math.hypot(*nb)) < lo:
                continue
            if not _similar_lengths(na, nb):
                continue
            value = _joint_score(peaky, cy, cx, na, nb, reach)
            if value >= 0.6 * score and (best is None or value > best[0]):
                best = (value, na, nb)
        if best is None:
            break
        _, a, b = best
    return a, b


def _plausible(v1: npt.NDArray[np.float64], v2: npt.NDArray[np.float64]) -> bool:
    """A refined basis is kept only if it is still a tile we could have made."""
    l1, l2 = math.hypot(*v1), math.hypot(*v2)
    if not (
        min(l1, l2) >= TILE * MIN_SCALE * 0.9 and max(l1, l2) <= TILE * MAX_SCALE * 1.1
    ):
        return False
    return abs(float(v1 @ v2)) / (l1 * l2) <= 0.3


def _same(a: Lattice, b: Lattice) -> bool:
    return bool(np.allclose(a.matrix(), b.matrix(), atol=0.02))
