"""Image label carriers: PNG, JPEG, WebP, TIFF, GIF and HEIF/HEIC/AVIF.

Each carrier is exercised on the real files in ``../shared/data/media`` and
on images generated here: a label written and read back, pixels decoding
bit-identically, relabelling leaving one label, other XMP surviving,
exiftool agreeing in both directions, content digests ignoring labels but
not pixels, and hostile files failing with one-line deepguard errors.
"""

from __future__ import annotations

import io
import random
import struct
import subprocess
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image, ImageSequence, PngImagePlugin

from deepguard.config import Limits
from deepguard.errors import (
    CorruptMedia,
    LabelError,
    MediaLimitExceeded,
    UnsupportedFormat,
)
from deepguard.labels.fields import AigcFields, LabelStatus, assess
from deepguard.labels.implicit import registry, xmp_label
from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.labels.implicit.gif import MAGIC_TRAILER, GifCarrier
from deepguard.labels.implicit.heif import HeifCarrier
from deepguard.labels.implicit.jpeg import MAX_XMP_PACKET, JpegCarrier
from deepguard.labels.implicit.png import PngCarrier
from deepguard.labels.implicit.tiff import TiffCarrier
from deepguard.labels.implicit.webp import WebpCarrier
from deepguard.media.containers import xmp
from deepguard.media.image import open_image
from deepguard.media.probe import probe
from media_factory import gradient, png_chunk, write_image, xmp_packet

PRODUCER = "001191440300708461136T1XGW3"
A = AigcFields(label="1", content_producer=PRODUCER, produce_id="A-0001")
B = AigcFields(
    label="1",
    content_producer=PRODUCER,
    produce_id="A-0001",
    content_propagator="001191440300708461136T2XGW3",
    propagate_id="B-0002",
)
LIMITS = Limits()
DC = 'xmlns:dc="http://purl.org/dc/elements/1.1/"'
OTHER_XMP = xmp_packet("<dc:format>image/x-kept</dc:format>", DC)
XMP_TAG = {700: OTHER_XMP}
CARRIERS: dict[str, Carrier] = {
    c.name: c
    for c in (
        PngCarrier(),
        JpegCarrier(),
        WebpCarrier(),
        TiffCarrier(),
        GifCarrier(),
        HeifCarrier(),
    )
}
SHARED_IMAGES = [
    "IMG_0003.jpg",
    "P1000827.jpg",
    "cloudx.jpg",
    "earth_apollo17.jpg",
    "prerelease.jpg",
    "thumbnail.jpg",
    "libpng-test.png",
    "sample1.png",
    "mars.webp",
    "sample1.webp",
    "test.webp",
    "test_lossless.webp",
    "test_xmp.webp",
    "sample1.gif",
    "TUSCANY.TIF",
    "sample1.avif",
    "sample1.heic",
    "sample1.heif",
]
Exiftool = Callable[..., subprocess.CompletedProcess[str]]
"""The conftest ``exiftool`` fixture: runs exiftool with the TC260 config."""
BAD_ERRORS = (CorruptMedia, UnsupportedFormat, MediaLimitExceeded)


# --- media ----------------------------------------------------------------------------


def _rgba() -> Image.Image:
    im = gradient(48, 32, seed=3).convert("RGBA")
    alpha = np.full((32, 48), 255, np.uint8)
    alpha[:, :12] = 40
    im.putalpha(Image.fromarray(alpha))
    return im


def _frames(n: int = 3) -> list[Image.Image]:
    return [gradient(40, 30, seed=i) for i in range(n)]


def _save(im: Image.Image, path: Path, fmt: str, **kw: object) -> Path:
    im.save(path, fmt, **kw)
    return path


def _gif_with_xmp(path: Path, packet: bytes) -> Path:
    """A GIF with an XMP extension spliced in after the global colour table."""
    buf = io.BytesIO()
    gradient(40, 30).convert("P").save(buf, "GIF")
    data = buf.getvalue()
    end = 13 + (3 * (2 << (data[10] & 7)) if data[10] & 0x80 else 0)
    ext = b"\x21\xff\x0bXMP DataXMP" + packet + MAGIC_TRAILER
    path.write_bytes(b"GIF89a" + data[6:end] + ext + data[end:])
    return path


def _text(keyword: bytes, value: bytes) -> bytes:
    return png_chunk(b"tEXt", keyword + b"\x00" + value)


def _xmp_itxt(packet: bytes) -> bytes:
    return png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet)


def _png_with(path: Path, *chunks: bytes) -> Path:
    """A PNG with ``chunks`` inserted right after IHDR."""
    buf = io.BytesIO()
    gradient(24, 16).save(buf, "PNG")
    data = buf.getvalue()
    at = 8 + 12 + struct.unpack(">I", data[8:12])[0]
    path.write_bytes(data[:at] + b"".join(chunks) + data[at:])
    return path


def _tiff_big_endian(path: Path) -> Path:
    values = (np.arange(24 * 16, dtype=np.uint32) * 97 % 65536).astype(">u2")
    Image.frombytes("I;16B", (24, 16), values.tobytes()).save(path, "TIFF")
    assert path.read_bytes()[:2] == b"MM"
    return path


def _apng(d: Path) -> Path:
    first, *rest = _frames()
    return _save(first, d / "anim.png", "PNG", save_all=True, append_images=rest)


