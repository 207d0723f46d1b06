"""MP4, MOV and M4A carrier: the ``mdta`` key ``AIGC`` in ``moov/udta/meta``.

The label is stored the way ``ffmpeg -movflags use_metadata_tags -metadata
AIGC=...`` stores it: a ``meta`` box whose ``hdlr`` is ``mdta``, a ``keys``
box naming ``AIGC`` and an ``ilst`` item (numbered by the 1-based key index)
holding a UTF-8 ``data`` atom with the JSON. Reading also accepts the forms
other tools produce: an iTunes ``----`` freeform item or a plain ``AIGC``
item in any ``meta``, and a ``moov/udta/AIGC`` text atom.

Why box editing rather than a remux: a remux rewrites every sample table and
may reorder or re-chunk samples; editing only ``moov`` keeps every byte of
media data where it was. Growing ``moov`` shifts whatever follows it, so

* a ``free``/``skip`` box right after ``moov`` absorbs the change when it can
  (nothing moves; files written for progressive download usually have one);
* otherwise every ``stco``/``co64`` chunk offset past ``moov`` is moved by
  the size change, and in fragmented files so are explicit ``tfhd`` base data
  offsets and ``mfra/tfra`` fragment offsets. ``moov`` after ``mdat`` moves no
  media at all.

Only movie-level metadata is labelled; track-level ``udta`` is left alone.
Output is described as pieces (:mod:`._splice`), so media data is copied in
blocks and never held in memory.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Final

from deepguard.config import Limits
from deepguard.errors import CorruptMedia, UnsupportedFormat
from deepguard.labels.fields import RawLabel
from deepguard.labels.implicit._digest import av_packet_digest
from deepguard.labels.implicit._splice import Keep, Piece, piece_size, splice_file
from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.media.containers._binary import (
    Source,
    translate_errors,
    u16be,
    u32be,
)
from deepguard.media.containers.isobmff import Box, iter_boxes, parse_key_entries
from deepguard.media.probe import MediaKind

__all__ = ["Mp4Carrier"]

_KEY: Final = "AIGC"
_U32_MAX: Final = 0xFFFFFFFF
_U64_MAX: Final = 0xFFFFFFFFFFFFFFFF
_FREE_TYPES: Final = frozenset({b"free", b"skip"})
_SAMPLE_TABLE_PATH: Final = (b"trak", b"mdia", b"minf", b"stbl")
_MDTA_HDLR: Final = (
    struct.pack(">I4s", 33, b"hdlr") + bytes(8) + b"mdta" + bytes(12) + b"\x00"
)
"""The ``hdlr`` ffmpeg writes for QuickTime metadata: type ``mdta``, no name."""


# --- box helpers ----------------------------------------------------------------------


def _box(btype: bytes, body: Sequence[Piece], prefix: bytes = b"") -> list[Piece]:
    """A box around ``body``; ``prefix`` is a full box's version and flags."""
    size = 8 + len(prefix) + piece_size(body)
    if size > _U32_MAX:
        header = struct.pack(">I4sQ", 1, btype, size + 8)
    else:
        header = struct.pack(">I4s", size, btype)
    return [header + prefix, *body]


def _u32(data: bytes | bytearray, at: int) -> int:
    return int(struct.unpack_from(">I", data, at)[0])


def _keep(box: Box) -> Keep:
    return Keep(box.offset, box.size)


def _children(src: Source, box: Box, start: int | None = None) -> list[Box]:
    begin = box.data_offset if start is None else start
    return list(iter_boxes(src, begin, box.end, (*box.path, box.type)))


def _is_key(name: str) -> bool:
    return name.casefold() == _KEY.casefold()


def _meta_children_start(src: Source, meta: Box) -> int:
    """ISO ``meta`` is a full box (4 bytes version/flags); QuickTime's is not."""
    peek = src.read_upto(meta.data_offset, 8)
    if len(peek) == 8 and peek[4:8] in (b"hdlr", b"keys", b"ilst") and u32be(peek):
        return meta.data_offset
    return meta.data_offset + 4


@dataclass(slots=True)
class _Meta:
    """A ``meta`` box's handler, ``keys`` entries and ``ilst`` items."""

    box: Box
    start: int
    children: list[Box]
    handler: bytes = b""
    keys: list[tuple[bytes, str]] = field(default_factory=list)
    """(namespace, name) per 1-based key index."""
    has_keys: bool = False
    items: list[tuple[Box, list[Box], str]] = field(default_factory=list)
    """Every ``ilst`` item with its child boxes and the key it stands for."""

    def key_of(self, item: Box, parts: Sequence[Box], src: Source) -> str:
        """The name an item stands for: freeform name, key, or atom type."""
        if item.type == b"----":
            for part in parts:
                if part.type == b"name" and part.data_size >= 4:
                    raw = src.read_blob(
                        part.data_offset + 4, part.data_size - 4, "ilst name atom"
                    )
                    return raw.decode("utf-8", "replace")
            return "----"
        index = u32be(item.type)
        if self.has_keys and 1 <= index <= len(self.keys):
            return self.keys[index - 1][1]
        return item.type.decode("latin-1")


