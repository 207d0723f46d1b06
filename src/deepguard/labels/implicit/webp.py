"""WebP label carrier: ``TC260:AIGC`` in the ``XMP `` chunk.

Labels are read from the XMP chunk and from an EXIF UserComment in the
``EXIF`` chunk; the writer keeps one, in XMP, and neutralises the comment in
place (same length).

Metadata chunks only exist in the extended format, so a simple file (a lone
``VP8 `` or ``VP8L`` chunk) is converted by adding a ``VP8X`` header: its
canvas size is read from the VP8 frame header or the VP8L header, and its
alpha flag from the VP8L header. No image data is re-encoded. The new XMP
chunk goes where the container specification orders it (after ``EXIF``, or
after the image data), the ``VP8X`` XMP flag is set and the RIFF size fixed.

The content digest covers the image chunks only (``VP8 ``, ``VP8L``,
``ALPH``, ``ANIM``, ``ANMF``), so adding ``VP8X`` to a simple file or
rewriting metadata leaves it unchanged.
"""

from __future__ import annotations

import struct
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
from deepguard.media.containers import jpeg, riff
from deepguard.media.containers._binary import Source, u32le
from deepguard.media.probe import MediaKind, ProbeResult

__all__ = ["WebpCarrier"]

_XMP: Final = b"XMP "
_EXIF: Final = b"EXIF"
_VP8X: Final = b"VP8X"
_IMAGE_CHUNKS: Final = frozenset({b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF"})
_ALPHA_FLAG: Final = 0x10
_XMP_FLAG: Final = 0x04
_MAX_CANVAS: Final = 1 << 24


class WebpCarrier(Carrier):
    """Label in the ``XMP `` chunk of an (extended) WebP file."""

    name: ClassVar[str] = "webp"
    containers: ClassVar[frozenset[str]] = frozenset({"riff"})
    kinds: ClassVar[frozenset[MediaKind] | None] = frozenset({MediaKind.IMAGE})

    def handles(self, probe: ProbeResult) -> bool:
        return super().handles(probe) and probe.mime == "image/webp"

    def read(self, path: Path, limits: Limits) -> CarrierRead:
        found = CarrierRead()
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            _check_header(src)
            try:
                for chunk in _chunks(src):
                    if chunk.fourcc == _XMP:
                        _read_xmp(src, chunk, found)
                    elif chunk.fourcc == _EXIF:
                        _read_exif(src, chunk, found)
            except CorruptMedia as exc:
                found.errors.append(exc.msg)
        return found

    def write(self, src: Path, dst: Path, payload: str, limits: Limits) -> None:
        with rewriting(src, dst, limits) as (source, out):
            _check_header(source)
            _write(source, list(_chunks(source)), out, payload)

    def content_digest(self, path: Path, limits: Limits) -> str:
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            _check_header(src)
            chunks = list(_chunks(src))
            return digest_parts(_content_parts(src, chunks), domain="webp")


def _check_header(src: Source) -> None:
    head = src.read_upto(0, 12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        raise src.corrupt("not a WebP file: missing RIFF/WEBP header")


def _chunks(src: Source) -> Iterator[riff.Chunk]:
    """The top-level chunks of the first RIFF (WebP never nests)."""
    size = u32le(src.read(4, 4, "RIFF size"))
    end = min(src.size, 8 + size + (size & 1)) if size >= 4 else src.size
    for chunk in riff.iter_chunks(src):
        if chunk.offset >= end:
            return  # a second RIFF sequence is not part of the image
        if chunk.depth == 0:
            yield chunk


def _read_xmp(src: Source, chunk: riff.Chunk, found: CarrierRead) -> None:
    packet = _read_packet(src, chunk)
    found.copies += xmp_label.packet_copies(
        "webp", packet, src, found.errors, where="XMP chunk", offset=chunk.offset
    )


def _exif_view(src: Source, chunk: riff.Chunk) -> Source:
    """The TIFF structure in an ``EXIF`` chunk (some writers prefix ``Exif``)."""
    data = src.read_blob(chunk.data_offset, chunk.size, "WebP EXIF chunk")
    skip = len(jpeg.EXIF_SIGNATURE) if data.startswith(jpeg.EXIF_SIGNATURE) else 0
    base = chunk.data_offset + skip
    view = data[skip:]
    return Source.from_bytes(view, path=src.path, max_blob=src.max_blob, base=base)


def _read_exif(src: Source, chunk: riff.Chunk, found: CarrierRead) -> None:
    found.copies += exif_copies("webp", _exif_view(src, chunk), found.errors)


def _chunk(fourcc: bytes, data: bytes) -> bytes:
    pad = b"\x00" * (len(data) & 1)
    return fourcc + struct.pack("<I", len(data)) + data + pad


def _write(src: Source, chunks: list[riff.Chunk], out: BinaryIO, payload: str) -> None:
    if not any(c.fourcc in _IMAGE_CHUNKS for c in chunks):
        raise src.corrupt("WebP file has no image chunk")
    if any(c.fourcc == _VP8X for c in chunks[1:]):
        raise src.corrupt("WebP VP8X chunk is not the first chunk")
    xmps = [c for c in chunks if c.fourcc == _XMP]
    old = _read_packet(src, xmps[0]) if xmps else None
    packet = xmp_label.set_label(old, payload, path=src.path, max_bytes=src.max_blob)
    new_xmp = _chunk(_XMP, packet)
    patches = _exif_patches(src, chunks)
    anchor = _xmp_anchor(chunks)
    body: list[bytes | riff.Chunk] = []
    if chunks[0].fourcc != _VP8X:
        body.append(_chunk(_VP8X, _vp8x_for_simple(src, chunks)))
    for chunk in chunks:
        if chunk.fourcc == _VP8X:
            body.append(_chunk(_VP8X, _with_xmp_flag(src, chunk)))
        elif chunk.fourcc == _XMP and chunk is not xmps[0]:
            cleaned = _read_packet(src, chunk)
            cleaned = xmp_label.remove_labels(
                cleaned, path=src.path, max_bytes=src.max_blob
            )
            body.append(_chunk(_XMP, cleaned))
        elif chunk.fourcc != _XMP:
            body.append(chunk)
        if chunk is anchor:
            body.append(new_xmp)
    riff_size = 4 + sum(
        len(part) if isinstance(part, bytes) else 8 + part.size + (part.size & 1)
        for part in body
    )
    if riff_size > 0xFFFFFFFF:
        raise UnsupportedFormat("WebP file would exceed 4 GiB", path=src.path)
    out.write(b"RIFF" + struct.pack("<I", riff_size) + b"WEBP")
    for part in body:
        if isinstance(part, bytes):
            out.write(part)
        else:
            _copy_chunk(src, part, out, patches)
    end = _riff_end(src, chunks)
    copy_span(src, out, end, src.size - end, what="WebP trailing data")


def _read_packet(src: Source, chunk: riff.Chunk) -> bytes:
    return src.read_blob(chunk.data_offset, chunk.size, "WebP XMP chunk")


def _copy_chunk(
    src: Source, chunk: riff.Chunk, out: BinaryIO, patches: dict[int, bytes]
) -> None:
    copy_span(
        src, out, chunk.offset, 8 + chunk.size, patches=patches, what="WebP chunk"
    )
    if chunk.size & 1:
        out.write(b"\x00")  # the pad byte, even where the source omitted it


def _riff_end(src: Source, chunks: list[riff.Chunk]) -> int:
    last = chunks[-1]
    return min(src.size, last.data_offset + last.size + (last.size & 1))


def _xmp_anchor(chunks: list[riff.Chunk]) -> riff.Chunk:
    """The chunk the XMP chunk follows: EXIF, else the last image chunk."""
    exif = [c for c in chunks if c.fourcc == _EXIF]
    if exif:
        return exif[-1]
    return [c for c in chunks if c.fourcc in _IMAGE_CHUNKS][-1]


def _with_xmp_flag(src: Source, chunk: riff.Chunk) -> bytes:
    if chunk.size < 10:
        raise src.corrupt(f"WebP VP8X chunk is {chunk.size} bytes, expected 10")
    data = bytearray(src.read(chunk.data_offset, chunk.size, "WebP VP8X chunk"))
    data[0] |= _XMP_FLAG
    return bytes(data)


def _vp8x_for_simple(src: Source, chunks: list[riff.Chunk]) -> bytes:
    """A ``VP8X`` payload for a simple file: canvas size and alpha from its image.

    Raises:
        CorruptMedia: the first chunk is not a valid VP8 or VP8L bitstream.
    """
    first = chunks[0]
    head = src.read_upto(first.data_offset, min(first.size, 10))
    flags = _XMP_FLAG
    if first.fourcc == b"VP8 ":
        if len(head) < 10 or head[3:6] != b"\x9d\x01\x2a":
            raise src.corrupt("WebP VP8 chunk has no valid key frame header")
        width = struct.unpack_from("<H", head, 6)[0] & 0x3FFF
        height = struct.unpack_from("<H", head, 8)[0] & 0x3FFF
    elif first.fourcc == b"VP8L":
        if len(head) < 5 or head[0] != 0x2F:
            raise src.corrupt("WebP VP8L chunk has no valid signature")
        bits = struct.unpack_from("<I", head, 1)[0]
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if bits >> 28 & 1:
            flags |= _ALPHA_FLAG
    else:
        msg = f"WebP file starts with {first.name!r}, not VP8X, VP8 or VP8L"
        raise src.corrupt(msg)
    if any(c.fourcc == b"ALPH" for c in chunks):
        flags |= _ALPHA_FLAG
    if not (0 < width <= _MAX_CANVAS and 0 < height <= _MAX_CANVAS):
        raise src.corrupt(f"WebP image has invalid size {width}x{height}")
    size = struct.pack("<II", width - 1, height - 1)
    return bytes((flags, 0, 0, 0)) + size[:3] + size[4:7]


def _exif_patches(src: Source, chunks: list[riff.Chunk]) -> dict[int, bytes]:
    patches: dict[int, bytes] = {}
    for chunk in chunks:
        if chunk.fourcc == _EXIF:
            patches.update(exif_blanks(_exif_view(src, chunk)))
    return patches


def _content_parts(src: Source, chunks: list[riff.Chunk]) -> Iterator[bytes]:
    for chunk in chunks:
        if chunk.fourcc in _IMAGE_CHUNKS:
            yield chunk.fourcc
            yield from iter_span(
                src, chunk.data_offset, chunk.size, f"WebP {chunk.name} chunk"
            )
