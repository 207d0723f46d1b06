"""TIFF/EXIF IFD reader for the tags that name software or carry labels.

The same structure appears as a TIFF file, as EXIF inside JPEG APP1, WebP
``EXIF``, PNG ``eXIf`` and HEIF ``Exif`` items, so the reader works on any
:class:`Source` view. It reads IFD0 (Software, Make, Model, Artist,
ImageDescription, XMP tag 700, Windows XP comment/author) and the EXIF
sub-IFD (UserComment 0x9286, where GB 45438 labels and AUTOMATIC1111
parameters are written). Strip and tile data are never touched; entries of
other tags are skipped without reading their values.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from deepguard.media.containers._binary import Source, translate_errors

__all__ = [
    "EXIF_TAGS",
    "IFD0_TAGS",
    "Entry",
    "Field",
    "Header",
    "decode_user_comment",
    "iter_entries",
    "iter_fields",
    "read_header",
]

IFD0_TAGS: Final[Mapping[int, str]] = {
    0x010E: "ImageDescription",
    0x010F: "Make",
    0x0110: "Model",
    0x0131: "Software",
    0x013B: "Artist",
    0x02BC: "XMP",
    0x9C9C: "XPComment",
    0x9C9D: "XPAuthor",
}
EXIF_TAGS: Final[Mapping[int, str]] = {0x9286: "UserComment"}
_EXIF_IFD: Final = 0x8769
_TYPE_SIZES: Final = {
    1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8,
    13: 4, 16: 8, 17: 8, 18: 8,
}  # fmt: skip
_ASCII: Final = 2


@dataclass(frozen=True, slots=True)
class Header:
    """Byte order (``<`` or ``>``), BigTIFF flag and first IFD offset."""

    order: Literal["<", ">"]
    big: bool
    first_ifd: int


@dataclass(frozen=True, slots=True)
class Entry:
    """One IFD entry; ``value_offset`` is where its value bytes are."""

    tag: int
    type: int
    count: int
    value_offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Field:
    """A decoded tag value. ``value`` is bytes for XMP, text otherwise."""

    ifd: Literal["IFD0", "ExifIFD"]
    tag: int
    name: str
    value: str | bytes
    offset: int
    """Absolute file offset of the value bytes."""


def read_header(src: Source) -> Header:
    """Parse the TIFF header (classic or BigTIFF).

    Raises:
        CorruptMedia: the bytes do not start with a TIFF header.
    """
    head = src.read_upto(0, 16)
    order: Literal["<", ">"]
    if head[:2] == b"II":
        order = "<"
    elif head[:2] == b"MM":
        order = ">"
    else:
        raise src.corrupt("not a TIFF structure: bad byte-order mark")
    with translate_errors(src.path, "TIFF header"):
        magic = struct.unpack_from(order + "H", head, 2)[0]
        if magic == 42:
            return Header(order, False, struct.unpack_from(order + "I", head, 4)[0])
        if magic == 43:
            return Header(order, True, struct.unpack_from(order + "Q", head, 8)[0])
    raise src.corrupt(f"not a TIFF structure: magic number {magic}")


def iter_entries(src: Source, header: Header, offset: int) -> Iterator[Entry]:
    """Yield the entries of the IFD at ``offset`` (values are not read).

    Raises:
        CorruptMedia: the IFD or an entry's value lies outside the view.
    """
    o = header.order
    count_fmt, entry_size, inline = ("Q", 20, 8) if header.big else ("H", 12, 4)
    count_len = struct.calcsize(count_fmt)
    head = src.read(offset, count_len, "TIFF IFD")
    count = struct.unpack(o + count_fmt, head)[0]
    src.check_span(offset + count_len, count * entry_size, "TIFF IFD entries")
    raw = src.read(offset + count_len, count * entry_size, "TIFF IFD entries")
    layout = o + ("HHQQ" if header.big else "HHII")
    for i in range(count):
        at = i * entry_size
        tag, typ, n, value = struct.unpack_from(layout, raw, at)
        size = n * _TYPE_SIZES.get(typ, 0)
        if size <= inline:
            value = offset + count_len + at + (12 if header.big else 8)
        yield Entry(tag, typ, n, value, size)


def iter_fields(
    src: Source,
    *,
    ifd0_tags: Mapping[int, str] = IFD0_TAGS,
    exif_tags: Mapping[int, str] = EXIF_TAGS,
) -> Iterator[Field]:
    """Yield the wanted tags of IFD0 and of the EXIF sub-IFD.

    Raises:
        CorruptMedia: the header, an IFD or a value is out of bounds.
        MediaLimitExceeded: a value exceeds ``max_metadata_bytes``.
    """
    header = read_header(src)
    exif_at: int | None = None
    with translate_errors(src.path, "TIFF IFD"):
        for entry in iter_entries(src, header, header.first_ifd):
            if entry.tag == _EXIF_IFD and entry.count == 1:
                exif_at = _pointer(src, header, entry)
            elif entry.tag in ifd0_tags:
                yield _field(src, header, "IFD0", ifd0_tags[entry.tag], entry)
        if exif_at is not None and exif_at != header.first_ifd:
            for entry in iter_entries(src, header, exif_at):
                if entry.tag in exif_tags:
                    yield _field(src, header, "ExifIFD", exif_tags[entry.tag], entry)


def _pointer(src: Source, header: Header, entry: Entry) -> int:
    raw = src.read(entry.value_offset, entry.size, "TIFF IFD pointer")
    return int.from_bytes(raw, "little" if header.order == "<" else "big")


def _field(
    src: Source,
    header: Header,
    ifd: Literal["IFD0", "ExifIFD"],
    name: str,
    entry: Entry,
) -> Field:
    raw = src.read_blob(entry.value_offset, entry.size, f"TIFF tag {name}")
    value: str | bytes
    if name == "XMP":
        value = raw
    elif name == "UserComment":
        value = decode_user_comment(raw, header.order)
    elif name.startswith("XP"):
        value = raw.decode("utf-16-le", errors="replace").rstrip("\x00")
    else:
        value = _ascii(raw)
    return Field(ifd, entry.tag, name, value, src.absolute(entry.value_offset))


def _ascii(raw: bytes) -> str:
    text = raw.rstrip(b"\x00")
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        return text.decode("latin-1")


def decode_user_comment(raw: bytes, order: Literal["<", ">"] = ">") -> str:
    """Decode EXIF UserComment: an 8-byte character-code prefix, then text.

    ``UNICODE`` is UCS-2 in principle in the TIFF byte order, but writers
    disagree, so the byte order is taken from where the zero bytes fall
    when the text is mostly ASCII.
    """
    code, body = raw[:8], raw[8:]
    if code.startswith(b"UNICODE"):
        return _utf16(body, order).rstrip("\x00")
    if code.startswith(b"JIS"):
        return body.decode("shift_jis", errors="replace").rstrip("\x00")
    if code.startswith(b"ASCII") or code == b"\x00" * 8:
        return _ascii(body).rstrip()
    return _ascii(raw).rstrip()


def _utf16(body: bytes, order: Literal["<", ">"]) -> str:
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return body.decode("utf-16", errors="replace")
    even = body[0::2].count(0)
    odd = body[1::2].count(0)
    if even > odd:
        codec = "utf-16-be"
    elif odd > even:
        codec = "utf-16-le"
    else:
        codec = "utf-16-le" if order == "<" else "utf-16-be"
    return body[: len(body) & ~1].decode(codec, errors="replace")
