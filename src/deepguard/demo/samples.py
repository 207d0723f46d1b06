"""Generate small, deterministic media files of every kind deepguard reads.

Why generate instead of shipping files: the repository must not carry media
of unclear licence, and a generated file documents exactly which bytes make it
"AI" (one XMP property, one PNG text chunk, one ID3 frame). Every sample
records the verdict policy v1 should reach, so the demo doubles as an
end-to-end check of the scanner.

Labels are written the way real generators and platforms write them: XMP is
spliced into the JPEG byte stream as an APP1 segment (no re-encoding), PNG
text goes into ``tEXt``/``iTXt`` chunks, MP4 tags into the ``ilst`` atom, the
GB 45438 label into an ID3v2 ``TXXX`` frame.

Output is byte-for-byte reproducible for a given Pillow/FFmpeg build: no
timestamps, seeded randomness, and FFmpeg's ``bitexact`` mode (which also
stops the muxer from stamping its own version into the file).
"""

from __future__ import annotations

import io
import json
import random
import struct
import wave
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import av
import numpy as np
import numpy.typing as npt
from mutagen.id3 import ID3, TIT2, TXXX, Encoding, ID3NoHeaderError
from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo

from deepguard.media.probe import MediaKind
from deepguard.scan.finding import AigcLabel

__all__ = ["SampleSpec", "generate_mixed_corpus", "generate_samples", "minimal_pdf"]

IPTC_TRAINED_ALGORITHMIC_MEDIA = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
)
DEMO_PRODUCER = "001191440300708461136T1XGW3"
"""The provider code from GB 45438's own example (an organisation's USCC)."""

_XMP_APP1_ID = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_NAMESPACES = {
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
}
_BITEXACT = {"fflags": "+bitexact"}


@dataclass(frozen=True, slots=True)
class SampleSpec:
    """One generated sample and the verdict a scan of it should give.

    ``expect_error`` marks the deliberately broken file: its scan result must
    carry an error (and no AI label), which is what the demo shows.
    """

    path: Path
    kind: MediaKind
    description: str
    expected_label: AigcLabel | None
    expect_error: bool = False


# --- pictures and sounds -----------------------------------------------------


