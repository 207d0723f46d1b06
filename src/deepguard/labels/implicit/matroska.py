"""Matroska and WebM carrier: a global ``SimpleTag`` named ``AIGC``.

The label is ``Segment/Tags/Tag/SimpleTag`` with ``TagName`` ``AIGC`` and the
JSON as ``TagString``, in a ``Tag`` whose ``Targets`` is empty (a file-level
tag). That is what ``ffmpeg -metadata AIGC=...`` writes, and what ffprobe
reports as the format tag ``AIGC``. Reading walks every level-1 element of
every segment (clusters are skipped by size), so a ``Tags`` element anywhere
counts, including ``SimpleTag`` copies nested in other simple tags or aimed
at a track.

Why EBML editing rather than a remux: a stream-copy remux through FFmpeg
rebuilds clusters, drops attachments and may re-lace blocks; editing keeps
every cluster byte in place. Matroska positions (``SeekHead``, ``Cues``) are
relative to the segment's data, so the writer never moves a cluster:

* the old ``Tags`` elements are overwritten by ``Void`` elements of the same
  size (after their AIGC simple tags are taken out, their other tags move to
  the new ``Tags``);
* the new ``Tags`` goes where the first old one was when it fits there
  (with the ``Void`` space after it), else into reserved ``Void`` space, else
  at the end of the segment; the ``SeekHead`` entry is updated in place,
  using the ``Void`` ffmpeg and mkvmerge reserve after it;
* only the segment header changes size when the segment grows, which moves
  nothing the file refers to.

A file whose ``SeekHead`` has no room for the new entry is refused rather
than rewritten wholesale; remuxing it once (``ffmpeg -c copy``) makes room.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Final

from deepguard.config import Limits
from deepguard.errors import CorruptMedia, UnsupportedFormat
from deepguard.labels.fields import RawLabel
from deepguard.labels.implicit._digest import av_packet_digest
from deepguard.labels.implicit._splice import Keep, Piece, piece_size, splice_file
from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.media.containers._binary import Source, translate_errors

__all__ = ["MatroskaCarrier"]

_KEY: Final = "AIGC"
EBML_ID: Final = 0x1A45DFA3
SEGMENT_ID: Final = 0x18538067
SEEKHEAD_ID: Final = 0x114D9B74
CLUSTER_ID: Final = 0x1F43B675
TAGS_ID: Final = 0x1254C367
TAG_ID: Final = 0x7373
TARGETS_ID: Final = 0x63C0
SIMPLETAG_ID: Final = 0x67C8
TAGNAME_ID: Final = 0x45A3
TAGSTRING_ID: Final = 0x4487
TAGBINARY_ID: Final = 0x4485
SEEK_ID: Final = 0x4DBB
SEEKID_ID: Final = 0x53AB
SEEKPOSITION_ID: Final = 0x53AC
VOID_ID: Final = 0xEC
CRC32_ID: Final = 0xBF
_LEVEL1: Final = frozenset(
    {
        SEEKHEAD_ID,
        0x1549A966,  # Info
        0x1654AE6B,  # Tracks
        0x1043A770,  # Chapters
        CLUSTER_ID,
        0x1C53BB6B,  # Cues
        0x1941A469,  # Attachments
        TAGS_ID,
        SEGMENT_ID,
        EBML_ID,
    }
)
"""IDs that end an unknown-size cluster: the next level-1 element begins."""
_TARGET_NAMES: Final = {
    0x63C5: "TrackUID",
    0x63C9: "EditionUID",
    0x63C4: "ChapterUID",
    0x63C6: "AttachmentUID",
}
_MAX_DEPTH: Final = 16
_UNKNOWN: Final = -1


# --- EBML primitives ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Element:
    """One element header: ``size`` is ``_UNKNOWN`` for unknown-size masters."""

    id: int
    offset: int
    header: int
    size: int

    @property
    def data_offset(self) -> int:
        return self.offset + self.header

    @property
    def end(self) -> int:
        return self.data_offset + self.size

    @property
    def total(self) -> int:
        return self.header + self.size


def _vint(data: bytes, pos: int, end: int, *, is_id: bool) -> tuple[int, int]:
    """(value, length) of the EBML variable-size integer at ``pos``.

    IDs keep their length marker bits; sizes lose them, and an all-ones size
    is ``_UNKNOWN``.

    Raises:
        ValueError: the first byte is 0 or the number runs past ``end``.
    """
    if pos >= end:
        msg = "EBML header runs past the end of its parent"
        raise ValueError(msg)
    first = data[pos]
    length = 9 - first.bit_length() if first else 9
    if length > (4 if is_id else 8):
        msg = f"invalid EBML {'ID' if is_id else 'size'} byte 0x{first:02x}"
        raise ValueError(msg)
    if pos + length > end:
        msg = "EBML number runs past the end of its parent"
        raise ValueError(msg)
    raw = int.from_bytes(data[pos : pos + length], "big")
    if is_id:
        return raw, length
    value = raw & ((1 << (7 * length)) - 1)
    return (_UNKNOWN if value == (1 << (7 * length)) - 1 else value), length


def _header_at(data: bytes, pos: int, end: int, base: int = 0) -> _Element:
    """The element header at ``pos`` of ``data`` (which starts at ``base``)."""
    eid, id_len = _vint(data, pos, end, is_id=True)
    size, size_len = _vint(data, pos + id_len, end, is_id=False)
    return _Element(eid, base + pos, id_len + size_len, size)


def _iter_bytes(data: bytes, start: int, end: int, base: int = 0) -> Iterator[_Element]:
    """Children of a master element held in memory (known sizes only).

    Raises:
        ValueError: a header is malformed, of unknown size, or overruns ``end``.
    """
    pos = start
    while pos < end:
        el = _header_at(data, pos, end, base)
        if el.size == _UNKNOWN or pos + el.total > end:
            msg = f"EBML element 0x{el.id:X} at offset {el.offset} overruns its parent"
            raise ValueError(msg)
        yield el
        pos += el.total


def _read_header(src: Source, pos: int, end: int) -> _Element:
    head = src.read_upto(pos, min(12, end - pos))
    with translate_errors(src.path, f"EBML element header at offset {pos}"):
        return _header_at(head, 0, len(head), pos)


def _id_bytes(eid: int) -> bytes:
    return eid.to_bytes((eid.bit_length() + 7) // 8, "big")


def _size_bytes(size: int, width: int | None = None) -> bytes:
    """``size`` as an EBML size of ``width`` bytes (the shortest by default)."""
    if width is None:
        width = 1
        while size >= (1 << (7 * width)) - 1:
            width += 1
    if width > 8 or size >= (1 << (7 * width)) - 1:
        msg = f"size {size} does not fit an EBML size of {width} bytes"
        raise ValueError(msg)
    return ((1 << (7 * width)) | size).to_bytes(width, "big")


def _element(eid: int, body: bytes) -> bytes:
    return _id_bytes(eid) + _size_bytes(len(body)) + body


def _uint(value: int, width: int = 0) -> bytes:
    width = max(width, (value.bit_length() + 7) // 8, 1)
    return value.to_bytes(width, "big")


def _master(eid: int, children: Sequence[bytes], crc: bool) -> bytes:
    """A master element; with ``crc`` it starts with a CRC-32 of its children."""
    body = b"".join(children)
    if crc:
        checksum = zlib.crc32(body).to_bytes(4, "little")
        body = _element(CRC32_ID, checksum) + body
    return _element(eid, body)


def _void(total: int) -> bytes:
    """A ``Void`` element exactly ``total`` (>= 2) bytes long."""
    if total >= 9:
        return bytes([VOID_ID]) + _size_bytes(total - 9, 8) + bytes(total - 9)
    return bytes([VOID_ID]) + _size_bytes(total - 2, 1) + bytes(total - 2)


def _fits(need: int, room: int) -> bool:
    """Whether ``need`` bytes fit ``room`` with nothing or a Void left over."""
    return need == room or need + 2 <= room


# --- the file's layout ----------------------------------------------------------------


@dataclass(slots=True)
class _Segment:
    """A segment: its header, data span and level-1 elements."""

    element: _Element
    end: int
    children: list[_Element] = field(default_factory=list)

    @property
    def data_offset(self) -> int:
        return self.element.data_offset


def _skip_unknown(src: Source, pos: int, end: int) -> int:
    """Where an unknown-size cluster starting its children at ``pos`` ends."""
    while pos < end:
        el = _read_header(src, pos, end)
        if el.id in _LEVEL1:
            return pos
        if el.size == _UNKNOWN or el.end > end:
            msg = f"EBML element 0x{el.id:X} at offset {pos} overruns the segment"
            raise src.corrupt(msg)
        pos = el.end
    return end


def _level1(src: Source, seg: _Segment) -> Iterator[_Element]:
    """The segment's level-1 elements; unknown-size clusters are measured.

    Raises:
        CorruptMedia: an element is malformed or overruns the segment.
    """
    pos = seg.data_offset
    while pos < seg.end:
        if seg.end - pos < 2:
            raise src.corrupt(f"stray byte at offset {pos} in the Matroska segment")
        el = _read_header(src, pos, seg.end)
        if el.size == _UNKNOWN:
            if el.id != CLUSTER_ID:
                msg = f"element 0x{el.id:X} at offset {pos} has an unknown size"
                raise src.corrupt(msg)
            stop = _skip_unknown(src, el.data_offset, seg.end)
            el = _Element(el.id, el.offset, el.header, stop - el.data_offset)
        elif el.end > seg.end:
            msg = (
                f"Matroska element 0x{el.id:X} at offset {pos} claims {el.size}"
                f" bytes but the segment ends at {seg.end}"
            )
            raise src.corrupt(msg)
        yield el
        pos = el.end


def _segments(src: Source, errors: list[str] | None = None) -> Iterator[_Segment]:
    """Every segment after the EBML header (top-level ``Void`` is skipped).

    With ``errors`` (reading), a segment cut short by the end of the file is
    read as far as it goes and the damage recorded; bytes after the last
    segment that are not an element are ignored, as players do.

    Raises:
        CorruptMedia: the file does not start with an EBML header, or a
            top-level element is malformed or (when writing) truncated.
    """
    pos = 0
    seen = False
    while pos + 2 <= src.size:
        try:
            el = _read_header(src, pos, src.size)
        except CorruptMedia:
            if seen:
                return
            raise
        if pos == 0 and el.id != EBML_ID:
            raise src.corrupt("not a Matroska file: missing EBML header")
        if el.size == _UNKNOWN:
            if el.id != SEGMENT_ID:
                raise src.corrupt(f"top-level element at offset {pos} has no size")
            end = src.size
        else:
            end = el.end
        if end > src.size:
            msg = (
                f"Matroska element 0x{el.id:X} at offset {pos} claims {el.size}"
                f" bytes but the file has {src.size - el.data_offset} left"
            )
            if errors is None or el.id != SEGMENT_ID:
                raise src.corrupt(msg)
            errors.append(msg)
            end = src.size
        if el.id == SEGMENT_ID:
            seen = True
            yield _Segment(el, end)
        pos = end


# --- reading --------------------------------------------------------------------------


def _targets(data: bytes, el: _Element, base: int) -> str:
    """`` [TrackUID=..]`` for a targeted Tag, empty for a file-level one."""
    names = []
    for child in _iter_bytes(data, el.data_offset - base, el.end - base, base):
        if child.id in _TARGET_NAMES:
            start = child.data_offset - base
            value = int.from_bytes(data[start : start + child.size], "big")
            names.append(f"{_TARGET_NAMES[child.id]}={value}")
    return f"[{','.join(names)}]" if names else ""


def _simple_tags(
    data: bytes, el: _Element, base: int, where: str, depth: int
) -> Iterator[tuple[str, bytes, int]]:
    """(location, value, offset) for every AIGC simple tag in ``el``."""
    if depth > _MAX_DEPTH:
        msg = f"SimpleTags nested deeper than {_MAX_DEPTH} at offset {el.offset}"
        raise ValueError(msg)
    name: bytes | None = None
    value = b""
    nested: list[_Element] = []
    for child in _iter_bytes(data, el.data_offset - base, el.end - base, base):
        start = child.data_offset - base
        if child.id == TAGNAME_ID:
            name = data[start : start + child.size]
        elif child.id in (TAGSTRING_ID, TAGBINARY_ID) and not value:
            value = data[start : start + child.size]
        elif child.id == SIMPLETAG_ID:
            nested.append(child)
    here = f"{where}/SimpleTag"
    if name is not None and _is_key(name):
        yield f"{here} {_KEY}", value, el.offset
    for child in nested:
        yield from _simple_tags(data, child, base, here, depth + 1)


def _is_key(name: bytes) -> bool:
    return name.rstrip(b"\x00").decode("utf-8", "replace").casefold() == "aigc"


def _read_tags(src: Source, tags: _Element, out: CarrierRead) -> None:
    data = src.read_blob(tags.data_offset, tags.size, "Matroska Tags element")
    base = tags.data_offset
    with translate_errors(src.path, f"Matroska Tags element at offset {tags.offset}"):
        for tag in _iter_bytes(data, 0, len(data), base):
            if tag.id != TAG_ID:
                continue
            children = list(
                _iter_bytes(data, tag.data_offset - base, tag.end - base, base)
            )
            where = "Segment/Tags/Tag"
            for child in children:
                if child.id == TARGETS_ID:
                    where += _targets(data, child, base)
            for child in children:
                if child.id == SIMPLETAG_ID:
                    for location, value, offset in _simple_tags(
                        data, child, base, where, 1
                    ):
                        out.copies.append(RawLabel("matroska", location, value, offset))


# --- writing --------------------------------------------------------------------------


def _clean_simple(data: bytes, el: _Element, base: int, depth: int) -> bytes | None:
    """``el`` without AIGC simple tags (None when it is one itself)."""
    if depth > _MAX_DEPTH:
        msg = f"SimpleTags nested deeper than {_MAX_DEPTH} at offset {el.offset}"
        raise ValueError(msg)
    parts: list[bytes] = []
    changed = False
    crc = False
    for child in _iter_bytes(data, el.data_offset - base, el.end - base, base):
        raw = data[child.offset - base : child.end - base]
        start = child.data_offset - base
        if child.id == TAGNAME_ID and _is_key(data[start : start + child.size]):
            return None
        if child.id == CRC32_ID:
            crc = True
            continue
        if child.id == SIMPLETAG_ID:
            cleaned = _clean_simple(data, child, base, depth + 1)
            changed = changed or cleaned != raw
            if cleaned is not None:
                parts.append(cleaned)
            continue
        parts.append(raw)
    if not changed:
        return data[el.offset - base : el.end - base]
    return _master(SIMPLETAG_ID, parts, crc)


def _clean_tag(data: bytes, el: _Element, base: int) -> bytes | None:
    """``el`` (a Tag) without AIGC simple tags; None when none are left."""
    parts: list[bytes] = []
    simple = 0
    changed = False
    crc = False
    for child in _iter_bytes(data, el.data_offset - base, el.end - base, base):
        raw = data[child.offset - base : child.end - base]
        if child.id == CRC32_ID:
            crc = True
            continue
        if child.id == SIMPLETAG_ID:
            cleaned = _clean_simple(data, child, base, 1)
            changed = changed or cleaned != raw
            if cleaned is None:
                continue
            simple += 1
            parts.append(cleaned)
            continue
        parts.append(raw)
    if simple == 0:
        return None
    if not changed:
        return data[el.offset - base : el.end - base]
    return _master(TAG_ID, parts, crc)


def _kept_tags(src: Source, tags: _Element) -> tuple[list[bytes], bool]:
    """The Tag elements of ``tags`` minus AIGC copies, and whether it had a CRC."""
    data = src.read_blob(tags.data_offset, tags.size, "Matroska Tags element")
    base = tags.data_offset
    kept: list[bytes] = []
    crc = False
    with translate_errors(src.path, f"Matroska Tags element at offset {tags.offset}"):
        for child in _iter_bytes(data, 0, len(data), base):
            if child.id == CRC32_ID:
                crc = True
            elif child.id == TAG_ID:
                cleaned = _clean_tag(data, child, base)
                if cleaned is not None:
                    kept.append(cleaned)
            elif child.id != VOID_ID:
                kept.append(data[child.offset - base : child.end - base])
    return kept, crc


def _label_tag(payload: bytes) -> bytes:
    simple = _element(TAGNAME_ID, _KEY.encode()) + _element(TAGSTRING_ID, payload)
    return _element(TAG_ID, _element(TARGETS_ID, b"") + _element(SIMPLETAG_ID, simple))


@dataclass(slots=True)
class _SeekHead:
    """A SeekHead's entries as (raw Seek element, target ID, position)."""

    element: _Element
    entries: list[tuple[bytes, int, int]]
    crc: bool


