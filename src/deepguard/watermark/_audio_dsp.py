"""Signal processing for the audio mark: resampling, tile energies, gain fields.

The mark lives on a grid of *tiles* at a fixed internal rate of 16 kHz: a tile
is 1024 samples (64 ms) by one band of :data:`BAND_EDGES_HZ`, and its value is
the log of its energy. Why these choices:

* 16 kHz, because every delivery format keeps that band: telephone-grade
  resampling to 16 kHz and back leaves it untouched, and low-bit-rate MP3, AAC
  and Opus keep 400-6800 Hz.
* Bands that follow the codecs' own band layout (Opus/CELT bands are 200 Hz
  wide up to 1.6 kHz, then 400 and 800 Hz), because codecs spend their bits
  keeping the energy of such bands right, which is what the mark changes.
* Log energies, because they are blind to volume: a gain shifts every tile by
  the same amount, and the mark only reads balanced differences.

Tile energies are weighted sums of Hann-windowed 512-sample spectra whose
weights rise and fall as sin² across the tile in time and across the band in
frequency; the embedder shapes its gains the same way (:func:`apply_gains`),
so what it adds is exactly what the detector weighs most, and tile edges,
where a shift of a few milliseconds would blur neighbours, count least.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt

__all__ = [
    "BAND_EDGES_HZ",
    "FINE_HOP",
    "RATE",
    "TILE",
    "apply_gains",
    "band_weights",
    "fine_band_energies",
    "resample",
    "tile_energies",
    "tile_energies_at",
    "tile_features",
]

Array = npt.NDArray[np.float64]

RATE = 16_000
"""Internal analysis rate (Hz)."""
FRAME = 512
"""Analysis frame (32 ms at 16 kHz)."""
TILE = 1024
"""Tile length in samples at :data:`RATE` (64 ms)."""
FINE_HOP = 8
"""Frame hop (samples) of the detector's fine alignment grid."""
_TILE_FRAMES = 8  # analysis frames per tile, one every TILE / 8 samples
BAND_EDGES_HZ = (400, 600, 800, 1000, 1200, 1400, 1600, 2000, 2400, 2800, 3200,
                 4000, 4800, 5600, 6800)  # fmt: skip
"""Band edges of the mark; 14 bands."""

_HANN = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / FRAME)
_TIME_W = np.sin(np.pi * (np.arange(_TILE_FRAMES) + 0.5) / _TILE_FRAMES) ** 2
_REL_FLOOR = 0.1  # tile energies are floored at this fraction of their frame's mean
_ABS_FLOOR = 1e-10
_PRESENCE = 0.1  # a frame below this fraction of its ~1 s surroundings is a pause
_SLOW_TILES = 8  # half-width of the surroundings, in tiles