def _webp_animated(d: Path) -> Path:
    first, *rest = _frames()
    path = d / "anim.webp"
    return _save(first, path, "WEBP", save_all=True, append_images=rest, lossless=True)


def _gif_animated(d: Path) -> Path:
    first, *rest = (f.convert("P") for f in _frames())
    path = d / "anim.gif"
    return _save(first, path, "GIF", save_all=True, append_images=rest, duration=90)


def _tiff_pages(d: Path) -> Path:
    first, *rest = _frames()
    return _save(first, d / "pages.tif", "TIFF", save_all=True, append_images=rest)


def _heic(path: Path, **options: object) -> Path:
    pillow_heif.register_heif_opener()  # Pillow writes HEIF through the plugin
    return write_image(path, "HEIF", **options)


Maker = Callable[[Path], Path]
GENERATED: dict[str, Maker] = {
    "png-rgb": lambda d: write_image(d / "a.png", "PNG"),
    "png-palette": lambda d: _save(gradient().convert("P"), d / "p.png", "PNG"),
    "png-rgba": lambda d: _save(_rgba(), d / "rgba.png", "PNG"),
    "apng": _apng,
    "png-with-xmp": lambda d: _png_with(d / "x.png", _xmp_itxt(OTHER_XMP)),
    "jpeg": lambda d: write_image(d / "a.jpg", "JPEG", quality=90),
    "jpeg-progressive": lambda d: write_image(d / "p.jpg", "JPEG", progressive=True),
    "jpeg-with-xmp": lambda d: write_image(d / "x.jpg", "JPEG", xmp=OTHER_XMP),
    "webp-lossy": lambda d: write_image(d / "a.webp", "WEBP", quality=80),
    "webp-lossless-alpha": lambda d: _save(_rgba(), d / "l.webp", "WEBP", lossless=1),
    "webp-animated": _webp_animated,
    "webp-with-xmp": lambda d: write_image(d / "x.webp", "WEBP", xmp=OTHER_XMP),
    "gif": lambda d: _save(gradient().convert("P"), d / "a.gif", "GIF"),
    "gif-animated": _gif_animated,
    "gif-with-xmp": lambda d: _gif_with_xmp(d / "x.gif", OTHER_XMP),
    "tiff-lzw": lambda d: write_image(d / "a.tif", "TIFF", compression="tiff_lzw"),
    "tiff-big-endian": lambda d: _tiff_big_endian(d / "be.tif"),
    "bigtiff": lambda d: write_image(d / "big.tif", "TIFF", big_tiff=True),
    "tiff-multipage": _tiff_pages,
    "tiff-with-xmp": lambda d: write_image(d / "x.tif", "TIFF", tiffinfo=XMP_TAG),
    "heic": lambda d: _heic(d / "a.heic", quality=90),
    "heic-with-xmp": lambda d: _heic(d / "x.heic", xmp=OTHER_XMP),
    "avif": lambda d: write_image(d / "a.avif", "AVIF", quality=90),
}
WITH_XMP = [k for k in GENERATED if k.endswith("-with-xmp")]


def carrier_of(path: Path) -> Carrier:
    """The carrier for ``path``, chosen from its content as the registry does.

    ``probe`` does not recognise BigTIFF yet, so that magic is checked here.
    """
    if path.read_bytes()[:4] in (b"II+\x00", b"MM\x00+"):
        return CARRIERS["tiff"]
    probed = probe(path)
    found = [c for c in CARRIERS.values() if c.handles(probed)]
    assert len(found) == 1, (path, probed)
    return found[0]


def frames(path: Path) -> list[tuple[str, bytes]]:
    """Every frame's mode and decoded pixels."""
    with open_image(path, limits=LIMITS) as im:
        return [(f.mode, f.tobytes()) for f in ImageSequence.Iterator(im)]


def xmp_props(path: Path) -> dict[str, object]:
    """Every property of every raw XMP packet in the file, merged."""
    props: dict[str, object] = {}
    data = path.read_bytes()
    for _, packet in xmp.find_packets(data):
        props.update(xmp.parse(packet))
    return props


def read(path: Path, limits: Limits = LIMITS) -> CarrierRead:
    return carrier_of(path).read(path, limits)


def write(src: Path, dst: Path, fields: AigcFields) -> Path:
    carrier_of(src).write(src, dst, fields.to_json(), LIMITS)
    return dst


def the_label(path: Path) -> AigcFields:
    """The one compliant label of ``path`` (fails if there is not exactly one)."""
    found = read(path)
    assert found.errors == []
    reading = assess(found.copies)
    assert len(found.copies) == 1, found.copies
    assert reading.status is LabelStatus.COMPLIANT, reading.problems
    assert reading.fields is not None
    return reading.fields


def digest(path: Path) -> str:
    return carrier_of(path).content_digest(path, LIMITS)


@pytest.fixture(params=SHARED_IMAGES)
def shared_image(request: pytest.FixtureRequest, shared_data: Path) -> Path:
    return shared_data / "media" / str(request.param)


