"""ISO base media file format box walker: MP4, MOV, M4A, HEIF/HEIC, AVIF.

Tags live in a handful of boxes: ``moov/udta`` QuickTime text atoms
(``©too``, ``©swr`` ...), iTunes/QuickTime ``meta`` with ``keys`` (``mdta``
names such as ``AIGC`` or ``com.apple.quicktime.software``) and ``ilst``
values, track ``hdlr`` names, XMP in ``udta/XMP_`` or a ``uuid`` box
(BE7ACFCB-97A9-42E8-9C71-999491E3AFAC), and for HEIF/AVIF the ``meta`` items
(``mime`` application/rdf+xml, ``Exif``) located through ``iloc``. The walker
descends only into the boxes that can hold those and seeks past ``mdat`` and
sample tables, so it reads a few kilobytes whatever the file size.

Every size is checked against the enclosing box: size 0 means "to the end of
the parent", size 1 takes a 64-bit size, and a size smaller than the header
or larger than the parent is corruption, so the walk always advances.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal

from deepguard.media.containers._binary import (
    Source,
    translate_errors,
    u16be,
    u32be,
    u64be,
)

__all__ = [
    "C2PA_UUID",
    "XMP_UUID",
    "Blob",
    "Box",
    "Extent",
    "Item",
    "Location",
    "Tag",
    "is_xmp_item",
    "iter_boxes",
    "iter_metadata",
    "parse_data",
    "parse_hdlr",
    "parse_iloc",
    "parse_infe",
    "parse_key_entries",
    "parse_keys",
    "walk",
]

XMP_UUID: Final = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
C2PA_UUID: Final = bytes.fromhex("D8FEC3D61B0E483C92975828877EC481")
_MAX_DEPTH: Final = 16
_PLAIN_CONTAINERS: Final = frozenset({b"moov", b"trak", b"mdia", b"minf", b"udta"})
_QT_META_CHILDREN: Final = frozenset({b"hdlr", b"keys", b"ilst", b"mhdr"})
_ILST_NAMES: Final = {
    b"\xa9too": "encoder",
    b"\xa9swr": "software",
    b"\xa9enc": "encoded_by",
    b"\xa9nam": "title",
    b"\xa9cmt": "comment",
    b"\xa9des": "description",
    b"desc": "description",
    b"ldes": "synopsis",
    b"\xa9ART": "artist",
    b"aART": "album_artist",
    b"\xa9alb": "album",
    b"\xa9wrt": "composer",
    b"\xa9day": "date",
    b"\xa9gen": "genre",
    b"cprt": "copyright",
    b"\xa9cpy": "copyright",
    b"\xa9mak": "make",
    b"\xa9mod": "model",
    b"\xa9inf": "information",
    b"\xa9prd": "producer",
    b"\xa9dir": "director",
    b"\xa9aut": "author",
    b"\xa9lyr": "lyrics",
}
"""Item and udta atom names as ffmpeg reports them, so fields read alike."""
_TEXT_TYPES: Final = {1: "utf-8", 2: "utf-16-be", 4: "utf-8", 5: "utf-16-be"}


@dataclass(frozen=True, slots=True)
class Box:
    """One box header; ``path`` lists the types of the enclosing boxes."""

    type: bytes
    offset: int
    size: int
    header_size: int
    path: tuple[bytes, ...] = ()
    uuid: bytes | None = None

    @property
    def data_offset(self) -> int:
        return self.offset + self.header_size

    @property
    def data_size(self) -> int:
        return self.size - self.header_size

    @property
    def end(self) -> int:
        return self.offset + self.size

    @property
    def name(self) -> str:
        return self.type.decode("latin-1")

    @property
    def location(self) -> str:
        """Slash-separated path such as ``moov/udta/meta/ilst/©too``.

        Types that are not text (``ilst`` items indexing ``keys``) are shown
        as their number: ``moov/udta/meta/ilst/1/data``.
        """
        return "/".join(_type_name(t) for t in (*self.path, self.type))


@dataclass(frozen=True, slots=True)
class Tag:
    """A text value from a tag box.

    ``scope`` is ``movie`` for file-level tags and ``track<N>`` (0-based, in
    file order) for tags inside a ``trak``.
    """

    scope: str
    key: str
    value: str
    box: Box


@dataclass(frozen=True, slots=True)
class Blob:
    """An XMP packet, EXIF block (TIFF structure) or C2PA store found in the file.

    The data of a ``c2pa`` blob (the manifest store box) is not read.
    """

    kind: Literal["xmp", "exif", "c2pa"]
    carrier: str
    offset: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Item:
    """A HEIF item from ``iinf/infe``."""

    item_id: int
    item_type: str
    name: str = ""
    content_type: str = ""


@dataclass(slots=True)
class Extent:
    """One piece of a HEIF item; a length of 0 means "to the end"."""

    offset: int
    length: int


@dataclass(slots=True)
class Location:
    """Where a HEIF item's bytes are: in the file (method 0) or ``idat`` (1)."""

    construction_method: int
    base_offset: int
    extents: list[Extent] = field(default_factory=list)


