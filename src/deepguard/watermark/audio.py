"""deepguard's invisible audio mark: embed and detect, in arrays and in files.

The mark follows audiowmark's idea (keyed, slight ups and downs of the
programme's own energy in bands between 400 and 6800 Hz, read blind and from
any offset) with two changes that let a 5-second fragment carry a payload
through 64 kbit/s codecs:

* it is *informed*: the embedder measures the programme and moves keyed
  combinations of tile energies onto a lattice (quantization index
  modulation), instead of adding a pattern the programme would drown;
* it is *local*: every group of tiles it reads lies in one 192 ms column, so
  a fragment starting anywhere sees whole groups.

A block (4.6 s) carries the 32-bit short payload (:meth:`Payload.short`)
protected by a BCH code, each coded bit on two or three groups, and repeats
end to end. Detection mixes to mono, works at 16 kHz (so 44.1 <-> 16 kHz
resampling is harmless), tries every start, and reports a p-value that pays
for every start and every payload it could have read (see
:mod:`._audio_detect`). See :mod:`._audio_dsp` for the tile grid and
:mod:`._audio_embed` for the embedder.

Measured in ``bench/_wm_audio.py`` on 5-second fragments at random offsets of
20 clips (read speech, synthetic speech, music): every payload back after
MP3 64 kbit/s, resampling 44.1 <-> 16 kHz and volume x0.5 / x2 (clipped),
95 % after AAC 64 kbit/s, no false positive; mark-to-signal ratio about
-23 dB, segmental SNR about 28 dB. Opus at 32 kbit/s and white noise at 20 dB
SNR erase it from speech (music keeps it). A change of speed moves the tiles
further than the search reaches unless its factor is given in ``speeds``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from statistics import NormalDist
from typing import Any, Final

import av
import numpy as np
import numpy.typing as npt

from deepguard._atomic import atomic_output
from deepguard.config import Limits
from deepguard.errors import (
    CannotCarryMark,
    CorruptMedia,
    DeepguardError,
    DependencyError,
    MediaLimitExceeded,
)
from deepguard.media.audio_writer import (
    AV_ERRORS,
    AudioTarget,
    AudioWriter,
    audio_mime,
    audio_only_stream,
    choose_target,
    copy_tags,
    decoded_chunks,
    one_line,
)
from deepguard.media.av import Deadline, iter_audio, open_container
from deepguard.watermark._audio_detect import Finding, search
from deepguard.watermark._audio_dsp import BAND_EDGES_HZ, RATE, TILE, resample
from deepguard.watermark._audio_embed import MarkStream
from deepguard.watermark._audio_layout import COLUMN_TILES, PAYLOAD_BITS, AudioLayout
from deepguard.watermark.base import (
    DEFAULT_FPR,
    Detection,
    Status,
    WatermarkKey,
    p_value_of_max,
)
from deepguard.watermark.payload import Payload

__all__ = ["METHOD", "AudioWatermarker"]

_VIDEO_NOTE = "video is marked in its pictures by the video watermark, not here"
"""Where files with real video go instead of this audio rewriter."""

Array = npt.NDArray[np.float64]

METHOD: Final = "deepguard-audio"
MIN_RATE = 14_000
"""Lowest sample rate whose band reaches the mark's top band edge (6.8 kHz)."""
MIN_SECONDS = 2.0
"""Shortest audio that can carry, or reveal, a mark."""
WINDOW_S = 12.0
WINDOW_HOP_S = 10.0
MAX_WINDOWS = 8
"""Windows searched; inputs longer than ~82 s are judged on their start."""
_COLUMN_S = COLUMN_TILES * TILE / RATE
_MIN_CARRY_COLUMNS = 10  # about 2 s of programme with energy in the band
_SILENT_PEAK = 1e-5
_FEED_SAMPLES = 1 << 16