def _parse_seekhead(src: Source, el: _Element) -> _SeekHead:
    data = src.read_blob(el.data_offset, el.size, "Matroska SeekHead")
    base = el.data_offset
    entries: list[tuple[bytes, int, int]] = []
    crc = False
    with translate_errors(src.path, f"Matroska SeekHead at offset {el.offset}"):
        for seek in _iter_bytes(data, 0, len(data), base):
            crc = crc or seek.id == CRC32_ID
            if seek.id != SEEK_ID:
                continue
            target, position = 0, -1
            for child in _iter_bytes(data, seek.data_offset - base, seek.end - base):
                # child offsets are relative to data here (base 0)
                start = child.data_offset
                value = int.from_bytes(data[start : start + child.size], "big")
                if child.id == SEEKID_ID:
                    target = value
                elif child.id == SEEKPOSITION_ID:
                    position = value
            raw = data[seek.offset - base : seek.end - base]
            entries.append((raw, target, position))
    return _SeekHead(el, entries, crc)


def _seek_entry(target: int, position: int, width: int) -> bytes:
    body = _element(SEEKID_ID, _id_bytes(target))
    body += _element(SEEKPOSITION_ID, _uint(position, width))
    return _element(SEEK_ID, body)


@dataclass(slots=True)
class _Plan:
    """Replacements (file offset -> bytes of the same span) and an appendix."""

    replace: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    """offset -> (old length, new bytes)."""
    append: bytes = b""

    def put(self, offset: int, length: int, data: bytes) -> None:
        self.replace[offset] = (length, data)


