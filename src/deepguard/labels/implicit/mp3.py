"""MP3 carrier: an ID3v2 ``TXXX`` frame with the description ``AIGC``.

ID3v2 is intricate (versions 2.2 to 2.4, unsynchronisation, per-frame
encodings and flags), so mutagen reads and writes it. The tag is measured
first, so mutagen never loads more than ``max_metadata_bytes``. Writing
copies the file and edits the copy's tag: every other frame is kept, the tag
keeps its ID3v2 version (2.2 becomes 2.3, which mutagen cannot write), an
existing ID3v1 tag is updated, and the audio frames are not touched.

mutagen silently drops a frame it cannot decode (a ``TXXX`` whose UTF-8 is
broken, say). A damaged label is still a label, so the reader also walks the
raw frames of a plain ID3v2.3/2.4 tag and reports such copies with their
undecoded bytes; the label checks then call them noncompliant instead of
the file looking unlabelled.

Only the ID3v2 tag at the start of the file is read: it is the one players
and FFmpeg use. Tags appended at the end (ID3v2.4 with a footer, APEv2) are
not.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, ClassVar, Final

import mutagen
import mutagen.id3

from deepguard.config import Limits
from deepguard.errors import CorruptMedia
from deepguard.labels.fields import RawLabel
from deepguard.labels.implicit._digest import av_packet_digest
from deepguard.labels.implicit._mutagen import MUTAGEN_ERRORS, editing_copy
from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.media.containers._binary import Source, u32be

__all__ = ["Mp3Carrier"]

_KEY: Final = "AIGC"
_HEADER: Final = 10


def _synchsafe(raw: bytes) -> int:
    return (
        (raw[0] & 0x7F) << 21
        | (raw[1] & 0x7F) << 14
        | (raw[2] & 0x7F) << 7
        | (raw[3] & 0x7F)
    )


def _tag_size(src: Source) -> int:
    """Bytes of the ID3v2 tag at the start (0 when there is none).

    Raises:
        MediaLimitExceeded: the tag is larger than ``max_metadata_bytes``.
    """
    head = src.read_upto(0, _HEADER)
    if len(head) < _HEADER or head[:3] != b"ID3":
        return 0
    footer = _HEADER if head[5] & 0x10 else 0
    size = min(_HEADER + _synchsafe(head[6:10]) + footer, src.size)
    src.check_blob_size(size, "ID3v2 tag")
    return size


def _raw_labels(data: bytes) -> list[str | bytes] | None:
    """AIGC ``TXXX`` values from a raw walk of ``data`` (an ID3v2.3/2.4 tag).

    None when the tag cannot be walked without decoding (ID3v2.2, tag-level
    unsynchronisation). Compressed or encrypted frames are skipped.
    """
    version, flags = data[3], data[5]
    if version not in (3, 4) or flags & 0x80:
        return None
    pos = _HEADER
    end = min(len(data), _HEADER + _synchsafe(data[6:10]))
    if flags & 0x40 and pos + 4 <= end:  # extended header
        size = _synchsafe(data[pos : pos + 4]) if version == 4 else 4 + u32be(data, pos)
        pos += size
    values: list[str | bytes] = []
    while pos + _HEADER <= end and data[pos] != 0:
        frame_id = data[pos : pos + 4]
        raw_size = data[pos + 4 : pos + 8]
        size = _synchsafe(raw_size) if version == 4 else u32be(raw_size)
        body = data[pos + _HEADER : pos + _HEADER + size]
        fmt = data[pos + 9]
        pos += _HEADER + size
        if frame_id != b"TXXX" or len(body) != size:
            continue
        if version == 4:
            if fmt & 0x0E:  # compressed, encrypted or unsynchronised
                continue
            body = body[4:] if fmt & 0x01 else body  # data length indicator
        elif fmt & 0xC0:  # compressed or encrypted
            continue
        value = _txxx_value(body)
        if value is not None:
            values.append(value)
    return values


def _txxx_value(body: bytes) -> str | bytes | None:
    """The value of a raw TXXX frame whose description is AIGC, else None."""
    if not body:
        return None
    encoding, rest = body[0], body[1:]
    wide = encoding in (1, 2)
    stop = _terminator(rest, wide)
    if stop < 0:
        return None
    codec = {0: "latin-1", 1: "utf-16", 2: "utf-16-be", 3: "utf-8"}.get(encoding)
    desc = rest[:stop].decode(codec or "latin-1", "replace")
    if desc.casefold() != _KEY.casefold():
        return None
    value = rest[stop + (2 if wide else 1) :]
    try:
        return value.decode(codec or "utf-8").rstrip("\x00")
    except UnicodeDecodeError:
        return value


def _terminator(data: bytes, wide: bool) -> int:
    if not wide:
        return data.find(b"\x00")
    for at in range(0, len(data) - 1, 2):
        if data[at : at + 2] == b"\x00\x00":
            return at
    return -1


def _is_label(frame: Any) -> bool:
    return str(getattr(frame, "desc", "")).casefold() == _KEY.casefold()


def _load(data: bytes, path: Path) -> Any:
    """The ID3 tag in ``data`` (None when ``data`` holds none).

    Raises:
        CorruptMedia: the tag is malformed.
    """
    try:
        return mutagen.id3.ID3(io.BytesIO(data))  # type: ignore[no-untyped-call]
    except mutagen.id3.ID3NoHeaderError:
        return None
    except MUTAGEN_ERRORS as exc:
        raise CorruptMedia(f"malformed ID3v2 tag: {exc}", path=path) from exc


class Mp3Carrier(Carrier):
    """MPEG audio (MP3) with an ID3v2 tag."""

    name: ClassVar[str] = "mp3"
    containers: ClassVar[frozenset[str]] = frozenset({"mpeg"})

    def read(self, path: Path, limits: Limits) -> CarrierRead:
        found = CarrierRead()
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            size = _tag_size(src)
            data = src.read(0, size, "ID3v2 tag") if size else b""
        tags = _load(data, path) if data else None
        if tags is None:
            return found
        location = f"ID3v2.{tags.version[1]} TXXX:{_KEY}"
        values: list[str | bytes] = [
            "\x00".join(str(t) for t in frame.text)
            for frame in tags.getall("TXXX")
            if _is_label(frame)
        ]
        raw = _raw_labels(data)
        if raw is not None and len(raw) > len(values):
            values = raw  # mutagen dropped a damaged copy
        found.copies += [RawLabel(self.name, location, v, 0) for v in values]
        return found

    def write(self, src: Path, dst: Path, payload: str, limits: Limits) -> None:
        with Source.open(src, max_blob=limits.max_metadata_bytes) as view:
            size = _tag_size(view)
            data = view.read(0, size, "ID3v2 tag") if size else b""
        tags = _load(data, src) if data else None
        version = 4 if tags is None or tags.version[1] >= 4 else 3
        if tags is None:
            tags = mutagen.id3.ID3()  # type: ignore[no-untyped-call]
        for key in [k for k, frame in tags.items() if frame.FrameID == "TXXX"]:
            if _is_label(tags[key]):
                del tags[key]
        utf8 = mutagen.id3.Encoding.UTF8
        frame = mutagen.id3.TXXX(encoding=utf8, desc=_KEY, text=[payload])  # type: ignore[no-untyped-call]
        tags.add(frame)
        with editing_copy(src, dst, "ID3v2 tag"):
            tags.save(str(dst), v2_version=version)

    def content_digest(self, path: Path, limits: Limits) -> str:
        return av_packet_digest(path, limits)
