"""Speaker embeddings of voices, over whole clips and over windows located in time.

A voice reference (enrolment) is one embedding of a whole clip; a scanned file
is cut into overlapping windows, each embedded on its own, so that a protected
voice is found *when* it speaks, not only somewhere in the file. Both use
Resemblyzer's recipe unchanged (volume normalisation, webrtcvad trimming,
1.6 s partials, the GE2E encoder), so embeddings from here and from
Resemblyzer itself are interchangeable.

How much of a clip is speech is measured separately (:meth:`VoiceEngine.
speech_seconds`): webrtcvad also fires on music and noise, and enrolment must
refuse a clip with too little real speech. See ``_vad`` for that measure.

Inference runs with torch on the CPU, all partials of a call in batches and
without autograd. ``threads`` sets torch's intra-op thread count for the
duration of each call and restores it afterwards. The default is one thread:
the 256-unit LSTM gains little from a second core (a 60 s clip's 76 partials
took 0.12 s on two idle cores), while OpenMP threads that compete for busy
cores (parallel batch workers, other processes) slow it several-fold (0.47 s on
one thread against 1.7-3.6 s on two, measured on a loaded 2-core machine).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from deepguard.config import Limits
from deepguard.errors import InvalidSignal, MediaError
from deepguard.likeness._ge2e import load_encoder
from deepguard.likeness._vad import (
    FRAME_SAMPLES,
    FRAME_SECONDS,
    normalize_volume,
    speech_frames,
    trim_long_silences,
)
from deepguard.media.av import iter_audio

__all__ = [
    "RATE",
    "VoiceEmbedding",
    "VoiceEngine",
    "VoiceWindow",
    "load_voice",
]

RATE = 16_000
_DECODE_CHUNK_S = 10.0
_WINDOW_GROUP = 128  # windows trimmed and embedded together
_DEFAULT_THREADS = 1  # see the module docstring


@dataclass(frozen=True, slots=True)
class VoiceEmbedding:
    """A voice's 256-d GE2E embedding (unit length) and the speech behind it.

    ``speech_s`` is the measured speech (music and noise excluded), so that a
    caller can refuse an embedding that rests on too little of it.
    """

    embedding: npt.NDArray[np.float32]
    speech_s: float


@dataclass(frozen=True, slots=True)
class VoiceWindow:
    """One window of a clip: where it lies, how much speech, its embedding.

    ``embedding`` is ``None`` when the window holds less speech than asked.
    """

    start_s: float
    end_s: float
    speech_s: float
    embedding: npt.NDArray[np.float32] | None


class VoiceEngine:
    """Embeds voices with Resemblyzer's GE2E encoder on the CPU.

    ``weights_path`` replaces the weights shipped in the ``resemblyzer``
    package; ``threads`` is torch's thread count during each call (default 1,
    see the module docstring). Loading takes a fraction of a second; keep one
    engine per process and reuse it. Calls may come from several threads, but
    then give every engine the same ``threads`` (torch's setting is global).

    Raises:
        DependencyError: the packaged weights are missing, modified or unreadable.
        ConfigError: ``weights_path`` is missing or not GE2E weights.
        ValueError: ``threads`` is below 1.
    """

    def __init__(
        self, *, weights_path: Path | None = None, threads: int | None = None
    ) -> None:
        if threads is not None and threads < 1:
            msg = f"threads must be at least 1, got {threads}"
            raise ValueError(msg)
        self._threads = threads or _DEFAULT_THREADS
        self._encoder = load_encoder(weights_path)

    def speech_seconds(self, samples: npt.NDArray[np.float32]) -> float:
        """Seconds of speech in mono float32 ``samples`` at :data:`RATE`.

        Silence, noise, tones and (non-vibrato) music count as zero.

        Raises:
            InvalidSignal: ``samples`` is not a 1-D array of finite floats.
        """
        return float(speech_frames(_mono(samples)).sum()) * FRAME_SECONDS

    def embed(self, samples: npt.NDArray[np.float32]) -> VoiceEmbedding:
        """The embedding of a whole clip (Resemblyzer's ``embed_utterance``).

        Raises:
            InvalidSignal: ``samples`` is malformed, or voice activity detection
                finds nothing to embed (silence).
        """
        x = _mono(samples)
        wav = trim_long_silences(normalize_volume(x))
        if wav.size == 0:
            msg = "no voice activity in the audio: nothing to embed"
            raise InvalidSignal(msg)
        with self._torch_threads():
            vector = self._encoder.embed_utterances([wav])[0]
        return VoiceEmbedding(embedding=vector, speech_s=self.speech_seconds(x))

    def windows(
        self,
        samples: npt.NDArray[np.float32],
        *,
        window_s: float = 3.0,
        hop_s: float = 1.5,
        min_speech_s: float = 1.0,
    ) -> list[VoiceWindow]:
        """Embeddings of overlapping windows of ``window_s``, ``hop_s`` apart.

        Windows start at 0; when the last one stops short of the end, one more
        window ends exactly at the end, so every sample is covered. A clip
        shorter than ``window_s`` is one window. Each window is embedded as a
        clip of its own (normalised and trimmed on its own), and only when it
        holds at least ``min_speech_s`` of speech.

        Raises:
            InvalidSignal: ``samples`` is malformed.
            ValueError: a non-positive window or hop, or a negative minimum.
        """
        if window_s <= 0 or hop_s <= 0 or min_speech_s < 0:
            msg = "window_s and hop_s must be positive and min_speech_s >= 0"
            raise ValueError(msg)
        x = _mono(samples)
        speech = np.concatenate(([0], np.cumsum(speech_frames(x), dtype=np.int64)))
        spans = _spans(x.size, round(window_s * RATE), max(1, round(hop_s * RATE)))
        seconds = [_speech_between(speech, a, b) * FRAME_SECONDS for a, b in spans]
        wanted = [i for i, s in enumerate(seconds) if s >= min_speech_s]
        vectors: dict[int, npt.NDArray[np.float32]] = {}
        # Windows are trimmed and embedded a group at a time, so a long clip
        # never holds every window's audio twice over.
        for group_start in range(0, len(wanted), _WINDOW_GROUP):
            group = wanted[group_start : group_start + _WINDOW_GROUP]
            trimmed = {
                i: trim_long_silences(normalize_volume(x[spans[i][0] : spans[i][1]]))
                for i in group
            }
            kept = [i for i in group if trimmed[i].size]
            with self._torch_threads():
                embedded = self._encoder.embed_utterances([trimmed[i] for i in kept])
            vectors.update(zip(kept, embedded, strict=True))
        return [
            VoiceWindow(
                start_s=start / RATE,
                end_s=stop / RATE,
                speech_s=seconds[index],
                embedding=vectors.get(index),
            )
            for index, (start, stop) in enumerate(spans)
        ]

    @contextlib.contextmanager
    def _torch_threads(self) -> Iterator[None]:
        """Run torch with this engine's thread count, then restore the old one."""
        previous = torch.get_num_threads()
        if self._threads != previous:
            torch.set_num_threads(self._threads)
        try:
            yield
        finally:
            if self._threads != previous:
                torch.set_num_threads(previous)


def _mono(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Validate mono float audio and return it as contiguous float32."""
    x = np.asarray(samples)
    if x.ndim != 1 or not np.issubdtype(x.dtype, np.floating):
        msg = (
            "voice samples must be a 1-D float array of mono audio at 16 kHz, "
            f"got shape {x.shape} of {x.dtype}"
        )
        raise InvalidSignal(msg)
    if not np.isfinite(x).all():
        msg = "voice samples hold NaN or infinite values"
        raise InvalidSignal(msg)
    return np.ascontiguousarray(x, dtype=np.float32)


def _spans(n: int, window: int, hop: int) -> list[tuple[int, int]]:
    """Sample ranges of the windows over ``n`` samples (see ``windows``)."""
    if n == 0:
        return []
    if n <= window:
        return [(0, n)]
    spans = [(start, start + window) for start in range(0, n - window + 1, hop)]
    if spans[-1][1] < n:
        spans.append((n - window, n))
    return spans


def _speech_between(cumulative: npt.NDArray[np.int64], start: int, stop: int) -> int:
    """Speech frames whose centre lies in samples ``[start, stop)``."""
    half = FRAME_SAMPLES // 2
    first = max(0, math.ceil((start - half) / FRAME_SAMPLES))
    last = max(0, math.ceil((stop - half) / FRAME_SAMPLES))
    frames = cumulative.size - 1
    first, last = min(first, frames), min(last, frames)
    return int(cumulative[last] - cumulative[first])


def load_voice(
    path: Path, *, limits: Limits, max_s: float | None = None
) -> npt.NDArray[np.float32]:
    """Decode the audio of any audio or video file to mono float32 at :data:`RATE`.

    Decoding streams and stops after ``max_s`` seconds when given, so a long
    file costs only what is used. Non-finite samples (possible in float PCM)
    become silence.

    Raises:
        UnsupportedFormat: not media, or no audio stream.
        CorruptMedia: the audio cannot be decoded.
        MediaLimitExceeded: duration, size or decode time over ``limits``.
        MediaError: no audio samples could be decoded.
    """
    if max_s is not None and max_s <= 0:
        msg = f"max_s must be positive, got {max_s}"
        raise ValueError(msg)
    wanted = round(max_s * RATE) if max_s is not None else None
    parts: list[npt.NDArray[np.float32]] = []
    total = 0
    chunks = iter_audio(path, limits=limits, sample_rate=RATE, window_s=_DECODE_CHUNK_S)
    try:
        for chunk in chunks:
            parts.append(chunk.samples)
            total += chunk.samples.size
            if wanted is not None and total >= wanted:
                break
    finally:
        chunks.close()
    if total == 0:
        msg = "no audio samples could be decoded (empty or damaged audio stream)"
        raise MediaError(msg, path=path)
    samples = np.concatenate(parts)[:wanted]
    if not np.isfinite(samples).all():
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    return np.ascontiguousarray(samples, dtype=np.float32)
