"""JPEG segment walker and APP1/COM blobs (containers.jpeg)."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image

from deepguard.errors import CorruptMedia, MediaLimitExceeded
from deepguard.media.containers import jpeg
from deepguard.media.containers._binary import Source

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>'
)


def segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def make_jpeg(*segments: bytes, exif: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    image = Image.new("RGB", (16, 16), "red")
    if exif is None:
        image.save(buf, "JPEG")
    else:
        image.save(buf, "JPEG", exif=exif)
    data = buf.getvalue()
    return data[:2] + b"".join(segments) + data[2:]


def test_walk_stops_at_sos_and_never_reads_scan_data() -> None:
    data = make_jpeg()
    src = Source.from_bytes(data)
    segments = list(jpeg.iter_segments(src))
    assert segments[-1].name == "SOS"
    assert segments[0].offset == 2
    sos = segments[-1]
    assert sos.offset + 4 + sos.length < len(data)  # entropy-coded data follows


def test_blobs_exif_xmp_comment_and_jumbf_in_order() -> None:
    exif = Image.Exif()
    exif[0x0131] = "Midjourney"
    data = make_jpeg(
        segment(0xE1, jpeg.XMP_SIGNATURE + XMP),
        segment(0xFE, b"made by hand"),
        segment(0xEB, b"JP\x00\x01rest-of-jumbf"),
        exif=exif.tobytes(),
    )
    blobs = list(jpeg.iter_blobs(Source.from_bytes(data)))
    kinds = [b.kind for b in blobs]
    assert kinds == ["xmp", "comment", "jumbf", "exif"]
    xmp, comment, jumbf, exif_blob = blobs
    assert xmp.data == XMP
    assert xmp.carrier == "jpeg:APP1/xmp"
    assert data[xmp.data_offset : xmp.data_offset + len(XMP)] == XMP
    assert comment.data == b"made by hand"
    assert jumbf.data == b""
    assert exif_blob.data.startswith((b"II*\x00", b"MM\x00*"))


def test_extended_xmp_is_reassembled_in_offset_order() -> None:
    packet = b"<x:xmpmeta>" + b"A" * 100 + b"</x:xmpmeta>"
    guid = b"0123456789ABCDEF0123456789ABCDEF"
    total = struct.pack(">I", len(packet))

    def chunk(at: int, part: bytes) -> bytes:
        body = guid + total + struct.pack(">I", at) + part
        return segment(0xE1, jpeg.XMP_EXTENSION_SIGNATURE + body)

    data = make_jpeg(chunk(60, packet[60:]), chunk(0, packet[:60]))
    blobs = list(jpeg.iter_blobs(Source.from_bytes(data)))
    assert [b.carrier for b in blobs] == ["jpeg:APP1/xmp-extension"]
    assert blobs[0].data == packet


def test_extended_xmp_over_the_limit_is_refused() -> None:
    body = b"G" * 32 + struct.pack(">II", 10_000_000, 0) + b"x"
    data = make_jpeg(segment(0xE1, jpeg.XMP_EXTENSION_SIGNATURE + body))
    with pytest.raises(MediaLimitExceeded):
        list(jpeg.iter_blobs(Source.from_bytes(data, max_blob=1_000_000)))


def test_extended_xmp_chunk_outside_its_packet_is_corrupt() -> None:
    body = b"G" * 32 + struct.pack(">II", 10, 8) + b"xyz"
    data = make_jpeg(segment(0xE1, jpeg.XMP_EXTENSION_SIGNATURE + body))
    with pytest.raises(CorruptMedia, match="does not fit"):
        list(jpeg.iter_blobs(Source.from_bytes(data)))


def test_missing_soi_is_not_a_jpeg() -> None:
    with pytest.raises(CorruptMedia, match="missing SOI"):
        list(jpeg.iter_segments(Source.from_bytes(b"\x89PNG....")))


def test_truncated_jpeg_names_the_file(tmp_path: Path) -> None:
    data = make_jpeg(segment(0xE1, jpeg.XMP_SIGNATURE + XMP))
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[:40])
    with Source.open(path) as src, pytest.raises(CorruptMedia) as info:
        list(jpeg.iter_blobs(src))
    assert str(info.value).startswith(str(path))
    assert "JPEG segment 0xE1" in str(info.value)


def test_segment_length_below_two_is_corrupt() -> None:
    data = b"\xff\xd8\xff\xe1\x00\x01rest"
    with pytest.raises(CorruptMedia, match="has length 1"):
        list(jpeg.iter_segments(Source.from_bytes(data)))


def test_garbage_instead_of_marker_is_corrupt() -> None:
    with pytest.raises(CorruptMedia, match="expected a JPEG marker"):
        list(jpeg.iter_segments(Source.from_bytes(b"\xff\xd8\x00\x00")))


def test_fill_bytes_are_skipped_but_bounded() -> None:
    ok = b"\xff\xd8" + b"\xff" * 10 + segment(0xFE, b"hi") + b"\xff\xd9"
    segments = list(jpeg.iter_segments(Source.from_bytes(ok)))
    assert [s.name for s in segments] == ["COM"]
    hostile = b"\xff\xd8" + b"\xff" * 70_000 + b"\xd9"
    with pytest.raises(CorruptMedia, match="fill bytes"):
        list(jpeg.iter_segments(Source.from_bytes(hostile)))
