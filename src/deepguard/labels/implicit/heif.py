"""HEIF/HEIC/AVIF label carrier: ``TC260:AIGC`` in an XMP item.

HEIF stores metadata as items: an ``iinf`` entry of type ``mime`` with
content type ``application/rdf+xml``, whose bytes ``iloc`` locates (in the
file, or in the ``idat`` box inside ``meta``). Labels are read from every
XMP item and from an EXIF UserComment in ``Exif`` items.

Writing keeps every coded image byte where it is relative to the others:

* the labelled packet (the first XMP item's packet with the label put in,
  or a new one) replaces the old one in place when it fits, and is
  otherwise appended to the file in a new ``mdat`` box; a new item
  gets an ``infe`` entry, an ``iloc`` entry and a ``cdsc`` reference to the
  primary image, as libheif and exiftool write them;
* an item whose packet changed is re-pointed at its new bytes, and the old
  bytes are blanked, so no stale copy of a label stays in the file;
* ``meta`` grows, so every file offset in ``iloc`` that points past it is
  moved by the growth; an extent that ran "to the end of the file" gets its
  explicit length first, and an ``mdat`` sized "to the end" gets its size,
  so that the appended box does not become part of them.

Where this cannot be done without re-encoding or rewriting offsets this
module does not own (an image sequence, whose ``moov`` sample tables also
point into ``mdat``; items stored in another file; a ``meta`` box without
``iinf``/``iloc``), writing raises ``UnsupportedFormat`` saying why.

The content digest covers every item except XMP and EXIF items (type, id
and bytes), the item properties (``iprp``), the primary item and the item
references between the remaining items, so it survives relabelling but not
a change to any coded image. A file with no items (a bare sequence) is
digested by its ``mdat`` payloads.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, ClassVar, Final

from deepguard.config import Limits
from deepguard.errors import CorruptMedia, UnsupportedFormat
from deepguard.labels.fields import RawLabel
from deepguard.labels.implicit import xmp_label
from deepguard.labels.implicit._digest import digest_parts
from deepguard.labels.implicit._exif_label import (
    ExifComment,
    looks_like_label,
    neutral_comment,
    user_comments,
)
from deepguard.labels.implicit._splice import copy_span, iter_span, rewriting
from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.media.containers import isobmff
from deepguard.media.containers._binary import Source, translate_errors, u16be, u32be
from deepguard.media.probe import MediaKind, ProbeResult

__all__ = ["HeifCarrier"]

_MIMES: Final = frozenset({"image/heic", "image/heif", "image/avif"})
_XMP_TYPE: Final = "application/rdf+xml"
_REASON: Final = "cannot add metadata to this HEIF variant without re-encoding"
_LOCATION: Final = f"{xmp_label.PREFIX}:{xmp_label.PROPERTY}"


class HeifCarrier(Carrier):
    """Label in an XMP ``mime`` item of a HEIF, HEIC or AVIF image."""

    name: ClassVar[str] = "heif"
    containers: ClassVar[frozenset[str]] = frozenset({"isobmff"})
    kinds: ClassVar[frozenset[MediaKind] | None] = frozenset({MediaKind.IMAGE})

    def handles(self, probe: ProbeResult) -> bool:
        return super().handles(probe) and probe.mime in _MIMES

    def read(self, path: Path, limits: Limits) -> CarrierRead:
        found = CarrierRead()
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            _check_ftyp(src)
            try:
                with translate_errors(src.path, "HEIF meta box"):
                    layout = _Layout.read(src)
            except UnsupportedFormat:
                return found  # no item tables, so no metadata items
            except CorruptMedia as exc:
                found.errors.append(exc.msg)
                return found
            for item_id in sorted(layout.items):
                try:
                    _read_item(src, layout, item_id, found)
                except (CorruptMedia, UnsupportedFormat) as exc:
                    found.errors.append(exc.msg)
        return found

    def write(self, src: Path, dst: Path, payload: str, limits: Limits) -> None:
        with rewriting(src, dst, limits) as (source, out):
            _check_ftyp(source)
            with translate_errors(source.path, "HEIF meta box"):
                layout = _Layout.read(source)
            _write(source, layout, out, payload)

    def content_digest(self, path: Path, limits: Limits) -> str:
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            _check_ftyp(src)
            with translate_errors(src.path, "HEIF meta box"):
                try:
                    layout = _Layout.read(src)
                except UnsupportedFormat:  # no item tables: a bare sequence
                    boxes = list(isobmff.iter_boxes(src, 0, src.size))
                    return digest_parts(_mdat_parts(src, boxes), domain="heif-mdat")
                return digest_parts(_content_parts(src, layout), domain="heif")


def _check_ftyp(src: Source) -> None:
    if src.read_upto(4, 4) != b"ftyp":
        raise src.corrupt("not an ISO BMFF file: no ftyp box")


def _read_item(src: Source, layout: _Layout, item_id: int, found: CarrierRead) -> None:
    """Add the label copies of one XMP or EXIF item to ``found``."""
    item = layout.items[item_id]
    entry = layout.entry(item_id)
    if entry is None or not _is_metadata(item):
        return
    spans = layout.spans(src, entry)
    data = _item_bytes(src, spans, f"HEIF item {item_id}")
    if isobmff.is_xmp_item(item):
        values = xmp_label.find_labels(data, path=src.path, max_bytes=src.max_blob)
        location = f"XMP item {item_id} {_LOCATION}"
        at = spans[0][0] if spans else None
        found.copies += [RawLabel("heif", location, v, at) for v in values]
        return
    location = f"EXIF item {item_id} UserComment"
    for index, comment in _exif_comments(src, data):
        if looks_like_label(comment.text):
            at = _file_offset(spans, index)
            found.copies.append(RawLabel("heif", location, comment.text, at))


def _item_bytes(src: Source, spans: list[tuple[int, int]], what: str) -> bytes:
    src.check_blob_size(sum(length for _, length in spans), what)
    return b"".join(src.read(start, length, what) for start, length in spans)


def _exif_comments(src: Source, data: bytes) -> list[tuple[int, ExifComment]]:
    """UserComments of an ``Exif`` item, with their index in the item's bytes.

    The item starts with the offset of the TIFF header within it.

    Raises:
        CorruptMedia: the EXIF structure is damaged.
    """
    if len(data) < 4 or 4 + u32be(data) > len(data):
        raise src.corrupt("HEIF Exif item has an invalid TIFF header offset")
    skip = 4 + u32be(data)
    view = Source.from_bytes(data[skip:], path=src.path, max_blob=src.max_blob)
    return [(skip + c.offset, c) for c in user_comments(view)]


def _file_offset(spans: list[tuple[int, int]], index: int) -> int | None:
    """The file offset of byte ``index`` of an item made of ``spans``."""
    pos = 0
    for start, length in spans:
        if index < pos + length:
            return start + index - pos
        pos += length
    return None


def _span_patches(
    spans: list[tuple[int, int]], index: int, data: bytes
) -> dict[int, bytes]:
    """Patches writing ``data`` at byte ``index`` of an item made of ``spans``."""
    out: dict[int, bytes] = {}
    pos = 0
    for start, length in spans:
        lo, hi = max(index, pos), min(index + len(data), pos + length)
        if lo < hi:
            out[start + lo - pos] = data[lo - index : hi - index]
        pos += length
    return out


# --- iloc ----------------------------------------------------------------------


@dataclass(slots=True)
class _Extent:
    index: int
    offset: int
    length: int


@dataclass(slots=True)
class _Entry:
    """One ``iloc`` item: where its bytes are."""

    item_id: int
    method: int
    data_ref: int
    base: int
    extents: list[_Extent]


@dataclass(slots=True)
class _Iloc:
    """A fully parsed ``iloc`` box that can be written back."""

    version: int
    offset_size: int
    length_size: int
    base_size: int
    index_size: int
    entries: list[_Entry]

    @classmethod
    def parse(cls, data: bytes) -> _Iloc:
        """Parse an ``iloc`` payload (versions 0 to 2).

        Raises:
            ValueError, IndexError, struct.error: the payload is malformed.
        """
        version = data[0]
        if version > 2:
            raise ValueError(f"iloc version {version} is not 0, 1 or 2")
        sizes = u16be(data, 4)
        iloc = cls(version, sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15, 0, [])
        if version in (1, 2):
            iloc.index_size = sizes & 15
        for size in (iloc.offset_size, iloc.length_size, iloc.base_size):
            if size not in (0, 4, 8):
                raise ValueError(f"iloc field size {size} is not 0, 4 or 8")
        if iloc.index_size not in (0, 4, 8):
            raise ValueError(f"iloc index size {iloc.index_size} is not 0, 4 or 8")
        reader = _Reader(data, 6)
        count = reader.uint(2 if version < 2 else 4)
        if count > len(data) // 4:
            raise ValueError(f"iloc claims {count} items in {len(data)} bytes")
        for _ in range(count):
            item_id = reader.uint(2 if version < 2 else 4)
            method = reader.uint(2) & 15 if version in (1, 2) else 0
            data_ref = reader.uint(2)
            base = reader.uint(iloc.base_size)
            extents = [
                _Extent(
                    reader.uint(iloc.index_size),
                    reader.uint(iloc.offset_size),
                    reader.uint(iloc.length_size),
                )
                for _ in range(reader.uint(2))
            ]
            iloc.entries.append(_Entry(item_id, method, data_ref, base, extents))
        return iloc

    def payload(self) -> bytes:
        out = bytearray((self.version, 0, 0, 0))
        sizes = self.offset_size << 12 | self.length_size << 8 | self.base_size << 4
        if self.version in (1, 2):
            sizes |= self.index_size
        id_size = 2 if self.version < 2 else 4
        out += struct.pack(">H", sizes) + _uint(len(self.entries), id_size)
        for entry in self.entries:
            out += _uint(entry.item_id, id_size)
            if self.version in (1, 2):
                out += struct.pack(">H", entry.method)
            out += struct.pack(">H", entry.data_ref)
            out += _uint(entry.base, self.base_size)
            out += struct.pack(">H", len(entry.extents))
            for ext in entry.extents:
                out += _uint(ext.index, self.index_size)
                out += _uint(ext.offset, self.offset_size)
                out += _uint(ext.length, self.length_size)
        return bytes(out)

    def fit(self) -> None:
        """Widen the field sizes to hold every value (4 or 8 bytes)."""
        offsets = [x.offset for e in self.entries for x in e.extents]
        lengths = [x.length for e in self.entries for x in e.extents]
        self.offset_size = _width(self.offset_size, offsets)
        self.length_size = _width(self.length_size, lengths)
        self.base_size = _width(self.base_size, [e.base for e in self.entries])


class _Reader:
    """Big-endian fields read in sequence from a box payload."""

    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos

    def uint(self, size: int) -> int:
        if size == 0:
            return 0
        end = self.pos + size
        if end > len(self.data):
            raise IndexError("field runs past the end of the box")
        value = int.from_bytes(self.data[self.pos : end], "big")
        self.pos = end
        return value


def _uint(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big") if size else b""


def _width(size: int, values: list[int]) -> int:
    top = max(values, default=0)
    if top >= 1 << 32:
        return 8
    if top and size == 0:
        return 4
    return size


# --- the meta box ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ref:
    """One ``iref`` entry: ``kind`` from one item to others."""

    kind: bytes
    from_id: int
    to_ids: tuple[int, ...]


@dataclass(slots=True)
class _Layout:
    """The top-level boxes and the parts of ``meta`` a label write changes."""

    boxes: list[isobmff.Box]
    meta: isobmff.Box
    children: list[isobmff.Box]
    items: dict[int, isobmff.Item]
    iinf_version: int
    iloc: _Iloc
    refs: list[_Ref]
    iref_version: int
    primary: int | None
    idat: isobmff.Box | None = None
    iprp: isobmff.Box | None = None
    infe_count: int = 0

    @classmethod
    def read(cls, src: Source) -> _Layout:
        """Parse the box layout and the item tables of ``meta``.

        Raises:
            CorruptMedia: a box or table is malformed.
            UnsupportedFormat: there is no ``meta`` with ``iinf`` and ``iloc``.
        """
        boxes = list(isobmff.iter_boxes(src, 0, src.size))
        meta = next((b for b in boxes if b.type == b"meta"), None)
        if meta is None:
            raise UnsupportedFormat(f"{_REASON}: no meta box", path=src.path)
        children = list(isobmff.iter_boxes(src, meta.data_offset + 4, meta.end))
        by_type = {c.type: c for c in children}
        if b"iinf" not in by_type or b"iloc" not in by_type:
            msg = f"{_REASON}: the meta box has no iinf or iloc"
            raise UnsupportedFormat(msg, path=src.path)
        iinf = by_type[b"iinf"]
        iinf_data = _payload(src, iinf)
        iinf_version = iinf_data[0]
        first = iinf.data_offset + (6 if iinf_version == 0 else 8)
        infes = [
            b for b in isobmff.iter_boxes(src, first, iinf.end) if b.type == b"infe"
        ]
        declared = u16be(iinf_data, 4) if iinf_version == 0 else u32be(iinf_data, 4)
        if declared != len(infes):
            msg = f"HEIF iinf declares {declared} items but holds {len(infes)}"
            raise src.corrupt(msg)
        items: dict[int, isobmff.Item] = {}
        for box in infes:
            item = isobmff.parse_infe(_payload(src, box))
            if item.item_id in items:
                raise src.corrupt(f"HEIF item {item.item_id} is declared twice")
            items[item.item_id] = item
        iref_version, refs = 0, list[_Ref]()
        if b"iref" in by_type:
            iref_version, refs = _parse_iref(_payload(src, by_type[b"iref"]))
        primary = None
        if b"pitm" in by_type:
            pitm = _payload(src, by_type[b"pitm"])
            primary = u16be(pitm, 4) if pitm[0] == 0 else u32be(pitm, 4)
        iloc = _Iloc.parse(_payload(src, by_type[b"iloc"]))
        located = [e.item_id for e in iloc.entries]
        if len(set(located)) != len(located):
            raise src.corrupt("HEIF iloc locates an item twice")
        return cls(
            boxes=boxes,
            meta=meta,
            children=children,
            items=items,
            iinf_version=iinf_version,
            iloc=iloc,
            refs=refs,
            iref_version=iref_version,
            primary=primary,
            idat=by_type.get(b"idat"),
            iprp=by_type.get(b"iprp"),
            infe_count=len(infes),
        )

    def xmp_items(self) -> list[int]:
        return sorted(i for i, it in self.items.items() if isobmff.is_xmp_item(it))

    def spans(self, src: Source, entry: _Entry) -> list[tuple[int, int]]:
        """Absolute (offset, length) of each extent of ``entry``'s bytes.

        Raises:
            UnsupportedFormat: the bytes are in another file or built from
                other items, which no label write touches or reads.
            CorruptMedia: an extent lies outside the file or ``idat``.
        """
        if entry.data_ref != 0:
            msg = f"item {entry.item_id} is stored in another file"
            raise UnsupportedFormat(msg, path=src.path)
        if entry.method == 0:
            base, limit = entry.base, src.size
        elif entry.method == 1 and self.idat is not None:
            base, limit = self.idat.data_offset + entry.base, self.idat.end
        else:
            msg = f"item {entry.item_id} uses construction method {entry.method}"
            raise UnsupportedFormat(msg, path=src.path)
        out = []
        for ext in entry.extents:
            start = base + ext.offset
            length = ext.length or limit - start
            if start < 0 or length < 0 or start + length > limit:
                msg = f"HEIF item {entry.item_id} extent runs outside its container"
                raise src.corrupt(msg)
            out.append((start, length))
        return out

    def entry(self, item_id: int) -> _Entry | None:
        return next((e for e in self.iloc.entries if e.item_id == item_id), None)


def _is_metadata(item: isobmff.Item | None) -> bool:
    return item is not None and (isobmff.is_xmp_item(item) or item.item_type == "Exif")


def _payload(src: Source, box: isobmff.Box) -> bytes:
    return src.read_blob(box.data_offset, box.data_size, f"HEIF {box.name} box")


def _parse_iref(data: bytes) -> tuple[int, list[_Ref]]:
    version = data[0]
    size = 2 if version == 0 else 4
    refs: list[_Ref] = []
    pos = 4
    while pos + 8 <= len(data):
        box_size, kind = u32be(data, pos), data[pos + 4 : pos + 8]
        if box_size < 8 or pos + box_size > len(data):
            raise ValueError(f"iref entry at byte {pos} has invalid size {box_size}")
        reader = _Reader(data[: pos + box_size], pos + 8)
        from_id, count = reader.uint(size), reader.uint(2)
        to_ids = tuple(reader.uint(size) for _ in range(count))
        refs.append(_Ref(kind, from_id, to_ids))
        pos += box_size
    return version, refs


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _iref_payload(version: int, refs: list[_Ref]) -> bytes:
    size = 2 if version == 0 else 4
    out = bytearray((version, 0, 0, 0))
    for ref in refs:
        body = _uint(ref.from_id, size) + struct.pack(">H", len(ref.to_ids))
        body += b"".join(_uint(t, size) for t in ref.to_ids)
        out += _box(ref.kind, body)
    return bytes(out)


def _infe(item_id: int) -> bytes:
    """An ``infe`` (version 2, or 3 for a 32-bit id) for an XMP item."""
    if item_id > 0xFFFF:
        version, id_bytes = 3, struct.pack(">I", item_id)
    else:
        version, id_bytes = 2, struct.pack(">H", item_id)
    body = bytes((version, 0, 0, 0)) + id_bytes + b"\x00\x00" + b"mime"
    return _box(b"infe", body + b"XMP\x00" + _XMP_TYPE.encode() + b"\x00")


# --- writing -----------------------------------------------------------------------

_MARGIN: Final = 1 << 20
"""Upper bound on how much ``meta`` may grow; offsets are sized for it."""


@dataclass(slots=True)
class _Plan:
    """What the write changes: new packets and the bytes to blank."""

    packets: dict[int, bytes] = field(default_factory=dict)
    """Item id -> its new packet, appended to the file in id order."""
    patches: dict[int, bytes] = field(default_factory=dict)
    """Source offset -> replacement bytes (blanked packets, EXIF comments)."""
    resized: dict[int, int] = field(default_factory=dict)
    """Item id -> new length, for packets rewritten in place (they fit)."""
    new_item: int | None = None


def _write(src: Source, layout: _Layout, out: BinaryIO, payload: str) -> None:
    # meta is rebuilt in memory, so it is held to the metadata limit.
    src.check_blob_size(layout.meta.size, "HEIF meta box")
    _refuse_unsupported(src, layout)
    plan = _plan(src, layout, payload)
    # Field widths are fixed with the largest values they may have to hold,
    # then the real growth of meta is measured and the offsets placed.
    trial = _located(src, layout, plan, delta=_MARGIN)
    trial.fit()
    widths = (trial.offset_size, trial.length_size, trial.base_size)
    grown = len(_meta_box(src, layout, trial, plan)) - layout.meta.size
    if grown > _MARGIN:
        raise UnsupportedFormat(f"{_REASON}: meta would grow too much", path=src.path)
    iloc = _located(src, layout, plan, delta=grown)
    iloc.offset_size, iloc.length_size, iloc.base_size = widths
    meta = _meta_box(src, layout, iloc, plan)
    _emit(src, layout, meta, plan, out)


def _refuse_unsupported(src: Source, layout: _Layout) -> None:
    """Raise when growing ``meta`` would break offsets this module cannot fix."""
    meta = layout.meta
    if any(b.type == b"moov" for b in layout.boxes) and any(
        b.type == b"mdat" and b.offset > meta.offset for b in layout.boxes
    ):
        msg = f"{_REASON}: image sequence track offsets (moov) point past meta"
        raise UnsupportedFormat(msg, path=src.path)
    for entry in layout.iloc.entries:
        if entry.method != 0 or entry.data_ref != 0:
            continue
        for start, _ in layout.spans(src, entry):
            if meta.offset <= start < meta.end:
                msg = f"{_REASON}: item {entry.item_id} points inside the meta box"
                raise UnsupportedFormat(msg, path=src.path)


def _plan(src: Source, layout: _Layout, payload: str) -> _Plan:
    """New packets for the XMP items (label in the first, out of the others)."""
    plan = _Plan()
    located = [i for i in layout.xmp_items() if layout.entry(i) is not None]
    for rank, item_id in enumerate(located):
        entry = layout.entry(item_id)
        assert entry is not None
        spans = layout.spans(src, entry)
        old = _item_bytes(src, spans, f"HEIF XMP item {item_id}")
        if rank == 0:
            packet = xmp_label.set_label(
                old, payload, path=src.path, max_bytes=src.max_blob
            )
        elif xmp_label.find_labels(old, path=src.path, max_bytes=src.max_blob):
            packet = xmp_label.remove_labels(old, path=src.path, max_bytes=src.max_blob)
        else:
            continue
        fitted = xmp_label.fit_packet(packet, spans[0][1]) if len(spans) == 1 else None
        if fitted is not None:
            start, length = spans[0]  # fits: rewrite in place, blank any rest
            plan.patches[start] = fitted + bytes(length - len(fitted))
            plan.resized[item_id] = len(fitted)
            continue
        plan.packets[item_id] = packet
        for start, length in spans:
            plan.patches[start] = bytes(length)
    if not located:
        plan.new_item = _free_id(layout)
        plan.packets[plan.new_item] = xmp_label.new_packet(payload)
    _exif_patches(src, layout, plan)
    return plan


def _free_id(layout: _Layout) -> int:
    """An unused item id: one past the largest, else the smallest free one."""
    used = {*layout.items, *(e.item_id for e in layout.iloc.entries)}
    top = max(used, default=0) + 1
    if top <= 0xFFFFFFFF:
        return top
    return next(i for i in range(1, len(used) + 2) if i not in used)


def _exif_patches(src: Source, layout: _Layout, plan: _Plan) -> None:
    """Blank EXIF UserComments that hold a label, in place.

    An EXIF item that cannot be parsed is copied as it is: no reader can
    find a label in it either.
    """
    for item_id, item in layout.items.items():
        entry = layout.entry(item_id)
        if item.item_type != "Exif" or entry is None:
            continue
        spans = layout.spans(src, entry)
        data = _item_bytes(src, spans, f"HEIF Exif item {item_id}")
        try:
            comments = _exif_comments(src, data)
        except CorruptMedia:
            continue
        for index, comment in comments:
            if looks_like_label(comment.text):
                blank = neutral_comment(comment.size)
                plan.patches.update(_span_patches(spans, index, blank))


def _located(src: Source, layout: _Layout, plan: _Plan, *, delta: int) -> _Iloc:
    """The new ``iloc``: offsets past meta moved by ``delta``, packets placed.

    The packets go into an ``mdat`` appended after the (grown) file, in item
    id order.
    """
    old = layout.iloc
    iloc = _Iloc(
        old.version, old.offset_size, old.length_size, old.base_size,
        old.index_size, [],
    )  # fmt: skip
    meta_end = layout.meta.end
    for entry in old.entries:
        if entry.item_id in plan.packets:
            continue
        moved = _Entry(
            entry.item_id, entry.method, entry.data_ref, entry.base,
            [_Extent(x.index, x.offset, x.length) for x in entry.extents],
        )  # fmt: skip
        if entry.method == 0 and entry.data_ref == 0:
            _shift(src, moved, meta_end, delta)
        if entry.item_id in plan.resized:
            moved.extents[0].length = plan.resized[entry.item_id]
        iloc.entries.append(moved)
    at = src.size + delta + 8
    for item_id in sorted(plan.packets):
        packet = plan.packets[item_id]
        if iloc.offset_size == 0 and iloc.base_size:
            placed = _Entry(item_id, 0, 0, at, [_Extent(0, 0, len(packet))])
        else:
            placed = _Entry(item_id, 0, 0, 0, [_Extent(0, at, len(packet))])
        iloc.entries.append(placed)
        at += len(packet)
    too_many = len(iloc.entries) > 0xFFFF
    if too_many or max((e.item_id for e in iloc.entries), default=0) > 0xFFFF:
        iloc.version = 2  # 32-bit item ids and counts
    return iloc


def _shift(src: Source, entry: _Entry, meta_end: int, delta: int) -> None:
    """Move file offsets at or past the end of meta by ``delta``.

    An extent running to the end of the file gets its explicit length, so
    that it does not swallow the appended ``mdat``.
    """
    for ext in entry.extents:
        if ext.length == 0:
            ext.length = src.size - (entry.base + ext.offset)
    if entry.base >= meta_end:
        entry.base += delta
        return
    for ext in entry.extents:
        if entry.base + ext.offset >= meta_end:
            ext.offset += delta


def _meta_box(src: Source, layout: _Layout, iloc: _Iloc, plan: _Plan) -> bytes:
    """The rewritten ``meta`` box: new iinf, iloc and iref, the rest copied."""
    body = io.BytesIO()
    body.write(src.read(layout.meta.data_offset, 4, "HEIF meta version"))
    wrote_iref = False
    for child in layout.children:
        if child.type == b"iinf":
            body.write(_iinf_box(src, layout, child, plan))
            if plan.new_item is not None and not any(
                c.type == b"iref" for c in layout.children
            ):
                body.write(_iref_box(layout, plan))
                wrote_iref = True
        elif child.type == b"iloc":
            body.write(_box(b"iloc", iloc.payload()))
        elif child.type == b"iref" and not wrote_iref:
            body.write(_iref_box(layout, plan))
        else:
            copy_span(src, body, child.offset, child.size, patches=plan.patches)
    return _box(b"meta", body.getvalue())


def _iinf_box(src: Source, layout: _Layout, iinf: isobmff.Box, plan: _Plan) -> bytes:
    head = 6 if layout.iinf_version == 0 else 8
    entries = src.read(iinf.data_offset + head, iinf.data_size - head, "HEIF iinf")
    count = layout.infe_count
    if plan.new_item is not None:
        entries += _infe(plan.new_item)
        count += 1
    version = layout.iinf_version if count <= 0xFFFF else 1
    counter = struct.pack(">H", count) if version == 0 else struct.pack(">I", count)
    return _box(b"iinf", bytes((version, 0, 0, 0)) + counter + entries)


def _iref_box(layout: _Layout, plan: _Plan) -> bytes:
    refs = list(layout.refs)
    if plan.new_item is not None and layout.primary is not None:
        refs.append(_Ref(b"cdsc", plan.new_item, (layout.primary,)))
    ids = [i for r in refs for i in (r.from_id, *r.to_ids)]
    version = 1 if layout.iref_version == 1 or max(ids, default=0) > 0xFFFF else 0
    return _box(b"iref", _iref_payload(version, refs))


def _emit(
    src: Source, layout: _Layout, meta: bytes, plan: _Plan, out: BinaryIO
) -> None:
    """Write the boxes, the grown meta in its place, then the packets' mdat."""
    for box in layout.boxes:
        if box is layout.meta:
            out.write(meta)
            continue
        start = box.offset
        if u32be(src.read(box.offset, 4, "ISO BMFF box size")) == 0:
            if box.size > 0xFFFFFFFF:
                msg = f"{_REASON}: a box sized to the end of the file is over 4 GiB"
                raise UnsupportedFormat(msg, path=src.path)
            out.write(struct.pack(">I", box.size))  # "to the end" made explicit
            start += 4
        copy_span(
            src, out, start, box.end - start, patches=plan.patches, what="HEIF box"
        )
    end = layout.boxes[-1].end if layout.boxes else 0
    copy_span(src, out, end, src.size - end, what="HEIF trailing data")
    if plan.packets:
        data = b"".join(plan.packets[i] for i in sorted(plan.packets))
        out.write(_box(b"mdat", data))


