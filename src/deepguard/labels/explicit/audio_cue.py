"""The audio rhythm cue "short long short short" (Morse "AI"): synthesis and detection.

GB 45438-2025 lets audio carry its explicit label either as a spoken notice or
as a rhythm cue, "short long short short", at the start, the end and/or the
middle. That rhythm is Morse code for "AI" (A = · −, I = · ·). This module
defines the cue deepguard renders and finds such cues in any audio, whoever
rendered them.

The cue (:class:`RhythmCue`) is four tones of one frequency with the Morse
proportions: a short tone lasts one unit, a long tone three, and the silences
between tones one unit. Defaults: 1 kHz (an ordinary "beep", well inside the
band every codec and an 8 kHz telephone line keep), 100 ms units (the cue
lasts 0.9 s, short enough to prepend to any clip, long enough for a listener
to hear the rhythm), amplitude 0.5 (−6 dBFS peak, leaving headroom for
mixing) and 8 ms raised-cosine ramps so the tones start and stop without
clicks.

Detection (:func:`detect_cue`) works on one frequency band at a time:

1. the audio is low-passed and decimated to a few kHz (only the band around
   the cue matters), then a short-time Fourier transform (64 ms Hann frames,
   8 ms hop: 15.6 Hz bins, so few speech harmonics share the cue's band)
   gives the energy of a narrow band (three bins) around every candidate
   frequency, plus the spectral floor around it: a band counts as a tone only
   where it is a spectral peak well above that floor, so broadband events
   (noise, plosives, drums) and the skirts of a nearby tone never do;
2. the band energy is cut into on/off runs at several adaptive thresholds,
   each a fixed drop below the running maximum over ±0.6 s, so a quiet cue in
   a quiet passage and a loud cue over loud speech are both segmented at a
   level that separates tones from gaps; short dips inside a tone (programme
   audio briefly cancelling it) are bridged;
3. every four consecutive runs are fitted to the cue's onset and offset times
   by least squares: the segmentation reads every tone too long or too short
   by the same margin, which the fit absorbs as one bias term, so it recovers
   the onset and the unit length (any time-stretch within the tolerance) and
   measures how well the rhythm matches;
4. a match is verified on the band energy itself: the four tones must be of
   equal level and clearly above the gaps, and isolated from further keyed
   elements of the same level (so longer Morse sequences and other letters
   do not count).

The rhythm, not the frequency, carries the meaning, so the detector searches
a band around each candidate frequency (±20 % by default), which also covers
a speed change of the whole recording. Pass more ``frequencies`` to find cues
rendered by other producers at other pitches.

:func:`detect_cue_in_file` streams a whole file through the detector in
overlapping windows and says where each cue sits: at the start, at the end, or
in the middle. The regulation allows any of these positions, so a file is
``compliant`` as soon as it carries one cue anywhere and ``absent`` otherwise;
the positions are reported so a policy that wants, say, a cue at the start can
check that itself.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from deepguard.config import Limits
from deepguard.errors import ConfigError, CorruptMedia, UnsupportedFormat
from deepguard.media.av import iter_audio
from deepguard.media.probe import MediaKind, probe

__all__ = [
    "DEFAULT_CUE",
    "AudioCueReport",
    "AudioCueStatus",
    "CueHit",
    "CuePosition",
    "PlacedCueHit",
    "RhythmCue",
    "detect_cue",
    "detect_cue_in_file",
    "synthesize_cue",
]

FloatArray = npt.NDArray[np.float64]

# Morse "AI" with one-unit gaps everywhere: tone lengths and gap lengths in units.
TONE_UNITS: tuple[int, ...] = (1, 3, 1, 1)
GAP_UNITS: tuple[int, ...] = (1, 1, 1)

_MIN_FREQUENCY_HZ = 200.0
_MAX_FREQUENCY_HZ = 3800.0  # below 8 kHz audio's Nyquist frequency with margin


@dataclass(frozen=True, slots=True)
class RhythmCue:
    """The rendered cue: four tones, short long short short.

    Attributes:
        frequency_hz: tone frequency; 200 Hz to 3.8 kHz so the cue survives
            telephone-band (8 kHz) resampling.
        unit_s: length of a short tone and of each gap; a long tone is three.
        amplitude: peak amplitude of each tone, full scale being 1.0.
        ramp_s: raised-cosine fade at both ends of every tone (no clicks).
    """

    frequency_hz: float = 1000.0
    unit_s: float = 0.1
    amplitude: float = 0.5
    ramp_s: float = 0.008

    def __post_init__(self) -> None:
        if not _MIN_FREQUENCY_HZ <= self.frequency_hz <= _MAX_FREQUENCY_HZ:
            msg = (
                f"cue frequency must be {_MIN_FREQUENCY_HZ:g} to "
                f"{_MAX_FREQUENCY_HZ:g} Hz, got {self.frequency_hz:g}"
            )
            raise ConfigError(msg)
        if not 0.04 <= self.unit_s <= 0.3:
            msg = f"cue unit must be 0.04 to 0.3 s, got {self.unit_s:g}"
            raise ConfigError(msg)
        if not 0.0 < self.amplitude <= 1.0:
            msg = f"cue amplitude must be in (0, 1], got {self.amplitude:g}"
            raise ConfigError(msg)
        if not 0.0 <= self.ramp_s <= self.unit_s / 4:
            msg = f"cue ramp must be 0 to a quarter unit, got {self.ramp_s:g} s"
            raise ConfigError(msg)

    @property
    def duration_s(self) -> float:
        """Length of the whole cue, first tone onset to last tone offset."""
        return (sum(TONE_UNITS) + sum(GAP_UNITS)) * self.unit_s

    def tone_spans(self) -> list[tuple[float, float]]:
        """(start, end) of each tone in seconds from the cue's start."""
        spans: list[tuple[float, float]] = []
        t = 0.0
        for i, units in enumerate(TONE_UNITS):
            spans.append((t, t + units * self.unit_s))
            t += units * self.unit_s
            if i < len(GAP_UNITS):
                t += GAP_UNITS[i] * self.unit_s
        return spans

    def synthesize(self, sample_rate: int) -> npt.NDArray[np.float32]:
        """The cue as mono float32 samples at ``sample_rate``."""
        if sample_rate < 2.2 * self.frequency_hz:
            msg = (
                f"sample rate {sample_rate} Hz is too low for a "
                f"{self.frequency_hz:g} Hz cue"
            )
            raise ConfigError(msg)
        out = np.zeros(round(self.duration_s * sample_rate), dtype=np.float64)
        ramp_n = round(self.ramp_s * sample_rate)
        for start_s, end_s in self.tone_spans():
            a, b = round(start_s * sample_rate), round(end_s * sample_rate)
            n = b - a
            tone = np.sin(2 * math.pi * self.frequency_hz * np.arange(n) / sample_rate)
            env = np.ones(n)
            if ramp_n:
                fade = 0.5 - 0.5 * np.cos(math.pi * np.arange(ramp_n) / ramp_n)
                env[:ramp_n] = fade
                env[n - ramp_n :] = fade[::-1]
            out[a:b] = self.amplitude * env * tone
        return out.astype(np.float32)