def _parse_keys(data: bytes) -> list[tuple[bytes, str]]:
    """(namespace, name) entries of a ``keys`` payload.

    The container walker's table, with the namespace kept and names decoded
    as UTF-8 with replacement characters.

    Raises:
        ValueError, struct.error: a count or an entry size does not fit.
    """
    return [
        (namespace, name.decode("utf-8", "replace"))
        for namespace, name in parse_key_entries(data)
    ]


def _parse_meta(src: Source, meta: Box) -> _Meta:
    """Read a ``meta`` box's structure (not its values).

    Raises:
        CorruptMedia: a child box or the ``keys`` table is malformed.
        MediaLimitExceeded: the ``keys`` box is over ``max_metadata_bytes``.
    """
    start = _meta_children_start(src, meta)
    parsed = _Meta(meta, start, _children(src, meta, start))
    ilst: Box | None = None
    for child in parsed.children:
        if child.type == b"hdlr" and child.data_size >= 12 and not parsed.handler:
            parsed.handler = src.read(child.data_offset + 8, 4, "meta hdlr box")
        elif child.type == b"keys" and not parsed.has_keys:
            data = src.read_blob(child.data_offset, child.data_size, "meta keys box")
            with translate_errors(src.path, f"keys box at offset {child.offset}"):
                parsed.keys = _parse_keys(data)
            parsed.has_keys = True
        elif child.type == b"ilst" and ilst is None:
            ilst = child
    if ilst is not None:
        for item in _children(src, ilst):
            parts = _children(src, item)
            parsed.items.append((item, parts, parsed.key_of(item, parts, src)))
    return parsed


# --- reading --------------------------------------------------------------------------


def _top_level(src: Source) -> tuple[list[Box], str | None]:
    """Top-level boxes up to the first damaged one, and that damage."""
    boxes: list[Box] = []
    try:
        boxes.extend(iter_boxes(src, 0, src.size))
    except CorruptMedia as exc:
        return boxes, exc.msg
    return boxes, None


def _data_value(src: Source, data: Box) -> str | bytes | None:
    """The value of a ``data`` atom: UTF-16 types decoded, others as bytes."""
    if data.data_size < 8:
        return None
    kind = u32be(src.read(data.data_offset, 4, "ilst data atom")) & 0xFFFFFF
    body = src.read_blob(data.data_offset + 8, data.data_size - 8, "ilst data atom")
    if kind in (2, 5):
        try:
            return body.decode("utf-16-be")
        except UnicodeDecodeError:
            return body
    return body


def _udta_text(data: bytes) -> bytes:
    """A udta text atom's text: a ``data`` atom, a QuickTime string, or raw."""
    if len(data) >= 16 and data[4:8] == b"data":
        return data[16 : max(16, u32be(data))]
    if len(data) >= 4 and 0 < u16be(data) <= len(data) - 4:
        return data[4 : 4 + u16be(data)]
    return data


def _read_meta(src: Source, box: Box, where: str, out: CarrierRead) -> None:
    meta = _parse_meta(src, box)
    for item, parts, key in meta.items:
        if not _is_key(key):
            continue
        if item.type == b"----":
            location = f"{where}/ilst ----:{key}"
        elif meta.has_keys and 1 <= u32be(item.type) <= len(meta.keys):
            location = f"{where} keys {key}"
        else:
            location = f"{where}/ilst {key}"
        for part in parts:
            if part.type != b"data":
                continue
            value = _data_value(src, part)
            if value is not None:
                out.copies.append(RawLabel("mp4", location, value, part.offset))


def _read_udta(src: Source, udta: Box, out: CarrierRead) -> None:
    for child in _children(src, udta):
        if child.type == b"meta":
            _read_meta(src, child, "moov/udta/meta", out)
        elif _is_key(child.type.decode("latin-1")):
            data = src.read_blob(child.data_offset, child.data_size, "udta AIGC atom")
            location = f"moov/udta/{child.name}"
            out.copies.append(RawLabel("mp4", location, _udta_text(data), child.offset))