class AudioWatermarker:
    """Embeds and detects deepguard's audio mark with one key.

    Args:
        key: the shared secret; the default key is public (see
            :class:`WatermarkKey`).
        fpr: the false-positive probability accepted per item: a mark is
            present when its p-value is at most this.
        speeds: playback-speed factors the detector undoes before searching
            (1.02: the audio was played 2 % fast). The tiles must line up to
            about 0.1 %, so this finds a speed change only near one of the
            factors; each factor costs a full search and is paid for in the
            p-value. Default: no speed change.
    """

    def __init__(
        self,
        key: WatermarkKey | None = None,
        fpr: float = DEFAULT_FPR,
        *,
        speeds: tuple[float, ...] = (1.0,),
    ):
        if not 0.0 < fpr < 1.0:
            msg = f"fpr must be between 0 and 1, got {fpr!r}"
            raise ValueError(msg)
        if not speeds or not all(0.5 <= s <= 2.0 for s in speeds):
            msg = f"speeds must be factors between 0.5 and 2, got {speeds!r}"
            raise ValueError(msg)
        self.key = key or WatermarkKey()
        self.fpr = fpr
        self.speeds = tuple(speeds)
        self._layout = AudioLayout.for_key(self.key)

    # --- arrays ----------------------------------------------------------------

    def embed(
        self, samples: npt.NDArray[np.float32], rate: int, payload: Payload
    ) -> npt.NDArray[np.float32]:
        """A marked copy of ``samples`` (``(n, channels)`` or ``(n,)``, in [-1, 1]).

        Carries ``payload.short()``. The result has the input's shape and is
        float32, clipped to [-1, 1].

        Raises:
            CannotCarryMark: the audio is shorter than 2 s, silent or too
                quiet in the mark's band, sampled below 14 kHz, or holds NaN.
        """
        array = np.asarray(samples)
        planar = _as_planar(array)
        _check_carrier(planar, rate)
        stream = MarkStream(rate, planar.shape[0], self._layout, _bits(payload))
        parts: list[npt.NDArray[np.float32]] = []
        for lo in range(0, planar.shape[1], _FEED_SAMPLES):
            parts.extend(stream.feed(planar[:, lo : lo + _FEED_SAMPLES]))
        parts.extend(stream.finish())
        _check_carried(stream)
        marked = np.concatenate(parts, axis=1)
        out = marked.T if array.ndim == 2 else marked[0]
        return np.ascontiguousarray(out, dtype=np.float32)

    def detect(self, samples: npt.ArrayLike, rate: int) -> Detection:
        """Look for the mark in ``samples`` (``(n, channels)`` or ``(n,)``).

        Never raises for bad audio: too short, silent, non-finite or too low
        a sample rate give ``Status.UNDETECTABLE`` with the reason.
        """
        array = np.asarray(samples, dtype=np.float64)
        if array.ndim not in (1, 2) or array.size == 0:
            return Detection.undetectable(METHOD, "no audio samples")
        if not np.isfinite(array).all():
            return Detection.undetectable(METHOD, "the samples hold NaN or infinity")
        mono = array if array.ndim == 1 else array.mean(axis=1)
        reason = _unusable(mono.size / rate if rate > 0 else 0.0, rate, mono)
        if reason:
            return Detection.undetectable(METHOD, reason)
        window = round(WINDOW_S * rate)
        hop = round(WINDOW_HOP_S * rate)
        windows = (
            (lo / rate, resample(mono[lo : lo + window], rate, RATE))
            for lo in range(0, mono.size, hop)
            if lo == 0 or mono.size - lo >= MIN_SECONDS * rate
        )
        return self._judge(windows)

    # --- files -----------------------------------------------------------------

    def embed_file(
        self, src: Path, dst: Path, payload: Payload, *, limits: Limits | None = None
    ) -> None:
        """Write ``src`` to ``dst`` with the mark, in the same container and codec.

        The audio is decoded, marked and re-encoded chunk by chunk with the
        input's codec family, sample rate, layout and bit rate (see
        :mod:`deepguard.media.audio_writer`); container and stream tags are
        kept. ``dst`` is written atomically; ``src`` is only read (``dst`` may
        be ``src`` for an in-place edit, which replaces it only on success).

        Raises:
            UnsupportedFormat: not audio, a video, or no encoder for the codec.
            CorruptMedia: the audio cannot be decoded.
            MediaLimitExceeded: size, duration or decode time over ``limits``.
            CannotCarryMark: too short, silent, or sampled below 14 kHz.
            DependencyError: FFmpeg fails to encode.
        """
        limits = limits or Limits()
        src, dst = Path(src), Path(dst)
        mime = audio_mime(src, limits)
        deadline = Deadline(src, limits.max_decode_s, "watermarking")
        container = open_container(src, limits=limits)
        try:
            stream = audio_only_stream(
                container,
                src,
                video_note=_VIDEO_NOTE,
            )
            target = choose_target(container, stream, mime, src)
            if target.sample_rate < MIN_RATE:
                msg = (
                    f"its sample rate ({target.sample_rate} Hz) is below "
                    f"{MIN_RATE} Hz, too low for the mark's band"
                )
                raise CannotCarryMark(msg, path=src)
            with atomic_output(dst) as tmp:
                self._write(container, stream, target, payload, tmp, deadline, src)
        finally:
            container.close()

    def detect_file(self, path: Path, *, limits: Limits | None = None) -> Detection:
        """Look for the mark in an audio (or video) file's first audio track.

        Never raises for bad input: unreadable, corrupt, too long or too
        short files give ``Status.UNDETECTABLE`` with a one-line reason.
        """
        limits = limits or Limits()
        path = Path(path)
        try:
            windows = iter_audio(
                path,
                limits=limits,
                sample_rate=RATE,
                window_s=WINDOW_S,
                hop_s=WINDOW_HOP_S,
            )
            return self._judge(
                (w.timestamp, w.samples.astype(np.float64)) for w in windows
            )
        except DeepguardError as exc:
            return Detection.undetectable(METHOD, str(exc))

    # --- internals ---------------------------------------------------------------

    def _write(
        self,
        container: Any,
        stream: Any,
        target: AudioTarget,
        payload: Payload,
        tmp: Path,
        deadline: Deadline,
        src: Path,
    ) -> None:
        notes: list[str] = []
        marker = MarkStream(
            target.sample_rate, target.channels, self._layout, _bits(payload)
        )
        try:
            with av.open(str(tmp), mode="w", format=target.muxer) as out:
                copy_tags(container.metadata, out.metadata)
                writer = AudioWriter(out, target)
                copy_tags(stream.metadata, writer.stream.metadata)
                writer.open()
                for chunk in decoded_chunks(
                    container, stream, target, deadline.check, src, notes
                ):
                    for marked in marker.feed(chunk):
                        writer.write(marked)
                for marked in marker.finish():
                    writer.write(marked)
                _check_carried(marker, src)
                writer.close()
        except (CorruptMedia, MediaLimitExceeded, CannotCarryMark):
            raise
        except AV_ERRORS as exc:
            msg = (
                f"FFmpeg could not encode {target.codec} into {target.muxer}: "
                f"{one_line(exc)}"
            )
            raise DependencyError(msg, path=src) from exc

    def _judge(self, windows: Iterator[tuple[float, Array]]) -> Detection:
        """Search up to :data:`MAX_WINDOWS` windows; stop at the first present.

        Every window that could have been searched is paid for, so stopping
        early does not bend the false-positive rate.
        """
        best: tuple[float, float, float, Finding] | None = None
        heard = 0.0
        paid = MAX_WINDOWS * len(self.speeds)
        reason = "too short: detection needs at least 2 s of audio"
        for index, (start_s, x16) in enumerate(windows):
            if index >= MAX_WINDOWS:
                break
            why = _unusable(x16.size / RATE, RATE, x16)
            if why:
                reason = why if heard == 0.0 else reason
                continue
            heard += x16.size / RATE
            for speed in self.speeds:
                found = search(_unspeed(x16, speed), self._layout)
                if found is None:
                    continue
                p = _p_value(found.log_tail, found.trials * paid)
                if best is None or p < best[0]:
                    best = (p, start_s, speed, found)
                if p <= self.fpr:
                    break
            if best is not None and best[0] <= self.fpr:
                break
        if best is None:
            return Detection.undetectable(METHOD, reason)
        p, start_s, speed, found = best
        ceiling = _p_value(_ceiling_tail(found), found.trials * paid)
        details: dict[str, Any] = {
            "key": self.key.fingerprint,
            "window_start_s": round(start_s, 3),
            "speed": speed,
            "block_offset_s": round(found.block_offset_s, 4),
            "ecc_ok": found.decoded,
            "corrected_bits": found.corrected,
            "raw_bits": found.raw[:PAYLOAD_BITS].tolist(),
            "raw_coded_bits": found.raw.tolist(),
            "starts_tried": found.trials,
            "seconds_searched": round(heard, 2),
        }
        if p <= self.fpr:
            payload = Payload.from_bits(found.bits) if found.decoded else None
            confidence = tuple(float(c) for c in 1.0 / (1.0 + np.exp(-found.llr)))
            return Detection(
                status=Status.PRESENT,
                p_value=p,
                score=found.z,
                payload=payload,
                bit_confidence=confidence,
                method=METHOD,
                details=details,
            )
        if ceiling > self.fpr:
            reason = (
                "too little signal in the mark's band (400-6800 Hz) to decide "
                f"at a false-positive rate of {self.fpr:g}"
            )
            return Detection(
                status=Status.UNDETECTABLE,
                p_value=p,
                score=found.z,
                method=METHOD,
                details=details,
                reason=reason,
            )
        return Detection(
            status=Status.ABSENT,
            p_value=p,
            score=found.z,
            method=METHOD,
            details=details,
        )


