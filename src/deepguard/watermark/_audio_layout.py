"""Where the audio mark puts each bit: the keyed layout of one block.

A block is :data:`BLOCK_COLUMNS` columns of :data:`COLUMN_TILES` tiles in time
(192 ms each, 4.6 s in all) by the 14 bands. It repeats end to end through the
whole programme, so any 5-second fragment holds one complete copy.

Each column's 42 tiles are split, by the key, into groups of
:data:`GROUP_TILES`; a group's value is a balanced projection of its tiles'
log energies (three with sign +1, three with -1), which a change of volume
leaves alone. Every group carries one coded bit by quantization index
modulation: the embedder moves the value onto the lattice
``dither + bit * STEP / 2 + STEP * Z``. Why groups inside one column: a
fragment that starts mid-block sees the end of one copy of the block and the
start of the next, and only groups that lie wholly in one column are always
seen whole. Each coded bit rides on two or three groups in different columns,
so a pause in the programme costs a few votes, never a bit.

The key draws the groups, signs, dithers and the bit of each group, so
without it the groups cannot be found, let alone read or rewritten.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from deepguard.watermark._audio_dsp import BAND_EDGES_HZ
from deepguard.watermark.base import WatermarkKey
from deepguard.watermark.ecc import BchCode

__all__ = [
    "BLOCK_COLUMNS",
    "COLUMN_TILES",
    "GROUP_TILES",
    "PAYLOAD_BITS",
    "STEP",
    "AudioLayout",
]

Array = npt.NDArray[np.float64]

COLUMN_TILES = 3
BLOCK_COLUMNS = 24
GROUP_TILES = 6
STEP = 0.25
"""Lattice step of the group values, in log-energy units (nepers)."""
PAYLOAD_BITS = 32
"""The short payload (:meth:`Payload.short`): a 5-second fragment carries it.

Why not all 64 bits: a block has 168 groups, so 64 bits would leave under two
groups per coded bit, and the detector pays for every payload it could read
(``64 * ln 2`` in the log p-value): it would need a z-score of about 12.6
where 5-second fragments of speech reach 10 to 15."""
_BCH_T = 5
_BCH_M = 6
BANDS = len(BAND_EDGES_HZ) - 1


@dataclass(frozen=True, slots=True, eq=False)
class AudioLayout:
    """The keyed tables that place the mark; build with :meth:`for_key`.

    Attributes:
        code: the BCH code protecting the 32 payload bits.
        signs: ``(columns, groups, tiles)``: +1/-1 for a group's tiles, else 0;
            tiles of a column are numbered ``tile * BANDS + band``.
        bits: ``(columns, groups)``: which coded bit each group carries.
        dither: ``(columns, groups)``: each group's lattice offset in
            ``[0, STEP)``.
    """

    code: BchCode
    signs: Array
    bits: npt.NDArray[np.int64]
    dither: Array

    @property
    def groups_per_column(self) -> int:
        return int(self.signs.shape[1])

    @classmethod
    def for_key(cls, key: WatermarkKey) -> AudioLayout:
        return _layout(key.secret)

    def group_targets(self, payload_bits: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The coded bit each group must carry, ``(columns, groups)``."""
        coded = self.code.encode(payload_bits).astype(np.int64)
        return coded[self.bits]


@functools.lru_cache(maxsize=8)
def _layout(secret: bytes) -> AudioLayout:
    rng = WatermarkKey(secret).rng("audio-mark/layout/v1")
    code = BchCode(PAYLOAD_BITS, _BCH_T, m=_BCH_M)
    tiles = COLUMN_TILES * BANDS
    groups = tiles // GROUP_TILES
    signs = np.zeros((BLOCK_COLUMNS, groups, tiles))
    pattern = np.array([1.0, -1.0] * (GROUP_TILES // 2))
    for column in range(BLOCK_COLUMNS):
        order = rng.permutation(tiles)
        for group in range(groups):
            members = order[group * GROUP_TILES : (group + 1) * GROUP_TILES]
            signs[column, group, members] = rng.permutation(pattern)
    bits = _spread_bits(rng, code.coded_bits, groups)
    dither = rng.uniform(0.0, STEP, size=(BLOCK_COLUMNS, groups))
    return AudioLayout(code=code, signs=signs, bits=bits, dither=dither)


def _spread_bits(
    rng: np.random.Generator, coded_bits: int, groups: int
) -> npt.NDArray[np.int64]:
    """Coded bit per group: every bit on 2-3 groups, never twice in a column.

    Copies of a bit in one column would fall silent together in a pause.
    """
    total = BLOCK_COLUMNS * groups
    copies = np.full(coded_bits, total // coded_bits)
    copies[rng.permutation(coded_bits)[: total % coded_bits]] += 1
    table = np.empty((BLOCK_COLUMNS, groups), dtype=np.int64)
    for column in range(BLOCK_COLUMNS):
        # The bits with the most copies left go first (ties broken by the
        # key), which always leaves enough distinct bits for later columns.
        order = np.lexsort((rng.random(coded_bits), -copies))
        chosen = order[:groups]
        copies[chosen] -= 1
        table[column] = rng.permutation(chosen)
    return table