def iter_boxes(
    src: Source, start: int, end: int, path: tuple[bytes, ...] = ()
) -> Iterator[Box]:
    """Yield the sibling boxes in ``[start, end)`` without descending.

    Raises:
        CorruptMedia: a header is truncated, a size is smaller than its header
            or runs past ``end``.
    """
    pos = start
    while pos < end:
        if end - pos < 8:
            if not any(src.read(pos, end - pos, "ISO BMFF padding")):
                return
            msg = f"ISO BMFF box header at offset {src.absolute(pos)} is truncated"
            raise src.corrupt(msg)
        head = src.read(pos, 8, "ISO BMFF box header")
        size, btype = u32be(head), head[4:8]
        name = btype.decode("latin-1")
        header = 8
        if size == 1:
            size = u64be(src.read(pos + 8, 8, f"ISO BMFF box {name!r} 64-bit size"))
            header = 16
        elif size == 0:
            size = end - pos
        uuid = None
        if btype == b"uuid":
            uuid = src.read(pos + header, 16, "ISO BMFF uuid box type")
            header += 16
        where = src.absolute(pos)
        if size < header:
            msg = f"ISO BMFF box {name!r} at offset {where} has invalid size {size}"
            raise src.corrupt(msg)
        if pos + size > end:
            msg = (
                f"ISO BMFF box {name!r} at offset {where} claims {size} bytes but"
                f" its parent ends at {src.absolute(end)}"
            )
            raise src.corrupt(msg)
        yield Box(btype, pos, size, header, path, uuid)
        pos += size


def walk(src: Source) -> Iterator[Box]:
    """Yield boxes depth-first, descending only into metadata containers.

    Raises:
        CorruptMedia: see :func:`iter_boxes`; also nesting deeper than 16.
    """
    yield from _walk(src, 0, src.size, ())


def _walk(src: Source, start: int, end: int, path: tuple[bytes, ...]) -> Iterator[Box]:
    if len(path) > _MAX_DEPTH:
        msg = f"ISO BMFF boxes nested deeper than {_MAX_DEPTH} at offset {start}"
        raise src.corrupt(msg)
    for box in iter_boxes(src, start, end, path):
        yield box
        first = _children_start(src, box)
        if first is not None:
            yield from _walk(src, first, box.end, (*path, box.type))


def _children_start(src: Source, box: Box) -> int | None:
    """Where ``box``'s child boxes start, or None when it has none we want."""
    parent = box.path[-1] if box.path else None
    if box.type in _PLAIN_CONTAINERS or box.type == b"ilst" or parent == b"ilst":
        return box.data_offset
    if box.type == b"meta":
        # ISO 'meta' is a full box (4 bytes version/flags); QuickTime's is not.
        peek = src.read_upto(box.data_offset, 8)
        if len(peek) == 8 and peek[4:8] in _QT_META_CHILDREN and u32be(peek) != 0:
            return box.data_offset
        return box.data_offset + 4
    if box.type == b"iinf" and parent == b"meta":
        version = src.read(box.data_offset, 1, "ISO BMFF iinf box")[0]
        return box.data_offset + 4 + (2 if version == 0 else 4)
    return None


def _type_name(box_type: bytes) -> str:
    text = box_type.decode("latin-1")
    return text if text.isprintable() else str(u32be(box_type))


def parse_hdlr(data: bytes) -> tuple[str, str]:
    """(handler type, name) from a ``hdlr`` payload.

    QuickTime writes the name as a Pascal string (length byte first) while
    ISO writes it NUL-terminated; both are accepted.
    """
    handler = data[8:12].decode("latin-1")
    raw = data[24:].split(b"\x00", 1)[0]
    if raw and raw[0] == len(raw) - 1:
        raw = raw[1:]
    return handler, _decode(raw)