@pytest.fixture(params=sorted(GENERATED))
def generated(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return GENERATED[str(request.param)](tmp_path)


# --- round trips ----------------------------------------------------------------------


def check_round_trip(src: Path, tmp_path: Path) -> None:
    before = src.read_bytes()
    first = write(src, tmp_path / f"first{src.suffix}", A)
    assert src.read_bytes() == before, "the input must never be modified"
    assert the_label(first) == A
    second = write(first, tmp_path / f"second{src.suffix}", B)
    assert the_label(second) == B
    assert frames(second) == frames(src)
    assert digest(src) == digest(first) == digest(second)
    kept = {k: v for k, v in xmp_props(src).items() if k != "TC260:AIGC"}
    after = xmp_props(second)
    assert {k: after.get(k) for k in kept} == kept
    assert after.get("TC260:AIGC") == B.to_json()


@pytest.mark.shared_data
def test_round_trip_shared_media(shared_image: Path, tmp_path: Path) -> None:
    check_round_trip(shared_image, tmp_path)


def test_round_trip_generated(generated: Path, tmp_path: Path) -> None:
    check_round_trip(generated, tmp_path)


def test_relabelling_keeps_the_file_size_stable(
    generated: Path, tmp_path: Path
) -> None:
    first = write(generated, tmp_path / f"1{generated.suffix}", A)
    second = write(first, tmp_path / f"2{generated.suffix}", B)
    third = write(second, tmp_path / f"3{generated.suffix}", B)
    assert third.stat().st_size == second.stat().st_size
    assert the_label(third) == B


@pytest.mark.parametrize("name", WITH_XMP)
def test_existing_xmp_properties_survive(name: str, tmp_path: Path) -> None:
    src = GENERATED[name](tmp_path)
    assert xmp_props(src)["dc:format"] == "image/x-kept"
    out = write(
        write(src, tmp_path / f"1{src.suffix}", A), tmp_path / f"2{src.suffix}", B
    )
    props = xmp_props(out)
    assert props["dc:format"] == "image/x-kept"
    assert props["TC260:AIGC"] == B.to_json()


def test_unlabelled_images_have_no_label(generated: Path) -> None:
    found = read(generated)
    assert found.copies == [] and found.errors == []
    assert assess(found.copies).status is LabelStatus.NOT_FOUND


def test_registry_labels_images_end_to_end(generated: Path, tmp_path: Path) -> None:
    out = registry.write_label(generated, A, out=tmp_path / f"o{generated.suffix}")
    reading = registry.read_label(out)
    assert reading.status is LabelStatus.COMPLIANT
    assert reading.fields == A
    assert reading.carrier == carrier_of(generated).name
    assert registry.content_digest(out) == registry.content_digest(generated)


def test_carriers_claim_only_their_formats(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28))
    jxl = tmp_path / "a.jxl"
    jxl.write_bytes(b"\x00\x00\x00\x0cjXL \r\n\x87\n" + bytes(32))
    for path in (wav, jxl):
        assert not any(c.handles(probe(path)) for c in CARRIERS.values())


# --- PNG: one logical label in two places ---------------------------------------------


def test_png_writes_text_chunk_and_mirrored_xmp(tmp_path: Path) -> None:
    out = write(GENERATED["png-rgb"](tmp_path), tmp_path / "o.png", A)
    with Image.open(out) as im:
        assert isinstance(im, PngImagePlugin.PngImageFile)
        assert im.text["AIGC"] == A.to_json()
    assert xmp_props(out)["TC260:AIGC"] == A.to_json()
    found = read(out)
    assert [c.location for c in found.copies] == ["tEXt AIGC"]


def test_png_identical_text_and_xmp_count_once(tmp_path: Path) -> None:
    payload = A.to_json().encode()
    src = _png_with(
        tmp_path / "s.png",
        _text(b"AIGC", payload),
        _xmp_itxt(xmp_label.new_packet(A.to_json())),
    )
    assert assess(read(src).copies).status is LabelStatus.COMPLIANT


def test_png_xmp_alone_is_a_copy(tmp_path: Path) -> None:
    src = _png_with(tmp_path / "s.png", _xmp_itxt(xmp_label.new_packet(A.to_json())))
    found = read(src)
    assert [c.location for c in found.copies] == ["iTXt XML:com.adobe.xmp TC260:AIGC"]


def test_png_disagreeing_copies_are_two(tmp_path: Path) -> None:
    src = _png_with(
        tmp_path / "s.png",
        _text(b"AIGC", A.to_json().encode()),
        _xmp_itxt(xmp_label.new_packet(B.to_json())),
    )
    reading = assess(read(src).copies)
    assert reading.status is LabelStatus.NONCOMPLIANT
    assert any("disagree" in p for p in reading.problems)


def test_png_two_text_chunks_are_duplicates(tmp_path: Path) -> None:
    payload = A.to_json().encode()
    src = _png_with(
        tmp_path / "s.png",
        _text(b"AIGC", payload),
        _text(b"AIGC", payload),
        _xmp_itxt(xmp_label.new_packet(A.to_json())),
    )
    reading = assess(read(src).copies)
    assert reading.status is LabelStatus.NONCOMPLIANT
    assert len(reading.copies) == 2
    out = write(src, tmp_path / "o.png", B)
    assert the_label(out) == B


