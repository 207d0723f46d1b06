"""AVI carrier: an ``AIGC`` entry in the ``LIST/INFO`` chunk before ``movi``.

The value is the JSON as a NUL-terminated INFO string; FFmpeg reports any
INFO entry under its four-character id, so ffprobe shows the format tag
``AIGC``. Reading also accepts a top-level ``AIGC`` chunk and INFO lists
anywhere in the file, including ``AVIX`` extensions.

Writing never moves ``movi`` when it can help it: the INFO lists and
``JUNK`` chunks between the headers and ``movi`` are one region, rebuilt as
one INFO list (other entries kept) plus a ``JUNK`` filler of the size that
keeps ``movi`` where it was. FFmpeg reserves about 1 KiB of ``JUNK`` there
for exactly this. When the region is too small, ``movi`` moves: the RIFF
size follows, ``idx1`` stays valid when its offsets are relative to
``movi`` (the usual case) and is rewritten when they are absolute, and an
OpenDML file (``indx`` super-indexes holding absolute offsets) is refused
rather than half fixed. Label copies elsewhere (after ``movi``, in an
``AVIX`` sequence) are replaced by INFO lists or ``JUNK`` of the same size,
so nothing else moves.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

from deepguard.config import Limits
from deepguard.errors import UnsupportedFormat
from deepguard.labels.implicit._digest import av_packet_digest
from deepguard.labels.implicit._splice import Keep, Piece, piece_size, splice_file
from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.labels.implicit.wav import (
    KEY,
    InfoEntry,
    RiffForm,
    chunk_bytes,
    info_list,
    is_key,
    kept,
    label_data,
    read_info,
    riff_copies,
    riff_header,
    top_level,
)
from deepguard.media.containers import riff
from deepguard.media.containers._binary import Source, u32le
from deepguard.media.probe import MediaKind

__all__ = ["AviCarrier"]

_IDX1_ENTRY: Final = 16


@dataclass(frozen=True, slots=True)
class _Edit:
    """Replace ``length`` source bytes at ``offset`` by ``pieces``."""

    offset: int
    length: int
    pieces: tuple[Piece, ...]


def _junk(total: int) -> bytes:
    """A ``JUNK`` chunk exactly ``total`` (>= 8, even) bytes long."""
    return chunk_bytes(b"JUNK", bytes(total - 8))


def _is_free(chunk: riff.Chunk) -> bool:
    """Chunks the label region may reuse: INFO lists, JUNK, old labels."""
    return chunk.list_type == b"INFO" or chunk.fourcc == b"JUNK" or is_key(chunk.fourcc)


def _stray_copies(src: Source, region: tuple[int, int]) -> list[_Edit]:
    """Same-size replacements for label copies outside the label region.

    Removing an INFO entry frees at least 8 bytes, so a ``JUNK`` chunk always
    fits the gap.

    Raises:
        UnsupportedFormat: a copy is nested inside a chunk of the region.
    """
    edits: list[_Edit] = []
    start, end = region
    for chunk in riff.iter_chunks(src):
        inside = start <= chunk.offset < end
        if inside and chunk.depth == 0:
            continue
        span = 8 + chunk.size + (chunk.size & 1)
        edit: _Edit | None = None
        if chunk.list_type == b"INFO":
            entries = read_info(src, chunk)
            if any(is_key(e.fourcc) for e in entries):
                rest = info_list([e for e in entries if not is_key(e.fourcc)])
                filler = _junk(span - len(rest)) if span > len(rest) else b""
                edit = _Edit(chunk.offset, span, (rest + filler,))
        elif is_key(chunk.fourcc) and chunk.depth == 0:
            edit = _Edit(chunk.offset, span, (_junk(span),))
        if edit is not None and inside:
            msg = f"a label copy is nested in a chunk before movi at {chunk.offset}"
            raise UnsupportedFormat(msg, path=src.path)
        if edit is not None:
            edits.append(edit)
    return edits


def _has_odml_index(src: Source) -> bool:
    return any(chunk.fourcc == b"indx" for chunk in riff.iter_chunks(src))


def _idx1(src: Source, form: RiffForm, movi: riff.Chunk, delta: int) -> _Edit | None:
    """``idx1`` with absolute offsets moved by ``delta`` (None when relative)."""
    chunk = next((c for c in form.chunks if c.fourcc == b"idx1"), None)
    if chunk is None or chunk.size < _IDX1_ENTRY:
        return None
    first = u32le(src.read(chunk.data_offset + 8, 4, "idx1 entry"))
    if first <= movi.offset:
        return None  # offsets relative to movi: they move with it
    data = bytearray(src.read_blob(chunk.data_offset, chunk.size, "AVI idx1 index"))
    for entry in range(0, len(data) - _IDX1_ENTRY + 1, _IDX1_ENTRY):
        (offset,) = struct.unpack_from("<I", data, entry + 8)
        if offset + delta > 0xFFFFFFFF:
            msg = f"idx1 entry at {chunk.data_offset + entry} would pass 4 GiB"
            raise src.corrupt(msg)
        struct.pack_into("<I", data, entry + 8, offset + delta)
    return _Edit(chunk.offset, 8 + chunk.size, (chunk_bytes(b"idx1", bytes(data)),))


def _plan(src: Source, payload: bytes) -> list[Piece]:
    """The pieces of the labelled AVI file.

    Raises:
        CorruptMedia: the RIFF structure is broken or there is no movi list.
        UnsupportedFormat: movi would have to move in an OpenDML file.
    """
    form = top_level(src)
    at = next((i for i, c in enumerate(form.chunks) if c.list_type == b"movi"), None)
    if at is None:
        raise src.corrupt("AVI file has no movi list")
    movi = form.chunks[at]
    first = next((i for i in range(at) if _is_free(form.chunks[i])), at)
    region = form.chunks[first:at]
    start = region[0].offset if region else movi.offset
    entries: list[InfoEntry] = []
    movers: list[Piece] = []
    for chunk in region:
        if chunk.list_type == b"INFO":
            entries += [e for e in read_info(src, chunk) if not is_key(e.fourcc)]
        elif not _is_free(chunk):
            movers += kept(src, form, chunk)
    entries.append(InfoEntry(KEY, label_data(payload)))
    new = [*movers, info_list(entries)]
    room = movi.offset - start
    used = piece_size(new)
    if used == room or used + 8 <= room:
        delta = 0
        if used < room:
            new.append(_junk(room - used))
    else:
        delta = used - room
        if _has_odml_index(src):
            msg = (
                "OpenDML AVI (indx index with absolute offsets) without free space"
                " before movi cannot be labelled without rewriting its indexes"
            )
            raise UnsupportedFormat(msg, path=src.path)
    edits = [_Edit(start, movi.offset - start, tuple(new))]
    edits += _stray_copies(src, (start, movi.offset))
    if delta:
        idx1 = _idx1(src, form, movi, delta)
        if idx1 is not None:
            edits.append(idx1)
    head = riff_header(form, form.end - 12 + delta, src)
    return _assemble(src, head, edits)


def _assemble(src: Source, head: bytes, edits: Sequence[_Edit]) -> list[Piece]:
    pieces: list[Piece] = [head]
    pos = 12
    for edit in sorted(edits, key=lambda e: e.offset):
        pieces.append(Keep(pos, edit.offset - pos))
        pieces += edit.pieces
        pos = edit.offset + edit.length
    pieces.append(Keep(pos, src.size - pos))
    return [p for p in pieces if not isinstance(p, Keep) or p.length]


class AviCarrier(Carrier):
    """AVI (``RIFF``/``AVI ``, with ``AVIX`` extensions)."""

    name: ClassVar[str] = "avi"
    containers: ClassVar[frozenset[str]] = frozenset({"riff"})
    kinds: ClassVar[frozenset[MediaKind] | None] = frozenset({MediaKind.VIDEO})
    """RIFF is also WebP (image) and WAV (audio); only AVI is video."""

    def read(self, path: Path, limits: Limits) -> CarrierRead:
        found = CarrierRead()
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            riff_copies(src, self.name, found)
        return found

    def write(self, src: Path, dst: Path, payload: str, limits: Limits) -> None:
        splice_file(src, dst, payload, limits, _plan)

    def content_digest(self, path: Path, limits: Limits) -> str:
        return av_packet_digest(path, limits)
