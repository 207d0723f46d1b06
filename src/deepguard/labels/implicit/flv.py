"""FLV carrier: the key ``AIGC`` in the ``onMetaData`` script tag's array.

The label is an AMF0 string under ``AIGC`` in the ECMA array (or object)
that follows the name ``onMetaData``; FFmpeg's FLV demuxer reports it as the
format tag ``AIGC``. Reading looks at every ``onMetaData`` tag in the file.

Writing edits tags in place of a remux: the first ``onMetaData`` tag is
rebuilt with the label (its other entries kept byte for byte), other
``onMetaData`` tags lose their AIGC entries, and when there is none a new
one is inserted before the first tag. Each rebuilt tag gets its own
``PreviousTagSize``. A tag that grows moves everything after it, so the file
positions ``onMetaData`` records are moved with it: ``keyframes`` /
``filepositions`` (FFmpeg's and yamdi's seek index), ``lastkeyframelocation``,
and ``filesize`` (grown by the same amount). ``datasize`` and friends, which
only count bytes, are left as they were.

The content digest hashes every audio, video and non-``onMetaData`` script
tag (type, timestamp and data) straight from the FLV structure: FFmpeg may
surface a script tag with a non-zero timestamp as a data packet, and a
packet digest would then change with the label.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Final

from deepguard.config import Limits
from deepguard.errors import CorruptMedia, UnsupportedFormat
from deepguard.labels.fields import RawLabel
from deepguard.labels.implicit._digest import digest_parts
from deepguard.labels.implicit._splice import Keep, Piece, splice_file
from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.media.containers._binary import Source, translate_errors, u16be, u32be

__all__ = ["FlvCarrier"]

_KEY: Final = b"AIGC"
_ON_METADATA: Final = b"onMetaData"
_SCRIPT: Final = 18
_TAG_HEADER: Final = 11
_MAX_TAG: Final = 0xFFFFFF
_MAX_DEPTH: Final = 16
_POSITION_KEYS: Final = frozenset({b"lastkeyframelocation", b"filesize"})
"""Numbers that are file positions (``filesize`` is where the file ends)."""
_NUMBER, _BOOL, _STRING, _OBJECT = 0x00, 0x01, 0x02, 0x03
_NULL, _UNDEFINED, _REFERENCE, _ECMA = 0x05, 0x06, 0x07, 0x08
_OBJECT_END, _STRICT, _DATE, _LONG_STRING = 0x09, 0x0A, 0x0B, 0x0C
_UNSUPPORTED, _XML, _TYPED = 0x0D, 0x0F, 0x10
_FIXED: Final = {_NUMBER: 8, _BOOL: 1, _NULL: 0, _UNDEFINED: 0, _REFERENCE: 2}
_FIXED.update({_DATE: 10, _UNSUPPORTED: 0})


# --- AMF0 -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Amf:
    """One AMF0 value: its type, span in the data and what it holds.

    ``entries`` are an object's or ECMA array's (key, key offset, value),
    starting at ``body``; ``items`` a strict array's values; ``text`` a
    string's bytes.
    """

    kind: int
    start: int
    end: int
    body: int = 0
    text: bytes = b""
    entries: list[tuple[bytes, int, _Amf]] = field(default_factory=list)
    items: list[_Amf] = field(default_factory=list)

    def get(self, key: bytes) -> _Amf | None:
        return next((v for k, _, v in self.entries if k == key), None)


def _amf(data: bytes, pos: int, depth: int = 0) -> _Amf:
    """Parse the AMF0 value at ``pos`` (bounded by ``data`` and nesting depth).

    Raises:
        ValueError, IndexError, struct.error: malformed or unsupported AMF0.
    """
    if depth > _MAX_DEPTH:
        msg = f"AMF0 values nested deeper than {_MAX_DEPTH}"
        raise ValueError(msg)
    kind = data[pos]
    body = pos + 1
    if kind in _FIXED:
        end = body + _FIXED[kind]
        return _Amf(kind, pos, _within(data, end))
    if kind in (_STRING, _LONG_STRING, _XML):
        width = 2 if kind == _STRING else 4
        size = u16be(data, body) if width == 2 else u32be(data, body)
        end = _within(data, body + width + size)
        return _Amf(kind, pos, end, text=data[body + width : end])
    if kind in (_OBJECT, _ECMA, _TYPED):
        if kind == _ECMA:
            body += 4  # the count is advisory: the end marker ends the array
        elif kind == _TYPED:
            body = _within(data, body + 2 + u16be(data, body))
        value = _Amf(kind, pos, body, body)
        value.end = _pairs(data, body, value.entries, depth)
        return value
    if kind == _STRICT:
        count = u32be(data, body)
        if count > len(data) - body - 4:
            msg = f"AMF0 strict array claims {count} values"
            raise ValueError(msg)
        value = _Amf(kind, pos, body + 4)
        for _ in range(count):
            item = _amf(data, value.end, depth + 1)
            value.items.append(item)
            value.end = item.end
        return value
    msg = f"unsupported AMF0 type 0x{kind:02x} at byte {pos}"
    raise ValueError(msg)


def _within(data: bytes, end: int) -> int:
    if end > len(data):
        msg = "AMF0 value runs past the end of the script tag"
        raise ValueError(msg)
    return end


def _pairs(
    data: bytes, pos: int, entries: list[tuple[bytes, int, _Amf]], depth: int
) -> int:
    """Read key/value pairs up to the end marker; return the offset after it.

    An array cut off by the end of the tag is accepted without its end marker,
    as FFmpeg accepts it.
    """
    while pos + 2 <= len(data):
        size = u16be(data, pos)
        if size == 0 and pos + 2 < len(data) and data[pos + 2] == _OBJECT_END:
            return pos + 3
        key = data[pos + 2 : _within(data, pos + 2 + size)]
        value = _amf(data, pos + 2 + size, depth + 1)
        entries.append((key, pos, value))
        pos = value.end
    if pos != len(data):
        msg = "AMF0 object ends in the middle of a key"
        raise ValueError(msg)
    return pos


def _string(text: bytes) -> bytes:
    if len(text) <= 0xFFFF:
        return bytes([_STRING]) + struct.pack(">H", len(text)) + text
    return bytes([_LONG_STRING]) + struct.pack(">I", len(text)) + text


def _number_offsets(value: _Amf) -> Iterator[int]:
    """Offsets of the file positions recorded in an onMetaData array."""
    for key, _, entry in value.entries:
        if key in _POSITION_KEYS and entry.kind == _NUMBER:
            yield entry.start + 1
        elif key == b"keyframes" and entry.kind in (_OBJECT, _ECMA):
            positions = entry.get(b"filepositions")
            if positions is not None and positions.kind == _STRICT:
                yield from (i.start + 1 for i in positions.items if i.kind == _NUMBER)


# --- tags -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tag:
    """One FLV tag: ``end`` includes the PreviousTagSize that follows it."""

    offset: int
    kind: int
    size: int
    header: bytes

    @property
    def data_offset(self) -> int:
        return self.offset + _TAG_HEADER

    @property
    def end(self) -> int:
        return self.data_offset + self.size + 4

    @property
    def is_script(self) -> bool:
        return self.kind == _SCRIPT


def _first_tag(src: Source) -> int:
    head = src.read(0, 9, "FLV header")
    if head[:3] != b"FLV":
        raise src.corrupt("not an FLV file: missing FLV header")
    start = u32be(head, 5)
    if start < 9 or start + 4 > src.size:
        raise src.corrupt(f"FLV header size {start} is invalid")
    return start + 4


def _tags(src: Source, errors: list[str] | None = None) -> Iterator[_Tag]:
    """Every tag header, skipping the audio and video data.

    With ``errors`` (reading) a truncated last tag is recorded there instead
    of raised, as a cut-off recording is still readable up to that point.

    Raises:
        CorruptMedia: a tag runs past the end of the file.
    """
    pos = _first_tag(src)
    while pos < src.size:
        if src.size - pos < _TAG_HEADER:
            msg = f"FLV tag header at offset {pos} is truncated"
        else:
            header = src.read(pos, _TAG_HEADER, "FLV tag header")
            tag = _Tag(pos, header[0] & 0x1F, u32be(b"\x00" + header[1:4]), header)
            if tag.end <= src.size:
                yield tag
                pos = tag.end
                continue
            msg = (
                f"FLV tag at offset {pos} claims {tag.size} bytes but only"
                f" {src.size - tag.data_offset} remain"
            )
        if errors is None:
            raise src.corrupt(msg)
        errors.append(msg)
        return


def _script(src: Source, tag: _Tag) -> tuple[bytes, _Amf | None, bytes]:
    """(name, value, data) of a script tag; the value is None for non-arrays.

    Raises:
        CorruptMedia: the AMF0 data is malformed.
        MediaLimitExceeded: the tag is larger than ``max_metadata_bytes``.
    """
    if tag.header[0] & 0x20:
        return b"", None, b""  # encrypted (filtered) script data
    data = src.read_blob(tag.data_offset, tag.size, "FLV script tag")
    with translate_errors(src.path, f"FLV script tag at offset {tag.offset}"):
        if not data:
            return b"", None, data
        name = _amf(data, 0)
        if name.kind != _STRING or name.end >= len(data):
            return name.text, None, data
        value = _amf(data, name.end)
    if value.kind not in (_OBJECT, _ECMA):
        return name.text, None, data
    return name.text, value, data


# --- reading --------------------------------------------------------------------------


def _is_key(key: bytes) -> bool:
    return key.lower() == _KEY.lower()


def _copies(tag: _Tag, value: _Amf) -> Iterator[RawLabel]:
    for key, _, entry in value.entries:
        if not _is_key(key):
            continue
        payload: str | bytes = entry.text
        if entry.kind not in (_STRING, _LONG_STRING):
            payload = f"<AMF0 value of type 0x{entry.kind:02x}, not a string>"
        location = f"onMetaData {key.decode('latin-1')}"
        yield RawLabel("flv", location, payload, tag.offset)


# --- writing --------------------------------------------------------------------------


def _tag_bytes(header: bytes, data: bytes) -> bytes:
    """A script tag with ``header``'s timestamp and stream id, resized.

    Raises:
        ValueError: the data is over FLV's 16 MiB tag limit.
    """
    if len(data) > _MAX_TAG:
        msg = f"onMetaData would be {len(data)} bytes, over FLV's tag size limit"
        raise ValueError(msg)
    size = struct.pack(">I", len(data))[1:]
    new_header = bytes([header[0]]) + size + header[4:]
    return new_header + data + struct.pack(">I", _TAG_HEADER + len(data))


def _array(
    data: bytes,
    name: _Amf,
    value: _Amf,
    label: bytes | None,
    move: Callable[[int], int],
) -> bytes:
    """The script data with AIGC entries out, ``label`` in, positions moved."""
    out = bytearray(data[: name.end])
    kept = [(k, at, v) for k, at, v in value.entries if not _is_key(k)]
    count = len(kept) + (label is not None)
    if value.kind == _ECMA:
        out += bytes([_ECMA]) + struct.pack(">I", count)
    else:
        out += data[value.start : value.body]
    positions = set(_number_offsets(value))
    for _, at, entry in kept:
        raw = bytearray(data[at : entry.end])
        for offset in positions:
            if at <= offset < entry.end:
                (old,) = struct.unpack_from(">d", raw, offset - at)
                struct.pack_into(">d", raw, offset - at, _moved(old, move))
        out += raw
    if label is not None:
        out += struct.pack(">H", len(_KEY)) + _KEY + _string(label)
    out += b"\x00\x00\x09" + data[value.end :]
    return bytes(out)


def _moved(position: float, move: Callable[[int], int]) -> float:
    if not math.isfinite(position) or position < 0 or position != int(position):
        return position
    return float(move(int(position)))


@dataclass(slots=True)
class _Edit:
    """Replace ``length`` source bytes at ``offset`` (0: insert) by a tag."""

    offset: int
    length: int
    build: Callable[[Callable[[int], int]], bytes]
    size: int = 0


def _plan(src: Source, payload: bytes) -> list[Piece]:
    """The pieces of the labelled FLV file.

    Raises:
        CorruptMedia: a tag or the AMF0 data of an onMetaData tag is malformed.
        UnsupportedFormat: the label does not fit one FLV tag.
    """
    edits: list[_Edit] = []
    for tag in _tags(src):
        if not tag.is_script:
            continue
        name, value, data = _script(src, tag)
        if name != _ON_METADATA or value is None:
            continue
        has_key = any(_is_key(k) for k, _, _ in value.entries)
        if edits and not has_key:
            continue
        label = None if edits else payload
        build = _builder(data, tag, value, label)
        edits.append(_Edit(tag.offset, tag.end - tag.offset, build))
    if not edits:
        edits.append(_Edit(_first_tag(src), 0, _new_tag(payload)))
    try:
        for edit in edits:
            edit.size = len(edit.build(lambda offset: offset))
    except ValueError as exc:
        raise UnsupportedFormat(str(exc), path=src.path) from exc

    def move(offset: int) -> int:
        """Where a source position ends up: after every edit that precedes it."""
        ahead = (e.size - e.length for e in edits if e.offset + e.length <= offset)
        return offset + sum(ahead)

    pieces: list[Piece] = []
    pos = 0
    for edit in edits:
        pieces.append(Keep(pos, edit.offset - pos))
        pieces.append(edit.build(move))
        pos = edit.offset + edit.length
    pieces.append(Keep(pos, src.size - pos))
    return pieces


def _builder(
    data: bytes, tag: _Tag, value: _Amf, label: bytes | None
) -> Callable[[Callable[[int], int]], bytes]:
    name = _amf(data, 0)

    def build(move: Callable[[int], int]) -> bytes:
        return _tag_bytes(tag.header, _array(data, name, value, label, move))

    return build


def _new_tag(payload: bytes) -> Callable[[Callable[[int], int]], bytes]:
    data = _string(_ON_METADATA) + bytes([_ECMA]) + struct.pack(">I", 1)
    data += struct.pack(">H", len(_KEY)) + _KEY + _string(payload) + b"\x00\x00\x09"
    header = bytes([_SCRIPT]) + bytes(10)
    return lambda move: _tag_bytes(header, data)


class FlvCarrier(Carrier):
    """Flash Video (FLV)."""

    name: ClassVar[str] = "flv"
    containers: ClassVar[frozenset[str]] = frozenset({"flv"})

    def read(self, path: Path, limits: Limits) -> CarrierRead:
        found = CarrierRead()
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            for tag in _tags(src, found.errors):
                if not tag.is_script:
                    continue
                try:
                    name, value, _ = _script(src, tag)
                except CorruptMedia as exc:
                    found.errors.append(exc.msg)
                    continue
                if name == _ON_METADATA and value is not None:
                    found.copies.extend(_copies(tag, value))
        return found

    def write(self, src: Path, dst: Path, payload: str, limits: Limits) -> None:
        splice_file(src, dst, payload, limits, _plan)

    def content_digest(self, path: Path, limits: Limits) -> str:
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            return digest_parts(_content_parts(src), domain="flv-tags")


def _content_parts(src: Source) -> Iterator[bytes]:
    """Type, timestamp and data of every tag except onMetaData script tags."""
    for tag in _tags(src):
        if tag.is_script:
            name, _, _ = _script(src, tag)
            if name == _ON_METADATA:
                continue
        yield tag.header[:1] + tag.header[4:8]
        yield src.read(tag.data_offset, tag.size, "FLV tag data")