def _read_moov(src: Source, moov: Box, out: CarrierRead) -> None:
    for child in _children(src, moov):
        try:
            if child.type == b"udta":
                _read_udta(src, child, out)
            elif child.type == b"meta":
                _read_meta(src, child, "moov/meta", out)
        except CorruptMedia as exc:
            out.errors.append(exc.msg)


# --- writing: metadata boxes ----------------------------------------------------------


def _keys_box(keys: Sequence[tuple[bytes, str]]) -> bytes:
    body = bytearray(bytes(4) + struct.pack(">I", len(keys)))
    for namespace, name in keys:
        raw = name.encode("utf-8")
        body += struct.pack(">I", 8 + len(raw)) + namespace + raw
    return struct.pack(">I4s", 8 + len(body), b"keys") + bytes(body)


def _label_item(index: int, payload: bytes) -> list[Piece]:
    data = _box(b"data", [struct.pack(">II", 1, 0) + payload])
    return _box(struct.pack(">I", index), data)


def _meta_pieces(src: Source, meta: _Meta, payload: bytes | None) -> list[Piece]:
    """``meta`` without any AIGC item; with ``payload`` under a new last key.

    ``payload`` is only given for a keyed (``mdta``) meta. Items of removed
    keys go too, and the remaining items are renumbered to match ``keys``.
    """
    box = meta.box
    renumber: dict[int, int] = {}
    kept_keys: list[tuple[bytes, str]] = []
    for old, (namespace, name) in enumerate(meta.keys, start=1):
        if not _is_key(name):
            kept_keys.append((namespace, name))
            renumber[old] = len(kept_keys)
    if payload is not None:
        kept_keys.append((b"mdta", _KEY))
    label = _label_item(len(kept_keys), payload) if payload is not None else []
    body: list[Piece] = []
    wrote_ilst = False
    for child in meta.children:
        if child.type == b"keys" and meta.has_keys:
            body.append(_keys_box(kept_keys))
        elif child.type == b"ilst" and not wrote_ilst:
            body += _box(b"ilst", [*_ilst_items(meta, renumber), *label])
            wrote_ilst = True
        else:
            body.append(_keep(child))
    if label and not wrote_ilst:
        body += _box(b"ilst", label)
    prefix = src.read(box.data_offset, meta.start - box.data_offset, "meta box")
    return _box(b"meta", body, prefix)


def _ilst_items(meta: _Meta, renumber: dict[int, int]) -> list[Piece]:
    items: list[Piece] = []
    for item, _, key in meta.items:
        index = u32be(item.type)
        keyed = meta.has_keys and 1 <= index <= len(meta.keys)
        if _is_key(key):
            continue
        if keyed and renumber[index] != index:
            new_type = struct.pack(">I", renumber[index])
            items += _box(new_type, [Keep(item.data_offset, item.data_size)])
        else:
            items.append(_keep(item))
    return items


def _new_meta(payload: bytes) -> list[Piece]:
    keys = _keys_box([(b"mdta", _KEY)])
    ilst = _box(b"ilst", _label_item(1, payload))
    return _box(b"meta", [_MDTA_HDLR, keys, *ilst], prefix=bytes(4))


def _udta_pieces(src: Source, udta: Box | None, payload: bytes | None) -> list[Piece]:
    """``udta`` cleaned of AIGC copies; the label goes in its first mdta meta."""
    body: list[Piece] = []
    pending = payload
    for child in _children(src, udta) if udta is not None else []:
        if child.type == b"meta":
            meta = _parse_meta(src, child)
            target = pending is not None and meta.handler == b"mdta" and meta.has_keys
            body += _meta_pieces(src, meta, pending if target else None)
            if target:
                pending = None
        elif not _is_key(child.type.decode("latin-1")):
            body.append(_keep(child))
    if pending is not None:
        body += _new_meta(pending)
    return _box(b"udta", body)


# --- writing: chunk offsets -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Shift:
    """Bytes at or after ``start`` (the old end of moov) move by ``delta``.

    ``hole`` is where moov began: an offset between ``hole`` and ``start``
    points into the box being rebuilt, which no sound file does.
    """

    hole: int
    start: int
    delta: int

    def __call__(self, offset: int) -> int:
        if offset >= self.start:
            return offset + self.delta
        if offset >= self.hole and self.delta:
            msg = f"offset {offset} points inside the moov box"
            raise ValueError(msg)
        return offset


