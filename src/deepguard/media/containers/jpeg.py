"""JPEG marker-segment walker and the metadata blobs it carries.

Metadata lives in segments before the first SOS (start of scan); everything
after SOS is entropy-coded pixel data, so the walk stops there and never
reads an image byte. APP1 carries EXIF (``Exif\\0\\0`` + a TIFF structure)
and XMP (main packet, plus "extended XMP" split over several segments when
the packet exceeds 64 KiB); COM carries free text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Literal

from deepguard.media.containers._binary import Source, translate_errors, u16be, u32be

__all__ = [
    "EXIF_SIGNATURE",
    "XMP_EXTENSION_SIGNATURE",
    "XMP_SIGNATURE",
    "Blob",
    "Segment",
    "iter_blobs",
    "iter_segments",
]

EXIF_SIGNATURE: Final = b"Exif\x00\x00"
XMP_SIGNATURE: Final = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXTENSION_SIGNATURE: Final = b"http://ns.adobe.com/xmp/extension/\x00"

_SOI: Final = 0xD8
_EOI: Final = 0xD9
_SOS: Final = 0xDA
_APP1: Final = 0xE1
_APP11: Final = 0xEB
_COM: Final = 0xFE
_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD8)})
_MAX_FILL: Final = 65536
"""More 0xFF fill bytes than this in a row is not a JPEG, it is an attack."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One marker segment with a length field (APPn, COM, DQT, SOF ...)."""

    marker: int
    offset: int
    """View offset of the 0xFF byte that starts the marker."""
    length: int
    """Payload length, excluding the marker and the two length bytes."""

    @property
    def data_offset(self) -> int:
        return self.offset + 4

    @property
    def name(self) -> str:
        if 0xE0 <= self.marker <= 0xEF:
            return f"APP{self.marker - 0xE0}"
        if self.marker == _COM:
            return "COM"
        if self.marker == _SOS:
            return "SOS"
        return f"0x{self.marker:02X}"


@dataclass(frozen=True, slots=True)
class Blob:
    """A metadata payload found in a segment.

    ``kind`` is ``exif`` (the TIFF structure after ``Exif\\0\\0``), ``xmp``
    (a complete packet, extended XMP already reassembled), ``comment``, or
    ``jumbf`` for an APP11 JUMBF segment (C2PA), whose data is not read.
    """

    kind: Literal["exif", "xmp", "comment", "jumbf"]
    carrier: str
    offset: int
    """Absolute file offset of the segment (the first one for extended XMP)."""
    data_offset: int
    """Absolute file offset of ``data[0]`` (for extended XMP, its first chunk)."""
    data: bytes


def iter_segments(src: Source) -> Iterator[Segment]:
    """Yield marker segments from SOI up to and including the first SOS.

    Raises:
        CorruptMedia: no SOI marker, a bad marker, or a length that runs past
            the end of the file.
    """
    if src.read_upto(0, 2) != b"\xff\xd8":
        raise src.corrupt("not a JPEG: missing SOI marker")
    pos = 2
    fill = 0
    while True:
        head = src.read(pos, 2, "JPEG marker")
        if head[0] != 0xFF:
            msg = f"expected a JPEG marker at offset {src.absolute(pos)}"
            raise src.corrupt(msg)
        marker = head[1]
        if marker == 0xFF:
            fill += 1
            if fill > _MAX_FILL:
                msg = f"too many JPEG fill bytes before offset {src.absolute(pos)}"
                raise src.corrupt(msg)
            pos += 1
            continue
        fill = 0
        if marker == _EOI:
            return
        if marker in _STANDALONE or marker == _SOI:
            pos += 2
            continue
        length = u16be(src.read(pos + 2, 2, "JPEG segment length"))
        if length < 2:
            where = src.absolute(pos)
            msg = f"JPEG segment 0x{marker:02X} at offset {where} has length {length}"
            raise src.corrupt(msg)
        src.check_span(pos + 4, length - 2, f"JPEG segment 0x{marker:02X}")
        yield Segment(marker=marker, offset=pos, length=length - 2)
        if marker == _SOS:
            return
        pos += 2 + length