def parse_keys(data: bytes) -> list[str]:
    """The key names of a ``keys`` payload (QuickTime metadata, ``mdta``).

    Raises:
        ValueError, struct.error: a count or size does not fit the payload.
    """
    return [_decode(name) for _, name in parse_key_entries(data)]


def parse_key_entries(data: bytes) -> list[tuple[bytes, bytes]]:
    """(namespace, raw name) per entry of a ``keys`` payload, in index order.

    For callers that need the namespace (``mdta``) or decode names their own
    way; :func:`parse_keys` is the usual reader.

    Raises:
        ValueError, struct.error: a count or size does not fit the payload.
    """
    count = u32be(data, 4)
    if count > len(data) // 8:
        msg = f"keys box claims {count} entries in {len(data)} bytes"
        raise ValueError(msg)
    entries: list[tuple[bytes, bytes]] = []
    pos = 8
    for _ in range(count):
        size = u32be(data, pos)
        if size < 8 or pos + size > len(data):
            msg = f"keys entry at byte {pos} has invalid size {size}"
            raise ValueError(msg)
        entries.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + size]))
        pos += size
    return entries


def parse_data(head: bytes, body: bytes) -> str | None:
    """The text of an ``ilst`` ``data`` box, or None for binary values.

    ``head`` is the 8-byte type indicator + locale, ``body`` the value.
    """
    kind = u32be(head) & 0xFFFFFF
    encoding = _TEXT_TYPES.get(kind)
    if encoding is not None:
        return body.decode(encoding, errors="replace")
    if kind in (21, 22) and len(body) in (1, 2, 4, 8):
        return str(int.from_bytes(body, "big", signed=kind == 21))
    if kind == 0 and body and body.isascii() and body.decode().isprintable():
        return body.decode("ascii")
    return None


def parse_infe(data: bytes) -> Item:
    """An item-info entry (``infe`` payload, versions 0 to 3).

    Raises:
        IndexError, struct.error: the payload is too short.
    """
    version = data[0]
    if version >= 2:
        if version == 3:
            item_id, pos = u32be(data, 4), 8
        else:
            item_id, pos = u16be(data, 4), 6
        pos += 2  # protection index
        item_type = data[pos : pos + 4].decode("latin-1")
        name, _, rest = data[pos + 4 :].partition(b"\x00")
        content_type = rest.split(b"\x00", 1)[0] if item_type == "mime" else b""
        return Item(item_id, item_type, _decode(name), _decode(content_type))
    item_id = u16be(data, 4)
    name, _, rest = data[8:].partition(b"\x00")
    content_type = rest.split(b"\x00", 1)[0]
    item_type = "mime" if content_type else ""
    return Item(item_id, item_type, _decode(name), _decode(content_type))


def is_xmp_item(item: Item) -> bool:
    """Whether a HEIF item holds XMP: a ``mime`` item of type ``rdf+xml``."""
    return item.item_type == "mime" and "rdf+xml" in item.content_type


def parse_iloc(data: bytes) -> dict[int, Location]:
    """Item locations from an ``iloc`` payload (versions 0 to 2).

    Raises:
        ValueError, IndexError, struct.error: a field size, count or extent
            does not fit the payload.
    """
    version = data[0]
    sizes = u16be(data, 4)
    offset_size, length_size = sizes >> 12, (sizes >> 8) & 0xF
    base_size, index_size = (sizes >> 4) & 0xF, sizes & 0xF
    if version == 0:
        index_size = 0
    for size in (offset_size, length_size, base_size, index_size):
        if size not in (0, 4, 8):
            msg = f"iloc field size {size} is not 0, 4 or 8"
            raise ValueError(msg)
    pos = 6
    if version < 2:
        count, pos = u16be(data, pos), pos + 2
    else:
        count, pos = u32be(data, pos), pos + 4
    if count > len(data) // 4:
        msg = f"iloc claims {count} items in {len(data)} bytes"
        raise ValueError(msg)
    out: dict[int, Location] = {}
    for _ in range(count):
        if version < 2:
            item_id, pos = u16be(data, pos), pos + 2
        else:
            item_id, pos = u32be(data, pos), pos + 4
        method = 0
        if version in (1, 2):
            method, pos = u16be(data, pos) & 0xF, pos + 2
        pos += 2  # data reference index
        base, pos = _uint(data, pos, base_size), pos + base_size
        extents, pos = u16be(data, pos), pos + 2
        if extents * (index_size + offset_size + length_size) > len(data) - pos:
            msg = f"iloc item {item_id} claims {extents} extents past the box end"
            raise ValueError(msg)
        loc = Location(method, base)
        for _ in range(extents):
            pos += index_size
            off, pos = _uint(data, pos, offset_size), pos + offset_size
            length, pos = _uint(data, pos, length_size), pos + length_size
            loc.extents.append(Extent(off, length))
        out[item_id] = loc
    return out


