"""TIFF/EXIF IFD reader (containers.tiff)."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image, TiffImagePlugin

from deepguard.errors import CorruptMedia, MediaLimitExceeded
from deepguard.media.containers import tiff
from deepguard.media.containers._binary import Source

DATA = Path(__file__).resolve().parents[3] / "../shared/data"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="../shared/data absent")

Entry = tuple[int, int, bytes]  # tag, type, value bytes


def _ifd(order: str, entries: list[Entry], at: int) -> tuple[bytes, bytes]:
    """IFD bytes placed at ``at`` and the out-of-line values that follow it."""
    table_size = 2 + 12 * len(entries) + 4
    values = b""
    table = struct.pack(order + "H", len(entries))
    for tag, typ, value in sorted(entries):
        count = len(value) // {1: 1, 2: 1, 3: 2, 4: 4, 7: 1}[typ]
        if len(value) <= 4:
            table += struct.pack(order + "HHI", tag, typ, count) + value.ljust(4, b"\0")
        else:
            offset = at + table_size + len(values)
            table += struct.pack(order + "HHII", tag, typ, count, offset)
            values += value + b"\0" * (len(value) % 2)
    return table + b"\0\0\0\0", values


def build_tiff(
    ifd0: list[Entry], exif: list[Entry] | None = None, order: str = "<"
) -> bytes:
    mark = b"II" if order == "<" else b"MM"
    if exif is not None:
        ifd0 = [*ifd0, (0x8769, 4, b"\0\0\0\0")]  # patched below
    table, values = _ifd(order, ifd0, 8)
    data = mark + struct.pack(order + "HI", 42, 8) + table + values
    if exif is not None:
        exif_at = len(data)
        pointer = struct.pack(order + "I", exif_at)
        table, values = _ifd(order, [*ifd0[:-1], (0x8769, 4, pointer)], 8)
        data = mark + struct.pack(order + "HI", 42, 8) + table + values
        exif_table, exif_values = _ifd(order, exif, exif_at)
        data += exif_table + exif_values
    return data


def ascii_entry(tag: int, text: str) -> Entry:
    return tag, 2, text.encode() + b"\0"


def test_ifd0_tags_and_exif_user_comment_in_both_byte_orders() -> None:
    comment = b"ASCII\0\0\0" + b'{"AIGC":{"Label":"1"}}'
    for order in "<>":
        data = build_tiff(
            [ascii_entry(0x0131, "Adobe Firefly"), ascii_entry(0x010F, "Cam"),
             (0x02BC, 1, b"<x:xmpmeta/>")],
            exif=[(0x9286, 7, comment)],
            order=order,
        )  # fmt: skip
        fields = {f.name: f for f in tiff.iter_fields(Source.from_bytes(data))}
        assert fields["Software"].value == "Adobe Firefly"
        assert fields["Software"].ifd == "IFD0"
        assert fields["Make"].value == "Cam"  # inline value (<= 4 bytes)
        assert fields["XMP"].value == b"<x:xmpmeta/>"
        assert fields["UserComment"].value == '{"AIGC":{"Label":"1"}}'
        assert fields["UserComment"].ifd == "ExifIFD"
        software = fields["Software"]
        assert data[software.offset : software.offset + 13] == b"Adobe Firefly"


def test_pillow_written_tiff() -> None:
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[0x0131] = "Midjourney v6"
    info[0x013B] = "someone"
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "TIFF", tiffinfo=info)
    fields = {
        f.name: f.value for f in tiff.iter_fields(Source.from_bytes(buf.getvalue()))
    }
    assert fields["Software"] == "Midjourney v6"
    assert fields["Artist"] == "someone"


def test_bigtiff_header_and_entries() -> None:
    value = b"Stable Diffusion\0"
    ifd_at = 16
    entry = struct.pack("<HHQQ", 0x0131, 2, len(value), ifd_at + 8 + 20 + 8)
    data = b"II" + struct.pack("<HHHQ", 43, 8, 0, ifd_at)
    data += struct.pack("<Q", 1) + entry + struct.pack("<Q", 0) + value
    header = tiff.read_header(Source.from_bytes(data))
    assert header.big and header.first_ifd == ifd_at
    fields = list(tiff.iter_fields(Source.from_bytes(data)))
    assert [(f.name, f.value) for f in fields] == [("Software", "Stable Diffusion")]


def test_entry_count_past_the_end_is_corrupt(tmp_path: Path) -> None:
    data = b"II" + struct.pack("<HI", 42, 8) + struct.pack("<H", 5000) + b"\0" * 20
    path = tmp_path / "bad.tif"
    path.write_bytes(data)
    with Source.open(path) as src, pytest.raises(CorruptMedia) as info:
        list(tiff.iter_fields(src))
    assert "TIFF IFD entries" in str(info.value)
    assert str(info.value).startswith(str(path))


def test_value_offset_past_the_end_is_corrupt() -> None:
    data = b"II" + struct.pack("<HI", 42, 8) + struct.pack("<H", 1)
    data += struct.pack("<HHII", 0x0131, 2, 100, 10_000) + b"\0\0\0\0"
    with pytest.raises(CorruptMedia, match="TIFF tag Software"):
        list(tiff.iter_fields(Source.from_bytes(data)))


def test_huge_value_hits_the_metadata_limit() -> None:
    value = b"x" * 2000 + b"\0"
    data = build_tiff([(0x010E, 2, value)])
    with pytest.raises(MediaLimitExceeded):
        list(tiff.iter_fields(Source.from_bytes(data, max_blob=1000)))


def test_not_tiff() -> None:
    with pytest.raises(CorruptMedia, match="bad byte-order mark"):
        tiff.read_header(Source.from_bytes(b"XX\x2a\x00\x08\x00\x00\x00"))
    with pytest.raises(CorruptMedia, match="magic number 7"):
        tiff.read_header(Source.from_bytes(b"II\x07\x00\x08\x00\x00\x00"))


@pytest.mark.parametrize(
    ("raw", "order", "expected"),
    [
        (b"ASCII\0\0\0hello\0", "<", "hello"),
        (b"\0" * 8 + b"plain", "<", "plain"),
        (b"UNICODE\0" + "Steps: 20".encode("utf-16-be"), "<", "Steps: 20"),
        (b"UNICODE\0" + "Steps: 20".encode("utf-16-le"), ">", "Steps: 20"),
        (b"UNICODE\0a\x01b\x01", "<", "\u0161\u0162"),  # no zeros: TIFF order
        (b"JIS\0\0\0\0\0" + "日本".encode("shift_jis"), ">", "日本"),
        (b"no prefix at all", "<", "no prefix at all"),
    ],
)
def test_decode_user_comment(raw: bytes, order: str, expected: str) -> None:
    assert tiff.decode_user_comment(raw, order) == expected  # type: ignore[arg-type]


@needs_data
def test_shared_tiff_has_no_software_tags() -> None:
    with Source.open(DATA / "media/TUSCANY.TIF") as src:
        assert list(tiff.iter_fields(src)) == []
