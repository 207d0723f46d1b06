"""The mel spectrogram Resemblyzer's GE2E encoder was trained on, in NumPy.

Resemblyzer computes its input with ``librosa.feature.melspectrogram`` at
16 kHz: a 25 ms (400-sample) periodic Hann window every 10 ms (160 samples),
frames centred on their sample (the signal is padded with ``n_fft // 2`` zeros
at each end, librosa's ``pad_mode="constant"`` default since 0.10), a power
spectrogram (``|STFT|**2``) and 40 Slaney-style mel filters between 0 Hz and
8 kHz with Slaney area normalisation. It is *not* a log-mel spectrogram: the
encoder sees linear power, so the input level matters (see ``_vad``'s volume
normalisation).

librosa is not a deepguard dependency (it pulls numba and llvmlite), so the
same arithmetic is written here. Against librosa 0.11 on a LibriSpeech
utterance the largest difference is below float32 rounding of the values
(recorded in the tests).
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

__all__ = [
    "HOP_LENGTH",
    "N_FFT",
    "N_MELS",
    "SAMPLE_RATE",
    "hz_to_mel",
    "mel_filterbank",
    "mel_spectrogram",
    "mel_to_hz",
    "n_frames",
]

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms
HOP_LENGTH = 160  # 10 ms
N_MELS = 40

# The Slaney mel scale: linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = float(np.log(6.4) / 27.0)

# Frames are transformed in blocks so a long clip never holds its whole
# complex spectrogram at once.
_BLOCK_FRAMES = 4096


def hz_to_mel(hz: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Frequencies in Hz to Slaney mels (librosa's ``htk=False`` scale)."""
    f = np.asarray(hz, dtype=np.float64)
    linear = f / _F_SP
    # The clamp keeps log() finite where the linear branch is taken anyway.
    logpart = _MIN_LOG_MEL + np.log(np.maximum(f, 1e-300) / _MIN_LOG_HZ) / _LOGSTEP
    out: npt.NDArray[np.float64] = np.where(f >= _MIN_LOG_HZ, logpart, linear)
    return out


def mel_to_hz(mels: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Slaney mels back to Hz."""
    m = np.asarray(mels, dtype=np.float64)
    linear = m * _F_SP
    logpart = _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL))
    out: npt.NDArray[np.float64] = np.where(m >= _MIN_LOG_MEL, logpart, linear)
    return out


@functools.cache
def mel_filterbank() -> npt.NDArray[np.float64]:
    """The (40, 201) triangular filters mapping FFT bins to mel bands.

    Same construction as ``librosa.filters.mel(sr=16000, n_fft=400, n_mels=40,
    norm="slaney")``: band edges equally spaced in mels from 0 Hz to Nyquist,
    each triangle scaled by ``2 / bandwidth`` so every band has the same area.
    """
    fft_freqs = np.linspace(0.0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    edges = mel_to_hz(
        np.linspace(hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2)
    )
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    weights.setflags(write=False)
    return weights


@functools.cache
def _window() -> npt.NDArray[np.float64]:
    """Periodic Hann window (``scipy.signal.get_window("hann", 400)``)."""
    n = np.arange(N_FFT)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / N_FFT)
    window.setflags(write=False)
    return window


def n_frames(n_samples: int) -> int:
    """Number of mel frames for ``n_samples`` samples (centred frames)."""
    return 1 + n_samples // HOP_LENGTH


def mel_spectrogram(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Mel power spectrogram, shape ``(frames, 40)``, frame ``t`` centred on
    sample ``160 * t``.

    ``samples`` is mono audio at 16 kHz. An empty input gives one all-zero
    frame, as librosa does.
    """
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    pad = N_FFT // 2
    padded = np.pad(x, (pad, pad))
    count = n_frames(x.size)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_LENGTH]
    frames = frames[:count]
    basis_t = mel_filterbank().T
    window = _window()
    out = np.empty((count, N_MELS), dtype=np.float32)
    for start in range(0, count, _BLOCK_FRAMES):
        block = frames[start : start + _BLOCK_FRAMES] * window
        spectrum = np.fft.rfft(block, n=N_FFT, axis=1)
        power = spectrum.real**2 + spectrum.imag**2
        out[start : start + block.shape[0]] = power @ basis_t
    return out