def _runs(children: Sequence[_Element], free: set[int]) -> list[tuple[int, int]]:
    """Maximal spans (start, end) of consecutive elements at ``free`` offsets."""
    runs: list[tuple[int, int]] = []
    for el in children:
        if el.offset not in free:
            continue
        if runs and runs[-1][1] == el.offset:
            runs[-1] = (runs[-1][0], el.end)
        else:
            runs.append((el.offset, el.end))
    return runs


def _plan_segment(src: Source, seg: _Segment, payload: bytes) -> _Plan:
    """Where the new Tags and SeekHead go; raises when there is no room."""
    children = seg.children
    tags = [el for el in children if el.id == TAGS_ID]
    heads = [_parse_seekhead(src, el) for el in children if el.id == SEEKHEAD_ID]
    kept: list[bytes] = []
    crc = any(h.crc for h in heads)
    for el in tags:
        more, had_crc = _kept_tags(src, el)
        kept += more
        crc = crc or had_crc
    new_tags = _master(TAGS_ID, [*kept, _label_tag(payload)], crc)
    size = len(new_tags)
    plan = _Plan()
    for el in tags:
        plan.put(el.offset, el.total, _void(el.total))
    voids = {el.offset for el in children if el.id == VOID_ID}
    free = voids | {el.offset for el in tags}
    head = heads[0] if heads else None
    head_room = _head_room(children, head, voids)
    # 1. where the first old Tags was, with the Void after it
    if tags:
        start = tags[0].offset
        run_end = next(
            end for begin, end in _runs(children, free) if begin <= start < end
        )
        if _fits(size, run_end - start):
            _fill(plan, children, start, run_end, new_tags)
            _update_heads(src, seg, plan, heads, start, size)
            return plan
    if head is None:
        return _plan_without_seekhead(src, seg, plan, free, new_tags)
    # 2. reserved space after the rewritten SeekHead, 3. any free run, 4. the end
    width = len(_uint(seg.end - seg.data_offset + size))
    entries = _head_entries(head)
    head_bytes = _head_bytes(head, entries, width, position=0)
    room_start, room_end = head.element.offset, head.element.offset + head_room
    if _fits(len(head_bytes) + size, room_end - room_start):
        position = room_start + len(head_bytes) - seg.data_offset
        _no_stale_heads(src, heads[1:], position)
        new_head = _head_bytes(head, entries, width, position)
        _fill(plan, children, room_start, room_end, new_head + new_tags)
        return plan
    for begin, end in _runs(children, free):
        if begin < room_end and end > room_start:
            continue  # the SeekHead's own reserve, used above if at all
        if _fits(size, end - begin):
            position = begin - seg.data_offset
            _no_stale_heads(src, heads[1:], position)
            _fill(plan, children, begin, end, new_tags)
            _put_head(src, plan, children, head, entries, width, position)
            return plan
    position = seg.end - seg.data_offset
    _no_stale_heads(src, heads[1:], position)
    plan.append = new_tags
    _put_head(src, plan, children, head, entries, width, position)
    return plan


