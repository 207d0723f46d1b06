"""Hostile and broken inputs: no hang, no MemoryError, one-line errors.

Each case either raises ``CorruptMedia`` whose message is one line naming the
file, or returns a ``provenance.read_error`` finding while keeping whatever
the intact parts of the file said.
"""

from __future__ import annotations

import io
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from deepguard.config import Limits
from deepguard.errors import CorruptMedia
from media_factory import png_chunk, xmp_packet

AI_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
Scan = Callable[..., Any]
"""The ``scan`` fixture: path -> the detector's findings (conftest ``Findings``)."""
MakePng = Callable[..., Path]
MakeJpeg = Callable[..., Path]
IPTC = 'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
DST = f"<Iptc4xmpExt:DigitalSourceType>{AI_SOURCE}</Iptc4xmpExt:DigitalSourceType>"


def assert_one_line_error(exc: CorruptMedia, path: Path) -> None:
    text = str(exc)
    assert text.startswith(f"{path}: ")
    assert "\n" not in text


def read_errors(found: Any) -> list[dict[str, object]]:
    return [f.details for f in found.of("provenance.read_error")]


def test_truncated_png_keeps_the_text_before_the_cut(
    make_png: MakePng, scan: Scan
) -> None:
    path = make_png({"Software": "Midjourney"})
    data = path.read_bytes()
    path.write_bytes(data[: data.index(b"IDAT") + 6])
    found = scan(path)
    assert found.one("generator.name").details["generator"] == "Midjourney"
    (error,) = read_errors(found)
    assert error["carrier"] == "png"
    assert error["error"] == "CorruptMedia"
    assert "PNG chunk 'IDAT'" in str(error["message"])
    assert found.one("provenance.read_error").confidence == 1.0


def test_truncated_png_without_metadata_raises(make_png: MakePng, scan: Scan) -> None:
    path = make_png()
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CorruptMedia) as info:
        scan(path)
    assert_one_line_error(info.value, path)


def test_truncated_jpeg_keeps_the_xmp(make_jpeg: MakeJpeg, scan: Scan) -> None:
    path = make_jpeg(xmp=xmp_packet(DST, IPTC))
    data = path.read_bytes()
    path.write_bytes(data[: data.index(b"\xff\xdb") + 10])  # cut inside DQT
    found = scan(path)
    assert found.one("xmp.digital_source_type").details["ai_generated"] is True
    assert read_errors(found)[0]["carrier"] == "jpeg"


def test_png_text_chunk_with_a_2gb_length(make_png: MakePng, scan: Scan) -> None:
    hostile = png_chunk(b"tEXt", b"parameters\0x", length=0x7FFFFFFF)
    path = make_png({"Software": "Ideogram"}, raw=(hostile,))
    started = time.perf_counter()
    found = scan(path)
    assert time.perf_counter() - started < 1.0
    assert found.one("generator.name").details["generator"] == "Ideogram"
    (error,) = read_errors(found)
    assert "claims 2147483647 bytes" in str(error["message"])


def test_ztxt_bomb_is_bounded(make_png: MakePng, scan: Scan) -> None:
    bomb = b"parameters\0\0" + zlib.compress(b"A" * (64 * 1024 * 1024), 9)
    path = make_png({"Software": "Flux"}, raw=(png_chunk(b"zTXt", bomb),))
    limits = Limits(max_metadata_bytes=1024 * 1024)
    started = time.perf_counter()
    found = scan(path, limits=limits)
    assert time.perf_counter() - started < 2.0
    assert found.one("generator.name").details["generator"] == "Flux"
    (error,) = read_errors(found)
    assert error["carrier"] == "png:zTXt"
    assert error["error"] == "MediaLimitExceeded"
    assert error["limit"] == "max_metadata_bytes"


def test_billion_laughs_xmp_is_rejected_quickly(
    make_jpeg: MakeJpeg, scan: Scan
) -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    laughs = (
        f'<?xml version="1.0"?><!DOCTYPE x:xmpmeta [{entities}]>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">&lol9;</x:xmpmeta>'
    ).encode()
    exif = Image.Exif()
    exif[0x0131] = "Midjourney"
    path = make_jpeg(xmp=laughs, exif=exif)
    started = time.perf_counter()
    found = scan(path)
    assert time.perf_counter() - started < 1.0
    assert found.one("generator.name").details["generator"] == "Midjourney"
    (error,) = read_errors(found)
    assert error["carrier"] == "jpeg:APP1/xmp"
    assert "DOCTYPE or ENTITY" in str(error["message"])