# --- content digest ------------------------------------------------------------------


def _content_parts(src: Source, layout: _Layout) -> Iterator[bytes]:
    yield b"pitm" + _uint(layout.primary or 0, 4)
    excluded = {i for i, item in layout.items.items() if _is_metadata(item)}
    ids = sorted({*layout.items, *(e.item_id for e in layout.iloc.entries)})
    for item_id in ids:
        if item_id in excluded:
            continue
        item = layout.items.get(item_id)
        kind = item.item_type.encode("latin-1") if item else b""
        yield b"item" + _uint(item_id, 4) + kind
        entry = layout.entry(item_id)
        if entry is None:
            continue
        if entry.data_ref == 0 and entry.method in (0, 1):
            for start, length in layout.spans(src, entry):
                yield from iter_span(src, start, length, "HEIF item")
        else:
            yield struct.pack(">HH", entry.method, entry.data_ref) + b"".join(
                struct.pack(">QQQ", x.index, x.offset, x.length) for x in entry.extents
            )
    if layout.iprp is not None:
        yield from iter_span(src, layout.iprp.offset, layout.iprp.size, "HEIF iprp box")
    for ref in layout.refs:
        if ref.from_id not in excluded:
            yield ref.kind + b"".join(_uint(i, 4) for i in (ref.from_id, *ref.to_ids))


def _mdat_parts(src: Source, boxes: list[isobmff.Box]) -> Iterator[bytes]:
    for box in boxes:
        if box.type == b"mdat":
            yield from iter_span(
                src, box.data_offset, box.data_size, "ISO BMFF mdat box"
            )