def _photo(width: int, height: int, seed: int) -> Image.Image:
    """A photo-like picture: sky gradient, sun, hills, buildings, sensor noise.

    Real photos are what detectors and thumbnails meet, so flat test patterns
    would hide problems (JPEG of a flat image is a few hundred bytes).
    """
    rng = random.Random(seed)
    top = np.array([rng.randint(20, 90), rng.randint(60, 140), rng.randint(150, 230)])
    bottom = np.array(
        [rng.randint(200, 255), rng.randint(150, 220), rng.randint(90, 170)]
    )
    y = np.linspace(0.0, 1.0, height)[:, None, None]
    x = np.linspace(-0.08, 0.08, width)[None, :, None]
    sky = top * (1.0 - y) + bottom * y + x * 255.0
    noise = np.random.default_rng(seed).normal(0.0, 4.0, (height, width, 3))
    pixels = np.clip(sky + noise, 0, 255).astype(np.uint8)
    im = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(im)
    sun_r = max(4, min(width, height) // rng.randint(8, 12))
    sx, sy = rng.randint(sun_r, width - sun_r), rng.randint(sun_r, height // 3)
    draw.ellipse((sx - sun_r, sy - sun_r, sx + sun_r, sy + sun_r), fill=(255, 236, 160))
    horizon = int(height * rng.uniform(0.55, 0.7))
    hills = [(0, height), (0, horizon)]
    hills += [
        (i * width // 6, horizon - rng.randint(0, height // 8)) for i in range(1, 6)
    ]
    hills += [(width, horizon), (width, height)]
    draw.polygon(hills, fill=(rng.randint(30, 70), rng.randint(90, 130), 50))
    for _ in range(rng.randint(3, 6)):
        w, h = (
            rng.randint(width // 14, width // 7),
            rng.randint(height // 8, height // 3),
        )
        left = rng.randint(0, width - w)
        shade = rng.randint(60, 160)
        draw.rectangle(
            (left, horizon - h, left + w, height), fill=(shade, shade, shade + 10)
        )
        for wy in range(horizon - h + 4, height - 4, 8):
            draw.line((left + 3, wy, left + w - 3, wy), fill=(240, 220, 120), width=2)
    return im


def _tone(seconds: float, rate: int, freq: float, seed: int) -> npt.NDArray[np.float32]:
    """A chord with a slow tremolo plus a little noise: audible, not silence."""
    t = np.arange(int(seconds * rate), dtype=np.float64) / rate
    wave_ = 0.25 * np.sin(2 * np.pi * freq * t) + 0.12 * np.sin(
        2 * np.pi * freq * 1.5 * t
    )
    wave_ *= 0.6 + 0.4 * np.sin(2 * np.pi * 2.0 * t)
    wave_ += np.random.default_rng(seed).normal(0.0, 0.01, t.size)
    return wave_.astype(np.float32)


def _video_frame(index: int, size: int, seed: int) -> npt.NDArray[np.uint8]:
    """A ball bouncing over a colour gradient, so consecutive frames differ."""
    rng = random.Random(seed)
    top = np.array([rng.randint(0, 120), rng.randint(40, 160), rng.randint(120, 255)])
    bottom = np.array(
        [rng.randint(120, 255), rng.randint(80, 200), rng.randint(0, 120)]
    )
    y = np.linspace(0.0, 1.0, size)[:, None, None]
    img = np.broadcast_to(top * (1.0 - y) + bottom * y, (size, size, 3)).copy()
    radius = max(2, size // 6)
    travel = max(1, size - 2 * radius)
    cx = radius + abs((index * 3) % (2 * travel) - travel)
    cy = size / 2 + np.sin(index / 4.0) * size / 4
    yy, xx = np.ogrid[:size, :size]
    img[(xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2] = (250, 250, 250)
    return img.astype(np.uint8)


# --- container writers -------------------------------------------------------


def _encode_audio(
    out: Any, stream: Any, samples: npt.NDArray[np.float32], rate: int
) -> None:
    """Feed mono float samples; PyAV converts format and frame size per codec."""
    chunk = 4096
    for start in range(0, samples.size, chunk):
        part = samples[start : start + chunk][None, :]
        frame = av.AudioFrame.from_ndarray(part, format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def _write_mp4(
    path: Path,
    *,
    seconds: float,
    size: int,
    seed: int,
    metadata: Mapping[str, str] | None = None,
) -> None:
    """H.264 + AAC in MP4. ``metadata`` keys the mp4 muxer keeps: title,
    comment, artist, description (``encoder`` is dropped in bitexact mode)."""
    fps = 25
    rate = 44_100
    with av.open(str(path), "w", format="mp4", container_options=_BITEXACT) as out:
        out.metadata.update(dict(metadata or {}))
        video = out.add_stream("libx264", rate=fps)
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "ultrafast", "threads": "1", "g": "25"}
        audio = out.add_stream("aac", rate=rate, layout="mono")
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(
                _video_frame(i, size, seed), format="rgb24"
            )
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        _encode_audio(out, audio, _tone(seconds, rate, 330.0 + seed % 200, seed), rate)


def _write_audio(
    path: Path, *, fmt: str, codec: str, seconds: float, seed: int
) -> None:
    """One mono audio stream in its own container (MP3, FLAC)."""
    rate = 22_050
    options = dict(_BITEXACT)
    if fmt == "mp3":
        options["id3v2_version"] = "0"  # tags are added afterwards, by mutagen
    with av.open(str(path), "w", format=fmt, container_options=options) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        _encode_audio(out, stream, _tone(seconds, rate, 220.0 + seed % 300, seed), rate)


def _wav_bytes(
    *, seconds: float, seed: int, extra_chunks: Mapping[bytes, bytes] | None = None
) -> bytes:
    """16-bit mono PCM WAV, with optional extra RIFF chunks after ``data``."""
    rate = 16_000
    pcm = (_tone(seconds, rate, 262.0 + seed % 250, seed) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    data = buf.getvalue()
    for chunk_id, payload in (extra_chunks or {}).items():
        data += _riff_chunk(chunk_id, payload)
    return data[:4] + struct.pack("<I", len(data) - 8) + data[8:]


def _riff_chunk(chunk_id: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) % 2 else b""
    return chunk_id + struct.pack("<I", len(payload)) + payload + pad


def _riff_info(**fields: str) -> bytes:
    """A ``LIST/INFO`` payload (ICMT comment and the like)."""
    body = b"".join(
        _riff_chunk(key.encode("ascii"), value.encode("ascii") + b"\x00")
        for key, value in fields.items()
    )
    return b"INFO" + body


def _set_id3(path: Path, *, title: str | None = None, aigc: str | None = None) -> None:
    """Add a title and/or a GB 45438 ``TXXX:AIGC`` frame with mutagen (ID3v2.4),
    creating the tag if the file has none. mutagen is untyped, hence the
    ignores, kept to this one function."""
    try:
        tags = ID3(str(path))  # type: ignore[no-untyped-call]
    except ID3NoHeaderError:
        tags = ID3()  # type: ignore[no-untyped-call]
    if title is not None:
        tags.add(TIT2(encoding=Encoding.UTF8, text=[title]))  # type: ignore[no-untyped-call]
    if aigc is not None:
        frame = TXXX(encoding=Encoding.UTF8, desc="AIGC", text=[aigc])  # type: ignore[no-untyped-call]
        tags.add(frame)  # type: ignore[no-untyped-call]
    tags.save(str(path), v2_version=4)


# --- metadata ----------------------------------------------------------------


def _xmp_packet(properties: Mapping[str, str]) -> bytes:
    """A complete XMP packet with ``properties`` as simple attributes.

    Keys are ``prefix:Name`` with a prefix from ``_XMP_NAMESPACES``.
    """
    prefixes = sorted({key.split(":", 1)[0] for key in properties})
    xmlns = "".join(
        f"\n    xmlns:{p}={quoteattr(_XMP_NAMESPACES[p])}" for p in prefixes
    )
    attrs = "".join(
        f"\n    {key}={quoteattr(value)}" for key, value in properties.items()
    )
    text = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        f'  <rdf:Description rdf:about=""{xmlns}{attrs}/>\n'
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return text.encode("utf-8")


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    if len(payload) + 2 > 0xFFFF:
        msg = f"JPEG segment payload too large: {len(payload)} bytes"
        raise ValueError(msg)
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _insert_jpeg_segment(jpeg: bytes, segment: bytes) -> bytes:
    """Splice ``segment`` in after SOI (and after a JFIF APP0, which must stay
    first for strict JFIF readers), leaving the compressed data untouched."""
    if jpeg[:2] != b"\xff\xd8":
        msg = "not a JPEG stream (no SOI marker)"
        raise ValueError(msg)
    pos = 2
    if jpeg[2:4] == b"\xff\xe0":
        pos = 4 + struct.unpack(">H", jpeg[4:6])[0]
    return jpeg[:pos] + segment + jpeg[pos:]


def _jpeg_bytes(im: Image.Image, *, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _png_bytes(
    im: Image.Image,
    *,
    text: Mapping[str, str] | None = None,
    xmp: bytes | None = None,
    exif: Image.Exif | None = None,
    compress_level: int = 6,
) -> bytes:
    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    if xmp is not None:
        info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"))
    buf = io.BytesIO()
    params: dict[str, Any] = {"pnginfo": info, "compress_level": compress_level}
    if exif is not None:
        params["exif"] = exif
    im.save(buf, "PNG", **params)
    return buf.getvalue()


def _a1111_parameters(seed: int) -> str:
    """The ``parameters`` text AUTOMATIC1111's web UI writes into its PNGs."""
    return (
        "a lighthouse on a cliff at dusk, dramatic sky, highly detailed\n"
        "Negative prompt: blurry, lowres, watermark\n"
        f"Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: {seed}, Size: 512x512, "
        "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.10.1"
    )


def _comfyui_prompt(seed: int) -> dict[str, Any]:
    """An API-format ComfyUI graph: the default text-to-image workflow."""
    return {
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": seed,
                "steps": 20,
                "cfg": 8.0,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
                "model": ["4", 0],
                "positive": ["6", 0],
                "negative": ["7", 0],
                "latent_image": ["5", 0],
            },
        },
        "4": {
            "class_type": "CheckpointLoaderSimple",
            "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"},
        },
        "5": {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": 512, "height": 512, "batch_size": 1},
        },
        "6": {
            "class_type": "CLIPTextEncode",
            "inputs": {"text": "a lighthouse at dusk", "clip": ["4", 1]},
        },
        "7": {
            "class_type": "CLIPTextEncode",
            "inputs": {"text": "blurry", "clip": ["4", 1]},
        },
        "8": {
            "class_type": "VAEDecode",
            "inputs": {"samples": ["3", 0], "vae": ["4", 2]},
        },
        "9": {
            "class_type": "SaveImage",
            "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]},
        },
    }


def _comfyui_workflow(prompt: Mapping[str, Any]) -> dict[str, Any]:
    """The UI-format graph ComfyUI stores next to the prompt (``workflow``)."""
    nodes = [
        {
            "id": int(node_id),
            "type": node["class_type"],
            "pos": [120 * i, 80],
            "mode": 0,
        }
        for i, (node_id, node) in enumerate(prompt.items())
    ]
    return {
        "last_node_id": max(n["id"] for n in nodes),
        "last_link_id": 0,
        "nodes": nodes,
        "links": [],
        "groups": [],
        "config": {},
        "extra": {},
        "version": 0.4,
    }


def _aigc_label_json(*, label: str = "1", produce_id: str = "demo-0001") -> str:
    """A GB 45438 implicit-label value, compact and within the allowed bytes."""
    value = {
        "AIGC": {
            "Label": label,
            "ContentProducer": DEMO_PRODUCER,
            "ProduceID": produce_id,
        }
    }
    return json.dumps(value, separators=(",", ":"))


def minimal_pdf(
    text: str,
    *,
    info: bytes
    | None = b"/Title (deepguard demo) /Producer (deepguard demo generator)",
    mediabox: bytes = b"0 0 320 160",
    eol: bool = True,
) -> bytes:
    """A one-page PDF 1.4 written by hand, with a correct cross-reference table.

    ``info`` is the body of the Info dictionary (None: no Info); ``eol`` ends
    the file with a newline after ``%%EOF``, as most writers do.
    """
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = f"BT /F1 18 Tf 36 72 Td ({safe}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [" + mediabox + b"] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if info is not None:
        objects.append(b"<< " + info + b" >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"/Size %d /Root 1 0 R" % (len(objects) + 1)
    if info is not None:
        trailer += b" /Info 6 0 R"
    out += b"trailer\n<< " + trailer + b" >>\nstartxref\n%d\n%%%%EOF" % xref
    return bytes(out + (b"\n" if eol else b""))


def _truncate_in_header(jpeg: bytes) -> bytes:
    """Cut a JPEG inside its frame header, as an interrupted download might.

    Cutting inside the header (not the entropy-coded data) makes even a
    metadata-only scan fail, so the demo shows how errors are reported.
    """
    sof = jpeg.find(b"\xff\xc0")
    if sof < 0:
        msg = "no baseline SOF0 marker in the JPEG"
        raise ValueError(msg)
    return jpeg[: sof + 7]


# --- the demo set ------------------------------------------------------------


def _w_photo(path: Path) -> None:
    path.write_bytes(_jpeg_bytes(_photo(480, 320, seed=1)))


def _w_jpeg_xmp(path: Path) -> None:
    xmp = _xmp_packet({"Iptc4xmpExt:DigitalSourceType": IPTC_TRAINED_ALGORITHMIC_MEDIA})
    segment = _jpeg_segment(0xE1, _XMP_APP1_ID + xmp)
    path.write_bytes(
        _insert_jpeg_segment(_jpeg_bytes(_photo(480, 320, seed=2)), segment)
    )


def _w_png_a1111(path: Path) -> None:
    im = _photo(320, 320, seed=3)
    path.write_bytes(_png_bytes(im, text={"parameters": _a1111_parameters(1234567)}))


def _w_png_comfyui(path: Path) -> None:
    prompt = _comfyui_prompt(987654)
    text = {
        "prompt": json.dumps(prompt),
        "workflow": json.dumps(_comfyui_workflow(prompt)),
    }
    path.write_bytes(_png_bytes(_photo(320, 320, seed=4), text=text))


def _w_png_midjourney(path: Path) -> None:
    exif = Image.Exif()
    exif[0x0131] = "Midjourney"  # IFD0 Software
    xmp = _xmp_packet({"xmp:CreatorTool": "Midjourney"})
    path.write_bytes(_png_bytes(_photo(320, 320, seed=5), exif=exif, xmp=xmp))


def _w_webp(path: Path) -> None:
    buf = io.BytesIO()
    _photo(320, 240, seed=6).save(buf, "WEBP", quality=80, method=4)
    path.write_bytes(buf.getvalue())


def _w_mp4(path: Path) -> None:
    _write_mp4(path, seconds=2.0, size=64, seed=7)


def _w_mp4_kling(path: Path) -> None:
    meta = {"title": "Kling AI", "comment": "Generated by Kling AI"}
    _write_mp4(path, seconds=2.0, size=64, seed=1007, metadata=meta)


def _w_wav(path: Path) -> None:
    path.write_bytes(_wav_bytes(seconds=1.5, seed=9))


def _w_mp3_aigc(path: Path) -> None:
    _write_audio(path, fmt="mp3", codec="libmp3lame", seconds=1.5, seed=10)
    _set_id3(path, aigc=_aigc_label_json())


def _w_flac(path: Path) -> None:
    _write_audio(path, fmt="flac", codec="flac", seconds=1.5, seed=11)


def _w_markdown(path: Path) -> None:
    path.write_text(
        "# Field notes\n\n"
        "Written by a person on a rainy afternoon. Nothing here was generated;\n"
        "deepguard should find no AI indication in this file.\n",
        encoding="utf-8",
    )


def _w_pdf(path: Path) -> None:
    path.write_bytes(minimal_pdf("deepguard demo document"))


def _w_labelled_png(path: Path) -> None:
    """Labelled the way a provider labels output: through the PNG carrier."""
    from deepguard.labels.fields import AigcFields
    from deepguard.labels.implicit import write_label

    plain = path.with_name(f".{path.name}.plain")
    plain.write_bytes(_png_bytes(_photo(320, 240, seed=9)))
    try:
        fields = AigcFields("1", DEMO_PRODUCER, "demo-labelled-0001")
        write_label(plain, fields, out=path)
    finally:
        plain.unlink(missing_ok=True)


def _w_noncompliant_png(path: Path) -> None:
    """An AIGC label missing its required ProduceID: present but broken."""
    label = {"AIGC": {"Label": "1", "ContentProducer": DEMO_PRODUCER}}
    text = {"AIGC": json.dumps(label, separators=(",", ":"))}
    path.write_bytes(_png_bytes(_photo(320, 240, seed=10), text=text))


def _w_explicit_notice(path: Path) -> None:
    """A visible 'AI生成' notice and no metadata at all."""
    from deepguard.labels.explicit.render_image import LabelStyle, draw_label

    image = _photo(480, 320, seed=11)
    draw_label(image, LabelStyle(text="AI生成", position="bottom-right"))
    path.write_bytes(_jpeg_bytes(image, quality=90))


def _w_truncated(path: Path) -> None:
    path.write_bytes(_truncate_in_header(_jpeg_bytes(_photo(480, 320, seed=12))))


@dataclass(frozen=True, slots=True)
class _Recipe:
    name: str
    kind: MediaKind
    description: str
    expected_label: AigcLabel | None
    write: Callable[[Path], None]
    expect_error: bool = False


_RECIPES: tuple[_Recipe, ...] = (
    _Recipe(
        "photo.jpg", MediaKind.IMAGE, "plain JPEG photo, no metadata", None, _w_photo
    ),
    _Recipe(
        "iptc_trained_algorithmic.jpg",
        MediaKind.IMAGE,
        "JPEG with XMP Iptc4xmpExt:DigitalSourceType trainedAlgorithmicMedia",
        "1",
        _w_jpeg_xmp,
    ),
    _Recipe(
        "stable_diffusion_a1111.png",
        MediaKind.IMAGE,
        "PNG with an AUTOMATIC1111 'parameters' tEXt chunk",
        "3",
        _w_png_a1111,
    ),
    _Recipe(
        "comfyui.png",
        MediaKind.IMAGE,
        "PNG with ComfyUI 'prompt' and 'workflow' tEXt chunks",
        "3",
        _w_png_comfyui,
    ),
    _Recipe(
        "midjourney.png",
        MediaKind.IMAGE,
        "PNG with EXIF Software and XMP CreatorTool 'Midjourney'",
        "3",
        _w_png_midjourney,
    ),
    _Recipe("photo.webp", MediaKind.IMAGE, "plain lossy WebP", None, _w_webp),
    _Recipe("clip.mp4", MediaKind.VIDEO, "plain MP4 (H.264 + AAC, 2 s)", None, _w_mp4),
    _Recipe(
        "kling.mp4",
        MediaKind.VIDEO,
        "MP4 whose title and comment tags name 'Kling AI'",
        "3",
        _w_mp4_kling,
    ),
    _Recipe("tone.wav", MediaKind.AUDIO, "plain 16-bit PCM WAV", None, _w_wav),
    _Recipe(
        "aigc_label.mp3",
        MediaKind.AUDIO,
        "MP3 with a GB 45438 implicit label in ID3 TXXX:AIGC (Label 1)",
        "1",
        _w_mp3_aigc,
    ),
    _Recipe("tone.flac", MediaKind.AUDIO, "plain FLAC", None, _w_flac),
    _Recipe(
        "notes.md",
        MediaKind.TEXT,
        "Markdown note written by a person",
        None,
        _w_markdown,
    ),
    _Recipe("document.pdf", MediaKind.DOCUMENT, "minimal one-page PDF", None, _w_pdf),
    _Recipe(
        "labelled_by_provider.png",
        MediaKind.IMAGE,
        "PNG labelled through deepguard's carrier (GB 45438 tEXt AIGC + TC260 XMP)",
        "1",
        _w_labelled_png,
    ),
    _Recipe(
        "noncompliant_label.png",
        MediaKind.IMAGE,
        "PNG whose AIGC label lacks the required ProduceID (label present but broken)",
        "3",
        _w_noncompliant_png,
    ),
    _Recipe(
        "explicit_notice.jpg",
        MediaKind.IMAGE,
        "JPEG with a visible 'AI生成' notice in the corner and no metadata",
        "3",
        _w_explicit_notice,
    ),
    _Recipe(
        "truncated.jpg",
        MediaKind.IMAGE,
        "JPEG cut off inside its frame header (shows error handling)",
        None,
        _w_truncated,
        expect_error=True,
    ),
)


def generate_samples(out_dir: Path) -> list[SampleSpec]:
    """Write the demo samples into ``out_dir`` and return what each should give.

    Existing files of the same names are overwritten, so running the demo twice
    gives the same bytes.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = []
    for recipe in _RECIPES:
        path = out_dir / recipe.name
        recipe.write(path)
        specs.append(
            SampleSpec(
                path=path,
                kind=recipe.kind,
                description=recipe.description,
                expected_label=recipe.expected_label,
                expect_error=recipe.expect_error,
            )
        )
    return specs


# --- benchmark corpus --------------------------------------------------------


class _CorpusFactory:
    """Makes corpus files fast: images are drawn per file (cheap at 256 px),
    audio and video are encoded once per variant and copied with a per-file
    tag, because encoding hundreds of clips would dominate a benchmark run."""

    _VARIANTS = 3

    def __init__(self, workdir: Path, seed: int) -> None:
        self._workdir = workdir
        self._seed = seed
        self._cache: dict[tuple[str, int], bytes] = {}

    def _template(self, ext: str, variant: int) -> bytes:
        key = (ext, variant)
        if key not in self._cache:
            tmp = self._workdir / f".template-{variant}{ext}"
            seed = self._seed * 1000 + variant
            if ext == ".mp4":
                ai = variant == self._VARIANTS
                meta = {"comment": "Generated by Kling AI"} if ai else None
                _write_mp4(tmp, seconds=1.0, size=96, seed=seed, metadata=meta)
            else:
                _write_audio(tmp, fmt="mp3", codec="libmp3lame", seconds=1.0, seed=seed)
            self._cache[key] = tmp.read_bytes()
            tmp.unlink()
        return self._cache[key]

    def write(self, path: Path, index: int, *, ai: bool) -> None:
        tag = f"deepguard corpus {self._seed}:{index}"
        ext = path.suffix
        file_seed = self._seed * 1_000_003 + index
        if ext == ".jpg":
            data = _insert_jpeg_segment(
                _jpeg_bytes(_photo(256, 256, file_seed)),
                _jpeg_segment(0xFE, tag.encode()),
            )
            if ai:
                xmp = _xmp_packet(
                    {"Iptc4xmpExt:DigitalSourceType": IPTC_TRAINED_ALGORITHMIC_MEDIA}
                )
                data = _insert_jpeg_segment(
                    data, _jpeg_segment(0xE1, _XMP_APP1_ID + xmp)
                )
            path.write_bytes(data)
        elif ext == ".png":
            text = {"Comment": tag}
            if ai:
                text["parameters"] = _a1111_parameters(file_seed)
            im = _photo(256, 256, file_seed)
            path.write_bytes(_png_bytes(im, text=text, compress_level=1))
        elif ext == ".mp4":
            variant = self._VARIANTS if ai else index % self._VARIANTS
            # A top-level 'free' box at the end is ignored by every reader and
            # moves no offsets, so the copy stays valid with distinct bytes.
            payload = tag.encode()
            free = struct.pack(">I", 8 + len(payload)) + b"free" + payload
            path.write_bytes(self._template(ext, variant) + free)
        elif ext == ".mp3":
            path.write_bytes(self._template(ext, index % self._VARIANTS))
            aigc = None
            if ai:
                aigc = _aigc_label_json(produce_id=f"corpus-{self._seed}-{index}")
            _set_id3(path, title=tag, aigc=aigc)
        else:
            chunks = {b"LIST": _riff_info(ICMT=tag)}
            if ai:
                chunks[b"AIGC"] = _aigc_label_json(
                    produce_id=f"corpus-{self._seed}-{index}"
                ).encode("ascii")
            path.write_bytes(
                _wav_bytes(seconds=1.0, seed=file_seed, extra_chunks=chunks)
            )


_CORPUS_EXTENSIONS = (".jpg", ".png", ".mp4", ".mp3", ".wav")


def generate_mixed_corpus(out_dir: Path, n: int, *, seed: int = 0) -> list[Path]:
    """Write ``n`` small files cycling JPEG, PNG, MP4, MP3, WAV; return their paths.

    One file in five of each format carries AI metadata (XMP digital source
    type, A1111 parameters, a generator-naming MP4 comment, a GB 45438 label in
    ID3 or a RIFF ``AIGC`` chunk), so a benchmark exercises both the "nothing
    found" path and the parsing of real labels. Every file has a distinct
    SHA-256 (each embeds its index), so hash-keyed caches cannot flatter a run.
    """
    if n < 0:
        msg = f"n must be >= 0, got {n}"
        raise ValueError(msg)
    out_dir.mkdir(parents=True, exist_ok=True)
    factory = _CorpusFactory(out_dir, seed)
    paths = []
    per_round = len(_CORPUS_EXTENSIONS)
    for index in range(n):
        ext = _CORPUS_EXTENSIONS[index % per_round]
        ai = (index // per_round + seed) % 5 == 0
        path = out_dir / f"{index:05d}{ext}"
        factory.write(path, index, ai=ai)
        paths.append(path)
    return paths
