"""Voice activity detection: Resemblyzer's silence trimming, and a speech measure.

Two different questions are answered here.

*Which samples does the encoder see?* Exactly what Resemblyzer's
``preprocess_wav`` keeps: the clip is raised (never lowered) to -30 dBFS, then
webrtcvad (aggressiveness 3) judges 30 ms frames, the flags are smoothed by a
moving average of 8 frames and dilated by 3 frames on each side, and only the
flagged frames are kept. The encoder was trained on audio prepared this way, so
deviating from it costs accuracy.

*How many seconds of speech are there?* webrtcvad alone cannot answer this: it
is an energy and spectral-shape detector and flags white noise, pure tones and
music as voice (nearly 100 % of the frames of a generated chord sequence).
Enrolment must reject music-only and noise clips, so a frame counts as speech
only when webrtcvad flags it *and* the second around it sounds like a talker:
enough voiced (periodic) frames whose pitch keeps moving, as intonation does,
not one continuous voiced stretch, and with their energy in the band where
vowels put it (300-3400 Hz). Notes of an instrument hold their pitch to a
fraction of a cent between 10 ms frames, while speech glides by several cents;
noise is not periodic at all; a kick drum is periodic and may glide, but below
that band. On the shared LibriSpeech utterances about 95 % of webrtcvad's
speech frames pass; on generated chords, melodies, drums, tones and noise
essentially none do. Instruments played with vibrato, and singing, do count as
speech: that is a known limit of this measure.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import webrtcvad

__all__ = [
    "FRAME_SAMPLES",
    "FRAME_SECONDS",
    "SAMPLE_RATE",
    "normalize_volume",
    "speech_frames",
    "trim_long_silences",
    "voice_flags",
    "voice_mask",
]

SAMPLE_RATE = 16_000
FRAME_SECONDS = 0.03  # webrtcvad accepts 10, 20 or 30 ms frames
FRAME_SAMPLES = round(SAMPLE_RATE * FRAME_SECONDS)
_AGGRESSIVENESS = 3
_MOVING_AVERAGE_WIDTH = 8
_MAX_SILENCE_FRAMES = 6
_TARGET_DBFS = -30.0
_INT16_MAX = 2**15 - 1

# Pitch tracking (YIN's cumulative mean normalised difference) for the speech
# measure: 40 ms windows every 10 ms, pitch between 60 and 500 Hz.
_PITCH_WINDOW = 640
_PITCH_HOP = 160
_MIN_LAG = SAMPLE_RATE // 500
_MAX_LAG = SAMPLE_RATE // 60
_PITCH_NFFT = 1024  # >= window + max lag: no circular wrap in the autocorrelation
_PITCH_BLOCK = 2048  # frames per block, to bound memory on long clips
_APERIODICITY_MAX = 0.3  # a frame is voiced below this YIN dip
_ENERGY_FLOOR = 1e-5  # mean power of a voiced frame (about -50 dBFS)
_FFT_HZ = np.fft.rfftfreq(_PITCH_NFFT, 1 / SAMPLE_RATE)
_VOWEL_BAND = (_FFT_HZ >= 300.0) & (_FFT_HZ <= 3400.0)  # telephone band
# Speech-likeness of a 10 ms frame, judged on its neighbourhood.
_CONTEXT_FRAMES = 100  # 1 s: pitch movement
_MIN_VOICED_PAIRS = 10  # 100 ms of voicing in that second
_MIN_GLIDE_CENTS = 3.0  # per 10 ms; held notes move < 0.3
_MAX_STEP_CENTS = 180.0  # larger steps are note changes or octave errors
_MIN_MOVING_SHARE = 0.5  # of the voiced pairs
_VOICING_CONTEXT_FRAMES = 200  # 2 s: talkers pause for consonants and breath
_MAX_VOICED_SHARE = 0.85
_MIN_VOWEL_BAND_SHARE = 0.15  # mean over the voiced frames; speech ~0.5, kicks ~0.05


def normalize_volume(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Raise a quiet clip to -30 dBFS RMS; leave louder (and silent) clips alone.

    Resemblyzer's ``normalize_volume(wav, -30, increase_only=True)``. The
    encoder reads linear power, so the level it was trained at matters.
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.size == 0:
        return x
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) * _INT16_MAX
    if rms <= 0.0:
        return x
    change_db = _TARGET_DBFS - 20.0 * np.log10(rms / _INT16_MAX)
    if change_db <= 0.0:
        return x
    return (x * np.float32(10.0 ** (change_db / 20.0))).astype(np.float32)


def voice_flags(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
    """webrtcvad's verdict for each whole 30 ms frame (a partial tail is dropped).

    Samples are rounded to 16-bit PCM as Resemblyzer does; values beyond full
    scale are clipped rather than wrapped around.
    """
    x = np.asarray(samples, dtype=np.float32)
    count = x.size // FRAME_SAMPLES
    pcm = np.clip(np.round(x[: count * FRAME_SAMPLES] * _INT16_MAX), -32768, 32767)
    data = pcm.astype("<i2").tobytes()
    vad = webrtcvad.Vad(_AGGRESSIVENESS)
    step = FRAME_SAMPLES * 2
    return np.fromiter(
        (
            bool(vad.is_speech(data[i * step : (i + 1) * step], SAMPLE_RATE))
            for i in range(count)
        ),
        dtype=np.bool_,
        count=count,
    )


def voice_mask(flags: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Smooth and dilate raw VAD flags the way Resemblyzer does.

    A moving average over 8 frames, rounded half to even (so 4 of 8 is not
    enough), then each kept frame widens the mask by 3 frames on either side so
    that short pauses inside speech survive.
    """
    width = _MOVING_AVERAGE_WIDTH
    padded = np.concatenate(
        (np.zeros((width - 1) // 2), flags.astype(np.float64), np.zeros(width // 2))
    )
    sums = np.cumsum(padded)
    sums[width:] = sums[width:] - sums[:-width]
    smoothed = np.round(sums[width - 1 :] / width).astype(np.bool_)
    kernel = np.ones(_MAX_SILENCE_FRAMES + 1)
    dilated: npt.NDArray[np.bool_] = (
        np.convolve(smoothed.astype(np.float64), kernel, mode="same") > 0.5
    )
    return dilated


def trim_long_silences(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Keep only the voiced part of an (already normalised) clip.

    Resemblyzer's ``trim_long_silences``: the clip is cut to whole 30 ms frames
    and the frames outside :func:`voice_mask` are removed.
    """
    x = np.asarray(samples, dtype=np.float32)
    mask = voice_mask(voice_flags(x))
    keep = np.repeat(mask, FRAME_SAMPLES)
    trimmed: npt.NDArray[np.float32] = x[: keep.size][keep]
    return trimmed


def speech_frames(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
    """Which 30 ms frames of a clip hold speech (not music, tones or noise).

    ``samples`` is mono audio at 16 kHz; it is volume-normalised here as for
    the encoder. Frame ``i`` covers samples ``[480 i, 480 i + 480)``.
    """
    x = normalize_volume(np.asarray(samples, dtype=np.float32))
    flags = voice_flags(x)
    return flags & _talker_like(x, flags.size)


def _talker_like(x: npt.NDArray[np.float32], count: int) -> npt.NDArray[np.bool_]:
    """Per 30 ms frame: does the pitch around it move like a talking voice?"""
    out = np.zeros(count, dtype=np.bool_)
    f0, aperiodicity, power, band_share = _pitch_track(x)
    if f0.size < 2 or count == 0:
        return out
    voiced = (aperiodicity < _APERIODICITY_MAX) & (power > _ENERGY_FLOOR)
    steps = np.abs(np.diff(np.log2(f0))) * 1200.0
    pairs = voiced[1:] & voiced[:-1] & (steps < _MAX_STEP_CENTS)
    moving = pairs & (steps > _MIN_GLIDE_CENTS)
    n_pairs = _centred_sum(np.append(pairs, False), _CONTEXT_FRAMES)
    n_moving = _centred_sum(np.append(moving, False), _CONTEXT_FRAMES)
    n_voiced = _centred_sum(voiced, _VOICING_CONTEXT_FRAMES)
    n_around = _centred_sum(np.ones_like(voiced), _VOICING_CONTEXT_FRAMES)
    n_voiced_near = _centred_sum(voiced, _CONTEXT_FRAMES)
    band_near = _centred_sum(np.where(voiced, band_share, 0.0), _CONTEXT_FRAMES)
    like = (
        (n_pairs >= _MIN_VOICED_PAIRS)
        & (n_moving >= _MIN_MOVING_SHARE * n_pairs)
        & (n_voiced <= _MAX_VOICED_SHARE * n_around)
        & (band_near >= _MIN_VOWEL_BAND_SHARE * n_voiced_near)
    )
    # A 10 ms pitch frame belongs to the 30 ms VAD frame holding its centre.
    centres = np.arange(f0.size) * _PITCH_HOP + _PITCH_WINDOW // 2
    index = centres // FRAME_SAMPLES
    inside = index < count
    np.logical_or.at(out, index[inside], like[inside])
    return out


def _centred_sum(
    values: npt.NDArray[np.bool_] | npt.NDArray[np.float64], width: int
) -> npt.NDArray[np.float64]:
    """Sum of ``values`` over a window of ``width`` centred on each element."""
    sums = np.concatenate(([0.0], np.cumsum(values, dtype=np.float64)))
    index = np.arange(values.size)
    lo = np.clip(index - width // 2, 0, values.size)
    hi = np.clip(index + width // 2 + 1, 0, values.size)
    window_sums: npt.NDArray[np.float64] = sums[hi] - sums[lo]
    return window_sums


class _Pitch(NamedTuple):
    """Per 10 ms frame: pitch, how periodic, how loud, where the energy lies."""

    f0: npt.NDArray[np.float64]  # Hz
    aperiodicity: npt.NDArray[np.float64]  # YIN dip: 0 periodic .. ~1 noise
    power: npt.NDArray[np.float64]  # mean square of the frame
    band_share: npt.NDArray[np.float64]  # energy share in _VOWEL_BAND


def _pitch_track(x: npt.NDArray[np.float32]) -> _Pitch:
    """YIN pitch tracking over 40 ms frames every 10 ms.

    YIN (de Cheveigné and Kawahara, 2002): the difference function is built
    from an FFT autocorrelation and running energies, normalised by its
    cumulative mean; the first dip under the threshold (else the deepest)
    gives the period, refined by parabolic interpolation. Frames go through in
    blocks so that a long clip never holds all its spectra at once.
    """
    if x.size < _PITCH_WINDOW:
        empty = np.zeros(0)
        return _Pitch(empty, empty, empty, empty)
    all_frames = np.lib.stride_tricks.sliding_window_view(
        x.astype(np.float64), _PITCH_WINDOW
    )[::_PITCH_HOP]
    parts = [
        _pitch_block(all_frames[s : s + _PITCH_BLOCK])
        for s in range(0, all_frames.shape[0], _PITCH_BLOCK)
    ]
    return _Pitch(*(np.concatenate([p[i] for p in parts]) for i in range(4)))


def _pitch_block(frames: npt.NDArray[np.float64]) -> _Pitch:
    n = frames.shape[0]
    rows = np.arange(n)
    lags = np.arange(_MAX_LAG + 1)
    frames = frames - frames.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(frames, _PITCH_NFFT, axis=1)
    energy = spectrum.real**2 + spectrum.imag**2
    band_share = energy[:, _VOWEL_BAND].sum(axis=1) / np.maximum(
        energy.sum(axis=1), 1e-20
    )
    acf = np.fft.irfft(energy, _PITCH_NFFT, axis=1)[:, : _MAX_LAG + 1]
    squares = frames**2
    head = np.concatenate((np.zeros((n, 1)), np.cumsum(squares, axis=1)), axis=1)
    total = head[:, -1]
    # d(tau) = sum_j (x_j - x_{j+tau})^2 over the overlap of the two copies.
    diff = head[:, _PITCH_WINDOW - lags] + (total[:, None] - head[:, lags]) - 2 * acf
    diff[:, 0] = 0.0
    running = np.cumsum(diff[:, 1:], axis=1)
    cmnd = diff[:, 1:] * lags[1:] / np.maximum(running, 1e-12)
    band = cmnd[:, _MIN_LAG - 1 :]  # lag _MIN_LAG .. _MAX_LAG
    below = band < _APERIODICITY_MAX
    pick = np.where(below.any(axis=1), below.argmax(axis=1), band.argmin(axis=1))
    last = band.shape[1] - 1
    for _ in range(band.shape[1]):  # walk down to the bottom of the dip
        nxt = np.minimum(pick + 1, last)
        better = band[rows, nxt] < band[rows, pick]
        if not better.any():
            break
        pick = np.where(better, nxt, pick)
    left = band[rows, np.maximum(pick - 1, 0)]
    mid = band[rows, pick]
    right = band[rows, np.minimum(pick + 1, last)]
    curvature = left - 2 * mid + right
    curved = np.abs(curvature) > 1e-12
    offset = np.where(
        curved, 0.5 * (left - right) / np.where(curved, curvature, 1.0), 0.0
    )
    period = _MIN_LAG + pick + np.clip(offset, -1.0, 1.0)
    return _Pitch(SAMPLE_RATE / period, mid, total / _PITCH_WINDOW, band_share)
