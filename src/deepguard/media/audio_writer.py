"""Re-encode edited audio in the codec family and container it came in.

Two writers change audio content: the explicit audio label (a cue spliced or
mixed in) and the invisible audio watermark. Both decode a file, edit the
samples and must deliver the result the way the input was delivered: WAV PCM
stays WAV PCM, an MP3 stays an MP3 at its bit rate, M4A/AAC stays M4A/AAC,
Opus stays Opus, at the input's sample rate and channel layout, with its tags.
This module holds that shared part: picking the encoder, muxer, rate, sample
format and bit rate that mirror the input (:func:`choose_target`), decoding the
programme as float32 chunks at that rate and layout (:func:`decoded_chunks`),
and encoding chunks of any length (:class:`AudioWriter`).

Where FFmpeg lacks the input's encoder (Vorbis without libvorbis) the closest
one is used and :attr:`AudioTarget.notes` says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from deepguard.config import Limits
from deepguard.errors import CorruptMedia, UnsupportedFormat
from deepguard.media.probe import MediaKind, probe

__all__ = [
    "AV_ERRORS",
    "AudioTarget",
    "AudioWriter",
    "audio_mime",
    "audio_only_stream",
    "choose_target",
    "copy_tags",
    "decoded_chunks",
    "one_line",
]

Samples = npt.NDArray[np.float32]

# PyAV raises av.error.FFmpegError subclasses, plus ValueError/IndexError on
# malformed side data, and OSError on I/O errors.
AV_ERRORS: tuple[type[BaseException], ...] = (
    av.error.FFmpegError,
    ValueError,
    IndexError,
    OSError,
)


@dataclass(frozen=True, slots=True)
class AudioTarget:
    """How the output is encoded: it mirrors the input where FFmpeg can."""

    muxer: str
    codec: str
    sample_rate: int
    layout: str
    sample_format: str
    bit_rate: int | None
    notes: tuple[str, ...]

    @property
    def channels(self) -> int:
        return int(av.AudioLayout(self.layout).nb_channels)


_LOSSY_DEFAULT_BITRATE = {
    "libmp3lame": 128_000,
    "aac": 128_000,
    "libopus": 64_000,
    "opus": 64_000,
    "libvorbis": 128_000,
}
_MAX_PLANES = 8
_MAX_CHANNELS = {"libmp3lame": 2, "libopus": 2, "opus": 2, "libvorbis": 2}
_SKIP_TAGS = frozenset(
    {
        "encoder",
        "major_brand",
        "minor_version",
        "compatible_brands",
        "itunsmpb",
        "itunnorm",
        "duration",
        "handler_name",
        "vendor_id",
    }
)


def one_line(exc: BaseException) -> str:
    """An FFmpeg or OS error as one line of text."""
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())


def audio_mime(path: Path, limits: Limits) -> str | None:
    """The probed MIME type; refuses images, documents and text early.

    Raises:
        UnsupportedFormat: the content is not audio or video.
    """
    try:
        found = probe(path, max_file_bytes=limits.max_file_bytes)
    except UnsupportedFormat:
        return None  # FFmpeg may still know it (raw ADTS, AIFF)
    if found.kind not in (MediaKind.AUDIO, MediaKind.VIDEO):
        raise UnsupportedFormat(f"is {found.mime}, not audio", path=path)
    return found.mime


def _encoder(name: str) -> Any | None:
    try:
        return av.codec.Codec(name, "w")
    except (av.error.FFmpegError, ValueError):
        return None


def _muxer(demuxer: str, mime: str | None, codec: str) -> str | None:
    """The muxer that writes the container the input came in."""
    names = demuxer.split(",")
    if "mov" in names:
        if mime == "audio/mp4":
            return "ipod"
        return "mov" if mime == "video/quicktime" else "mp4"
    if "matroska" in names:
        webm_codec = codec in {"libopus", "opus", "libvorbis"}
        return "webm" if mime == "video/webm" and webm_codec else "matroska"
    table = {"wav": "wav", "flac": "flac", "mp3": "mp3", "ogg": "ogg", "aac": "adts"}
    for name in names:
        if name in table:
            return table[name]
        if name in av.formats_available:
            return name
    return None


def _pick_encoder(decoder: str) -> tuple[str, list[str]]:
    """The encoder of the input's codec family, and a note on any fallback."""
    if decoder in {"mp3", "mp3float"}:
        return "libmp3lame", []
    if decoder == "opus":
        return ("libopus" if _encoder("libopus") else "opus"), []
    if decoder == "vorbis":
        if _encoder("libvorbis"):
            return "libvorbis", []
        note = (
            "this FFmpeg has no libvorbis encoder; the audio was re-encoded as "
            "Opus in the same container"
        )
        return "libopus", [note]
    return decoder, []  # PCM, FLAC, ALAC, AAC and others encode as themselves


