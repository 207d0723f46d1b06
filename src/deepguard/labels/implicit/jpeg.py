"""JPEG label carrier: ``TC260:AIGC`` in the APP1 XMP packet.

Labels are read from the XMP packet (extended XMP included) and from the
EXIF UserComment, where some generators write them instead.

Writing puts the label into the main XMP packet, keeping its other
properties, and places that APP1 segment right after the leading APP0
(JFIF) and APP1 (EXIF) segments, where readers expect it. A UserComment
holding a label is neutralised in place (an empty ASCII comment of the same
length), so no EXIF offset moves and the file keeps exactly one label.
Everything from the first SOS on (the entropy-coded image, later scans,
trailing data such as MPF previews) is copied unchanged.

The main XMP packet must fit one segment (65,504 bytes after the signature);
a label inside *extended* XMP cannot be rewritten without re-splitting that
packet, so both are refused with a clear message rather than half-done.

The content digest covers every segment before the first SOS except APPn
and COM (quantisation and Huffman tables, frame header, restart interval)
plus everything from that SOS to the end. APP14 "Adobe" is kept in the
digest because its colour-transform flag changes how pixels decode.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar, Final

from deepguard.config import Limits
from deepguard.errors import CorruptMedia, UnsupportedFormat
from deepguard.labels.implicit import xmp_label
from deepguard.labels.implicit._digest import digest_parts
from deepguard.labels.implicit._exif_label import exif_blanks, exif_copies
from deepguard.labels.implicit._splice import copy_span, iter_span, rewriting
from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.media.containers import jpeg
from deepguard.media.containers._binary import Source

__all__ = ["MAX_XMP_PACKET", "JpegCarrier"]

_APP0: Final = 0xE0
_APP1: Final = 0xE1
_APP14: Final = 0xEE
_COM: Final = 0xFE
_SOS: Final = 0xDA
_MAX_SEGMENT: Final = 65535 - 2
"""A segment's payload: its length field counts itself and is 16 bits."""
MAX_XMP_PACKET: Final = _MAX_SEGMENT - len(jpeg.XMP_SIGNATURE)


class JpegCarrier(Carrier):
    """Label in APP1 XMP; EXIF UserComment labels are read and neutralised."""

    name: ClassVar[str] = "jpeg"
    containers: ClassVar[frozenset[str]] = frozenset({"jpeg"})

    def read(self, path: Path, limits: Limits) -> CarrierRead:
        found = CarrierRead()
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            _check_soi(src)
            try:
                for blob in jpeg.iter_blobs(src):
                    if blob.kind == "xmp":
                        _read_xmp(src, blob, found)
                    elif blob.kind == "exif":
                        _read_exif(src, blob, found)
            except CorruptMedia as exc:
                found.errors.append(exc.msg)
        return found

    def write(self, src: Path, dst: Path, payload: str, limits: Limits) -> None:
        with rewriting(src, dst, limits) as (source, out):
            _check_soi(source)
            _write(source, out, payload)

    def content_digest(self, path: Path, limits: Limits) -> str:
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            _check_soi(src)
            segments = list(jpeg.iter_segments(src))
            return digest_parts(_content_parts(src, segments), domain="jpeg")


def _check_soi(src: Source) -> None:
    if src.read_upto(0, 2) != b"\xff\xd8":
        raise src.corrupt("not a JPEG: missing SOI marker")


def _read_xmp(src: Source, blob: jpeg.Blob, found: CarrierRead) -> None:
    extended = blob.carrier.endswith("xmp-extension")
    where = "APP1 extended XMP" if extended else "APP1 XMP"
    found.copies += xmp_label.packet_copies(
        "jpeg", blob.data, src, found.errors, where=where, offset=blob.offset
    )


def _read_exif(src: Source, blob: jpeg.Blob, found: CarrierRead) -> None:
    view = Source.from_bytes(
        blob.data, path=src.path, max_blob=src.max_blob, base=blob.data_offset
    )
    found.copies += exif_copies("jpeg", view, found.errors)


def _payload_head(src: Source, seg: jpeg.Segment, size: int) -> bytes:
    return src.read_upto(seg.data_offset, min(size, seg.length))


def _is_xmp(src: Source, seg: jpeg.Segment) -> bool:
    signature = jpeg.XMP_SIGNATURE
    return seg.marker == _APP1 and _payload_head(src, seg, len(signature)) == signature


