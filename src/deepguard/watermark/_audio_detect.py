"""Finding and reading the audio mark in a window of 16 kHz mono audio.

The detector does not know where the block starts, so it tries every start:
a coarse grid of 32 tile offsets (every 2 ms) times every column phase and
every block rotation, ranks them with a statistic that needs no payload, and
refines the best few on an 0.5 ms grid. Why so fine: a group's value is read
to a few hundredths of a lattice step, and half a millisecond of
misalignment already costs that much in speech.

What it measures at a candidate start, per group: the phasor
``w * exp(2j*pi*(value - dither) / STEP)`` summed over every copy of the group
in the window, where ``w`` is how much the group's tiles can be trusted.
Its real part votes for the group's bit (negative: 1), its length says how
much it can weigh.

Why the p-value is honest. Without the mark, the dither makes each group's
lattice phase uniform and independent of everything else, so for any fixed
codeword ``c`` the score ``S(c) = sum of the votes agreeing with c`` is a sum
of independent terms ``A_g cos(uniform)``, each sub-Gaussian with variance
proxy ``A_g**2 / 2`` (``E exp(t cos U) = I0(t) <= exp(t**2 / 4)``). So
``P(S(c) >= z * sigma) <= exp(-z**2 / 2)``. The detector picks ``c`` from the
data (the BCH decoding of the votes), so it pays for every codeword it could
have picked, 2**32, and for every start it tried: the reported p-value is a
union bound over both, never a fit to the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from deepguard.watermark._audio_dsp import (
    FINE_HOP,
    RATE,
    TILE,
    fine_band_energies,
    tile_energies,
    tile_features,
)
from deepguard.watermark._audio_layout import (
    BANDS,
    BLOCK_COLUMNS,
    COLUMN_TILES,
    GROUP_TILES,
    PAYLOAD_BITS,
    STEP,
    AudioLayout,
)

__all__ = ["Finding", "search"]

Array = npt.NDArray[np.float64]
Complex = npt.NDArray[np.complex128]

_COARSE = 32  # samples between coarse tile offsets
_REFINE = 24  # refine +- this many samples around the best coarse offsets
_KEEP = 3  # coarse candidates refined, and refined candidates decoded
_LOG_CODEWORDS = PAYLOAD_BITS * math.log(2.0)
_MAX_LLR = 40.0


@dataclass(frozen=True, slots=True)
class Finding:
    """The best reading of one window.

    Attributes:
        log_tail: log of the bound on the chance that unmarked audio scores
            this high at one start, codewords paid for.
        z: the score in units of its null standard deviation.
        z_ceiling: the z a perfectly preserved mark would reach here; when even
            that cannot pass the threshold, the window cannot decide.
        bits: decoded payload bits (32).
        raw: hard decisions of every coded bit, before error correction.
        decoded: the BCH decoder accepted the received word.
        corrected: coded bits it corrected.
        llr: per payload bit, the evidence for the decoded value (log odds).
        block_offset_s: where a block starts in the window.
        trials: starts tried.
    """

    log_tail: float
    z: float
    z_ceiling: float
    bits: npt.NDArray[np.uint8]
    raw: npt.NDArray[np.uint8]
    decoded: bool
    corrected: int
    llr: Array
    block_offset_s: float
    trials: int


@dataclass(frozen=True, slots=True)
class _Candidate:
    rank: float
    offset: int  # tile offset in samples
    phase: int  # which tile starts a column
    rotation: int  # block column of the window's first column
    phasors: Complex  # (block columns, groups)


def search(x16: Array, layout: AudioLayout) -> Finding | None:
    """The best reading of ``x16`` (mono, 16 kHz), or None without a full column."""
    fine = fine_band_energies(x16)
    kept: list[_Candidate] = []
    trials = 0
    for offset in range(0, TILE, _COARSE):
        found, tried = _candidates(fine, offset, layout)
        kept = _best(kept + found)
        trials += tried
    refined = list(kept)
    for cand in kept:
        for delta in range(-_REFINE, _REFINE + 1, FINE_HOP):
            if delta:
                found, tried = _candidates(fine, (cand.offset + delta) % TILE, layout)
                refined = _best(refined + found)
                trials += tried
    if not refined:
        return None
    readings = [_read(cand, layout, trials) for cand in refined]
    return max(readings, key=lambda f: f.z - f.z_ceiling * 1e-9)


def _best(cands: list[_Candidate]) -> list[_Candidate]:
    return sorted(cands, key=lambda c: -c.rank)[:_KEEP]


def _candidates(
    fine: Array, offset: int, layout: AudioLayout
) -> tuple[list[_Candidate], int]:
    """The best rotations for each column phase at one tile offset."""
    features, live = tile_features(tile_energies(fine, offset))
    width = COLUMN_TILES * BANDS
    out: list[_Candidate] = []
    tried = 0
    for phase in range(COLUMN_TILES):
        columns = (features.shape[0] - phase) // COLUMN_TILES
        if columns <= 0:
            continue
        rows = slice(phase, phase + columns * COLUMN_TILES)
        values = features[rows].reshape(columns, width)
        trust = live[rows].reshape(columns, width)
        whole = np.logical_not(np.isnan(values).any(axis=1))
        values = np.where(np.isnan(values), 0.0, values)
        group_values = np.einsum("ct,ujt->cuj", values, layout.signs) / GROUP_TILES
        # A group weighs as much as its tiles can be trusted, on average.
        weight = np.einsum("ct,ujt->cuj", trust, np.abs(layout.signs))
        weight = weight / GROUP_TILES * whole[:, None, None]
        phasors = weight * np.exp(
            2j * np.pi * (group_values - layout.dither[None]) / STEP
        )
        gathered = _rotations(phasors)
        rank = np.sum(
            np.abs(gathered.real) - (2 / np.pi) * np.abs(gathered), axis=(1, 2)
        )
        tried += BLOCK_COLUMNS
        for rotation in np.argsort(rank)[-_KEEP:]:
            r = int(rotation)
            out.append(_Candidate(float(rank[r]), offset, phase, r, gathered[r]))
    return out, tried


def _rotations(phasors: Complex) -> Complex:
    """Per rotation, the phasors of each block column's groups summed over copies.

    ``phasors[c, u, j]`` reads window column ``c`` as block column ``u``; at
    rotation ``s`` window column ``c`` is block column ``(c + s) % 24``.
    """
    columns = phasors.shape[0]
    c = np.arange(columns)
    out = np.zeros((BLOCK_COLUMNS, BLOCK_COLUMNS, phasors.shape[2]), np.complex128)
    for s in range(BLOCK_COLUMNS):
        u = (c + s) % BLOCK_COLUMNS
        np.add.at(out[s], u, phasors[c, u])
    return out


def _read(cand: _Candidate, layout: AudioLayout, trials: int) -> Finding:
    votes = -cand.phasors.real  # > 0: bit 1
    amplitude = np.abs(cand.phasors)
    coded_bits = layout.code.coded_bits
    soft = np.bincount(layout.bits.ravel(), votes.ravel(), minlength=coded_bits)
    decoded = layout.code.decode(soft)
    codeword = layout.code.encode(decoded.bits)
    agree = np.where(codeword[layout.bits] == 1, 1.0, -1.0)
    sigma = math.sqrt(float(np.sum(amplitude**2)) / 2.0)
    score = float(np.sum(agree * votes))
    z = score / sigma if sigma > 0 else 0.0
    ceiling = float(np.sum(amplitude)) / sigma if sigma > 0 else 0.0
    log_tail = min(0.0, -z * z / 2 + _LOG_CODEWORDS) if z > 0 else 0.0
    block = BLOCK_COLUMNS * COLUMN_TILES * TILE
    start = cand.offset + cand.phase * TILE - cand.rotation * COLUMN_TILES * TILE
    return Finding(
        log_tail=log_tail,
        z=z,
        z_ceiling=ceiling,
        bits=decoded.bits.astype(np.uint8),
        raw=(soft > 0).astype(np.uint8),
        decoded=decoded.ok,
        corrected=decoded.corrected,
        llr=_bit_llr(votes, amplitude, agree, layout, decoded.bits),
        block_offset_s=(start % block) / RATE,
        trials=trials,
    )


def _bit_llr(
    votes: Array,
    amplitude: Array,
    agree: Array,
    layout: AudioLayout,
    bits: npt.NDArray[np.uint8],
) -> Array:
    """Log odds that each payload bit is as decoded, from its groups' votes.

    The groups' normalized votes, signed by the decoded codeword, estimate how
    far apart the two bit values lie (mean) against how much they scatter.
    """
    heard = amplitude > 1e-12
    if not heard.any():
        return np.zeros(PAYLOAD_BITS)
    ratio = np.where(heard, votes / np.where(heard, amplitude, 1.0), 0.0)
    signed = (ratio * agree)[heard]
    mean = float(np.mean(signed))
    var = float(np.var(signed)) + 1e-3
    per_group = 2.0 * mean / var * ratio
    evidence = np.bincount(
        layout.bits.ravel(), per_group.ravel(), minlength=layout.code.coded_bits
    )[:PAYLOAD_BITS]
    sign = np.where(bits[:PAYLOAD_BITS] == 1, 1.0, -1.0)
    llr: Array = np.clip(evidence * sign, -_MAX_LLR, _MAX_LLR)
    return llr