def _chunk_offsets(src: Source, box: Box, shift: _Shift) -> list[Piece]:
    """A ``stco``/``co64`` box with its offsets moved by ``shift``.

    Raises:
        CorruptMedia: the entry count does not fit the box.
        CorruptMedia: an offset points into moov itself.
        UnsupportedFormat: a 32-bit offset would pass 4 GiB.
    """
    data = src.read_blob(box.data_offset, box.data_size, f"{box.name} box")
    wide = box.type == b"co64"
    width = 8 if wide else 4
    count = u32be(data, 4) if len(data) >= 8 else -1
    if count < 0 or 8 + count * width > len(data):
        msg = f"{box.name} box at offset {box.offset} claims more entries than it holds"
        raise src.corrupt(msg)
    fmt = f">{count}{'Q' if wide else 'I'}"
    offsets = struct.unpack_from(fmt, data, 8)
    moved = []
    where = f"{box.name} box at offset {box.offset}"
    for offset in offsets:
        with translate_errors(src.path, where):
            new = shift(offset)
        if new > (_U64_MAX if wide else _U32_MAX):
            msg = (
                "a chunk offset would overflow after the label grows the movie"
                " header; remux with 64-bit offsets (co64) first"
            )
            raise UnsupportedFormat(msg, path=src.path)
        moved.append(new)
    new_data = bytearray(data)
    struct.pack_into(fmt, new_data, 8, *moved)
    return [src.read(box.offset, box.header_size, "box header"), bytes(new_data)]


def _patched_trak(src: Source, box: Box, shift: _Shift, depth: int = 0) -> list[Piece]:
    """``box`` (a trak or a box on the path to ``stbl``) with offsets moved."""
    if box.type in (b"stco", b"co64"):
        return _chunk_offsets(src, box, shift)
    if box.type == b"saio":
        msg = (
            "encrypted samples (saio offsets) cannot be moved; the label would"
            " need the movie header to change size"
        )
        raise UnsupportedFormat(msg, path=src.path)
    if depth >= len(_SAMPLE_TABLE_PATH) or box.type != _SAMPLE_TABLE_PATH[depth]:
        return [_keep(box)]
    body: list[Piece] = []
    for child in _children(src, box):
        body += _patched_trak(src, child, shift, depth + 1)
    return [src.read(box.offset, box.header_size, "box header"), *body]


def _moov_pieces(src: Source, moov: Box, payload: bytes, shift: _Shift) -> list[Piece]:
    body: list[Piece] = []
    labelled = False
    for child in _children(src, moov):
        if child.type == b"udta":
            body += _udta_pieces(src, child, None if labelled else payload)
            labelled = True
        elif child.type == b"meta":
            body += _meta_pieces(src, _parse_meta(src, child), None)
        elif child.type == b"trak" and shift.delta:
            body += _patched_trak(src, child, shift)
        else:
            body.append(_keep(child))
    if not labelled:
        body += _udta_pieces(src, None, payload)
    return _box(b"moov", body)


# --- writing: fragments ---------------------------------------------------------------


def _patched_moof(src: Source, moof: Box, shift: _Shift) -> bytes:
    """A ``moof`` whose explicit ``tfhd`` base data offsets are moved."""
    data = bytearray(src.read_blob(moof.offset, moof.size, "moof box"))
    view = Source.from_bytes(bytes(data), path=src.path, base=moof.offset)
    trafs = iter_boxes(view, moof.header_size, moof.size, (b"moof",))
    with translate_errors(src.path, f"tfhd box in moof at offset {moof.offset}"):
        for traf in (box for box in trafs if box.type == b"traf"):
            path = (b"moof", b"traf")
            for tfhd in iter_boxes(view, traf.data_offset, traf.end, path):
                if tfhd.type != b"tfhd" or tfhd.data_size < 16:
                    continue
                flags = _u32(data, tfhd.data_offset) & 0xFFFFFF
                if flags & 0x1:  # base-data-offset-present
                    at = tfhd.data_offset + 8
                    (base,) = struct.unpack_from(">Q", data, at)
                    struct.pack_into(">Q", data, at, shift(base) & _U64_MAX)
    return bytes(data)


def _patched_mfra(src: Source, mfra: Box, shift: _Shift) -> bytes:
    """An ``mfra`` whose ``tfra`` entries point at the moved fragments."""
    data = bytearray(src.read_blob(mfra.offset, mfra.size, "mfra box"))
    view = Source.from_bytes(bytes(data), path=src.path, base=mfra.offset)
    with translate_errors(src.path, f"tfra box in mfra at offset {mfra.offset}"):
        for tfra in iter_boxes(view, mfra.header_size, mfra.size, (b"mfra",)):
            if tfra.type == b"tfra":
                _patch_tfra(data, tfra, shift)
    return bytes(data)