FTYP = struct.pack(">I", 20) + b"ftypisom\0\0\0\0isom"


def test_isobmff_size_zero_box_runs_to_the_end(tmp_path: Path, scan: Scan) -> None:
    path = tmp_path / "zero.mp4"
    path.write_bytes(FTYP + struct.pack(">I", 0) + b"mdat" + b"\0" * 64)
    assert scan(path) == []


def test_isobmff_64_bit_size_past_the_end(tmp_path: Path, scan: Scan) -> None:
    path = tmp_path / "huge.mp4"
    path.write_bytes(FTYP + struct.pack(">I", 1) + b"moov" + struct.pack(">Q", 2**62))
    started = time.perf_counter()
    with pytest.raises(CorruptMedia) as info:
        scan(path)
    assert time.perf_counter() - started < 1.0
    assert_one_line_error(info.value, path)
    assert "ISO BMFF box 'moov'" in str(info.value)


def test_isobmff_bad_box_after_good_tags_is_a_read_error(
    tmp_path: Path, scan: Scan
) -> None:
    text = b"Pika 2.2"
    atom = b"\xa9swr" + struct.pack(">HH", len(text), 0) + text
    atom = struct.pack(">I", 4 + len(atom)) + atom
    udta = struct.pack(">I", 8 + len(atom)) + b"udta" + atom
    moov = struct.pack(">I", 8 + len(udta)) + b"moov" + udta
    path = tmp_path / "mixed.mp4"
    path.write_bytes(FTYP + moov + struct.pack(">I", 3) + b"free")
    found = scan(path)
    assert found.one("generator.name").details["field"] == "mp4:software"
    assert "invalid size 3" in str(read_errors(found)[0]["message"])


def test_broken_matroska_keeps_the_xmp_scan(tmp_path: Path, scan: Scan) -> None:
    path = tmp_path / "bad.mkv"
    path.write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 64 + xmp_packet(DST, IPTC))
    found = scan(path)
    assert found.one("xmp.digital_source_type").details["ai_generated"] is True
    (error,) = read_errors(found)
    assert error["carrier"] == "matroska:av"
    assert "cannot read mkv tags" in str(error["message"])


def test_gif_with_an_endless_sub_block_chain(tmp_path: Path, scan: Scan) -> None:
    buf = io.BytesIO()
    Image.new("P", (4, 4)).save(buf, "GIF")
    data = buf.getvalue()
    at = data.index(b"\x2c")
    path = tmp_path / "bad.gif"
    path.write_bytes(data[:at] + b"\x21\xfe" + b"\xff" * 300)
    with pytest.raises(CorruptMedia) as info:
        scan(path)
    assert_one_line_error(info.value, path)


def test_id3_tag_over_the_limit(tmp_path: Path, scan: Scan) -> None:
    size = 5 * 1024 * 1024
    synchsafe = bytes([(size >> s) & 0x7F for s in (21, 14, 7, 0)])
    frame = b"\xff\xfb\x90\x64" + b"\0" * 413
    path = tmp_path / "big.mp3"
    path.write_bytes(b"ID3\x04\x00\x00" + synchsafe + b"\0" * size + frame * 4)
    found = scan(path, limits=Limits(max_metadata_bytes=1024 * 1024))
    (error,) = read_errors(found)
    assert error["error"] == "MediaLimitExceeded"
    assert error["carrier"] == "mpeg:id3"


def test_flac_block_over_the_limit_is_not_handed_to_mutagen(
    tmp_path: Path, scan: Scan
) -> None:
    streaminfo = b"\x00" + (34).to_bytes(3, "big") + b"\x10" * 34
    size = 2 * 1024 * 1024
    picture = b"\x86" + size.to_bytes(3, "big") + b"\0" * size  # last block
    path = tmp_path / "big.flac"
    path.write_bytes(b"fLaC" + streaminfo + picture + b"\xff\xf8" + b"\0" * 64)
    found = scan(path, limits=Limits(max_metadata_bytes=1024 * 1024))
    (error,) = read_errors(found)
    assert error["carrier"] == "flac:vorbis"
    assert error["error"] == "MediaLimitExceeded"