def _uint(data: bytes, pos: int, size: int) -> int:
    if size == 0:
        return 0
    if pos + size > len(data):
        msg = "field runs past the end of the box"
        raise IndexError(msg)
    return int.from_bytes(data[pos : pos + size], "big")


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def iter_metadata(src: Source) -> Iterator[Tag | Blob]:
    """Yield every tag value and XMP/EXIF blob, in file order.

    HEIF item blobs come last, once ``iinf`` and ``iloc`` are both known.

    Raises:
        CorruptMedia: the box structure or a metadata box is broken.
        MediaLimitExceeded: a metadata value exceeds ``max_metadata_bytes``.
    """
    state = _State()
    with translate_errors(src.path, "ISO BMFF metadata box"):
        for box in walk(src):
            yield from state.visit(src, box)
        yield from state.item_blobs(src)


@dataclass(slots=True)
class _State:
    """What the walk has seen so far: track count, keys, HEIF items."""

    tracks: int = -1
    keys: list[str] = field(default_factory=list)
    freeform_name: str = ""
    items: dict[int, Item] = field(default_factory=dict)
    locations: dict[int, Location] = field(default_factory=dict)
    idat_offset: int | None = None

    def scope(self, box: Box) -> str:
        return f"track{self.tracks}" if b"trak" in box.path else "movie"

    def visit(self, src: Source, box: Box) -> Iterator[Tag | Blob]:
        """Update the state with ``box`` and yield what it carries."""
        parent = box.path[-1] if box.path else b""
        if parent == b"udta" and box.type[:1] == b"\xa9":
            yield from self._udta_text(src, box)
            return
        handler = _HANDLERS.get(box.type)
        if handler is not None:
            yield from handler(self, src, box)

    def _trak(self, src: Source, box: Box) -> Iterator[Tag | Blob]:
        self.tracks += 1
        return iter(())

    def _meta(self, src: Source, box: Box) -> Iterator[Tag | Blob]:
        self.keys = []
        return iter(())

    def _hdlr(self, src: Source, box: Box) -> Iterator[Tag | Blob]:
        _, name = parse_hdlr(_payload(src, box))
        if name.strip():
            yield Tag(self.scope(box), "handler_name", name.strip(), box)

    def _keys(self, src: Source, box: Box) -> Iterator[Tag | Blob]:
        if box.path[-1:] == (b"meta",):
            self.keys = parse_keys(_payload(src, box))
        return iter(())

    def _data(self, src: Source, box: Box) -> Iterator[Tag | Blob]:
        if box.path[-2:-1] == (b"ilst",):
            tag = self._ilst_value(src, box)
            if tag is not None:
                yield tag

    def _name(self, src: Source, box: Box) -> Iterator[Tag | Blob]:
        if box.path[-2:-1] == (b"ilst",):
            self.freeform_name = _decode(_payload(src, box)[4:])
        return iter(())

    def _udta_text(self, src: Source, box: Box) -> Iterator[Tag | Blob]:
        value = _qt_text(_payload(src, box))
        if value:
            yield Tag(self.scope(box), _ILST_NAMES.get(box.type, box.name), value, box)

    def _xmp(self, src: Source, box: Box) -> Iterator[Tag | Blob]:
        is_udta_xmp = box.type == b"XMP_" and box.path[-1:] == (b"udta",)
        if is_udta_xmp or box.uuid == XMP_UUID:
            yield _xmp_blob(src, box)
        elif box.uuid == C2PA_UUID:
            yield Blob("c2pa", f"isobmff:{box.location}", src.absolute(box.offset), b"")

    def _infe(self, src: Source, box: Box) -> Iterator[Tag | Blob]:
        if box.path[-1:] == (b"iinf",):
            item = parse_infe(_payload(src, box))
            self.items[item.item_id] = item
        return iter(())

    def _iloc(self, src: Source, box: Box) -> Iterator[Tag | Blob]:
        if box.path == (b"meta",):
            self.locations = parse_iloc(_payload(src, box))
        return iter(())

    def _idat(self, src: Source, box: Box) -> Iterator[Tag | Blob]:
        if box.path == (b"meta",):
            self.idat_offset = box.data_offset
        return iter(())

    def _ilst_value(self, src: Source, box: Box) -> Tag | None:
        item_type = box.path[-1]
        if box.data_size < 8:
            return None
        head = src.read(box.data_offset, 8, "ISO BMFF data box")
        if u32be(head) & 0xFFFFFF not in (0, 1, 2, 4, 5, 21, 22):
            return None  # cover art and other binary values are never read
        size = box.data_size - 8
        body = src.read_blob(box.data_offset + 8, size, "ISO BMFF data box")
        value = parse_data(head, body)
        if value is None:
            return None
        index = u32be(item_type)
        if item_type == b"----":
            key = self.freeform_name or "----"
        elif self.keys and 1 <= index <= len(self.keys):
            key = self.keys[index - 1]
        else:
            key = _ILST_NAMES.get(item_type, item_type.decode("latin-1"))
        return Tag(self.scope(box), key, value, box)

    def item_blobs(self, src: Source) -> Iterator[Blob]:
        for item in self.items.values():
            is_xmp = is_xmp_item(item)
            if not (is_xmp or item.item_type == "Exif"):
                continue
            loc = self.locations.get(item.item_id)
            if loc is None:
                continue
            data, offset = self._item_data(src, item, loc)
            if data is None:
                continue
            carrier = f"isobmff:meta/item{item.item_id}"
            if is_xmp:
                yield Blob("xmp", carrier, offset, data)
            elif len(data) >= 4:
                # Exif items start with the offset of the TIFF header.
                skip = 4 + u32be(data)
                yield Blob("exif", carrier, offset + skip, data[skip:])

    def _item_data(
        self, src: Source, item: Item, loc: Location
    ) -> tuple[bytes | None, int]:
        if loc.construction_method == 0:
            base = loc.base_offset
        elif loc.construction_method == 1 and self.idat_offset is not None:
            base = self.idat_offset + loc.base_offset
        else:
            return None, 0
        spans = [
            (base + e.offset, e.length or src.size - (base + e.offset))
            for e in loc.extents
        ]
        total = sum(length for _, length in spans)
        what = f"HEIF item {item.item_id}"
        src.check_blob_size(total, what)
        parts = [src.read_blob(start, length, what) for start, length in spans]
        first = spans[0][0] if spans else base
        return b"".join(parts), src.absolute(first)


