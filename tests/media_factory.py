"""Real test media, generated with Pillow, PyAV and NumPy.

Shared by every test module so that each format is produced one way only.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


def gradient(width: int = 64, height: int = 48, seed: int = 0) -> Image.Image:
    """A smooth, slightly noisy RGB image: compresses like a photo."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack(
        [x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) % 256],
        axis=-1,
    ).astype(np.int16)
    rgb += rng.integers(-8, 9, size=rgb.shape, dtype=np.int16)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def write_image(
    path: Path,
    fmt: str,
    *,
    size: tuple[int, int] = (64, 48),
    seed: int = 0,
    **save: object,
) -> Path:
    gradient(*size, seed=seed).save(path, fmt, **save)
    return path


def image_bytes(fmt: str, *, size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    buf = io.BytesIO()
    gradient(*size, seed=seed).save(buf, fmt)
    return buf.getvalue()


def write_video(
    path: Path,
    *,
    seconds: float = 1.0,
    fps: int = 10,
    size: tuple[int, int] = (64, 48),
    fmt: str | None = None,
    codec: str = "libx264",
    audio: bool = True,
    metadata: dict[str, str] | None = None,
) -> Path:
    """An H.264 video (with AAC audio) whose frames change over time."""
    with av.open(str(path), "w", format=fmt) as out:
        for key, value in (metadata or {}).items():
            out.metadata[key] = value
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height = size
        vs.pix_fmt = "yuv420p"
        as_ = out.add_stream("aac", rate=16000) if audio else None
        frames = max(1, int(seconds * fps))
        for i in range(frames):
            img = np.array(gradient(*size, seed=i))
            img[:, : (i * size[0]) // frames] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if as_ is not None:
            _encode_tone(out, as_, seconds, 16000)
    return path


def _encode_tone(
    out: av.container.OutputContainer,
    stream: av.AudioStream,
    seconds: float,
    rate: int,
    layout: str = "mono",
) -> None:
    """Encode a 440 Hz tone, the same in every channel of ``layout``."""
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.3 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)
    channels = av.AudioLayout(layout).nb_channels
    encode_samples(out, stream, np.tile(tone[:, None], (1, channels)), rate, layout)


def write_audio(
    path: Path,
    *,
    seconds: float = 1.0,
    rate: int = 16000,
    codec: str = "pcm_s16le",
    fmt: str | None = None,
    layout: str = "mono",
    metadata: dict[str, str] | None = None,
) -> Path:
    """A 440 Hz tone in the given codec/container (WAV, MP3, FLAC ...).

    ``metadata`` becomes format-level tags.
    """
    with av.open(str(path), "w", format=fmt) as out:
        out.metadata.update(metadata or {})
        stream = out.add_stream(codec, rate=rate)
        stream.layout = layout
        if codec == "vorbis":  # FFmpeg's own Vorbis encoder is experimental
            stream.codec_context.options = {"strict": "experimental"}
        _encode_tone(out, stream, seconds, rate, layout)
    return path


def write_empty_video(path: Path) -> Path:
    """An MP4 with a video stream and no frames: a 0-second video."""
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=10)
        vs.width, vs.height = 64, 48
        vs.pix_fmt = "yuv420p"
        out.start_encoding()
    return path


def write_mp4(
    path: Path, metadata: dict[str, str], *, handler: str, mdta: bool = False
) -> Path:
    """A one-frame MPEG-4 video with movie ``metadata`` and a track ``handler``.

    ``mdta`` stores the metadata as ``mdta`` keys (any key) instead of ilst atoms.
    """
    options = {"movflags": "use_metadata_tags"} if mdta else {}
    with av.open(str(path), "w", format="mp4", options=options) as out:
        out.metadata.update(metadata)
        stream = out.add_stream("mpeg4", rate=10)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        stream.metadata["handler_name"] = handler
        frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), "rgb24")
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    return path


# --- hand-built metadata carriers ---------------------------------------------