DEFAULT_CUE = RhythmCue()


def synthesize_cue(
    sample_rate: int, cue: RhythmCue = DEFAULT_CUE
) -> npt.NDArray[np.float32]:
    """The cue as mono float32 samples; see :meth:`RhythmCue.synthesize`."""
    return cue.synthesize(sample_rate)


@dataclass(frozen=True, slots=True)
class CueHit:
    """One cue found in audio.

    Attributes:
        start_s: onset of the first tone, seconds from the start of the input.
        end_s: offset of the last tone.
        frequency_hz: measured tone frequency.
        unit_s: measured unit (short tone) length; differs from the rendered
            one when the audio was time-stretched.
        confidence: 0 to 1; how well timing, level and contrast fit the cue.
        letter_gap: the tones were spaced as two Morse letters (three units
            between "A" and "I") rather than one rhythm with even gaps.
    """

    start_s: float
    end_s: float
    frequency_hz: float
    unit_s: float
    confidence: float
    letter_gap: bool = False


# --- analysis constants ------------------------------------------------------
# Tuned on LibriSpeech, espeak-ng speech, synthetic music, noise and Morse
# sequences (tests/labels/explicit/test_audio_cue.py, bench/audio_cue.py).

_FRAME_S = 0.064  # 15.6 Hz bins: fewer speech harmonics share the cue's band
_HOP_S = 0.008  # onset resolution; the rhythm fit averages eight edges
_BAND_HALF_BINS = 1  # band energy = bin k and its neighbours: the Hann main lobe
_PEAK_REACH_BINS = 2  # a tone's band must be the loudest within this many bins
_PEAK_SLACK_DB = 3.0
_FLOOR_HZ = (90.0, 420.0)  # spectral floor taken between these offsets
_CONTEXT_S = 0.6  # running maximum radius: covers a whole cue around any frame
_DROPS_DB = (3.0, 6.0, 10.0, 15.0)  # thresholds below the running maximum
_ABS_FLOOR_DB = -75.0  # band energy below this is silence, whatever the context
_MIN_PROMINENCE_DB = 8.0  # tone over the spectral floor: not a broadband event
_MIN_CONTRAST_DB = 4.0  # quietest tone over loudest gap
_MAX_SPREAD_DB = 8.0  # loudest over quietest tone (programme adds to some)
_MAX_RESIDUAL_UNITS = 0.4  # worst onset/offset misfit of the rhythm
_MAX_BIAS_UNITS = 0.6  # how much longer tones may read than gaps, and v.v.
_ISOLATION_UNITS = 2.0  # a keyed element closer than this extends the symbol
_NEIGHBOUR_LEVEL_DB = 4.0
_ELEMENT_TOLERANCE = 0.25
_HOLE_UNITS = (0.3, 0.5)  # dips bridged inside a tone, besides one-frame ones
_DECIMATION_MARGIN = 2.7  # analysis rate over the highest frequency needed