def test_png_reads_itxt_and_ztxt_labels(tmp_path: Path) -> None:
    payload = A.to_json().encode()
    itxt = png_chunk(b"iTXt", b"AIGC\x00\x00\x00\x00\x00" + payload)
    ztxt = png_chunk(b"zTXt", b"AIGC\x00\x00" + zlib.compress(payload))
    src = _png_with(tmp_path / "s.png", itxt, ztxt)
    found = read(src)
    assert [c.location for c in found.copies] == ["iTXt AIGC", "zTXt AIGC"]
    out = write(src, tmp_path / "o.png", B)
    assert the_label(out) == B


def test_png_bad_crc_is_reported_with_the_copy(tmp_path: Path) -> None:
    chunk = bytearray(_text(b"AIGC", A.to_json().encode()))
    chunk[-1] ^= 0xFF
    found = read(_png_with(tmp_path / "s.png", bytes(chunk)))
    assert len(found.copies) == 1
    assert any("bad CRC" in e for e in found.errors)


# --- JPEG -----------------------------------------------------------------------------


def _jpeg_with_comment(path: Path, comment: bytes) -> Path:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = comment
    return write_image(path, "JPEG", exif=exif)


@pytest.mark.parametrize(
    "comment",
    [
        b"ASCII\x00\x00\x00" + A.to_json().encode(),
        b"UNICODE\x00" + A.to_json().encode("utf-16-be"),
        b"UNICODE\x00" + A.to_json().encode("utf-16-le"),
        b"\x00" * 8 + A.to_json().encode(),
    ],
    ids=["ascii", "unicode-be", "unicode-le", "undefined"],
)
def test_jpeg_exif_user_comment_is_read_then_neutralised(
    comment: bytes, tmp_path: Path
) -> None:
    src = _jpeg_with_comment(tmp_path / "c.jpg", comment)
    found = read(src)
    assert [c.location for c in found.copies] == ["EXIF UserComment"]
    assert assess(found.copies).fields == A
    out = write(src, tmp_path / "o.jpg", B)
    assert the_label(out) == B
    with Image.open(out) as im:
        left = im.getexif().get_ifd(0x8769)[0x9286]
    assert isinstance(left, bytes) and left.startswith(b"ASCII\x00\x00\x00")
    assert left.strip(b"\x00") == b"ASCII"
    assert len(left) == len(comment)
    assert frames(out) == frames(src)


@pytest.mark.parametrize(
    ("fmt", "suffix"),
    [
        ("JPEG", ".jpg"),
        ("PNG", ".png"),
        ("WEBP", ".webp"),
        ("TIFF", ".tif"),
        ("HEIF", ".heic"),
        ("AVIF", ".avif"),
    ],
)
def test_exif_user_comment_label_leaves_one_label(
    fmt: str, suffix: str, tmp_path: Path
) -> None:
    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"ASCII\x00\x00\x00" + A.to_json().encode()
    src = write_image(tmp_path / f"c{suffix}", fmt, exif=exif.tobytes())
    found = read(src)
    assert [c.location.endswith("UserComment") for c in found.copies] == [True]
    assert assess(found.copies).fields == A
    out = write(src, tmp_path / f"o{suffix}", B)
    assert the_label(out) == B
    assert A.to_json().encode() not in out.read_bytes()
    assert frames(out) == frames(src)
    assert digest(out) == digest(src)


def test_jpeg_exif_comment_without_a_label_is_kept(tmp_path: Path) -> None:
    src = _jpeg_with_comment(tmp_path / "c.jpg", b"ASCII\x00\x00\x00holiday")
    out = write(src, tmp_path / "o.jpg", A)
    with Image.open(out) as im:
        assert im.getexif().get_ifd(0x8769)[0x9286] == b"ASCII\x00\x00\x00holiday"


def test_jpeg_xmp_goes_after_app0_and_exif(tmp_path: Path) -> None:
    src = _jpeg_with_comment(tmp_path / "c.jpg", b"ASCII\x00\x00\x00x")
    data = write(src, tmp_path / "o.jpg", A).read_bytes()
    markers = []
    pos = 2
    while data[pos + 1] != 0xDA:
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        markers.append((data[pos + 1], data[pos + 4 : pos + 8]))
        pos += 2 + length
    assert markers[:3] == [(0xE0, b"JFIF"), (0xE1, b"Exif"), (0xE1, b"http")]


def test_jpeg_packet_too_big_for_one_segment_is_refused(tmp_path: Path) -> None:
    filler = "<dc:description>" + "x" * (MAX_XMP_PACKET - 600) + "</dc:description>"
    src = write_image(tmp_path / "big.jpg", "JPEG", xmp=xmp_packet(filler, DC))
    with pytest.raises(UnsupportedFormat, match="APP1 segment"):
        write(src, tmp_path / "o.jpg", A)