def _no_stale_heads(src: Source, heads: Sequence[_SeekHead], position: int) -> None:
    """Refuse when a further SeekHead lists Tags somewhere other than ``position``.

    Raises:
        UnsupportedFormat: such an entry exists (only the first is rewritten).
    """
    for head in heads:
        if any(e[1] == TAGS_ID and e[2] != position for e in head.entries):
            msg = "a second Matroska SeekHead points at Tags that are being replaced"
            raise UnsupportedFormat(msg, path=src.path)


def _head_room(
    children: Sequence[_Element], head: _SeekHead | None, voids: set[int]
) -> int:
    """Bytes the first SeekHead and the Void elements right after it span."""
    if head is None:
        return 0
    end = head.element.end
    for el in children:
        if el.offset == end and el.offset in voids:
            end = el.end
    return end - head.element.offset


def _head_entries(head: _SeekHead) -> list[tuple[bytes, int, int]]:
    """The first SeekHead's entries without those for Tags."""
    return [entry for entry in head.entries if entry[1] != TAGS_ID]


def _head_bytes(
    head: _SeekHead,
    entries: Sequence[tuple[bytes, int, int]],
    width: int,
    position: int,
) -> bytes:
    seeks = [raw for raw, _, _ in entries]
    seeks.append(_seek_entry(TAGS_ID, position, width))
    return _master(SEEKHEAD_ID, seeks, head.crc)