def _patch_tfra(data: bytearray, tfra: Box, shift: _Shift) -> None:
    """Move every moof offset of one ``tfra`` (ISO 14496-12 8.8.10)."""
    pos = tfra.data_offset
    version = data[pos]
    sizes = _u32(data, pos + 8)
    count = _u32(data, pos + 12)
    time_size = 8 if version == 1 else 4
    tail = sum(((sizes >> s) & 0x3) + 1 for s in (4, 2, 0))
    entry = 2 * time_size + tail
    pos += 16
    if count * entry > tfra.end - pos:
        msg = f"tfra claims {count} entries past the end of the box"
        raise ValueError(msg)
    fmt = ">Q" if version == 1 else ">I"
    for _ in range(count):
        at = pos + time_size
        (offset,) = struct.unpack_from(fmt, data, at)
        moved = shift(offset)
        if moved > (_U64_MAX if version == 1 else _U32_MAX):
            msg = "a fragment offset would overflow"
            raise ValueError(msg)
        struct.pack_into(fmt, data, at, moved)
        pos += entry


# --- writing: the whole file ----------------------------------------------------------


def _plan(src: Source, payload: bytes) -> list[Piece]:
    """The pieces of the labelled file.

    Raises:
        CorruptMedia: the box structure is broken or has no single moov.
        UnsupportedFormat: offsets that cannot be moved would have to move.
    """
    top = list(iter_boxes(src, 0, src.size))
    moovs = [i for i, box in enumerate(top) if box.type == b"moov"]
    if len(moovs) != 1:
        what = "no moov box" if not moovs else f"{len(moovs)} moov boxes"
        raise src.corrupt(f"{what}: cannot place a movie-level label")
    at = moovs[0]
    moov = top[at]
    unmoved = _Shift(moov.offset, moov.end, 0)
    delta = piece_size(_moov_pieces(src, moov, payload, unmoved)) - moov.size
    after = top[at + 1 :]
    filler, after, delta = _absorb(after, delta)
    shift = _Shift(moov.offset, moov.end, delta)
    if delta and any(box.type == b"sidx" for box in top[:at]):
        msg = "a segment index (sidx) before moov cannot follow the moved fragments"
        raise UnsupportedFormat(msg, path=src.path)
    pieces: list[Piece] = [_keep(box) for box in top[:at]]
    pieces += _moov_pieces(src, moov, payload, shift)
    pieces += filler
    for box in after:
        if delta and box.type == b"moof":
            pieces.append(_patched_moof(src, box, shift))
        elif delta and box.type == b"mfra":
            pieces.append(_patched_mfra(src, box, shift))
        else:
            pieces.append(_keep(box))
    return pieces


def _absorb(after: list[Box], delta: int) -> tuple[list[Piece], list[Box], int]:
    """Let a ``free`` box after moov take up ``delta`` so nothing moves.

    Returns the replacement free box pieces, the boxes still to copy, and the
    shift left for them (0 when absorbed).
    """
    if delta == 0:
        return [], after, 0
    nxt = after[0] if after else None
    if nxt is not None and nxt.type in _FREE_TYPES and nxt.header_size == 8:
        size = nxt.size - delta
        if size >= 8:
            body: list[Piece] = [Keep(nxt.data_offset, min(nxt.data_size, size - 8))]
            body.append(bytes(max(0, size - 8 - nxt.data_size)))
            return _box(nxt.type, body), after[1:], 0
    if delta <= -8:
        return _box(b"free", [bytes(-delta - 8)]), after, 0
    return [], after, delta


class Mp4Carrier(Carrier):
    """ISO BMFF movies and audio: MP4, MOV, M4A (HEIF images have their own)."""

    name: ClassVar[str] = "mp4"
    containers: ClassVar[frozenset[str]] = frozenset({"isobmff"})
    kinds: ClassVar[frozenset[MediaKind] | None] = frozenset(
        {MediaKind.VIDEO, MediaKind.AUDIO}
    )

    def read(self, path: Path, limits: Limits) -> CarrierRead:
        found = CarrierRead()
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            top, error = _top_level(src)
            moovs = [box for box in top if box.type == b"moov"]
            if not moovs:
                raise src.corrupt(error or "no moov box: not a complete movie")
            for moov in moovs:
                try:
                    _read_moov(src, moov, found)
                except CorruptMedia as exc:
                    found.errors.append(exc.msg)
            if error:
                found.errors.append(error)
        return found

    def write(self, src: Path, dst: Path, payload: str, limits: Limits) -> None:
        splice_file(src, dst, payload, limits, _plan)

    def content_digest(self, path: Path, limits: Limits) -> str:
        return av_packet_digest(path, limits)