# --- WebP -----------------------------------------------------------------------------


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 12
    while pos + 8 <= len(data):
        size = struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        out.append((data[pos : pos + 4], data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return out


@pytest.mark.parametrize("name", ["webp-lossy", "webp-lossless-alpha"])
def test_simple_webp_becomes_extended(name: str, tmp_path: Path) -> None:
    src = GENERATED[name](tmp_path)
    assert _chunks(src.read_bytes())[0][0] in (b"VP8 ", b"VP8L")
    data = write(src, tmp_path / "o.webp", A).read_bytes()
    chunks = _chunks(data)
    assert [c[0] for c in chunks] == [b"VP8X", chunks[1][0], b"XMP "]
    vp8x = chunks[0][1]
    width = int.from_bytes(vp8x[4:7], "little") + 1
    height = int.from_bytes(vp8x[7:10], "little") + 1
    with Image.open(src) as im:
        assert (width, height) == im.size
        has_alpha = im.mode == "RGBA"
    assert vp8x[0] & 0x04
    assert bool(vp8x[0] & 0x10) == has_alpha
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8


# --- TIFF -----------------------------------------------------------------------------


def test_tiff_other_pages_survive(tmp_path: Path) -> None:
    src = GENERATED["tiff-multipage"](tmp_path)
    out = write(src, tmp_path / "o.tif", A)
    assert len(frames(out)) == 3
    assert frames(out) == frames(src)


# --- HEIF -----------------------------------------------------------------------------


def test_heif_new_item_references_the_primary_image(tmp_path: Path) -> None:
    """libheif only shows metadata linked to the image by a ``cdsc`` reference."""
    out = write(GENERATED["heic"](tmp_path), tmp_path / "o.heic", A)
    heif = pillow_heif.open_heif(out)
    assert xmp_label.find_labels(heif.info["xmp"]) == [A.to_json()]


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _children(data: bytes, start: int, end: int) -> dict[bytes, bytes]:
    """Raw child boxes (header included) of the box payload ``data[start:end]``."""
    out, pos = {}, start
    while pos < end:
        size = struct.unpack(">I", data[pos : pos + 4])[0]
        out[data[pos + 4 : pos + 8]] = data[pos : pos + size]
        pos += size
    return out


def _heif_with_idat_xmp(path: Path, packet: bytes) -> Path:
    """A HEIC whose XMP item lives in ``idat`` (iloc version 1, method 1)."""
    data = write_image(path, "HEIF", quality=90).read_bytes()
    top = _children(data, 0, len(data))
    meta = _children(top[b"meta"], 12, len(top[b"meta"]))
    iloc = meta[b"iloc"]
    offset_size = iloc[12] >> 4
    assert iloc[8] == 0 and offset_size == 4, "a one-item iloc from libheif"
    base_size = (iloc[13] >> 4) & 15
    fields = iloc[16:]  # item id, data ref, base, extent count, offset, length
    base = int.from_bytes(fields[4 : 4 + base_size], "big")
    ext = fields[6 + base_size :]
    start = base + int.from_bytes(ext[0:4], "big")
    image = data[start : start + int.from_bytes(ext[4:8], "big")]
    new_iloc = _box(
        b"iloc",
        bytes((1, 0, 0, 0, 0x44, 0x00))
        + struct.pack(">H", 2)
        + struct.pack(">HHHHII", 1, 0, 0, 1, 0, len(image))  # filled in below
        + struct.pack(">HHHHII", 2, 1, 0, 1, 0, len(packet)),
    )
    infe_xmp = _box(
        b"infe",
        bytes((2, 0, 0, 0)) + struct.pack(">HH", 2, 0) + b"mime\x00"
        + b"application/rdf+xml\x00",
    )  # fmt: skip
    iinf = meta[b"iinf"]
    count = struct.unpack(">H", iinf[12:14])[0]
    new_iinf = _box(
        b"iinf", iinf[8:12] + struct.pack(">H", count + 1) + iinf[14:] + infe_xmp
    )
    body = (
        meta[b"hdlr"] + meta[b"pitm"] + new_iloc + new_iinf + meta[b"iprp"]
        + _box(b"idat", packet)
    )  # fmt: skip
    head = top[b"ftyp"] + _box(b"meta", bytes(4) + body)
    image_at = len(head) + 8
    at = head.index(struct.pack(">HHHHII", 1, 0, 0, 1, 0, len(image)))
    fixed = struct.pack(">HHHHII", 1, 0, 0, 1, image_at, len(image))
    head = head[:at] + fixed + head[at + len(fixed) :]
    path.write_bytes(head + _box(b"mdat", image))
    return path


@pytest.mark.parametrize("fits", [True, False])
def test_heif_xmp_in_idat_is_relabelled(fits: bool, tmp_path: Path) -> None:
    pillow_heif.register_heif_opener()
    packet = xmp_label.set_label(OTHER_XMP, A.to_json())
    if fits:
        packet = packet.replace(b"<?xpacket end", b" " * 400 + b"<?xpacket end")
    src = _heif_with_idat_xmp(tmp_path / "idat.heic", packet)
    assert the_label(src) == A
    out = write(src, tmp_path / "o.heic", B)
    assert the_label(out) == B
    assert xmp_props(out)["dc:format"] == "image/x-kept"
    assert frames(out) == frames(src)
    assert digest(out) == digest(src)
    assert (out.stat().st_size == src.stat().st_size) is fits


def test_heif_sequence_with_moov_is_refused(tmp_path: Path) -> None:
    src = GENERATED["heic"](tmp_path)
    moov = struct.pack(">I", 16) + b"moov" + struct.pack(">I", 8) + b"free"
    seq = tmp_path / "seq.heic"
    seq.write_bytes(src.read_bytes() + moov)
    with pytest.raises(UnsupportedFormat, match="without re-encoding"):
        write(seq, tmp_path / "o.heic", A)


# --- exiftool -------------------------------------------------------------------------


def _exif_value(exiftool: Exiftool, path: Path, tag: str) -> str:
    return exiftool("-s3", f"-{tag}", path).stdout.strip()


@pytest.mark.shared_data
def test_exiftool_reads_our_label_from_shared_media(
    shared_image: Path, tmp_path: Path, exiftool: Exiftool
) -> None:
    out = write(shared_image, tmp_path / f"o{shared_image.suffix}", A)
    assert _exif_value(exiftool, out, "XMP-TC260:AIGC") == A.to_json()


def test_exiftool_reads_our_label(
    generated: Path, tmp_path: Path, exiftool: Exiftool
) -> None:
    out = write(generated, tmp_path / f"o{generated.suffix}", A)
    assert _exif_value(exiftool, out, "XMP-TC260:AIGC") == A.to_json()
    if generated.suffix == ".png":
        assert _exif_value(exiftool, out, "PNG:AIGC") == A.to_json()


def _warnings(exiftool: Exiftool, path: Path) -> set[str]:
    lines = exiftool("-validate", "-warning", "-a", "-s3", path).stdout.splitlines()
    return {line for line in lines[1:] if line}


def test_exiftool_finds_no_new_structural_problem(
    generated: Path, tmp_path: Path, exiftool: Exiftool
) -> None:
    out = write(generated, tmp_path / f"o{generated.suffix}", A)
    assert _warnings(exiftool, out) <= _warnings(exiftool, generated)


def _exiftool_writes(exiftool: Exiftool, src: Path, out: Path, *tags: str) -> None:
    """Write ``tags`` into a copy of ``src``; skip where exiftool cannot."""
    try:
        exiftool(*tags, "-o", out, src)
    except subprocess.CalledProcessError as exc:
        if not any(why in exc.stderr for why in ("Can't write", "not support")):
            raise
        pytest.skip(f"exiftool cannot write this file: {exc.stderr.strip()}")


def test_label_written_by_exiftool_is_read(
    generated: Path, tmp_path: Path, exiftool: Exiftool
) -> None:
    out = tmp_path / f"by-exiftool{generated.suffix}"
    _exiftool_writes(exiftool, generated, out, f"-XMP-TC260:AIGC={A.to_json()}")
    assert the_label(out) == A
    assert digest(out) == digest(generated)
    relabelled = write(out, tmp_path / f"o{generated.suffix}", B)
    assert the_label(relabelled) == B
    assert _exif_value(exiftool, relabelled, "XMP-TC260:AIGC") == B.to_json()


def test_exiftool_packet_in_webp_is_read(tmp_path: Path, exiftool: Exiftool) -> None:
    """exiftool cannot write WebP, so its packet is embedded with Pillow."""
    sidecar = tmp_path / "label.xmp"
    exiftool(f"-XMP-TC260:AIGC={A.to_json()}", "-o", sidecar)
    packet = sidecar.read_bytes()
    src = write_image(tmp_path / "e.webp", "WEBP", xmp=packet)
    assert the_label(src) == A
    relabelled = write(src, tmp_path / "o.webp", B)
    assert the_label(relabelled) == B


# --- digests --------------------------------------------------------------------------


def _edited_pixels(src: Path, tmp_path: Path) -> Path:
    """``src`` re-encoded with one pixel changed (same format and options)."""
    with open_image(src, limits=LIMITS) as im:
        fmt = im.format
        im.load()
        edited = im.copy()
    x, y = edited.width // 2, edited.height // 2
    pixel = edited.getpixel((x, y))
    flipped = (
        tuple(255 - v for v in pixel)
        if isinstance(pixel, tuple)
        else 1 ^ int(pixel or 0)
    )
    edited.putpixel((x, y), flipped)
    out = tmp_path / f"edited{src.suffix}"
    options = {"quality": 100} if fmt in ("JPEG", "WEBP", "HEIF", "AVIF") else {}
    if fmt == "WEBP" and "lossless" in src.name:
        options = {"lossless": True}
    edited.save(out, fmt, **options)
    return out


@pytest.mark.parametrize(
    "name", ["png-rgb", "jpeg", "webp-lossy", "gif", "tiff-lzw", "heic", "avif"]
)
def test_digest_changes_when_pixels_change(name: str, tmp_path: Path) -> None:
    src = GENERATED[name](tmp_path)
    edited = _edited_pixels(src, tmp_path)
    assert frames(edited) != frames(src)
    assert digest(edited) != digest(src)


def test_digest_ignores_metadata_written_by_exiftool(
    generated: Path, tmp_path: Path, exiftool: Exiftool
) -> None:
    out = tmp_path / f"meta{generated.suffix}"
    tags = ("-XMP-dc:Title=changed", "-Comment=changed", "-Artist=someone")
    _exiftool_writes(exiftool, generated, out, *tags)
    assert digest(out) == digest(generated)


# --- XMP helper -----------------------------------------------------------------------


TC = 'xmlns:t="http://www.tc260.org.cn/ns/AIGC/1.0/"'


def test_xmp_label_attribute_element_and_array_forms() -> None:
    packet = xmp_packet(
        "<dc:format>x</dc:format><t:AIGC><rdf:Bag><rdf:li>one</rdf:li>"
        "<rdf:li>two</rdf:li></rdf:Bag></t:AIGC>",
        f'{DC} {TC} t:AIGC="{{&quot;a&quot;:1}}"',
    )
    assert xmp_label.find_labels(packet) == ['{"a":1}', "one", "two"]
    cleaned = xmp_label.remove_labels(packet)
    assert xmp_label.find_labels(cleaned) == []
    assert xmp.parse(cleaned)["dc:format"] == "x"
    relabelled = xmp_label.set_label(packet, "<&>")
    assert xmp_label.find_labels(relabelled) == ["<&>"]
    assert xmp.parse(relabelled)["dc:format"] == "x"


def test_xmp_label_keeps_the_packet_wrapper_and_about() -> None:
    packet = OTHER_XMP.replace(b'rdf:about=""', b'rdf:about="uuid:1"')
    out = xmp_label.set_label(packet, "v")
    assert out.startswith(b"<?xpacket begin=") and out.endswith(b'<?xpacket end="w"?>')
    assert b'rdf:about="uuid:1" xmlns:rdf' in out
    assert out.count(b"rdf:Description") == 4


@pytest.mark.parametrize(
    "packet",
    [
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>',
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>',
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
        b'"http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>',
    ],
)
def test_xmp_label_fills_packets_without_descriptions(packet: bytes) -> None:
    assert xmp_label.find_labels(xmp_label.set_label(packet, "v")) == ["v"]


def test_xmp_label_rejects_dtd_and_bad_xml() -> None:
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]>' + OTHER_XMP
    with pytest.raises(CorruptMedia, match="DOCTYPE"):
        xmp_label.find_labels(bomb)
    with pytest.raises(CorruptMedia, match="well-formed"):
        xmp_label.set_label(OTHER_XMP[:-30], "v")
    with pytest.raises(MediaLimitExceeded):
        xmp_label.find_labels(OTHER_XMP, max_bytes=100)


def test_xmp_label_refuses_characters_xml_cannot_hold() -> None:
    with pytest.raises(LabelError):
        xmp_label.new_packet("a\x01b")


# --- hostile input --------------------------------------------------------------------


def test_label_over_one_mebibyte_is_bounded(tmp_path: Path) -> None:
    huge = b'{"AIGC":{"Label":"1","ContentProducer":"' + b"x" * 1_200_000 + b'"}}'
    src = _png_with(tmp_path / "h.png", _text(b"AIGC", huge))
    reading = assess(read(src).copies)
    assert reading.status is LabelStatus.NONCOMPLIANT
    assert any("1 MiB" in p for p in reading.problems)
    with pytest.raises(MediaLimitExceeded, match="max_metadata_bytes"):
        read(src, Limits(max_metadata_bytes=1024 * 1024))


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"AIGC":{"Label":"1\xff"}}', "disallowed character"),
    ],
    ids=["json", "non-utf8"],
)
def test_malformed_labels_are_copies_with_problems(
    value: bytes, problem: str, tmp_path: Path
) -> None:
    itxt = png_chunk(b"iTXt", b"AIGC\x00\x00\x00\x00\x00" + value)
    text = _text(b"AIGC", value)
    for chunk in (itxt, text):
        reading = assess(read(_png_with(tmp_path / "m.png", chunk)).copies)
        assert reading.status is LabelStatus.NONCOMPLIANT
        assert any(problem in p for p in reading.problems), reading.problems