def resample(x: Array, src: int, dst: int, start: float = 0.0) -> Array:
    """Band-limited resampling along axis 0 by FFT, with a fractional start.

    Output sample ``i`` is the input at time ``(start + i) / dst`` seconds
    (input sample 0 at time 0). Why FFT and not a polyphase filter: it has no
    delay to compensate, so tiles computed at 16 kHz line up with native-rate
    samples to a fraction of a sample; and NumPy is all it needs. The ends wrap
    around, so callers keep their region of interest away from them.
    """
    n = x.shape[0]
    wanted = max(0, math.floor(n * dst / src - start + 1e-9))
    if n == 0 or wanted == 0:
        return np.zeros((0, *x.shape[1:]))
    if src == dst and start == 0.0:
        return np.array(x, dtype=np.float64)
    # Zero-pad to a length whose duration is a whole number of output
    # samples, so the output grid is exact (no drift across long chunks).
    unit = src // math.gcd(src, dst)
    n_pad = -(-n // unit) * unit
    m = n_pad * dst // src
    spec = np.fft.rfft(x, n=n_pad, axis=0)
    keep = min(spec.shape[0], m // 2 + 1)
    freqs = np.arange(keep) * src / n_pad
    nyquist = min(src, dst) / 2
    taper = np.clip((nyquist - freqs) / (0.06 * nyquist), 0.0, 1.0).astype(
        np.complex128
    )
    if start:
        taper *= np.exp(2j * np.pi * freqs * start / dst)
    out = np.zeros((m // 2 + 1, *x.shape[1:]), dtype=np.complex128)
    out[:keep] = spec[:keep] * taper.reshape((keep,) + (1,) * (x.ndim - 1))
    result: Array = np.fft.irfft(out, m, axis=0)[:wanted] * (m / n_pad)
    return result


def band_weights() -> Array:
    """(FRAME/2+1, bands) weights: a sin² bump across each band's bins."""
    freqs = np.arange(FRAME // 2 + 1) * RATE / FRAME
    edges = BAND_EDGES_HZ
    weights = np.zeros((freqs.size, len(edges) - 1))
    for b, (lo, hi) in enumerate(itertools.pairwise(edges)):
        phase = (freqs - lo) / (hi - lo)
        inside = (phase > 0) & (phase < 1)
        weights[inside, b] = np.sin(np.pi * phase[inside]) ** 2
    return weights


_BAND_W = band_weights()


def _energies(frames: Array) -> Array:
    spec = np.fft.rfft(frames * _HANN, axis=1)
    power: Array = spec.real**2 + spec.imag**2
    return power @ _BAND_W


def fine_band_energies(x16: Array) -> Array:
    """Band energies of frames centred every :data:`FINE_HOP` samples.

    Row ``h`` is the frame centred on sample ``FINE_HOP * h``; frames that
    stick out of the signal are NaN.
    """
    n = x16.size
    centres = np.arange(0, n, FINE_HOP)
    out = np.full((centres.size, len(BAND_EDGES_HZ) - 1), np.nan)
    inside = (centres >= FRAME // 2) & (centres + FRAME // 2 <= n)
    if not inside.any():
        return out
    first = int(np.argmax(inside))
    count = int(inside.sum())
    view = np.lib.stride_tricks.sliding_window_view(x16, FRAME)
    starts = centres[first : first + count] - FRAME // 2
    for lo in range(0, count, 4096):  # bounded memory for long windows
        rows = starts[lo : lo + 4096]
        out[first + lo : first + lo + rows.size] = _energies(view[rows])
    return out


def tile_energies(fine: Array, offset: int) -> Array:
    """Tile energies for tiles starting at ``offset + TILE * j`` (16 kHz samples).

    ``fine`` comes from :func:`fine_band_energies`; ``offset`` is a multiple
    of :data:`FINE_HOP` in ``[0, TILE)``. Tiles with a frame outside the
    signal are NaN.
    """
    step = TILE // _TILE_FRAMES
    first = (offset + step // 2) // FINE_HOP  # centre of the tile's first frame
    stride = step // FINE_HOP
    count = (fine.shape[0] - first) // (stride * _TILE_FRAMES)
    if count <= 0:
        return np.zeros((0, fine.shape[1]))
    idx = (
        first
        + stride * _TILE_FRAMES * np.arange(count)[:, None]
        + stride * np.arange(_TILE_FRAMES)[None, :]
    )
    result: Array = np.einsum("jin,i->jn", fine[idx], _TIME_W)
    return result


def tile_energies_at(x16: Array) -> Array:
    """Tile energies for tiles starting at sample 0, ``TILE * j``: the embedder's grid.

    The same numbers :func:`tile_energies` gives at offset 0, computing only the
    frames that grid needs.
    """
    step = TILE // _TILE_FRAMES
    tiles = x16.size // TILE
    out = np.full((tiles, len(BAND_EDGES_HZ) - 1), np.nan)
    if tiles == 0:
        return out
    centres = step // 2 + step * np.arange(tiles * _TILE_FRAMES)
    inside = (centres >= FRAME // 2) & (centres + FRAME // 2 <= x16.size)
    energies = np.full((centres.size, out.shape[1]), np.nan)
    if inside.any():
        view = np.lib.stride_tricks.sliding_window_view(x16, FRAME)
        energies[inside] = _energies(view[centres[inside] - FRAME // 2])
    per_tile = energies.reshape(tiles, _TILE_FRAMES, -1)
    result: Array = np.einsum("jin,i->jn", per_tile, _TIME_W)
    return result


def tile_features(energies: Array) -> tuple[Array, Array]:
    """Log energies and how much each tile can be trusted, both (tiles, bands).

    The floor under each tile is a fraction of its own frame's mean energy, so
    the features of a tile depend on that 64 ms only: the embedder, which
    sees the whole file, and the detector, which may see a fragment, compute
    the same numbers. The trust (``live``, 0 to 1) is low for tiles near that
    floor and for frames much quieter than the second around them (pauses,
    where noise and codecs rewrite what little is there); it only weights
    evidence, so it may depend on the surroundings.
    """
    if energies.shape[0] == 0:
        return energies.copy(), energies.copy()
    valid = ~np.isnan(energies[:, 0])
    zeroed = np.where(np.isnan(energies), 0.0, energies)
    loud = zeroed.mean(axis=1)
    floor = (_REL_FLOOR * loud + _ABS_FLOOR)[:, None]
    with np.errstate(invalid="ignore"):
        features = np.log(energies + floor)
    kernel = np.ones(2 * _SLOW_TILES + 1)
    around = np.convolve(loud, kernel, mode="same") / np.maximum(
        np.convolve(valid.astype(np.float64), kernel, mode="same"), 1.0
    )
    presence = loud / (loud + _PRESENCE * around + _ABS_FLOOR)
    live = zeroed / (zeroed + floor) * presence[:, None]
    return features, np.where(valid[:, None], live, 0.0)


def native_frame(rate: int) -> int:
    """STFT length for applying gains at ``rate``: about 25 ms, a power of two."""
    return 1 << max(8, round(math.log2(0.025 * rate)))


def apply_gains(x: Array, rate: int, gains: Array, origin16: float = 0.0) -> Array:
    """The signal to add to ``x`` so that its tiles gain ``gains`` (log energy).

    ``x`` is ``(n,)`` or ``(n, channels)`` at ``rate``; ``gains[j, b]`` is the
    change of tile ``j``'s log energy in band ``b``, where tile ``j`` spans
    16 kHz times ``[TILE * j, TILE * (j + 1))`` and native sample 0 sits at
    16 kHz time ``origin16``. The gain is shaped as sin² bumps in time and
    frequency (peak twice the mean), applied as a multiplicative STFT gain
    with sqrt-Hann analysis and synthesis windows at hop 1/4: a change of
    level of the programme itself, so the mark follows its loudness.
    """
    n = x.shape[0]
    size = native_frame(rate)
    hop = size // 4
    window = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / size))
    frames = (n + size) // hop + 1
    # Frame f covers padded[f * hop : f * hop + size]; sample i of x is
    # padded[size + i]. Extra zeros at the end let every phase tile evenly.
    padded = np.zeros((size + (frames + 4) * hop + size, *x.shape[1:]))
    padded[size : size + n] = x
    centres = np.arange(frames) * hop + size / 2 - size
    t16 = origin16 + centres * RATE / rate
    tile = np.floor(t16 / TILE).astype(np.int64)
    time_w = 2 * np.sin(np.pi * (t16 / TILE - tile)) ** 2
    freqs = np.arange(size // 2 + 1) * rate / size
    edges = np.asarray(BAND_EDGES_HZ, dtype=np.float64)
    band = np.searchsorted(edges, freqs, side="right") - 1
    bins = np.nonzero((band >= 0) & (band < edges.size - 1))[0]
    phase = (freqs[bins] - edges[band[bins]]) / (
        edges[band[bins] + 1] - edges[band[bins]]
    )
    freq_w = 2 * np.sin(np.pi * phase) ** 2
    out = np.zeros(padded.shape)
    inside = (tile >= 0) & (tile < gains.shape[0])
    if not inside.any() or bins.size == 0:
        return out[size : size + n]
    lo_f = int(np.argmax(inside))
    hi_f = frames - int(np.argmax(inside[::-1]))
    lo_f -= lo_f % 4  # keep every phase's frames aligned to whole frames
    shaped = window if x.ndim == 1 else window[:, None]
    view = np.lib.stride_tricks.sliding_window_view(padded, size, axis=0)
    for first in range(lo_f, hi_f, 1024):
        last = min(first + 1024, hi_f)
        sel = np.arange(first, last)
        rows = tile[sel]
        ok = (rows >= 0) & (rows < gains.shape[0])
        field = np.zeros((sel.size, bins.size))
        field[ok] = gains[rows[ok]][:, band[bins]] * time_w[sel[ok], None]
        amp = np.expm1(field * freq_w[None, :] / 2)  # energy g -> amplitude
        block = view[first * hop : last * hop : hop]
        block = np.moveaxis(block, -1, 1) if x.ndim == 2 else block
        spec = np.fft.rfft(block * shaped, axis=1)
        delta = np.zeros_like(spec)
        delta[:, bins] = spec[:, bins] * (amp if x.ndim == 1 else amp[:, :, None])
        synth = np.fft.irfft(delta, size, axis=1) * shaped
        for ph in range(4):  # frames of one phase tile the output exactly
            part = synth[ph::4]
            begin = (first + ph) * hop
            out[begin : begin + part.shape[0] * size] += part.reshape(
                (-1, *out.shape[1:])
            )
    # sqrt-Hann analysis x synthesis at hop N/4 sums to 2.
    result: Array = out[size : size + n] / 2.0
    return result