_Handler = Callable[[_State, Source, Box], Iterator[Tag | Blob]]
_HANDLERS: Final[dict[bytes, _Handler]] = {
    b"trak": _State._trak,
    b"meta": _State._meta,
    b"hdlr": _State._hdlr,
    b"keys": _State._keys,
    b"data": _State._data,
    b"name": _State._name,
    b"XMP_": _State._xmp,
    b"uuid": _State._xmp,
    b"infe": _State._infe,
    b"iloc": _State._iloc,
    b"idat": _State._idat,
}
"""Box type -> what to do with it; each handler checks where the box sits."""


def _xmp_blob(src: Source, box: Box) -> Blob:
    carrier = f"isobmff:{box.location}"
    return Blob("xmp", carrier, src.absolute(box.offset), _payload(src, box))


def _payload(src: Source, box: Box) -> bytes:
    return src.read_blob(box.data_offset, box.data_size, f"ISO BMFF {box.name!r} box")


def _qt_text(data: bytes) -> str:
    """A QuickTime udta text atom: u16 size, u16 language, text (first entry).

    Some writers put an ilst-style ``data`` box here instead; accept both.
    """
    if len(data) >= 16 and data[4:8] == b"data":
        return parse_data(data[8:16], data[16 : u32be(data)]) or ""
    if len(data) < 4:
        return ""
    size = u16be(data)
    return _decode(data[4 : 4 + size]).rstrip("\x00")