def test_hostile_xmp_is_an_error_not_a_crash(tmp_path: Path) -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaa">]><x>&a;</x>'
    src = write_image(tmp_path / "b.jpg", "JPEG", xmp=bomb)
    found = read(src)
    assert found.copies == [] and any("DOCTYPE" in e for e in found.errors)
    assert assess(found.copies, errors=found.errors).status is LabelStatus.INCONCLUSIVE
    with pytest.raises(CorruptMedia, match="DOCTYPE"):
        write(src, tmp_path / "o.jpg", A)


def test_truncation_after_the_label_keeps_the_copy(tmp_path: Path) -> None:
    labelled = write(GENERATED["png-rgb"](tmp_path), tmp_path / "l.png", A)
    cut = tmp_path / "cut.png"
    cut.write_bytes(labelled.read_bytes()[:-40])
    found = read(cut)
    assert len(found.copies) == 1 and found.errors
    with pytest.raises(CorruptMedia):
        write(cut, tmp_path / "o.png", B)


def _damage_png(data: bytes) -> bytes:
    at = data.index(b"IDAT") - 4  # the first IDAT's length field
    return data[:at] + b"\x7f\xff\xff\xf0" + data[at + 4 :]


def _damage_webp(data: bytes) -> bytes:
    at = data.index(b"XMP ") + 4  # the XMP chunk's size field
    return data[:at] + b"\xf0\xff\xff\x7f" + data[at + 4 :]