def iter_blobs(src: Source) -> Iterator[Blob]:
    """Yield the EXIF, XMP and comment payloads, in file order.

    Extended XMP chunks are collected during the walk and yielded after it,
    reassembled into one packet per GUID.

    Raises:
        CorruptMedia: the segment structure or an extended-XMP chunk is broken.
        MediaLimitExceeded: an extended XMP packet claims more than
            ``max_metadata_bytes``.
    """
    extended: dict[bytes, _Extended] = {}
    with translate_errors(src.path, "JPEG segment"):
        for seg in iter_segments(src):
            if seg.marker == _COM:
                data = src.read_blob(seg.data_offset, seg.length, "JPEG COM segment")
                yield Blob(
                    kind="comment",
                    carrier="jpeg:COM",
                    offset=src.absolute(seg.offset),
                    data_offset=src.absolute(seg.data_offset),
                    data=data,
                )
            elif seg.marker == _APP1:
                blob = _app1(src, seg, extended)
                if blob is not None:
                    yield blob
            elif seg.marker == _APP11 and src.read_upto(seg.data_offset, 2) == b"JP":
                yield Blob(
                    kind="jumbf",
                    carrier="jpeg:APP11",
                    offset=src.absolute(seg.offset),
                    data_offset=src.absolute(seg.data_offset),
                    data=b"",
                )
        for ext in extended.values():
            yield ext.blob()


def _app1(src: Source, seg: Segment, extended: dict[bytes, _Extended]) -> Blob | None:
    payload = src.read_blob(seg.data_offset, seg.length, "JPEG APP1 segment")
    start = src.absolute(seg.offset)
    if payload.startswith(EXIF_SIGNATURE):
        n = len(EXIF_SIGNATURE)
        data_at = src.absolute(seg.data_offset + n)
        return Blob("exif", "jpeg:APP1/exif", start, data_at, payload[n:])
    if payload.startswith(XMP_SIGNATURE):
        n = len(XMP_SIGNATURE)
        data_at = src.absolute(seg.data_offset + n)
        return Blob("xmp", "jpeg:APP1/xmp", start, data_at, payload[n:])
    if payload.startswith(XMP_EXTENSION_SIGNATURE):
        _add_extended(src, seg, payload[len(XMP_EXTENSION_SIGNATURE) :], extended)
    return None


@dataclass(slots=True)
class _Extended:
    """An extended XMP packet being reassembled from its chunks."""

    offset: int
    data_offset: int
    buffer: bytearray

    def blob(self) -> Blob:
        return Blob(
            kind="xmp",
            carrier="jpeg:APP1/xmp-extension",
            offset=self.offset,
            data_offset=self.data_offset,
            data=bytes(self.buffer),
        )


def _add_extended(
    src: Source, seg: Segment, body: bytes, extended: dict[bytes, _Extended]
) -> None:
    """Place one extended-XMP chunk: GUID(32) + full length(4) + offset(4) + data."""
    where = src.absolute(seg.offset)
    if len(body) < 40:
        msg = f"extended XMP chunk at offset {where} is too short"
        raise src.corrupt(msg)
    guid, total, at = body[:32], u32be(body, 32), u32be(body, 36)
    data = body[40:]
    src.check_blob_size(total, f"extended XMP packet at offset {where}")
    entry = extended.get(guid)
    if entry is None:
        data_at = seg.data_offset + len(XMP_EXTENSION_SIGNATURE) + 40
        entry = _Extended(where, src.absolute(data_at), bytearray(total))
        extended[guid] = entry
    if len(entry.buffer) != total or at + len(data) > total:
        msg = f"extended XMP chunk at offset {where} does not fit its packet"
        raise src.corrupt(msg)
    entry.buffer[at : at + len(data)] = data
