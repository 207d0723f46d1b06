"""Embedding the audio mark: informed gains per tile, streamed in chunks.

For each column the embedder knows the programme, so it does not add a fixed
pattern (which the programme itself would drown: tile energies of speech swing
by a factor of ten between neighbours). It measures each group's value and
moves it to the nearest lattice point of its bit, at most half a step away,
spending the change on the tiles that carry energy. The change is a gain on
the tile, so the mark follows the programme's loudness: quiet passages get a
quieter mark and digital silence gets none.

The measured effect of a gain is not exactly the gain (neighbouring tiles
leak into each other, and the detector weights a tile's centre most), so the
embedder measures again after applying the gains and corrects, a few times,
learning each tile's response as it goes (a secant step).

Long programmes stream: chunks of 96 columns (18.4 s) are marked one at a
time, each with 0.75 s of the neighbouring audio around it, so that the tiles
near a chunk's edge see the same surroundings as in one pass over the file.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from deepguard.watermark._audio_dsp import (
    RATE,
    TILE,
    apply_gains,
    resample,
    tile_energies_at,
    tile_features,
)
from deepguard.watermark._audio_layout import (
    BANDS,
    BLOCK_COLUMNS,
    COLUMN_TILES,
    GROUP_TILES,
    STEP,
    AudioLayout,
)

__all__ = ["CHUNK_COLUMNS", "MarkStream", "column_gains"]

Array = npt.NDArray[np.float64]

CHUNK_COLUMNS = 96
_CONTEXT_S = 0.75
_ITERATIONS = 5
_FIRST_RESPONSE = 1.8  # measured tile change per unit gain (sin² shaping)
_MAX_STEP = 0.5  # most a tile's gain moves in one iteration (log energy)
_MAX_GAIN = 0.6  # most a tile's gain moves in all (log energy: +-2.6 dB)
_CARRY_LIVE = 0.2  # a column whose tiles are this live carries the mark


@dataclass(frozen=True, slots=True)
class ColumnGains:
    """Gains for a stretch of 16 kHz audio that starts on a column boundary."""

    gains: Array  # (tiles, bands), log energy
    carried: npt.NDArray[np.bool_]  # (columns,): the column carries the mark


def column_gains(
    x16: Array,
    first_column: int,
    targets: npt.NDArray[np.int64],
    layout: AudioLayout,
) -> ColumnGains:
    """Gains that put every group of ``x16``'s whole columns on its lattice.

    ``x16`` is mono at 16 kHz starting at global column ``first_column``;
    ``targets`` comes from :meth:`AudioLayout.group_targets`.
    """
    tiles = x16.size // TILE
    columns = tiles // COLUMN_TILES
    gains = np.zeros((tiles, BANDS))
    if columns == 0:
        return ColumnGains(gains, np.zeros(0, dtype=np.bool_))
    block = (first_column + np.arange(columns)) % BLOCK_COLUMNS
    signs = layout.signs[block]  # (columns, groups, tiles in a column)
    members = np.abs(signs)
    offsets = layout.dither[block] + targets[block] * (STEP / 2)
    width = COLUMN_TILES * BANDS
    used = columns * COLUMN_TILES
    marked = x16
    carried = np.zeros(columns, dtype=np.bool_)
    response: Array | None = None
    last_values: Array | None = None
    last_step: Array | None = None
    for iteration in range(_ITERATIONS):
        features, live = tile_features(tile_energies_at(marked))
        values = features[:used].reshape(columns, width)
        whole = np.logical_not(np.isnan(values).any(axis=1))
        values = np.where(np.isnan(values), 0.0, values)
        if response is None:
            trust = live[:used].reshape(columns, width)
            carried = trust.mean(axis=1) >= _CARRY_LIVE
            response = _FIRST_RESPONSE * np.clip(trust, 0.05, 1.0)
        elif last_values is not None and last_step is not None:
            moved = np.abs(last_step) > 1e-3
            slope = (values - last_values) / np.where(moved, last_step, 1.0)
            response = np.where(
                moved, np.clip(0.5 * response + 0.5 * slope, 0.05, 2.5), response
            )
        group_values = np.einsum("ct,cjt->cj", values, signs) / GROUP_TILES
        if iteration == 0:
            # The lattice point nearest the programme's own value: at most
            # half a step away, whatever the programme.
            goal = np.round((group_values - offsets) / STEP) * STEP + offsets
        needed = np.where(whole[:, None], goal - group_values, 0.0)
        # Least-squares split of each group's change over its tiles, in
        # proportion to how much each tile responds.
        spread = np.einsum("ct,cjt->cj", response**2, members)
        scale = needed * GROUP_TILES / np.maximum(spread, 1e-6)
        step = np.einsum("cj,cjt->ct", scale, signs) * response
        step = np.clip(np.nan_to_num(step), -_MAX_STEP, _MAX_STEP)
        flat = gains[:used].reshape(columns, width)
        updated = np.clip(flat + step, -_MAX_GAIN, _MAX_GAIN)
        last_step = updated - flat
        last_values = values
        gains[:used] = updated.reshape(used, BANDS)
        marked = x16 + apply_gains(x16, RATE, gains)
    return ColumnGains(gains, carried & whole)


class MarkStream:
    """Marks native-rate audio chunk by chunk; memory stays at one chunk.

    Feed ``(channels, n)`` float32 chunks of any size with :meth:`feed`, then
    call :meth:`finish`; both return the marked audio that is ready, in
    order, with the same total length as the input.
    """

    def __init__(
        self,
        rate: int,
        channels: int,
        layout: AudioLayout,
        payload_bits: npt.ArrayLike,
    ) -> None:
        self.rate = rate
        self.channels = channels
        self._layout = layout
        self._targets = layout.group_targets(payload_bits)
        self._context = round(_CONTEXT_S * rate)
        self._buffer = np.zeros((channels, 0), dtype=np.float32)
        self._buffer_start = 0  # global index of the buffer's first sample
        self._received = 0
        self._chunk = 0  # next core chunk to mark
        self.carried_columns = 0
        self.columns = 0

    def _core_start(self, k: int) -> int:
        return round(k * CHUNK_COLUMNS * COLUMN_TILES * TILE * self.rate / RATE)

    def feed(self, chunk: npt.NDArray[np.float32]) -> Iterator[npt.NDArray[np.float32]]:
        self._buffer = np.concatenate([self._buffer, chunk.astype(np.float32)], axis=1)
        self._received += chunk.shape[1]
        while self._received >= self._core_start(self._chunk + 1) + self._context:
            yield self._mark_core(self._received)

    def finish(self) -> Iterator[npt.NDArray[np.float32]]:
        while self._core_start(self._chunk) < self._received:
            yield self._mark_core(self._received)

    def _mark_core(self, available: int) -> npt.NDArray[np.float32]:
        lo = self._core_start(self._chunk)
        hi = min(self._core_start(self._chunk + 1), available)
        a = max(0, lo - self._context)
        b = min(available, hi + self._context)
        window = self._buffer[:, a - self._buffer_start : b - self._buffer_start]
        x: Array = window.astype(np.float64).T  # (n, channels)
        t_a = a * RATE / self.rate
        column = COLUMN_TILES * TILE
        first_column = math.ceil(t_a / column - 1e-9)
        start = first_column * column - t_a
        x16 = resample(x.mean(axis=1), self.rate, RATE, start)
        found = column_gains(x16, first_column, self._targets, self._layout)
        delta = apply_gains(x, self.rate, found.gains, origin16=-start)
        core = x[lo - a : hi - a] + delta[lo - a : hi - a]
        self._count(found, first_column, lo, hi)
        self._chunk += 1
        keep_from = max(0, self._core_start(self._chunk) - self._context)
        drop = keep_from - self._buffer_start
        if drop > 0:
            self._buffer = self._buffer[:, drop:]
            self._buffer_start = keep_from
        marked: npt.NDArray[np.float32] = np.clip(core.T, -1.0, 1.0).astype(np.float32)
        return marked

    def _count(self, found: ColumnGains, first_column: int, lo: int, hi: int) -> None:
        """Columns that start inside this chunk's core, and how many carry."""
        column_s = COLUMN_TILES * TILE / RATE
        starts = (first_column + np.arange(found.carried.size)) * column_s
        mine = (starts >= lo / self.rate) & (starts < hi / self.rate)
        self.columns += int(mine.sum())
        self.carried_columns += int((found.carried & mine).sum())
