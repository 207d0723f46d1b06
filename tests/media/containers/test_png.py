"""PNG chunk walker and text-chunk decoding (containers.png)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from deepguard.errors import CorruptMedia, MediaLimitExceeded
from deepguard.media.containers import png
from deepguard.media.containers._binary import Source


def chunk(ctype: bytes, data: bytes, length: int | None = None) -> bytes:
    size = len(data) if length is None else length
    crc = zlib.crc32(ctype + data) & 0xFFFFFFFF
    return struct.pack(">I", size) + ctype + data + struct.pack(">I", crc)


def make_png(info: PngImagePlugin.PngInfo | None = None) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def insert_after_ihdr(data: bytes, *chunks: bytes) -> bytes:
    at = 8 + 12 + struct.unpack(">I", data[8:12])[0]
    return data[:at] + b"".join(chunks) + data[at:]


def texts(data: bytes, **kw: int) -> dict[str, png.TextChunk]:
    src = Source.from_bytes(data, **kw)
    return {
        t.keyword: t
        for t in (
            png.read_text(src, c)
            for c in png.iter_chunks(src)
            if c.type in png.TEXT_CHUNKS
        )
    }


def test_walk_yields_headers_from_ihdr_to_iend() -> None:
    data = make_png()
    chunks = list(png.iter_chunks(Source.from_bytes(data)))
    assert chunks[0].name == "IHDR"
    assert chunks[-1].name == "IEND"
    assert any(c.name == "IDAT" for c in chunks)


def test_text_chunks_of_all_three_types_decode() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cat\nSteps: 20, Seed: 1")
    info.add_text("Comment", "zipped " * 50, zip=True)
    info.add_itxt("Title", "标题 ✓", lang="zh", tkey="Titel")
    info.add_itxt("Description", "compressed ✓ " * 20, zip=True)
    found = texts(make_png(info))
    assert found["parameters"].text == "a cat\nSteps: 20, Seed: 1"
    assert found["parameters"].chunk.name == "tEXt"
    assert found["Comment"].compressed and found["Comment"].chunk.name == "zTXt"
    assert found["Comment"].text == "zipped " * 50
    title = found["Title"]
    assert (title.text, title.language, title.translated_keyword) == (
        "标题 ✓",
        "zh",
        "Titel",
    )
    assert found["Description"].compressed
    assert found["Description"].text == "compressed ✓ " * 20


def test_huge_length_field_is_corrupt_not_allocated(tmp_path: Path) -> None:
    hostile = chunk(b"tEXt", b"k\x00v", length=0x7FFFFFFF)
    path = tmp_path / "big.png"
    path.write_bytes(insert_after_ihdr(make_png(), hostile))
    with Source.open(path) as src, pytest.raises(CorruptMedia) as info:
        list(png.iter_chunks(src))
    assert "PNG chunk 'tEXt'" in str(info.value)
    assert str(info.value).startswith(str(path))


def test_length_over_two_to_the_31_is_invalid() -> None:
    hostile = chunk(b"tEXt", b"k\x00v", length=0x80000000)
    data = insert_after_ihdr(make_png(), hostile)
    with pytest.raises(CorruptMedia, match="invalid length"):
        list(png.iter_chunks(Source.from_bytes(data)))


def test_ztxt_bomb_is_bounded_by_max_blob() -> None:
    bomb = b"bomb\x00\x00" + zlib.compress(b"A" * (20 * 1024 * 1024), 9)
    data = insert_after_ihdr(make_png(), chunk(b"zTXt", bomb))
    src = Source.from_bytes(data, max_blob=1024 * 1024)
    ztxt = next(c for c in png.iter_chunks(src) if c.type == b"zTXt")
    with pytest.raises(MediaLimitExceeded, match="max_metadata_bytes"):
        png.read_text(src, ztxt)


def test_truncated_png_and_missing_iend() -> None:
    data = make_png()
    with pytest.raises(CorruptMedia, match="claims"):
        list(png.iter_chunks(Source.from_bytes(data[:45])))
    no_iend = data[: data.rindex(b"IEND") - 4]
    with pytest.raises(CorruptMedia, match="without an IEND"):
        list(png.iter_chunks(Source.from_bytes(no_iend)))


def test_signature_is_required() -> None:
    with pytest.raises(CorruptMedia, match="missing signature"):
        list(png.iter_chunks(Source.from_bytes(b"GIF89a" + b"\x00" * 20)))


@pytest.mark.parametrize(
    ("ctype", "payload", "message"),
    [
        (b"tEXt", b"no separator", "missing or invalid keyword"),
        (b"tEXt", b"\x00empty keyword", "missing or invalid keyword"),
        (b"zTXt", b"k\x00\x01" + zlib.compress(b"x"), "unknown compression method"),
        (b"zTXt", b"k\x00\x00garbage", "invalid compressed data"),
        (b"iTXt", b"k\x00\x00\x00no-terminators", "missing language"),
    ],
)
def test_malformed_text_chunks(ctype: bytes, payload: bytes, message: str) -> None:
    data = insert_after_ihdr(make_png(), chunk(ctype, payload))
    src = Source.from_bytes(data)
    bad = next(c for c in png.iter_chunks(src) if c.type == ctype)
    with pytest.raises(CorruptMedia, match=message):
        png.read_text(src, bad)


def test_read_text_refuses_non_text_chunks() -> None:
    src = Source.from_bytes(make_png())
    ihdr = next(png.iter_chunks(src))
    with pytest.raises(ValueError, match="not a text chunk"):
        png.read_text(src, ihdr)