def _bits(payload: Payload) -> npt.NDArray[np.uint8]:
    return payload.short().to_bits()


def _as_planar(array: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    if array.ndim == 1:
        return array.astype(np.float32)[None, :]
    if array.ndim == 2 and array.shape[1] >= 1:
        return np.ascontiguousarray(array.T, dtype=np.float32)
    msg = f"samples must be (n,) or (n, channels), got shape {array.shape}"
    raise CannotCarryMark(msg)


def _check_carrier(planar: npt.NDArray[np.float32], rate: int) -> None:
    if not np.isfinite(planar).all():
        raise CannotCarryMark("the samples hold NaN or infinity")
    seconds = planar.shape[1] / rate if rate > 0 else 0.0
    reason = _unusable(seconds, rate, planar.mean(axis=0))
    if reason:
        raise CannotCarryMark(reason)


def _check_carried(stream: MarkStream, path: Path | None = None) -> None:
    if stream.carried_columns < _MIN_CARRY_COLUMNS:
        seconds = stream.columns * _COLUMN_S
        msg = (
            f"silent or too quiet to carry a mark: {stream.carried_columns} of "
            f"{stream.columns} columns ({seconds:.1f} s) have energy in the "
            "mark's band (400-6800 Hz)"
        )
        if seconds < MIN_SECONDS:
            msg = (
                f"too short: {seconds:.2f} s of audio; the mark needs at least "
                f"{MIN_SECONDS:g} s"
            )
        raise CannotCarryMark(msg, path=path)


def _unusable(seconds: float, rate: int, mono: npt.NDArray[Any]) -> str | None:
    """Why this audio can neither carry nor reveal a mark, or None."""
    if rate < MIN_RATE:
        return (
            f"the sample rate ({rate} Hz) is below {MIN_RATE} Hz, too low for "
            f"the mark's band ({BAND_EDGES_HZ[0]}-{BAND_EDGES_HZ[-1]} Hz)"
        )
    if seconds < MIN_SECONDS:
        return (
            f"too short: {seconds:.2f} s of audio; the mark needs at least "
            f"{MIN_SECONDS:g} s"
        )
    if float(np.max(np.abs(mono))) < _SILENT_PEAK:
        return "silent: the audio holds no signal"
    return None


def _p_value(log_tail: float, trials: int) -> float:
    """p-value of the best of ``trials`` starts, from one start's log tail bound."""
    tail = math.exp(max(log_tail, -745.0))
    if tail >= 0.5:
        return 1.0
    z = -NormalDist().inv_cdf(max(tail, 5e-324))
    return p_value_of_max(z, trials)


def _unspeed(x16: Array, speed: float) -> Array:
    """Undo playing ``speed`` times fast: stretch the samples back by ``speed``."""
    if speed == 1.0:
        return x16
    return resample(x16, 10_000, round(10_000 * speed))


def _ceiling_tail(found: Finding) -> float:
    z = found.z_ceiling
    return min(0.0, -z * z / 2 + PAYLOAD_BITS * math.log(2.0))