# Onset and offset times of the four tones, in units from the first onset:
# the even rhythm deepguard renders, and Morse "A I" with a letter gap.
_ONSETS_EVEN = (0, 2, 6, 8)
_OFFSETS_EVEN = (1, 5, 7, 9)
_ONSETS_LETTER = (0, 2, 8, 10)
_OFFSETS_LETTER = (1, 5, 9, 11)


@dataclass(frozen=True, slots=True)
class _Template:
    """One rhythm as a linear model of the eight edge times.

    onset_i = origin + n_i * unit and offset_i = origin + bias + m_i * unit,
    where ``bias`` absorbs how much longer the segmentation reads tones than
    gaps; ``pinv`` solves for (origin, bias, unit) by least squares.
    """

    onsets: tuple[int, ...]
    offsets: tuple[int, ...]
    letter_gap: bool
    design: FloatArray = field(repr=False)
    pinv: FloatArray = field(repr=False)

    @classmethod
    def make(
        cls, onsets: tuple[int, ...], offsets: tuple[int, ...], letter_gap: bool
    ) -> _Template:
        rows = [[1.0, 0.0, float(n)] for n in onsets]
        rows += [[1.0, 1.0, float(m)] for m in offsets]
        design = np.array(rows)
        pinv = np.asarray(np.linalg.pinv(design), dtype=np.float64)
        return cls(onsets, offsets, letter_gap, design, pinv)


_TEMPLATES = (
    _Template.make(_ONSETS_EVEN, _OFFSETS_EVEN, letter_gap=False),
    _Template.make(_ONSETS_LETTER, _OFFSETS_LETTER, letter_gap=True),
)


# --- spectral front end ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Spectrum:
    """Band levels of one block of audio, per frame and candidate bin."""

    level_db: FloatArray  # (frames, bins): band energy in dB
    prominence_db: FloatArray  # (frames, bins): band energy over spectral floor
    power: FloatArray  # (frames, slice): raw bin power, for the frequency
    offsets: npt.NDArray[np.int64]  # candidate bins as columns of ``power``
    bins: npt.NDArray[np.int64]  # candidate bin indices
    bin_hz: float
    hop_s: float
    frame_s: float


def _candidate_bins(
    frequencies: Sequence[float], tolerance: float, bin_hz: float, nyquist_bin: int
) -> npt.NDArray[np.int64]:
    floor_bins = math.ceil(_FLOOR_HZ[1] / bin_hz)
    chosen: set[int] = set()
    for f in frequencies:
        lo = math.floor(f * (1 - tolerance) / bin_hz)
        hi = math.ceil(f * (1 + tolerance) / bin_hz)
        chosen.update(
            range(max(lo, floor_bins + 1), min(hi, nyquist_bin - floor_bins - 1) + 1)
        )
    return np.array(sorted(chosen), dtype=np.int64)