def _put_head(
    src: Source,
    plan: _Plan,
    children: Sequence[_Element],
    head: _SeekHead,
    entries: Sequence[tuple[bytes, int, int]],
    width: int,
    position: int,
) -> None:
    """Rewrite the first SeekHead in its own space, pointing Tags at ``position``."""
    new = _head_bytes(head, entries, width, position)
    start = head.element.offset
    room = _head_room(
        children, head, {el.offset for el in children if el.id == VOID_ID}
    )
    if not _fits(len(new), room):
        msg = (
            "the Matroska SeekHead has no room for the new Tags entry; remux the file"
            " once (ffmpeg -c copy) and label the copy"
        )
        raise UnsupportedFormat(msg, path=src.path)
    _fill(plan, children, start, start + room, new)


def _update_heads(
    src: Source,
    seg: _Segment,
    plan: _Plan,
    heads: Sequence[_SeekHead],
    position_abs: int,
    size: int,
) -> None:
    """Keep the SeekHeads right when Tags stayed put: drop entries to voided Tags.

    A SeekHead that never listed Tags is left so: the file was read that way.
    """
    position = position_abs - seg.data_offset
    _no_stale_heads(src, heads[1:], position)
    if heads and any(e[1] == TAGS_ID and e[2] != position for e in heads[0].entries):
        entries = _head_entries(heads[0])
        width = len(_uint(seg.end - seg.data_offset + size))
        _put_head(src, plan, seg.children, heads[0], entries, width, position)


