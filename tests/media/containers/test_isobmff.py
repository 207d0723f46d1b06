"""ISO BMFF box walker and metadata (containers.isobmff)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from deepguard.errors import CorruptMedia, MediaLimitExceeded
from deepguard.media.containers import isobmff
from deepguard.media.containers._binary import Source
from media_factory import write_mp4

DATA = Path(__file__).resolve().parents[3] / "../shared/data"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="../shared/data absent")


def box(btype: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(payload)) + btype + payload


def full(btype: bytes, payload: bytes, version: int = 0) -> bytes:
    return box(btype, bytes([version, 0, 0, 0]) + payload)


FTYP = box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41")


def metadata(path: Path) -> list[isobmff.Tag | isobmff.Blob]:
    with Source.open(path) as src:
        return list(isobmff.iter_metadata(src))


def test_pyav_mp4_ilst_tags_and_track_handler(tmp_path: Path) -> None:
    path = write_mp4(
        tmp_path / "a.mp4",
        {"title": "Kling demo", "comment": "hello"},
        handler="Hailuo video handler",
    )
    tags = {(t.scope, t.key): t for t in metadata(path) if isinstance(t, isobmff.Tag)}
    assert tags[("movie", "title")].value == "Kling demo"
    assert tags[("movie", "comment")].value == "hello"
    assert tags[("movie", "comment")].box.location == "moov/udta/meta/ilst/©cmt/data"
    assert tags[("track0", "handler_name")].value == "Hailuo video handler"


def test_mdta_keys_name_the_ilst_items(tmp_path: Path) -> None:
    label = '{"AIGC":{"Label":"1"}}'
    path = write_mp4(
        tmp_path / "k.mp4", {"AIGC": label}, handler="Hailuo video handler", mdta=True
    )
    tags = [t for t in metadata(path) if isinstance(t, isobmff.Tag)]
    aigc = next(t for t in tags if t.key == "AIGC")
    assert aigc.value == label
    assert aigc.box.location.startswith("moov/udta/meta/ilst/")
    assert aigc.box.location.endswith("/data")


def test_walk_skips_mdat_contents(tmp_path: Path) -> None:
    fake_xmp_box = box(b"uuid", isobmff.XMP_UUID + b"<x:xmpmeta/>")
    data = FTYP + box(b"mdat", fake_xmp_box) + box(b"moov", box(b"udta"))
    path = tmp_path / "m.mp4"
    path.write_bytes(data)
    with Source.open(path) as src:
        types = [b.type for b in isobmff.walk(src)]
    assert types == [b"ftyp", b"mdat", b"moov", b"udta"]
    assert metadata(path) == []


def test_xmp_uuid_and_udta_xmp_boxes(tmp_path: Path) -> None:
    packet = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
    data = (
        FTYP
        + box(b"uuid", isobmff.XMP_UUID + packet)
        + box(b"moov", box(b"udta", box(b"XMP_", packet)))
        + box(b"uuid", isobmff.C2PA_UUID + b"manifest")
    )
    path = tmp_path / "x.mp4"
    path.write_bytes(data)
    blobs = [b for b in metadata(path) if isinstance(b, isobmff.Blob)]
    assert [(b.kind, b.carrier) for b in blobs] == [
        ("xmp", "isobmff:uuid"),
        ("xmp", "isobmff:moov/udta/XMP_"),
        ("c2pa", "isobmff:uuid"),
    ]
    assert blobs[0].data == packet and blobs[1].data == packet
    assert blobs[2].data == b""


def test_quicktime_udta_text_atoms(tmp_path: Path) -> None:
    text = b"Runway Gen-4"
    atom = box(b"\xa9swr", struct.pack(">HH", len(text), 0) + text)
    path = tmp_path / "q.mov"
    path.write_bytes(
        box(b"ftyp", b"qt  \x00\x00\x00\x00") + box(b"moov", box(b"udta", atom))
    )
    (tag,) = metadata(path)
    assert isinstance(tag, isobmff.Tag)
    assert (tag.scope, tag.key, tag.value) == ("movie", "software", "Runway Gen-4")


def test_size_zero_box_extends_to_the_end(tmp_path: Path) -> None:
    path = tmp_path / "z.mp4"
    path.write_bytes(FTYP + struct.pack(">I", 0) + b"mdat" + b"\x00" * 100)
    with Source.open(path) as src:
        boxes = list(isobmff.walk(src))
    assert boxes[-1].type == b"mdat"
    assert boxes[-1].end == len(FTYP) + 108


def test_64_bit_size_beyond_the_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "big.mp4"
    path.write_bytes(FTYP + struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", 2**40))
    with Source.open(path) as src, pytest.raises(CorruptMedia) as info:
        list(isobmff.walk(src))
    assert "ISO BMFF box 'mdat'" in str(info.value)
    assert "claims 1099511627776 bytes" in str(info.value)
    assert str(info.value).startswith(str(path))


@pytest.mark.parametrize("size", [4, 7])
def test_size_smaller_than_the_header_is_corrupt(size: int) -> None:
    data = FTYP + struct.pack(">I", size) + b"free" + b"\x00" * 8
    with pytest.raises(CorruptMedia, match="invalid size"):
        list(isobmff.walk(Source.from_bytes(data)))


def test_child_larger_than_parent_is_corrupt() -> None:
    data = FTYP + box(b"moov", struct.pack(">I", 500) + b"udta")
    with pytest.raises(CorruptMedia, match="its parent ends"):
        list(isobmff.walk(Source.from_bytes(data)))


def test_trailing_zero_padding_is_accepted_but_garbage_is_not() -> None:
    assert len(list(isobmff.walk(Source.from_bytes(FTYP + b"\x00" * 5)))) == 1
    with pytest.raises(CorruptMedia, match="truncated"):
        list(isobmff.walk(Source.from_bytes(FTYP + b"\x00\x00\x01")))


def test_nesting_is_bounded() -> None:
    inner = box(b"udta")
    for _ in range(20):
        inner = box(b"udta", inner)
    with pytest.raises(CorruptMedia, match="nested deeper"):
        list(isobmff.walk(Source.from_bytes(FTYP + box(b"moov", inner))))


def test_heif_items_through_iinf_and_iloc() -> None:
    packet = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
    tiff = b"MM\x00*\x00\x00\x00\x08\x00\x00"
    exif_item = struct.pack(">I", 0) + tiff
    infe_xmp = full(
        b"infe", struct.pack(">HH", 1, 0) + b"mime" + b"\x00application/rdf+xml\x00", 2
    )
    infe_exif = full(b"infe", struct.pack(">HH", 2, 0) + b"Exif" + b"\x00", 2)
    iinf = full(b"iinf", struct.pack(">H", 2) + infe_xmp + infe_exif)
    hdlr = full(b"hdlr", b"\x00" * 4 + b"pict" + b"\x00" * 12 + b"libavif\x00")
    idat = box(b"idat", packet + exif_item)
    # version 1: construction method 1 (idat) for both items
    iloc_body = bytes([0x44, 0x00]) + struct.pack(">H", 2)
    iloc_body += struct.pack(">HHH", 1, 1, 0) + struct.pack(">H", 1)
    iloc_body += struct.pack(">II", 0, len(packet))
    iloc_body += struct.pack(">HHH", 2, 1, 0) + struct.pack(">H", 1)
    iloc_body += struct.pack(">II", len(packet), len(exif_item))
    iloc = full(b"iloc", iloc_body, 1)
    meta = full(b"meta", hdlr + iinf + iloc + idat)
    data = box(b"ftyp", b"avif\x00\x00\x00\x00mif1") + meta
    out = list(isobmff.iter_metadata(Source.from_bytes(data)))
    tag = next(t for t in out if isinstance(t, isobmff.Tag))
    assert (tag.key, tag.value) == ("handler_name", "libavif")
    blobs = {b.kind: b for b in out if isinstance(b, isobmff.Blob)}
    assert blobs["xmp"].data == packet
    assert blobs["exif"].data == tiff
    assert data[blobs["exif"].offset : blobs["exif"].offset + len(tiff)] == tiff


def test_heif_item_over_the_limit_is_refused() -> None:
    infe = full(
        b"infe", struct.pack(">HH", 1, 0) + b"mime\x00application/rdf+xml\x00", 2
    )
    iloc_body = bytes([0x44, 0x00]) + struct.pack(">H", 1)
    iloc_body += struct.pack(">HH", 1, 0) + struct.pack(">H", 1)
    iloc_body += struct.pack(">II", 0, 5_000)
    meta = full(
        b"meta", full(b"iinf", struct.pack(">H", 1) + infe) + full(b"iloc", iloc_body)
    )
    data = meta + b"\x00" * 6000
    with pytest.raises(MediaLimitExceeded):
        list(isobmff.iter_metadata(Source.from_bytes(data, max_blob=1000)))


def test_parsers_reject_counts_that_cannot_fit() -> None:
    with pytest.raises(ValueError, match="claims"):
        isobmff.parse_keys(b"\x00\x00\x00\x00" + struct.pack(">I", 10_000))
    with pytest.raises(ValueError, match="claims"):
        isobmff.parse_iloc(bytes([0, 0, 0, 0, 0x44, 0x00]) + struct.pack(">H", 60_000))
    with pytest.raises(ValueError, match="field size"):
        isobmff.parse_iloc(bytes([0, 0, 0, 0, 0x33, 0x00, 0, 0]))


def test_parse_hdlr_accepts_pascal_and_c_strings() -> None:
    head = b"\x00" * 8 + b"vide" + b"\x00" * 12
    assert isobmff.parse_hdlr(head + b"VideoHandler\x00") == ("vide", "VideoHandler")
    assert isobmff.parse_hdlr(head + b"\x05Alias") == ("vide", "Alias")


def test_parse_data_types() -> None:
    assert isobmff.parse_data(struct.pack(">II", 1, 0), "Sora ✓".encode()) == "Sora ✓"
    assert isobmff.parse_data(struct.pack(">II", 21, 0), b"\xff") == "-1"
    assert isobmff.parse_data(struct.pack(">II", 13, 0), b"\xff\xd8") is None


@needs_data
def test_shared_mp4_has_c2pa_and_xmp_uuids_and_track_handlers() -> None:
    out = metadata(DATA / "media/video1.mp4")
    handlers = [
        t.value for t in out if isinstance(t, isobmff.Tag) and t.key == "handler_name"
    ]
    assert "Mainconcept Video Media Handler" in handlers
    blobs = [b for b in out if isinstance(b, isobmff.Blob)]
    assert [b.kind for b in blobs] == ["c2pa", "xmp"]
    assert b"<x:xmpmeta" in blobs[1].data


@needs_data
def test_shared_heif_xmp_item() -> None:
    blobs = [
        b for b in metadata(DATA / "media/sample1.heif") if isinstance(b, isobmff.Blob)
    ]
    assert [b.carrier for b in blobs] == ["isobmff:meta/item2"]
    assert b"xmp:Rating" in blobs[0].data