def xmp_packet(body: str, namespaces: str = "") -> bytes:
    """An XMP packet whose one ``rdf:Description`` holds ``body``."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" {namespaces}>{body}</rdf:Description>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def png_chunk(ctype: bytes, data: bytes, length: int | None = None) -> bytes:
    """A PNG chunk with a valid CRC; ``length`` overrides the length field."""
    size = len(data) if length is None else length
    crc = zlib.crc32(ctype + data) & 0xFFFFFFFF
    return struct.pack(">I", size) + ctype + data + struct.pack(">I", crc)


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    """A JPEG marker segment (0xFF, ``marker``, length) around ``payload``."""
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def chords(seconds: float, seed: int, rate: int = 16_000) -> npt.NDArray[np.float64]:
    """Synthetic music: chords of harmonic-rich notes in a varied rhythm."""
    rng = np.random.default_rng(seed)
    out = np.zeros(round(seconds * rate))
    pos = 0
    while pos < out.size:
        n = min(
            round(rate * rng.choice([0.125, 0.25, 0.375, 0.5, 1.0])), out.size - pos
        )
        t = np.arange(n) / rate
        root = int(rng.integers(48, 76))
        seg = np.zeros(n)
        for note in (root, root + 4, root + 7, root + 12):
            f = 440 * 2 ** ((note - 69) / 12)
            for h in range(1, 7):
                if f * h < rate / 2.2:
                    seg += np.sin(2 * math.pi * f * h * t + rng.uniform(0, 6)) / h
        env = np.minimum(1, np.minimum(t / 0.01, (t[-1] - t) / 0.02 + 1e-9))
        out[pos : pos + n] = seg * env * np.exp(-t * rng.uniform(0.5, 3))
        pos += n
    scaled: npt.NDArray[np.float64] = 0.5 * out / np.abs(out).max()
    return scaled


Samples = npt.NDArray[np.float32]
"""Audio as (samples, channels) float32."""


def through_codec(
    x: Samples, rate: int, codec: str, fmt: str, bit_rate: int, codec_rate: int
) -> Samples:
    """Encode ``x`` with PyAV in memory and decode it back at ``rate``."""
    layout = "stereo" if x.shape[1] == 2 else "mono"
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=codec_rate)
        stream.layout = layout
        stream.bit_rate = bit_rate
        out.start_encoding()
        encode_samples(out, stream, x, rate, layout)
    buf.seek(0)
    with av.open(buf) as container:
        back = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        parts = []
        for frame in container.decode(audio=0):
            frame.pts = None
            parts += [o.to_ndarray() for o in back.resample(frame)]
        parts += [o.to_ndarray() for o in back.resample(None)]
    return np.concatenate(parts, axis=1).T.astype(np.float32)


def encode_samples(
    out: av.container.OutputContainer,
    stream: av.AudioStream,
    x: Samples,
    rate: int,
    layout: str,
) -> None:
    """Encode ``x`` (samples x channels at ``rate``) into ``stream``."""
    convert = av.AudioResampler(
        format=stream.format.name,
        layout=layout,
        rate=stream.rate,
        frame_size=stream.codec_context.frame_size or None,
    )
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(x.T), format="fltp", layout=layout
    )
    frame.sample_rate = rate
    pts = 0
    for piece in [*convert.resample(frame), *convert.resample(None)]:
        piece.pts = pts
        piece.time_base = Fraction(1, stream.rate)
        pts += piece.samples
        for packet in stream.encode(piece):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def swr(x: Samples, src: int, dst: int) -> Samples:
    """FFmpeg's resampler (libswresample), as a platform would resample."""
    layout = "stereo" if x.shape[1] == 2 else "mono"
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=dst)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(x.T), format="fltp", layout=layout
    )
    frame.sample_rate = src
    parts = [o.to_ndarray() for o in resampler.resample(frame)]
    parts += [o.to_ndarray() for o in resampler.resample(None)]
    return np.concatenate(parts, axis=1).T.astype(np.float32)