def _plan_without_seekhead(
    src: Source, seg: _Segment, plan: _Plan, free: set[int], new_tags: bytes
) -> _Plan:
    """No SeekHead: readers only find Tags before the first Cluster."""
    first_cluster = next(
        (el.offset for el in seg.children if el.id == CLUSTER_ID), seg.end
    )
    for begin, end in _runs(seg.children, free):
        if end <= first_cluster and _fits(len(new_tags), end - begin):
            _fill(plan, seg.children, begin, end, new_tags)
            return plan
    msg = (
        "the Matroska file has no SeekHead and no free space before its first"
        " Cluster for the Tags; remux it once (ffmpeg -c copy) and label the copy"
    )
    raise UnsupportedFormat(msg, path=src.path)


def _fill(
    plan: _Plan, children: Sequence[_Element], start: int, end: int, data: bytes
) -> None:
    """Replace the elements spanning [start, end) by ``data`` and a Void."""
    for el in children:
        if start <= el.offset < end:
            plan.replace.pop(el.offset, None)
    rest = end - start - len(data)
    plan.put(start, end - start, data + (_void(rest) if rest else b""))


def _pieces(src: Source, seg: _Segment, plan: _Plan) -> list[Piece]:
    """The whole labelled file: header, rebuilt segment header, edited elements."""
    pieces: list[Piece] = [Keep(0, seg.element.offset)]
    grown = seg.end - seg.data_offset + len(plan.append)
    head = src.read(seg.element.offset, seg.element.header, "Segment header")
    if seg.element.size == _UNKNOWN:
        pieces.append(head)
    else:
        id_len = len(_id_bytes(SEGMENT_ID))
        width = seg.element.header - id_len
        if grown >= (1 << (7 * width)) - 1:
            width = 8
        pieces.append(_id_bytes(SEGMENT_ID) + _size_bytes(grown, width))
    pos = seg.data_offset
    for offset in sorted(plan.replace):
        length, data = plan.replace[offset]
        pieces.append(Keep(pos, offset - pos))
        pieces.append(data)
        pos = offset + length
    pieces.append(Keep(pos, seg.end - pos))
    pieces.append(plan.append)
    pieces.append(Keep(seg.end, src.size - seg.end))
    return [p for p in pieces if piece_size([p])]