def _pick_rate(encoder: Any, rate: int, notes: list[str]) -> int:
    rates = encoder.audio_rates
    if not rates or rate in rates:
        return rate
    # The nearest rate at or above the input's keeps its whole bandwidth.
    better = int(min(rates, key=lambda r: (r < rate, abs(r - rate))))
    notes.append(f"{encoder.name} cannot encode {rate} Hz; resampled to {better} Hz")
    return better


def _pick_format(encoder: Any, source: str, path: Path) -> str:
    formats = [f.name for f in encoder.audio_formats or ()]
    if source in formats:
        return source
    if "s32" in formats and source.startswith(("s32", "flt", "dbl")):
        return "s32"  # keep more than 16 bits where the input had them
    if not formats:
        raise UnsupportedFormat(f"{encoder.name} declares no sample format", path=path)
    return str(formats[0])


def audio_only_stream(container: Any, path: Path, *, video_note: str) -> Any:
    """The first audio stream of a file that is audio (cover art allowed).

    Audio rewriters refuse real video: re-encoding its audio alone would drop
    or desynchronise the pictures. ``video_note`` says, after "has a video
    stream; ", where such files are handled instead.

    Raises:
        UnsupportedFormat: a video stream other than cover art, or no audio.
    """
    for video in container.streams.video:
        if not video.disposition & av.stream.Disposition.attached_pic:
            raise UnsupportedFormat(f"has a video stream; {video_note}", path=path)
    if not container.streams.audio:
        raise UnsupportedFormat("no audio stream", path=path)
    return container.streams.audio[0]


def choose_target(
    container: Any, stream: Any, mime: str | None, path: Path
) -> AudioTarget:
    """Encoder, muxer, rate, layout and bit rate that mirror the input.

    Raises:
        UnsupportedFormat: FFmpeg has no encoder or muxer for the input's
            family, or the stream has more channels than PyAV can convert.
        CorruptMedia: the stream declares no sample rate.
    """
    ctx = stream.codec_context
    decoder = str(ctx.name)
    codec, notes = _pick_encoder(decoder)
    encoder = _encoder(codec)
    muxer = _muxer(str(container.format.name), mime, codec)
    if encoder is None or muxer is None or muxer not in av.formats_available:
        msg = (
            f"cannot re-encode {decoder} audio in a {container.format.name} "
            "container: FFmpeg has no matching encoder or muxer"
        )
        raise UnsupportedFormat(msg, path=path)
    source_rate = int(ctx.sample_rate or stream.rate or 0)
    if source_rate <= 0:
        raise CorruptMedia("the audio stream declares no sample rate", path=path)
    rate = _pick_rate(encoder, source_rate, notes)
    layout = str(ctx.layout.name) if ctx.layout is not None else "mono"
    channels = int(ctx.channels or 1)
    if channels > _MAX_PLANES:
        # Planar frames hold at most eight planes in FFmpeg's fixed array; more
        # need extended data that PyAV's ndarray conversion does not handle.
        msg = f"has {channels} audio channels; at most {_MAX_PLANES} are supported"
        raise UnsupportedFormat(msg, path=path)
    limit = _MAX_CHANNELS.get(codec)
    if limit is not None and channels > limit:
        notes.append(f"{codec} takes at most {limit} channels; downmixed to stereo")
        layout = "stereo"
    source_format = str(ctx.format.name) if ctx.format is not None else ""
    sample_format = _pick_format(encoder, source_format, path)
    bit_rate: int | None = None
    if codec in _LOSSY_DEFAULT_BITRATE:
        source = int(ctx.bit_rate or stream.bit_rate or 0)
        fallback = _LOSSY_DEFAULT_BITRATE[codec]
        bit_rate = source if 8_000 <= source <= 512_000 else fallback
    return AudioTarget(
        muxer, codec, rate, layout, sample_format, bit_rate, tuple(notes)
    )


