"""TIFF label carrier: ``TC260:AIGC`` in the XMP packet of IFD0 tag 700.

Labels are also read from the EXIF UserComment (0x9286), where some writers
put them; the writer neutralises such a comment in place (same length, so no
offset moves) so that the file keeps exactly one label. The UserComment
helpers (:mod:`._exif_label`) are shared with the other image carriers,
whose EXIF blocks are TIFF structures too.

Writing never moves existing data, because TIFF offsets are absolute and
point everywhere (strips, tiles, sub-IFDs, EXIF, maker notes). The new XMP
packet overwrites the old one when it fits (its padding is resized to the
old length), otherwise it is appended at the end of the file and the old
one blanked. When IFD0 has no tag 700 yet, a copy of IFD0 with the tag added is
appended and the header pointed at it; the old IFD0 stays behind, unused.
Both byte orders and BigTIFF are handled.

The content digest covers what a decoder needs and nothing else: for every
image IFD (the IFD0 chain and SubIFDs) the image-structure tags and the
strip, tile or JPEG-interchange bytes they reference. A label write changes
none of those, and any pixel edit changes the strip bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar, Final

from deepguard.config import Limits
from deepguard.errors import CorruptMedia, UnsupportedFormat
from deepguard.labels.fields import RawLabel
from deepguard.labels.implicit import xmp_label
from deepguard.labels.implicit._digest import digest_parts
from deepguard.labels.implicit._exif_label import (
    comment_blanks,
    comment_copies,
    user_comments,
)
from deepguard.labels.implicit._splice import copy_span, iter_span, rewriting
from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.media.containers import tiff
from deepguard.media.containers._binary import Source, translate_errors

__all__ = ["TiffCarrier"]

XMP_TAG: Final = 0x02BC
_SUB_IFDS: Final = 0x014A
_BYTE: Final = 1
_MAX_IFDS: Final = 1024
"""More image directories than this is a loop or an attack, not a file."""
_STRUCTURE_TAGS: Final = frozenset(
    {
        254, 255, 256, 257, 258, 259, 262, 266, 274, 277, 278, 284, 317, 320,
        322, 323, 338, 339, 347, 529, 530, 531, 532,
    }
)  # fmt: skip
"""Tags that decide how the image data decodes (size, bits, compression,
photometric, colour map, tiling, predictor, JPEG tables, YCbCr ...)."""
_DATA_TAGS: Final = ((273, 279), (324, 325), (513, 514))
"""(offsets, byte counts): strips, tiles, old-style JPEG interchange data."""


class TiffCarrier(Carrier):
    """Label in the IFD0 XMP packet (tag 700); EXIF UserComment is read too."""

    name: ClassVar[str] = "tiff"
    containers: ClassVar[frozenset[str]] = frozenset({"tiff"})

    def read(self, path: Path, limits: Limits) -> CarrierRead:
        found = CarrierRead()
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            header = tiff.read_header(src)
            try:
                xmp_entry = _Ifd.read(src, header, header.first_ifd).find(XMP_TAG)
                if xmp_entry is not None:
                    _read_xmp(src, xmp_entry, found)
            except CorruptMedia as exc:
                found.errors.append(exc.msg)
            found.copies += _comment_labels(src, found.errors)
        found.copies.sort(key=lambda r: r.offset or 0)
        return found

    def write(self, src: Path, dst: Path, payload: str, limits: Limits) -> None:
        with rewriting(src, dst, limits) as (source, out):
            _write(source, out, payload)

    def content_digest(self, path: Path, limits: Limits) -> str:
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            header = tiff.read_header(src)
            with translate_errors(src.path, "TIFF IFD"):
                ifds = _image_ifds(src, header)
                return digest_parts(_content_parts(src, ifds), domain="tiff")


@dataclass(frozen=True, slots=True)
class _Ifd:
    """One IFD as stored: its entries, raw table bytes and next-IFD offset."""

    offset: int
    header: tiff.Header
    entries: tuple[tiff.Entry, ...]
    raw: bytes
    """The entry table (without the count and next-IFD fields)."""
    next: int

    @property
    def count_size(self) -> int:
        return 8 if self.header.big else 2

    @property
    def entry_size(self) -> int:
        return 20 if self.header.big else 12

    @classmethod
    def read(cls, src: Source, header: tiff.Header, offset: int) -> _Ifd:
        with translate_errors(src.path, "TIFF IFD"):
            entries = tuple(tiff.iter_entries(src, header, offset))
            count_size = 8 if header.big else 2
            size = len(entries) * (20 if header.big else 12)
            raw = src.read(offset + count_size, size, "TIFF IFD entries")
            ptr_size = 8 if header.big else 4
            ptr = src.read(offset + count_size + size, ptr_size, "TIFF next IFD")
        return cls(offset, header, entries, raw, _uint(ptr, header))

    def find(self, tag: int) -> tiff.Entry | None:
        return next((e for e in self.entries if e.tag == tag), None)

    def entry_offset(self, index: int) -> int:
        return self.offset + self.count_size + index * self.entry_size


def _uint(raw: bytes, header: tiff.Header) -> int:
    return int.from_bytes(raw, "little" if header.order == "<" else "big")


def _read_xmp(src: Source, entry: tiff.Entry, found: CarrierRead) -> None:
    """Add the XMP packet's copies to ``found``.

    Raises:
        CorruptMedia: the packet lies outside the file (``read`` records it).
    """
    packet = src.read_blob(entry.value_offset, entry.size, "TIFF XMP tag")
    found.copies += xmp_label.packet_copies(
        "tiff", packet, src, found.errors, where="IFD0 XMP", offset=entry.value_offset
    )


def _comment_labels(src: Source, errors: list[str]) -> list[RawLabel]:
    """The EXIF UserComment copies; damage is recorded in ``errors``.

    The EXIF IFD is part of the TIFF file's own structure, so its damage is
    recorded as it is, without the ``EXIF:`` prefix of an embedded block.
    """
    try:
        comments = user_comments(src)
    except CorruptMedia as exc:
        errors.append(exc.msg)
        return []
    return comment_copies("tiff", comments)


def _write(src: Source, out: BinaryIO, payload: str) -> None:
    header = tiff.read_header(src)
    ifd = _Ifd.read(src, header, header.first_ifd)
    with translate_errors(src.path, "TIFF EXIF"):
        patches = comment_blanks(user_comments(src))
    entry = ifd.find(XMP_TAG)
    old: bytes | None = None
    if entry is not None:
        old = src.read_blob(entry.value_offset, entry.size, "TIFF XMP tag")
    packet = xmp_label.set_label(old, payload, path=src.path, max_bytes=src.max_blob)
    end = src.size + (src.size & 1)
    appended = b""
    fitted = xmp_label.fit_packet(packet, len(old)) if old is not None else None
    if entry is not None and fitted is not None:
        at, packet = entry.value_offset, fitted
        patches[at] = packet + bytes(entry.size - len(packet))
    else:
        at = end
        appended = packet + b"\x00" * (len(packet) & 1)
        if entry is not None and entry.size > (8 if header.big else 4):
            patches[entry.value_offset] = b" " * entry.size  # the orphaned packet
    if entry is not None:
        index = ifd.entries.index(entry)
        patches[ifd.entry_offset(index)] = _entry(header, XMP_TAG, len(packet), at)
    else:
        new_ifd_at = end + len(appended)
        appended += _ifd_with(ifd, _entry(header, XMP_TAG, len(packet), at))
        patches[4 if not header.big else 8] = _pack(header, new_ifd_at)
    _check_offsets(src, header, end + len(appended))
    copy_span(src, out, 0, src.size, patches=patches, what="TIFF")
    out.write(b"\x00" * (end - src.size))
    out.write(appended)


def _check_offsets(src: Source, header: tiff.Header, size: int) -> None:
    if not header.big and size > 0xFFFFFFFF:
        msg = "cannot add XMP: a classic TIFF cannot grow past 4 GiB"
        raise UnsupportedFormat(msg, path=src.path)


def _pack(header: tiff.Header, value: int) -> bytes:
    return struct.pack(header.order + ("Q" if header.big else "I"), value)


def _entry(header: tiff.Header, tag: int, count: int, offset: int) -> bytes:
    """An IFD entry of type BYTE whose ``count`` bytes are at ``offset``.

    Only for XMP packets, which are always longer than the 4 (8) bytes a
    value may have inline, so the value field is always an offset.
    """
    fmt = header.order + ("HHQQ" if header.big else "HHII")
    return struct.pack(fmt, tag, _BYTE, count, offset)


def _ifd_with(ifd: _Ifd, new_entry: bytes) -> bytes:
    """A copy of ``ifd`` with ``new_entry`` added in tag order."""
    size = ifd.entry_size
    rows = [ifd.raw[i * size : (i + 1) * size] for i in range(len(ifd.entries))]
    tags = [e.tag for e in ifd.entries]
    tag = struct.unpack_from(ifd.header.order + "H", new_entry)[0]
    at = next((i for i, t in enumerate(tags) if t > tag), len(rows))
    rows.insert(at, new_entry)
    count_fmt = ifd.header.order + ("Q" if ifd.header.big else "H")
    return (
        struct.pack(count_fmt, len(rows)) + b"".join(rows) + _pack(ifd.header, ifd.next)
    )


def _image_ifds(src: Source, header: tiff.Header) -> list[_Ifd]:
    """The IFD0 chain and every SubIFD, each once, in a fixed order."""
    seen: set[int] = set()
    out: list[_Ifd] = []
    todo = [header.first_ifd]
    while todo:
        offset = todo.pop(0)
        if offset == 0 or offset in seen:
            continue
        if len(seen) >= _MAX_IFDS:
            raise src.corrupt(f"TIFF has more than {_MAX_IFDS} image directories")
        seen.add(offset)
        ifd = _Ifd.read(src, header, offset)
        out.append(ifd)
        subs = ifd.find(_SUB_IFDS)
        if subs is not None:
            todo += _uints(src, header, subs)
        todo.append(ifd.next)
    return out


def _uints(src: Source, header: tiff.Header, entry: tiff.Entry) -> list[int]:
    """The unsigned integer values of an entry (SHORT, LONG, LONG8, IFD)."""
    fmt = {3: "H", 4: "I", 13: "I", 16: "Q", 18: "Q"}.get(entry.type)
    if fmt is None:
        msg = f"TIFF tag {entry.tag} has non-integer type {entry.type}"
        raise src.corrupt(msg)
    raw = src.read_blob(entry.value_offset, entry.size, f"TIFF tag {entry.tag}")
    return list(struct.unpack(f"{header.order}{entry.count}{fmt}", raw))


def _content_parts(src: Source, ifds: list[_Ifd]) -> Iterator[bytes]:
    for ifd in ifds:
        yield b"IFD"
        for entry in sorted(ifd.entries, key=lambda e: e.tag):
            if entry.tag in _STRUCTURE_TAGS:
                what = f"TIFF tag {entry.tag}"
                yield struct.pack(">HHQ", entry.tag, entry.type, entry.count)
                yield src.read_blob(entry.value_offset, entry.size, what)
        for offsets_tag, counts_tag in _DATA_TAGS:
            yield from _data_parts(src, ifd, offsets_tag, counts_tag)


def _data_parts(
    src: Source, ifd: _Ifd, offsets_tag: int, counts_tag: int
) -> Iterator[bytes]:
    offsets_entry, counts_entry = ifd.find(offsets_tag), ifd.find(counts_tag)
    if offsets_entry is None or counts_entry is None:
        return
    offsets = _uints(src, ifd.header, offsets_entry)
    counts = _uints(src, ifd.header, counts_entry)
    if len(offsets) != len(counts):
        msg = f"TIFF IFD at offset {ifd.offset}: {len(offsets)} offsets for"
        raise src.corrupt(f"{msg} {len(counts)} byte counts")
    yield struct.pack(">HI", offsets_tag, len(offsets))
    for offset, count in zip(offsets, counts, strict=True):
        yield from iter_span(src, offset, count, "TIFF image data")