def _plan(src: Source, payload: bytes) -> list[Piece]:
    """The pieces of the labelled file.

    Raises:
        CorruptMedia: there is no Segment, or the structure is broken.
        UnsupportedFormat: the file has several Segments.
    """
    segments = list(_segments(src))
    if not segments:
        raise src.corrupt("no Matroska Segment after the EBML header")
    if len(segments) > 1:
        msg = f"{len(segments)} Matroska Segments; only one can be labelled"
        raise UnsupportedFormat(msg, path=src.path)
    seg = segments[0]
    seg.children = list(_level1(src, seg))
    return _pieces(src, seg, _plan_segment(src, seg, payload))


class MatroskaCarrier(Carrier):
    """Matroska (MKV, MKA) and WebM."""

    name: ClassVar[str] = "matroska"
    containers: ClassVar[frozenset[str]] = frozenset({"matroska"})

    def read(self, path: Path, limits: Limits) -> CarrierRead:
        found = CarrierRead()
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            segments = 0
            try:
                for seg in _segments(src, found.errors):
                    segments += 1
                    for el in _level1(src, seg):
                        if el.id == TAGS_ID:
                            _read_tags(src, el, found)
            except CorruptMedia as exc:
                if not segments:
                    raise
                found.errors.append(exc.msg)
            if not segments:
                raise src.corrupt("no Matroska Segment after the EBML header")
        return found

    def write(self, src: Path, dst: Path, payload: str, limits: Limits) -> None:
        splice_file(src, dst, payload, limits, _plan)

    def content_digest(self, path: Path, limits: Limits) -> str:
        return av_packet_digest(path, limits)