def _damage_tiff(data: bytes) -> bytes:
    return data[:4] + b"\xf0\xff\xff\x7f" + data[8:]  # first IFD past the end


def _damage_heif(data: bytes) -> bytes:
    at = data.index(b"iloc") + 4  # version/flags, then field sizes
    sizes = data[at + 4 : at + 6]
    return data[: at + 4] + sizes + b"\x7f\xff" + data[at + 8 :]  # item count


DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "png-rgb": _damage_png,
    "webp-lossy": _damage_webp,
    "tiff-lzw": _damage_tiff,
    "gif": lambda data: data[: len(data) - 30],  # inside the image data
    "jpeg": lambda data: data[: data.index(b"http://ns.adobe.com/xap") + 100],
    "heic": _damage_heif,
}


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_lengths_past_the_end_fail_cleanly(name: str, tmp_path: Path) -> None:
    labelled = write(GENERATED[name](tmp_path), tmp_path / f"l.{name}", A)
    carrier = carrier_of(labelled)
    damaged = tmp_path / f"damaged.{name}"
    damaged.write_bytes(DAMAGE[name](labelled.read_bytes()))
    try:
        found = carrier.read(damaged, LIMITS)
    except CorruptMedia as exc:
        assert str(exc).startswith(f"{damaged}: ")
    else:
        assert found.errors, "the damage must be reported"
        status = assess(found.copies, errors=found.errors).status
        assert status in (LabelStatus.COMPLIANT, LabelStatus.INCONCLUSIVE)
    for action in (
        lambda: carrier.write(damaged, tmp_path / "out", B.to_json(), LIMITS),
        lambda: carrier.content_digest(damaged, LIMITS),
    ):
        with pytest.raises(CorruptMedia) as caught:
            action()
        text = str(caught.value)
        assert text.startswith(f"{damaged}: ") and "\n" not in text


