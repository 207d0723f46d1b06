"""Informed embedding: spend the mark's energy where the host works against it.

Why: on an unattacked or lightly attacked image the main noise on every
decoded bit is not the attack but the picture itself. The detector sums the
residual over each bit's chips, and the picture's own residual adds a random
amount there that can outweigh the mark (a textured 400 px photo reads its
sync at z 10 and still loses a dozen of its 120 coded bits). That amount is
known at embedding time: run the detector's front end on the unmarked image
and on a first marked copy, and for every coded bit read how much the host
contributes (``host``) and how much a unit of the mark adds (``gain``).

The energy budget (the PSNR) stays the same; it is redistributed between bits
by water-filling: each bit gets the weight that lifts its margin
``host + weight * gain`` to a common level ``T``, within ``[W_MIN, W_MAX]``,
and ``T`` is the highest level the budget allows. Bits the host already
favours keep ``W_MIN`` of their energy, so they survive attacks that change
the host's contribution (crops, rescaling). This is improved spread spectrum
(Malvar and Florencio, 2003) with the detector's own, nonlinear front end
measured instead of assumed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from deepguard.watermark._tile import GRID, TileLayout

__all__ = [
    "FLOOR",
    "MAX_SACRIFICED",
    "W_MAX",
    "W_MIN",
    "water_fill",
]

Float = npt.NDArray[np.float32]
Floats = npt.NDArray[np.float64]

W_MIN = 0.5
"""No bit drops below half its energy: the host's help is not guaranteed to
survive an attack."""
FLOOR = 1.0
"""The per-bit margin, in noise deviations, below which bits are given up."""
MAX_SACRIFICED = 4
W_MAX = 3.0
"""No bit takes more than three times its share: beyond that its chips start
to show as a pattern."""


def water_fill(
    layout: TileLayout,
    signs: Floats,
    host: Float,
    marked: Float,
    energy: Float,
) -> Floats:
    """Chip weights (GRID x GRID, 1 on sync chips) lifting all data bits alike.

    Every data bit's margin is raised to the highest common level the budget
    allows.

    Args:
        layout: the key's tile layout.
        signs: GRID x GRID, the sign each chip was embedded with (sync and data).
        host: per-chip detector values of the unmarked image.
        marked: per-chip detector values after the uniform (weight 1) mark.
        energy: per-chip energy of that uniform mark, in luma units squared.

    When the budget cannot lift every bit to ``FLOOR`` noise deviations, the
    bits that cost the most are given up one at a time (up to
    ``MAX_SACRIFICED``, well within what the code corrects): rescuing one
    hopeless bit would otherwise leave all the others just below zero.
    """
    host64 = host.astype(np.float64)
    marked64 = marked.astype(np.float64)
    data = layout.data_index >= 0
    index = layout.data_index[data]
    bits = layout.coded_bits

    def per_bit(values: Floats) -> Floats:
        return np.asarray(
            np.bincount(index, weights=values[data], minlength=bits), np.float64
        )

    sync = layout.sync_grid != 0
    values = marked64[sync] * layout.sync_grid[sync]
    noise = float(np.std(values)) or 1e-9
    counts = np.maximum(np.bincount(index, minlength=bits), 1).astype(np.float64)
    host_bit = per_bit(host64 * signs)
    gain_bit = per_bit((marked64 - host64) * signs)
    energy_bit = per_bit(energy.astype(np.float64))
    budget = float(energy_bit.sum())
    floor = FLOOR * noise * float(np.sqrt(counts.mean()))
    active = gain_bit > 1e-9

    def weights(level: float) -> Floats:
        w = np.full(bits, W_MIN)
        w[active] = (level - host_bit[active]) / gain_bit[active]
        return np.asarray(np.clip(w, W_MIN, W_MAX), dtype=np.float64)

    def spent(level: float) -> float:
        return float(np.sum(weights(level) ** 2 * energy_bit))

    lo = float((host_bit + gain_bit).min())
    hi = float(np.max(host_bit + W_MAX * np.maximum(gain_bit, 0.0)))
    if spent(lo) > budget:  # W_MIN alone overspends: keep the uniform mark
        return np.ones((GRID, GRID))
    for _ in range(MAX_SACRIFICED + 1):
        level = _bisect(lambda t: spent(t) - budget, lo, max(hi, lo))
        if level >= floor or not active.any():
            break
        # Give up the bit that is furthest from the level at full weight.
        reach = np.where(active, host_bit + W_MAX * gain_bit, np.inf)
        active[int(np.argmin(reach))] = False
    w = weights(level)
    chips = np.ones((GRID, GRID))
    chips[data] = w[index]
    return chips


def _bisect(f: Callable[[float], float], lo: float, hi: float) -> float:
    """The largest ``x`` in ``[lo, hi]`` with ``f(x) <= 0`` (``f`` increasing)."""
    if f(hi) <= 0:
        return hi
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if f(mid) <= 0:
            lo = mid
        else:
            hi = mid
    return lo