def decoded_chunks(
    container: Any,
    stream: Any,
    target: AudioTarget,
    check: Callable[[], None],
    path: Path,
    notes: list[str],
) -> Iterator[Samples]:
    """Decoded audio at the target's rate and layout, as (channels, n) chunks.

    ``check`` runs once per decoded frame (a decode-time budget). Damage after
    some audio was decoded ends the stream with a note instead of an error, so
    a truncated file still yields what it holds.

    Raises:
        CorruptMedia: nothing could be decoded.
    """
    channels = target.channels
    resampler = av.AudioResampler(
        format="fltp", layout=target.layout, rate=target.sample_rate
    )
    produced = 0
    try:
        for frame in container.decode(stream):
            check()
            frame.pts = None
            for out in resampler.resample(frame):
                chunk = out.to_ndarray().reshape(channels, -1).astype(np.float32)
                produced += chunk.shape[1]
                yield chunk
        for out in resampler.resample(None):
            yield out.to_ndarray().reshape(channels, -1).astype(np.float32)
    except AV_ERRORS as exc:
        if produced == 0:
            raise CorruptMedia(
                f"cannot decode audio: {one_line(exc)}", path=path
            ) from exc
        seconds = produced / target.sample_rate
        notes.append(f"decoding stopped at {seconds:.2f} s: {one_line(exc)}")


def copy_tags(source: Any, dest: Any) -> None:
    """Copy container or stream tags, leaving out those the muxer rewrites."""
    for key, value in dict(source).items():
        if str(key).lower() not in _SKIP_TAGS:
            dest[key] = value


class AudioWriter:
    """Encodes float32 planar chunks of any length with the target encoder.

    The converting resampler also cuts the fixed-size frames that AAC, MP3
    and Opus encoders require; PCM and FLAC take frames of any size.
    """

    def __init__(self, out: Any, target: AudioTarget) -> None:
        self._out = out
        stream = out.add_stream(target.codec, rate=target.sample_rate)
        stream.layout = target.layout
        stream.format = target.sample_format
        if target.bit_rate:
            stream.bit_rate = target.bit_rate
        self.stream = stream
        self._target = target
        self._convert: Any = None
        self.written = 0

    def open(self) -> None:
        """Open the encoder (after the tags are set): its frame size is known."""
        self._out.start_encoding()
        self._convert = av.AudioResampler(
            format=self._target.sample_format,
            layout=self._target.layout,
            rate=self._target.sample_rate,
            frame_size=int(self.stream.codec_context.frame_size or 0) or None,
        )

    def write(self, chunk: Samples) -> None:
        if chunk.shape[1] == 0:
            return
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(chunk), format="fltp", layout=self._target.layout
        )
        frame.sample_rate = self._target.sample_rate
        for converted in self._convert.resample(frame):
            self._mux(converted)

    def close(self) -> None:
        for converted in self._convert.resample(None):
            self._mux(converted)
        for packet in self.stream.encode(None):
            self._out.mux(packet)

    def _mux(self, frame: Any) -> None:
        frame.pts = self.written
        frame.time_base = Fraction(1, self._target.sample_rate)
        self.written += frame.samples
        for packet in self.stream.encode(frame):
            self._out.mux(packet)