@pytest.mark.parametrize("name", ["png-rgb", "webp-lossy", "tiff-lzw", "heic"])
def test_oversized_label_is_read_bounded(name: str, tmp_path: Path) -> None:
    """The carrier hands a 1.1 MB label over (parsing refuses it) or stops at
    the metadata limit; it never reads without a bound."""
    src = GENERATED[name](tmp_path)
    carrier = carrier_of(src)
    big = tmp_path / f"big.{name}"
    carrier.write(src, big, A.replace(produce_id="x" * 1_100_000).to_json(), LIMITS)
    reading = assess(carrier.read(big, LIMITS).copies)
    assert reading.status is LabelStatus.NONCOMPLIANT
    assert any("1 MiB" in p for p in reading.problems)
    with pytest.raises(MediaLimitExceeded, match="max_metadata_bytes"):
        carrier.read(big, Limits(max_metadata_bytes=1024 * 1024))


def test_label_in_xmp_and_exif_is_two_copies(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"ASCII\x00\x00\x00" + A.to_json().encode()
    packet = xmp_label.new_packet(A.to_json())
    src = write_image(tmp_path / "d.jpg", "JPEG", exif=exif, xmp=packet)
    reading = assess(read(src).copies)
    assert reading.status is LabelStatus.NONCOMPLIANT
    assert len(reading.copies) == 2
    assert the_label(write(src, tmp_path / "o.jpg", B)) == B


def test_xmp_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    bad = OTHER_XMP.replace(b"image/x-kept", b"image/\xff\xfe")
    src = write_image(tmp_path / "u.jpg", "JPEG", xmp=bad)
    found = read(src)
    assert found.copies == [] and found.errors
    with pytest.raises(CorruptMedia):
        write(src, tmp_path / "o.jpg", A)


def _hostile_variants(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = [data[:n] for n in (1, 8, 12, 13, 20, 40, len(data) // 3, len(data) - 1)]
    for _ in range(40):
        mutated = bytearray(data)
        at = rng.randrange(len(data))
        if rng.random() < 0.5:
            mutated[at] ^= 1 << rng.randrange(8)
        else:
            mutated[at : at + 4] = b"\xff\xff\xff\xff"
        out.append(bytes(mutated))
    return out


def _outcome(action: Callable[[], object], path: Path) -> None:
    """Run ``action``; only a one-line format error naming ``path`` may escape."""
    try:
        action()
    except BAD_ERRORS as exc:
        text = str(exc)
        assert text.startswith(f"{path}: ") and "\n" not in text


@pytest.mark.parametrize(
    "name", ["png-rgb", "jpeg", "webp-lossy", "gif", "tiff-lzw", "bigtiff", "heic"]
)
def test_damaged_files_fail_cleanly(name: str, tmp_path: Path) -> None:
    labelled = write(GENERATED[name](tmp_path), tmp_path / f"l.{name}", A)
    carrier = carrier_of(labelled)
    damaged = tmp_path / f"damaged.{name}"
    seed = zlib.crc32(name.encode())
    for n, data in enumerate(_hostile_variants(labelled.read_bytes(), seed)):
        damaged.write_bytes(data)
        started = time.monotonic()
        _outcome(lambda: assess(carrier.read(damaged, LIMITS).copies), damaged)
        _outcome(lambda: carrier.content_digest(damaged, LIMITS), damaged)
        out = tmp_path / f"out{n}"
        _outcome(lambda o=out: carrier.write(damaged, o, B.to_json(), LIMITS), damaged)
        assert damaged.read_bytes() == data
        assert time.monotonic() - started < 5, f"variant {n} is too slow"
        if out.exists() and out.stat().st_size:
            # Whatever was damaged, a file we wrote holds our label only.
            try:
                copies = carrier.read(out, LIMITS).copies
            except BAD_ERRORS:
                continue
            assert [c.payload for c in copies] == [B.to_json()], (n, copies)
