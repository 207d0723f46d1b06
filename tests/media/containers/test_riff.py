"""RIFF chunk walker: WebP, WAV, AVI, RF64 (containers.riff)."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image

from deepguard.errors import CorruptMedia
from deepguard.media.containers import riff
from deepguard.media.containers._binary import Source

DATA = Path(__file__).resolve().parents[3] / "../shared/data"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="../shared/data absent")


def ck(fourcc: bytes, data: bytes) -> bytes:
    pad = b"\x00" if len(data) % 2 else b""
    return fourcc + struct.pack("<I", len(data)) + data + pad


def riff_file(form: bytes, *chunks: bytes, magic: bytes = b"RIFF") -> bytes:
    body = form + b"".join(chunks)
    return magic + struct.pack("<I", len(body)) + body


def wav(*extra: bytes) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    return riff_file(b"WAVE", ck(b"fmt ", fmt), *extra, ck(b"data", b"\x00\x00" * 8))


def test_wav_info_list_and_aigc_chunk() -> None:
    info = ck(b"LIST", b"INFO" + ck(b"ISFT", b"ElevenLabs\x00") + ck(b"ICMT", b"odd"))
    label = b'{"AIGC":{"Label":"1"}}'
    chunks = list(riff.iter_chunks(Source.from_bytes(wav(info, ck(b"AIGC", label)))))
    names = [(c.parent, c.name) for c in chunks]
    assert (b"WAVE", "LIST") in names
    assert (b"INFO", "ISFT") in names
    assert (b"INFO", "ICMT") in names
    isft = next(c for c in chunks if c.name == "ISFT")
    assert isft.path == "riff:INFO/ISFT"
    assert next(c for c in chunks if c.name == "LIST").list_type == b"INFO"
    aigc = next(c for c in chunks if c.name == "AIGC")
    data = wav(info, ck(b"AIGC", label))
    assert data[aigc.data_offset : aigc.data_offset + aigc.size] == label


def test_odd_sized_chunks_are_padded() -> None:
    data = wav(ck(b"odd1", b"abc"), ck(b"next", b"xy"))
    names = [c.name for c in riff.iter_chunks(Source.from_bytes(data))]
    assert names == ["fmt ", "odd1", "next", "data"]


def test_text_value_strips_nul_and_falls_back_to_latin1() -> None:
    assert riff.text_value(b"Lavf57\x00junk") == "Lavf57"
    assert riff.text_value(b"caf\xe9\x00") == "café"


def test_webp_xmp_and_exif_chunks() -> None:
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0131] = "Flux"
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>'
    Image.new("RGB", (8, 8)).save(buf, "WEBP", exif=exif.tobytes(), xmp=xmp)
    chunks = {c.name: c for c in riff.iter_chunks(Source.from_bytes(buf.getvalue()))}
    assert {"VP8X", "EXIF", "XMP "} <= set(chunks)
    assert chunks["XMP "].parent == b"WEBP"


@needs_data
def test_avi_skips_movi_and_finds_info() -> None:
    with Source.open(DATA / "media/test.avi") as src:
        chunks = list(riff.iter_chunks(src))
    lists = [c.list_type for c in chunks if c.name == "LIST"]
    assert b"movi" in lists
    assert not any(c.parent == b"movi" for c in chunks)
    isft = next(c for c in chunks if c.name == "ISFT")
    with Source.open(DATA / "media/test.avi") as src:
        data = src.read(isft.data_offset, isft.size, "ISFT")
    assert riff.text_value(data) == "Lavf57.19.100"


def test_rf64_takes_the_data_size_from_ds64() -> None:
    samples = b"\x01\x00" * 6
    ds64 = ck(b"ds64", struct.pack("<QQQI", 0, len(samples), 6, 0))
    data_chunk = b"data" + struct.pack("<I", 0xFFFFFFFF) + samples
    body = b"WAVE" + ds64 + data_chunk
    data = b"RF64" + struct.pack("<I", 0xFFFFFFFF) + body
    chunks = list(riff.iter_chunks(Source.from_bytes(data)))
    assert [c.name for c in chunks] == ["ds64", "data"]
    assert chunks[1].size == len(samples)


def test_chunk_larger_than_its_parent_is_corrupt(tmp_path: Path) -> None:
    bad = b"ISFT" + struct.pack("<I", 1_000_000) + b"x"
    path = tmp_path / "bad.wav"
    path.write_bytes(wav(bad))
    with Source.open(path) as src, pytest.raises(CorruptMedia) as info:
        list(riff.iter_chunks(src))
    assert "RIFF chunk 'ISFT'" in str(info.value)
    assert str(info.value).startswith(str(path))


def test_nesting_is_bounded() -> None:
    inner = ck(b"ISFT", b"x")
    for _ in range(20):
        inner = ck(b"LIST", b"deep" + inner)
    with pytest.raises(CorruptMedia, match="nested deeper"):
        list(riff.iter_chunks(Source.from_bytes(wav(inner))))


def test_not_riff() -> None:
    with pytest.raises(CorruptMedia, match="missing RIFF header"):
        list(riff.iter_chunks(Source.from_bytes(b"\x89PNG\r\n\x1a\n" * 2)))