def _is_exif(src: Source, seg: jpeg.Segment) -> bool:
    signature = jpeg.EXIF_SIGNATURE
    return seg.marker == _APP1 and _payload_head(src, seg, len(signature)) == signature


def _write(src: Source, out: BinaryIO, payload: str) -> None:
    segments = list(jpeg.iter_segments(src))
    _refuse_extended_labels(src)
    xmp_segments = [s for s in segments if _is_xmp(src, s)]
    first_xmp = xmp_segments[0] if xmp_segments else None
    packet = _label_packet(src, first_xmp, payload)
    patches = _exif_patches(src, segments)
    lead = 0
    while lead < len(segments) and (
        segments[lead].marker == _APP0 or _is_exif(src, segments[lead])
    ):
        lead += 1
    out.write(b"\xff\xd8")
    for index, seg in enumerate(segments):
        if index == lead:
            out.write(_segment(_APP1, jpeg.XMP_SIGNATURE + packet))
        if seg.marker == _SOS:
            copy_span(src, out, seg.offset, src.size - seg.offset)
            return
        if seg is first_xmp:
            continue  # its packet, labelled, was written above
        if seg in xmp_segments:
            out.write(_unlabelled_xmp(src, seg))
            continue
        copy_span(src, out, seg.offset, 4 + seg.length, patches=patches, what="JPEG")
    raise src.corrupt("JPEG has no image data (no SOS marker)")


def _segment(marker: int, data: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(data) + 2).to_bytes(2, "big") + data


def _xmp_packet(src: Source, seg: jpeg.Segment) -> bytes:
    data = src.read_blob(seg.data_offset, seg.length, "JPEG APP1 XMP segment")
    return data[len(jpeg.XMP_SIGNATURE) :]


def _label_packet(src: Source, seg: jpeg.Segment | None, payload: str) -> bytes:
    old = _xmp_packet(src, seg) if seg is not None else None
    packet = xmp_label.set_label(old, payload, path=src.path, max_bytes=src.max_blob)
    if len(packet) > MAX_XMP_PACKET:
        msg = (
            f"XMP packet with the label is {len(packet)} bytes, over the"
            f" {MAX_XMP_PACKET} a JPEG APP1 segment holds (extended XMP is not"
            " written)"
        )
        raise UnsupportedFormat(msg, path=src.path)
    return packet


def _unlabelled_xmp(src: Source, seg: jpeg.Segment) -> bytes:
    """A further main XMP segment, with any label removed."""
    packet = _xmp_packet(src, seg)
    cleaned = xmp_label.remove_labels(packet, path=src.path, max_bytes=src.max_blob)
    return _segment(_APP1, jpeg.XMP_SIGNATURE + cleaned)


def _refuse_extended_labels(src: Source) -> None:
    for blob in jpeg.iter_blobs(src):
        if blob.kind != "xmp" or not blob.carrier.endswith("xmp-extension"):
            continue
        if xmp_label.find_labels(blob.data, path=src.path, max_bytes=src.max_blob):
            msg = "cannot relabel: a label sits in extended XMP, which is not rewritten"
            raise UnsupportedFormat(msg, path=src.path)


def _exif_patches(src: Source, segments: list[jpeg.Segment]) -> dict[int, bytes]:
    """In-place blanks for EXIF UserComments that hold a label."""
    patches: dict[int, bytes] = {}
    for seg in segments:
        if not _is_exif(src, seg):
            continue
        start = seg.data_offset + len(jpeg.EXIF_SIGNATURE)
        size = seg.length - len(jpeg.EXIF_SIGNATURE)
        data = src.read_blob(start, size, "JPEG EXIF segment")
        view = Source.from_bytes(data, path=src.path, max_blob=src.max_blob, base=start)
        patches.update(exif_blanks(view))
    return patches


def _content_parts(src: Source, segments: list[jpeg.Segment]) -> Iterator[bytes]:
    for seg in segments:
        if seg.marker == _SOS:
            yield from iter_span(
                src, seg.offset, src.size - seg.offset, "JPEG image data"
            )
            return
        is_app = 0xE0 <= seg.marker <= 0xEF
        if seg.marker == _COM or (is_app and seg.marker != _APP14):
            continue
        yield bytes((seg.marker,))
        yield src.read(seg.data_offset, seg.length, f"JPEG {seg.name} segment")
    raise src.corrupt("JPEG has no image data (no SOS marker)")