def _decimated(
    samples: FloatArray, sample_rate: float, top_hz: float
) -> tuple[FloatArray, float]:
    """``samples`` at a lower rate that still holds everything up to ``top_hz``.

    The analysis needs a couple of kilohertz at most, so most of a 16-48 kHz
    spectrum would be computed only to be thrown away. A windowed-sinc
    low-pass (Blackman, zero phase) keeps the band flat and pushes anything
    that would alias into it down by about 70 dB.
    """
    factor = int(sample_rate // (_DECIMATION_MARGIN * top_hz))
    if factor < 2:
        return samples, sample_rate
    rate = sample_rate / factor
    transition = rate - 2 * top_hz  # aliases of what lies above land above top_hz
    taps = int(5.5 * sample_rate / transition) | 1
    n = np.arange(taps) - taps // 2
    kernel = np.sinc(n / factor) / factor * np.blackman(taps)
    kernel /= kernel.sum()
    low = np.convolve(samples, kernel, mode="same")[::factor]
    return low, rate


def _spectrum(
    samples: FloatArray,
    sample_rate: int,
    frequencies: Sequence[float],
    tolerance: float,
) -> _Spectrum | None:
    top = max(frequencies) * (1 + tolerance) + _FLOOR_HZ[1] + 100.0
    samples, rate = _decimated(samples, sample_rate, top)
    frame = max(16, round(_FRAME_S * rate))
    hop = max(1, round(_HOP_S * rate))
    if samples.size < frame:
        return None
    bin_hz = rate / frame
    bins = _candidate_bins(frequencies, tolerance, bin_hz, frame // 2)
    if bins.size == 0:
        return None
    window = np.hanning(frame + 2)[1:-1].astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(
        samples.astype(np.float32), frame
    )[::hop]
    lo_floor = max(_BAND_HALF_BINS + 1, round(_FLOOR_HZ[0] / bin_hz))
    hi_floor = math.ceil(_FLOOR_HZ[1] / bin_hz)
    first = int(bins[0]) - hi_floor
    last = int(bins[-1]) + hi_floor
    spec = np.fft.rfft(frames * window, axis=1)[:, first : last + 1]
    # Scale so a full-scale sine centred on a bin has power 1 in that bin.
    scale = float(window.sum()) ** 2 / 4
    power = (spec.real.astype(np.float64) ** 2 + spec.imag**2) / scale
    idx = bins - first
    eps = 1e-12
    # Band levels for every bin of the slice that has a full band; candidate
    # bins need not be contiguous (several search frequencies).
    half = _BAND_HALF_BINS
    inner = power.shape[1] - 2 * half
    band_all = sum(
        power[:, half + d : half + d + inner] for d in range(-half, half + 1)
    )
    level_all = 10 * np.log10(band_all + eps)
    cols = idx - half  # candidate bins as columns of level_all
    level = level_all[:, cols]
    # A tone is a spectral peak: its band is the loudest among the nearby
    # bands. The skirts of a strong tone next to it (keying transients,
    # window side lobes) are not, so they never form runs of their own.
    nearby = level.copy()
    for d in range(-_PEAK_REACH_BINS, _PEAK_REACH_BINS + 1):
        if d:
            np.maximum(nearby, level_all[:, cols + d], out=nearby)
    peak = level >= nearby - _PEAK_SLACK_DB
    # Spectral floor: geometric mean of the bins beside the band on both
    # sides (a log average, so one strong neighbouring partial barely moves it).
    log_power = 10 * np.log10(power + eps)
    csum = np.concatenate(
        [np.zeros((power.shape[0], 1)), np.cumsum(log_power, axis=1)], axis=1
    )
    count = 2 * (hi_floor - lo_floor + 1)
    below = csum[:, idx - lo_floor + 1] - csum[:, idx - hi_floor]
    above = csum[:, idx + hi_floor + 1] - csum[:, idx + lo_floor]
    floor_db = (below + above) / count
    width = 2 * _BAND_HALF_BINS + 1
    prominence = level - floor_db - 10 * math.log10(width)
    prominence = np.where(peak, prominence, -np.inf)
    return _Spectrum(
        level_db=level,
        prominence_db=prominence,
        power=power,
        offsets=idx,
        bins=bins,
        bin_hz=bin_hz,
        hop_s=hop / rate,
        frame_s=frame / rate,
    )


def _running_max(a: FloatArray, radius: int) -> FloatArray:
    """Maximum over ``[t - radius, t + radius]`` along axis 0 (van Herk)."""
    if radius <= 0:
        return a.copy()
    w = 2 * radius + 1
    t_len, k = a.shape
    n = t_len + 2 * radius
    blocks = -(-n // w)
    padded = np.full((blocks * w, k), -np.inf)
    padded[radius : radius + t_len] = a
    shaped = padded.reshape(blocks, w, k)
    prefix = np.maximum.accumulate(shaped, axis=1).reshape(-1, k)
    suffix = np.maximum.accumulate(shaped[:, ::-1], axis=1)[:, ::-1].reshape(-1, k)
    return np.maximum(suffix[:t_len], prefix[w - 1 : w - 1 + t_len])


# --- segmentation and matching ----------------------------------------------


@dataclass(frozen=True, slots=True)
class _Runs:
    """On-runs of every candidate bin at one threshold, grouped by bin."""

    start: npt.NDArray[np.int64]  # first frame of the run
    stop: npt.NDArray[np.int64]  # one past the last frame
    column: npt.NDArray[np.int64]  # candidate bin column


def _runs(on: npt.NDArray[np.bool_]) -> _Runs:
    """On-runs per column of a (frames, columns) mask, grouped by column."""
    t_len, k = on.shape
    padded = np.zeros((k, t_len + 2), dtype=np.int8)
    padded[:, 1:-1] = on.T
    edges = np.diff(padded, axis=1)
    col, start = np.nonzero(edges == 1)
    _, stop = np.nonzero(edges == -1)
    return _Runs(start, stop, col)


def _closed(runs: _Runs, max_hole: int) -> _Runs:
    """Runs with holes of up to ``max_hole`` frames bridged, spikes dropped.

    Bridging holes joins a tone that programme audio at the same frequency
    briefly cancelled; the cue's own gaps are far longer.
    """
    start, stop, col = runs.start, runs.stop, runs.column
    if start.size > 1:
        join = (start[1:] - stop[:-1] <= max_hole) & (col[1:] == col[:-1])
        first = np.concatenate([[True], ~join])
        last = np.concatenate([~join, [True]])
        start, stop, col = start[first], stop[last], col[first]
    keep = (stop - start) >= 2  # a single frame is a spike, not a tone
    return _Runs(start[keep], stop[keep], col[keep])


@dataclass(frozen=True, slots=True)
class _Candidate:
    column: int
    run_index: int
    template: _Template
    origin_s: float  # fitted onset of the first tone
    unit_s: float
    bias_s: float  # how much longer the segmentation reads a tone than it is
    residual_units: float


def _match(
    runs: _Runs,
    spectrum: _Spectrum,
    unit_range: tuple[float, float],
) -> list[_Candidate]:
    """Every four consecutive runs of one bin whose timing fits the cue."""
    n = runs.start.size
    if n < 4:
        return []
    hop = spectrum.hop_s
    half = spectrum.frame_s / 2
    starts = runs.start * hop + half - hop / 2
    stops = (runs.stop - 1) * hop + half + hop / 2
    idx = np.arange(n - 3)
    same = runs.column[idx] == runs.column[idx + 3]
    idx = idx[same]
    if idx.size == 0:
        return []
    on = np.stack([starts[idx + j] for j in range(4)], axis=1)
    off = np.stack([stops[idx + j] for j in range(4)], axis=1)
    obs = np.concatenate([on, off], axis=1)  # (N, 8)
    found: list[_Candidate] = []
    for template in _TEMPLATES:
        params = obs @ template.pinv.T  # (N, 3): origin, bias, unit
        unit = params[:, 2]
        resid = obs - params @ template.design.T
        with np.errstate(divide="ignore", invalid="ignore"):
            worst = np.max(np.abs(resid), axis=1) / unit
            bias = params[:, 1] / unit
        ok = (
            (unit >= unit_range[0])
            & (unit <= unit_range[1])
            & (worst <= _MAX_RESIDUAL_UNITS)
            & (np.abs(bias) <= _MAX_BIAS_UNITS)
        )
        for row in np.nonzero(ok)[0]:
            found.append(
                _Candidate(
                    column=int(runs.column[idx[row]]),
                    run_index=int(idx[row]),
                    template=template,
                    # Onsets read early and offsets late by the same margin
                    # (half the fitted bias), so the true onset is the midpoint.
                    origin_s=float(params[row, 0] + params[row, 1] / 2),
                    unit_s=float(unit[row]),
                    bias_s=float(params[row, 1]),
                    residual_units=float(worst[row]),
                )
            )
    return found


def _frames(spectrum: _Spectrum, t0: float, t1: float, *, whole: bool) -> slice:
    """Frames inside ``[t0, t1]``: whole windows, or centres only.

    Never empty: a span too short for any frame gives its middle frame, and
    the slice is clamped to the block.
    """
    hop, half = spectrum.hop_s, spectrum.frame_s / 2
    if whole:
        a, b = math.ceil(t0 / hop), math.floor((t1 - 2 * half) / hop) + 1
    else:
        a, b = math.ceil((t0 - half) / hop), math.floor((t1 - half) / hop) + 1
    if b <= a:
        a = round(((t0 + t1) / 2 - half) / hop)
        b = a + 1
    total = spectrum.level_db.shape[0]
    a = min(max(a, 0), total - 1)
    return slice(a, min(max(b, a + 1), total))


def _verify(
    cand: _Candidate, runs: _Runs, spectrum: _Spectrum
) -> tuple[float, float] | None:
    """(confidence, frequency) when the band levels confirm the match."""
    u = cand.unit_s
    col = cand.column
    level = spectrum.level_db[:, col]
    prom = spectrum.prominence_db[:, col]
    t = cand.template
    trim = 0.2 * u
    tones = [
        (cand.origin_s + n * u + trim, cand.origin_s + m * u - trim)
        for n, m in zip(t.onsets, t.offsets, strict=True)
    ]
    gaps = [
        (cand.origin_s + m * u, cand.origin_s + n * u)
        for m, n in zip(t.offsets[:-1], t.onsets[1:], strict=True)
    ]
    tone_frames = [_frames(spectrum, a, b, whole=False) for a, b in tones]
    tone_levels = np.array([float(np.median(level[s])) for s in tone_frames])
    gap_levels = np.array(
        [float(np.median(level[_frames(spectrum, a, b, whole=True)])) for a, b in gaps]
    )
    tone_prom = float(np.median(np.concatenate([prom[s] for s in tone_frames])))
    contrast = float(tone_levels.min() - gap_levels.max())
    spread = float(tone_levels.max() - tone_levels.min())
    if (
        contrast < _MIN_CONTRAST_DB
        or spread > _MAX_SPREAD_DB
        or tone_prom < _MIN_PROMINENCE_DB
        or tone_levels.min() < _ABS_FLOOR_DB
    ):
        return None
    if not _isolated(cand, runs, spectrum, float(tone_levels.mean())):
        return None
    timing = 1.0 - cand.residual_units / _MAX_RESIDUAL_UNITS
    contrast_score = min(1.0, (contrast - _MIN_CONTRAST_DB) / 12.0)
    level_score = 1.0 - spread / _MAX_SPREAD_DB
    confidence = 0.4 * contrast_score + 0.35 * timing + 0.25 * level_score
    frames = np.concatenate([np.arange(s.start, s.stop) for s in tone_frames])
    return confidence, _frequency(spectrum, col, frames)


def _isolated(
    cand: _Candidate, runs: _Runs, spectrum: _Spectrum, tone_level: float
) -> bool:
    """No further Morse element right before or after the four tones.

    A neighbouring run continues the sequence (making it another, longer
    symbol) when it looks like a keyed element: it follows within an element
    gap, lasts about one or three units and has the tones' level, since a
    keyed tone has one amplitude throughout. Programme audio that happens to
    touch the band next to the cue rarely does all three. Durations and gaps
    are corrected by the bias the rhythm fit measured on the four tones.
    """
    i = cand.run_index
    u = cand.unit_s
    level = spectrum.level_db[:, cand.column]
    hop = spectrum.hop_s
    for j in (i - 1, i + 4):
        if j < 0 or j >= runs.start.size or runs.column[j] != cand.column:
            continue
        frames = (
            runs.start[i] - runs.stop[j] if j < i else runs.start[j] - runs.stop[i + 3]
        )
        gap = frames * hop + cand.bias_s
        units = ((runs.stop[j] - runs.start[j]) * hop - cand.bias_s) / u
        if gap >= _ISOLATION_UNITS * u:
            continue
        if not any(abs(units - n) <= _ELEMENT_TOLERANCE * n + 0.3 for n in (1, 3)):
            continue
        run_level = float(np.median(level[runs.start[j] : runs.stop[j]]))
        if abs(run_level - tone_level) <= _NEIGHBOUR_LEVEL_DB:
            return False
    return True


def _frequency(
    spectrum: _Spectrum, column: int, frames: npt.NDArray[np.int64]
) -> float:
    """Tone frequency by parabolic interpolation of the log spectrum peak."""
    centre = int(spectrum.offsets[column])
    p = spectrum.power[frames, centre - _BAND_HALF_BINS : centre + _BAND_HALF_BINS + 1]
    mean = np.log(p.mean(axis=0) + 1e-12)
    peak = int(np.argmax(mean))
    offset = 0.0
    if 0 < peak < mean.size - 1:
        a, b, c = mean[peak - 1], mean[peak], mean[peak + 1]
        denom = a - 2 * b + c
        if denom < 0:
            offset = float(0.5 * (a - c) / denom)
    k = int(spectrum.bins[column]) - _BAND_HALF_BINS + peak
    return (k + offset) * spectrum.bin_hz


def _detect_block(
    samples: FloatArray,
    sample_rate: int,
    frequencies: Sequence[float],
    tolerance: float,
    unit_range: tuple[float, float],
) -> list[CueHit]:
    """Every cue in one block: segment at each threshold, match, verify."""
    spectrum = _spectrum(samples, sample_rate, frequencies, tolerance)
    if spectrum is None:
        return []
    level = spectrum.level_db
    radius = round(_CONTEXT_S / spectrum.hop_s)
    peak = _running_max(level, radius)
    tonal = spectrum.prominence_db >= _MIN_PROMINENCE_DB
    hits: list[CueHit] = []
    holes = sorted(
        {2} | {max(2, round(h * unit_range[0] / spectrum.hop_s)) for h in _HOLE_UNITS}
    )
    for drop in _DROPS_DB:
        threshold = np.maximum(peak - drop, _ABS_FLOOR_DB)
        raw = _runs((level > threshold) & tonal)
        for hole in holes:
            runs = _closed(raw, hole)
            hits += _hits(runs, spectrum, unit_range)
    return _suppress(hits)


def _hits(
    runs: _Runs, spectrum: _Spectrum, unit_range: tuple[float, float]
) -> list[CueHit]:
    """Matches of the rhythm among ``runs`` that the band levels confirm."""
    hits: list[CueHit] = []
    for cand in _match(runs, spectrum, unit_range):
        verdict = _verify(cand, runs, spectrum)
        if verdict is None:
            continue
        confidence, freq = verdict
        hits.append(
            CueHit(
                start_s=cand.origin_s,
                end_s=cand.origin_s + cand.template.offsets[-1] * cand.unit_s,
                frequency_hz=freq,
                unit_s=cand.unit_s,
                confidence=confidence,
                letter_gap=cand.template.letter_gap,
            )
        )
    return hits


def _suppress(hits: Iterable[CueHit]) -> list[CueHit]:
    """Keep the most confident of hits that overlap in time."""
    kept: list[CueHit] = []
    for hit in sorted(hits, key=lambda h: -h.confidence):
        if all(hit.end_s <= k.start_s or hit.start_s >= k.end_s for k in kept):
            kept.append(hit)
    return sorted(kept, key=lambda h: h.start_s)


# --- streaming over long inputs ----------------------------------------------


@dataclass(frozen=True, slots=True)
class _Plan:
    """Detector settings resolved once for a whole stream."""

    frequencies: tuple[float, ...]
    tolerance: float
    unit_range: tuple[float, float]
    min_confidence: float
    guard_s: float  # hits closer than this to an inner window edge are dropped
    overlap_s: float

    @classmethod
    def make(
        cls,
        cue: RhythmCue,
        frequencies: Sequence[float] | None,
        frequency_tolerance: float,
        stretch_tolerance: float,
        min_confidence: float,
    ) -> _Plan:
        freqs = tuple(frequencies) if frequencies else (cue.frequency_hz,)
        if not freqs or any(
            not _MIN_FREQUENCY_HZ <= f <= _MAX_FREQUENCY_HZ for f in freqs
        ):
            msg = (
                f"cue frequencies must be {_MIN_FREQUENCY_HZ:g} to "
                f"{_MAX_FREQUENCY_HZ:g} Hz, got {list(freqs)}"
            )
            raise ConfigError(msg)
        if not 0.0 <= frequency_tolerance <= 0.5:
            msg = f"frequency_tolerance must be 0 to 0.5, got {frequency_tolerance}"
            raise ConfigError(msg)
        if not 0.0 <= stretch_tolerance <= 0.5:
            msg = f"stretch_tolerance must be 0 to 0.5, got {stretch_tolerance}"
            raise ConfigError(msg)
        # 5 % beyond the stretch tolerance absorbs frame quantisation.
        unit_range = (
            cue.unit_s * (1 - stretch_tolerance) * 0.95,
            cue.unit_s * (1 + stretch_tolerance) * 1.05,
        )
        longest = max(_OFFSETS_LETTER) * unit_range[1]
        guard = _CONTEXT_S + _ISOLATION_UNITS * unit_range[1] + _FRAME_S
        return cls(
            frequencies=freqs,
            tolerance=frequency_tolerance,
            unit_range=unit_range,
            min_confidence=min_confidence,
            guard_s=guard,
            overlap_s=longest + 2 * guard + 0.1,
        )


_BLOCK_S = 30.0
# Files are decoded into shorter windows: iter_audio's cost per decoded frame
# grows with the window, while the overlap's share shrinks with it.
_FILE_WINDOW_S = 12.0


def _stream_hits(
    windows: Iterable[tuple[float, FloatArray]],
    sample_rate: int,
    plan: _Plan,
) -> list[CueHit]:
    """Hits over consecutive overlapping windows of one stream.

    A hit near an inner window edge may be cut short or miss its isolation
    context; the overlap guarantees the same hit lies well inside a
    neighbouring window, so such edge hits are dropped rather than trusted.
    """
    hits: list[CueHit] = []
    is_first = True
    for (t0, block), is_last in _with_last(windows):
        length = block.size / sample_rate
        for hit in _detect_block(
            block, sample_rate, plan.frequencies, plan.tolerance, plan.unit_range
        ):
            if hit.confidence < plan.min_confidence:
                continue
            if not is_first and hit.start_s < plan.guard_s:
                continue
            if not is_last and hit.end_s > length - plan.guard_s:
                continue
            hits.append(
                CueHit(
                    start_s=round(t0 + hit.start_s, 4),
                    end_s=round(t0 + hit.end_s, 4),
                    frequency_hz=round(hit.frequency_hz, 1),
                    unit_s=round(hit.unit_s, 4),
                    confidence=round(hit.confidence, 3),
                    letter_gap=hit.letter_gap,
                )
            )
        is_first = False
    return _suppress(hits)


def _with_last(
    items: Iterable[tuple[float, FloatArray]],
) -> Iterator[tuple[tuple[float, FloatArray], bool]]:
    it = iter(items)
    try:
        current = next(it)
    except StopIteration:
        return
    for following in it:
        yield current, False
        current = following
    yield current, True


def _as_mono(samples: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(samples, dtype=np.float64)
    if arr.ndim == 2:
        # (channels, n) as PyAV gives planar audio; (n, channels) otherwise.
        axis = 0 if arr.shape[0] <= arr.shape[1] else 1
        arr = arr.mean(axis=axis)
    if arr.ndim != 1:
        msg = f"audio samples must be 1-D or 2-D, got shape {arr.shape}"
        raise ConfigError(msg)
    if not np.isfinite(arr).all():
        arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
    return arr


def detect_cue(
    samples: npt.ArrayLike,
    sample_rate: int,
    *,
    cue: RhythmCue = DEFAULT_CUE,
    frequencies: Sequence[float] | None = None,
    frequency_tolerance: float = 0.2,
    stretch_tolerance: float = 0.15,
    min_confidence: float = 0.3,
) -> list[CueHit]:
    """Every rhythm cue in ``samples`` (mono, or planar/interleaved channels).

    Args:
        samples: audio in [-1, 1]; several channels are averaged.
        sample_rate: samples per second; 8 kHz and up.
        cue: the cue looked for: its frequency (unless ``frequencies`` is given)
            and unit length.
        frequencies: centre frequencies to search around; default the cue's.
        frequency_tolerance: relative half-width of the band searched around
            each frequency (0.2: 800 to 1200 Hz for 1 kHz).
        stretch_tolerance: relative time-stretch accepted on the unit length.
        min_confidence: hits below this confidence are dropped.

    Returns:
        Hits in time order; empty when there is none.
    """
    if sample_rate < 4000:
        msg = f"sample rate must be at least 4000 Hz, got {sample_rate}"
        raise ConfigError(msg)
    plan = _Plan.make(
        cue, frequencies, frequency_tolerance, stretch_tolerance, min_confidence
    )
    mono = _as_mono(samples)
    win = round(max(_BLOCK_S, 4 * plan.overlap_s) * sample_rate)
    hop = win - round(plan.overlap_s * sample_rate)
    windows = (
        (start / sample_rate, mono[start : start + win])
        for start in range(0, max(1, mono.size - win + hop), hop)
    )
    return _stream_hits(windows, sample_rate, plan)


# --- files --------------------------------------------------------------------


class CuePosition(enum.StrEnum):
    """Where a cue sits in the programme."""

    START = "start"
    MIDDLE = "middle"
    END = "end"


class AudioCueStatus(enum.StrEnum):
    """Whether a file carries the rhythm cue anywhere."""

    COMPLIANT = "compliant"
    ABSENT = "absent"


@dataclass(frozen=True, slots=True)
class PlacedCueHit:
    """A hit and its position in the file."""

    hit: CueHit
    position: CuePosition


@dataclass(frozen=True, slots=True)
class AudioCueReport:
    """The rhythm cues found in one file.

    ``status`` is ``compliant`` when at least one cue is present, at any
    position: GB 45438 allows the start, the end and/or the middle.
    """

    path: Path
    duration_s: float
    edge_s: float
    hits: tuple[PlacedCueHit, ...]

    @property
    def status(self) -> AudioCueStatus:
        return AudioCueStatus.COMPLIANT if self.hits else AudioCueStatus.ABSENT

    @property
    def positions(self) -> frozenset[CuePosition]:
        """Every position that holds at least one cue."""
        return frozenset(h.position for h in self.hits)


_ANALYSIS_RATE = 16_000


def _position(hit: CueHit, duration_s: float, edge_s: float) -> CuePosition:
    to_start = hit.start_s
    to_end = max(0.0, duration_s - hit.end_s)
    if min(to_start, to_end) > edge_s:
        return CuePosition.MIDDLE
    return CuePosition.START if to_start <= to_end else CuePosition.END


def detect_cue_in_file(
    path: Path,
    limits: Limits | None = None,
    *,
    cue: RhythmCue = DEFAULT_CUE,
    frequencies: Sequence[float] | None = None,
    edge_s: float = 5.0,
    frequency_tolerance: float = 0.2,
    stretch_tolerance: float = 0.15,
    min_confidence: float = 0.3,
) -> AudioCueReport:
    """Stream the first audio track of ``path`` through :func:`detect_cue`.

    Audio is decoded, downmixed and resampled to 16 kHz by FFmpeg window by
    window, so memory stays constant however long the file. A cue is at the
    ``start`` when it begins within ``edge_s`` seconds of the beginning, at
    the ``end`` when it finishes within ``edge_s`` of the end (the nearer edge
    wins in short files), and in the ``middle`` otherwise.

    Raises:
        UnsupportedFormat: not audio or video, or no audio track.
        CorruptMedia: the audio cannot be decoded, or holds no samples.
        MediaLimitExceeded: size, duration or decode time over ``limits``.
    """
    limits = limits or Limits()
    path = Path(path)
    _check_kind(path, limits)
    plan = _Plan.make(
        cue, frequencies, frequency_tolerance, stretch_tolerance, min_confidence
    )
    window_s = max(_FILE_WINDOW_S, 3 * plan.overlap_s)
    total = 0
    last_end = 0

    def windows() -> Iterator[tuple[float, FloatArray]]:
        nonlocal total, last_end
        for w in iter_audio(
            path,
            limits=limits,
            sample_rate=_ANALYSIS_RATE,
            window_s=window_s,
            hop_s=window_s - plan.overlap_s,
        ):
            start = round(w.timestamp * _ANALYSIS_RATE)
            last_end = max(last_end, start + w.samples.size)
            total += w.samples.size
            yield w.timestamp, w.samples.astype(np.float64)

    hits = _stream_hits(windows(), _ANALYSIS_RATE, plan)
    if total == 0:
        raise CorruptMedia("the audio track holds no decodable samples", path=path)
    duration = last_end / _ANALYSIS_RATE
    placed = tuple(PlacedCueHit(h, _position(h, duration, edge_s)) for h in hits)
    return AudioCueReport(path=path, duration_s=duration, edge_s=edge_s, hits=placed)


def _check_kind(path: Path, limits: Limits) -> None:
    """Refuse images and documents early; let FFmpeg judge unknown content."""
    try:
        found = probe(path, max_file_bytes=limits.max_file_bytes)
    except UnsupportedFormat:
        return  # e.g. raw ADTS AAC or AIFF: FFmpeg decides below
    if found.kind not in (MediaKind.AUDIO, MediaKind.VIDEO):
        msg = f"is {found.mime} ({found.kind.value}), not audio"
        raise UnsupportedFormat(msg, path=path)
