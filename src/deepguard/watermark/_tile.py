"""The keyed tile behind deepguard's image and video marks.

Why a tile: the mark repeats with a fixed period, so a detector can fold any
crop of any size back onto one period (every repetition adds signal) and can
read the period itself from the image's autocorrelation to undo rescaling,
aspect changes and rotation. The tile is a grid of chips, each a smooth
``CHIP``-pixel blob of sign +1 or -1:

* sync chips have keyed signs; correlating the folded image against them finds
  the offset of a crop and measures whether the mark is there at all;
* data chips carry the coded payload: each coded bit is spread over several
  chips at keyed positions, multiplied by keyed signs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

from deepguard.watermark.base import WatermarkKey
from deepguard.watermark.ecc import BchCode

__all__ = [
    "CHIP",
    "GRID",
    "TILE",
    "TileLayout",
    "chip_sums",
    "layout_for",
    "payload_code",
]

CHIP = 4
"""Chip size in pixels at the reference scale."""
GRID = 32
"""Chips per tile side."""
TILE = CHIP * GRID
"""Tile period in pixels at the reference scale."""
SYNC_CHIPS = 384

Float = npt.NDArray[np.float32]


def chip_sums(folded: Float) -> Float:
    """An aligned, folded tile (TILE x TILE) reduced to one value per chip."""
    return np.asarray(folded.reshape(GRID, CHIP, GRID, CHIP).sum(axis=(1, 3)))


@lru_cache(maxsize=1)
def payload_code() -> BchCode:
    """BCH(120, 64), t = 8: 64 payload bits and 56 parity bits per tile.

    Decoded with order-2 ordered statistics when BCH and Chase fail: a weak
    mark's wrong bits are mostly its unsure ones, and on a 60-image attack
    set this decodes a third of the words with 10 to 20 errors.
    """
    return BchCode(data_bits=64, t=8, m=7, osd_order=2)


def _render(grid: npt.NDArray[np.float32]) -> Float:
    """Chips to a periodic pixel tile: blocks smoothed so no edge is sharp.

    Smoothing keeps the mark's energy at the frequencies that survive JPEG and
    downscaling, and avoids visible block edges.
    """
    blocks = np.kron(grid, np.ones((CHIP, CHIP), dtype=np.float32))
    pad = CHIP * 2
    wrapped = np.pad(blocks, pad, mode="wrap")
    smooth = cv2.GaussianBlur(wrapped, (0, 0), sigmaX=CHIP * 0.3)
    return np.ascontiguousarray(smooth[pad:-pad, pad:-pad], dtype=np.float32)


@dataclass(frozen=True)
class TileLayout:
    """Where the sync and data chips of one key sit, and their signs.

    Attributes:
        sync_grid: GRID x GRID, the sync chips' signs, 0 on data chips.
        sync_tile: ``sync_grid`` rendered to TILE x TILE pixels.
        data_index: GRID x GRID, the coded bit each data chip carries, -1 on
            sync chips.
        data_sign: GRID x GRID, the keyed sign of each data chip.
    """

    sync_grid: npt.NDArray[np.float32]
    sync_tile: Float
    data_index: npt.NDArray[np.int32]
    data_sign: npt.NDArray[np.float32]
    coded_bits: int

    def chip_grid(self, coded: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """The full chip grid (sync and data) for one coded word."""
        grid = self.sync_grid.copy()
        data = self.data_index >= 0
        symbols = coded.astype(np.float32) * 2 - 1
        grid[data] = symbols[self.data_index[data]] * self.data_sign[data]
        return grid

    def tile(
        self,
        coded: npt.NDArray[np.uint8],
        weights: npt.NDArray[np.float64] | None = None,
    ) -> Float:
        """The pixel tile for one coded word, scaled to unit RMS.

        ``weights`` (GRID x GRID) scales each chip's amplitude; see ``_informed``.
        """
        grid = self.chip_grid(coded)
        if weights is not None:
            grid = (grid * weights).astype(np.float32)
        tile = _render(grid)
        scale = float(np.sqrt(np.mean(tile**2)))
        return np.asarray(tile / scale, dtype=np.float32)

    def soft_bits(
        self, chip_values: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Per coded bit: summed soft value and its noise standard deviation.

        ``chip_values`` is the aligned, folded image reduced to one value per
        chip. The noise is measured on the sync chips, whose signs are known.
        """
        sync = self.sync_grid != 0
        projected = chip_values[sync] * self.sync_grid[sync]
        amplitude = float(np.mean(projected))
        noise = float(np.std(projected - amplitude)) or 1e-9
        data = self.data_index >= 0
        contributions = chip_values[data] * self.data_sign[data]
        soft = np.bincount(
            self.data_index[data], weights=contributions, minlength=self.coded_bits
        )
        counts = np.bincount(self.data_index[data], minlength=self.coded_bits)
        spread = noise * np.sqrt(np.maximum(counts, 1).astype(np.float64))
        return np.asarray(soft, dtype=np.float64), spread

    def wrong_bits(self, chip_values: Float, coded: npt.NDArray[np.uint8]) -> int:
        """How many coded bits an aligned read gets wrong, before correction."""
        soft, _ = self.soft_bits(chip_values)
        return int(np.count_nonzero((soft > 0) != coded.astype(bool)))


@lru_cache(maxsize=8)
def layout_for(key: WatermarkKey) -> TileLayout:
    """The layout a key defines; cached, as it is the same for every image."""
    rng = key.rng("image-tile-layout")
    coded_bits = payload_code().coded_bits
    order = rng.permutation(GRID * GRID)
    sync_cells = order[:SYNC_CHIPS]
    data_cells = order[SYNC_CHIPS:]
    sync_grid = np.zeros(GRID * GRID, dtype=np.float32)
    sync_grid[sync_cells] = rng.choice(np.array([-1.0, 1.0], np.float32), SYNC_CHIPS)
    data_index = np.full(GRID * GRID, -1, dtype=np.int32)
    # Round-robin over a shuffled cell order: every bit gets the same number of
    # chips (give or take one), scattered over the tile.
    data_index[data_cells] = np.arange(data_cells.size) % coded_bits
    data_sign = rng.choice(np.array([-1.0, 1.0], np.float32), GRID * GRID)
    sync = sync_grid.reshape(GRID, GRID)
    return TileLayout(
        sync_grid=sync,
        sync_tile=_render(sync),
        data_index=data_index.reshape(GRID, GRID),
        data_sign=data_sign.reshape(GRID, GRID),
        coded_bits=coded_bits,
    )
