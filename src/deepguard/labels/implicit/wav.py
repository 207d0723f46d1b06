"""WAV carrier: a top-level RIFF chunk ``AIGC`` holding the JSON.

The label chunk goes after every other chunk (normally after ``data``), so
no sample moves and a player that stops at the end of ``data`` never sees
it. Reading also accepts an ``AIGC`` entry in a ``LIST/INFO`` chunk, which
is where FFmpeg puts ``-metadata AIGC=...`` for WAV; writing removes those
entries (and the list when nothing else is left in it) so one copy remains.
RF64 files keep their real size in ``ds64``, which is updated too.

The RIFF helpers here (chunk building, INFO lists, reading AIGC copies) are
shared with the AVI carrier.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

from deepguard.config import Limits
from deepguard.errors import CorruptMedia, UnsupportedFormat
from deepguard.labels.fields import RawLabel
from deepguard.labels.implicit._digest import av_packet_digest
from deepguard.labels.implicit._splice import Keep, Piece, piece_size, splice_file
from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.media.containers import riff
from deepguard.media.containers._binary import Source, u32le
from deepguard.media.probe import MediaKind

__all__ = [
    "KEY",
    "InfoEntry",
    "RiffForm",
    "WavCarrier",
    "chunk_bytes",
    "ds64_with_size",
    "form_end",
    "info_list",
    "is_key",
    "kept",
    "label_data",
    "read_info",
    "riff_copies",
    "riff_header",
    "top_level",
]

KEY: Final = b"AIGC"
_RIFF_MAX: Final = 0xFFFFFFFF


# --- RIFF helpers shared with the AVI carrier -----------------------------------------


def is_key(fourcc: bytes) -> bool:
    """Whether a chunk or INFO entry id names the label (any letter case)."""
    return fourcc.upper() == KEY


def chunk_bytes(fourcc: bytes, data: bytes) -> bytes:
    """A chunk with its pad byte: RIFF chunks start at even offsets."""
    pad = b"\x00" if len(data) & 1 else b""
    return fourcc + struct.pack("<I", len(data)) + data + pad


def label_data(payload: bytes) -> bytes:
    """A label value as RIFF text: NUL-terminated, like every INFO string."""
    return payload + b"\x00"


@dataclass(frozen=True, slots=True)
class InfoEntry:
    """One ``LIST/INFO`` entry: its id and data (pad byte excluded)."""

    fourcc: bytes
    data: bytes


def read_info(src: Source, chunk: riff.Chunk) -> list[InfoEntry]:
    """The entries of a ``LIST/INFO`` chunk.

    Raises:
        CorruptMedia: an entry runs past the end of the list.
        MediaLimitExceeded: the list is larger than ``max_metadata_bytes``.
    """
    data = src.read_blob(chunk.data_offset + 4, chunk.size - 4, "RIFF LIST/INFO")
    entries: list[InfoEntry] = []
    pos = 0
    while pos + 8 <= len(data):
        fourcc, size = data[pos : pos + 4], u32le(data, pos + 4)
        if pos + 8 + size > len(data):
            where = chunk.data_offset + 4 + pos
            msg = f"INFO entry {fourcc!r} at offset {where} runs past its list"
            raise src.corrupt(msg)
        entries.append(InfoEntry(fourcc, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return entries


def info_list(entries: Sequence[InfoEntry]) -> bytes:
    """A ``LIST/INFO`` chunk of ``entries`` (empty bytes when there are none)."""
    if not entries:
        return b""
    body = b"".join(chunk_bytes(e.fourcc, e.data) for e in entries)
    return chunk_bytes(b"LIST", b"INFO" + body)


def riff_copies(
    src: Source, carrier: str, out: CarrierRead, *, avi: bool = True
) -> None:
    """Add every top-level AIGC chunk and INFO entry AIGC to ``out``.

    For AVI, INFO lists inside other lists count too (writers differ on
    where INFO goes) and so do ``AVIX`` extensions; a WAV file has one RIFF
    sequence with top-level INFO lists. A structure damaged after the RIFF
    header is recorded in ``out.errors``.

    Raises:
        CorruptMedia: the file has no RIFF header.
        MediaLimitExceeded: a label chunk is over ``max_metadata_bytes``.
    """
    end = src.size if avi else form_end(src)
    try:
        for chunk in riff.iter_chunks(src):
            if chunk.offset >= end:
                break
            if chunk.list_type is not None or not is_key(chunk.fourcc):
                continue
            if chunk.parent == b"INFO" and (avi or chunk.depth == 1):
                location = f"LIST/INFO/{chunk.name}"
            elif chunk.depth == 0:
                location = f"RIFF/{chunk.name}"
            else:
                continue
            data = src.read_blob(chunk.data_offset, chunk.size, f"RIFF {location}")
            value = data.split(b"\x00", 1)[0] if chunk.parent == b"INFO" else data
            out.copies.append(RawLabel(carrier, location, value, chunk.offset))
    except CorruptMedia as exc:
        if src.read_upto(0, 4) not in (b"RIFF", b"RF64"):
            raise
        out.errors.append(exc.msg)


def form_end(src: Source) -> int:
    """Where the first RIFF sequence ends (RF64 and unset sizes: the file's end)."""
    head = src.read_upto(0, 12)
    size = u32le(head, 4) if len(head) >= 8 else _RIFF_MAX
    if head[:4] == b"RF64" or size == _RIFF_MAX or size < 4:
        return src.size
    return min(8 + size + (size & 1), src.size)


@dataclass(frozen=True, slots=True)
class RiffForm:
    """The first RIFF sequence: its magic, form type, end and top-level chunks."""

    magic: bytes
    form: bytes
    end: int
    chunks: tuple[riff.Chunk, ...]

    def stored_span(self, chunk: riff.Chunk) -> int:
        """Bytes ``chunk`` occupies up to the form's end (a last pad may be lost)."""
        return min(8 + chunk.size + (chunk.size & 1), self.end - chunk.offset)


def top_level(src: Source) -> RiffForm:
    """The first RIFF sequence's top-level chunks (nested ones are skipped).

    Bytes after the sequence (an AVI's ``AVIX`` extensions, trailing tags)
    are not part of it.

    Raises:
        CorruptMedia: the header is missing or a chunk is malformed.
    """
    head = src.read(0, 12, "RIFF header")
    if head[:4] not in (b"RIFF", b"RF64"):
        raise src.corrupt("not a RIFF file: missing RIFF header")
    end = form_end(src)
    chunks: list[riff.Chunk] = []
    for chunk in riff.iter_chunks(src):
        if chunk.offset >= end:
            break
        if chunk.depth == 0:
            chunks.append(chunk)
    return RiffForm(head[:4], head[8:12], end, tuple(chunks))


def riff_header(form: RiffForm, size: int, src: Source) -> bytes:
    """The 12-byte header for chunks of ``size`` bytes (RF64 keeps its marker).

    Raises:
        UnsupportedFormat: a plain RIFF file would pass 4 GiB.
    """
    if form.magic == b"RF64":
        return b"RF64" + struct.pack("<I", _RIFF_MAX) + form.form
    if size + 4 > _RIFF_MAX:
        msg = "the labelled file would pass the 4 GiB RIFF limit (RF64 is needed)"
        raise UnsupportedFormat(msg, path=src.path)
    return b"RIFF" + struct.pack("<I", size + 4) + form.form


def ds64_with_size(src: Source, chunk: riff.Chunk, riff_size: int) -> bytes:
    """An RF64 ``ds64`` chunk whose RIFF size is ``riff_size``.

    Raises:
        CorruptMedia: the chunk is too short to hold the size.
    """
    data = bytearray(src.read_blob(chunk.data_offset, chunk.size, "RF64 ds64 chunk"))
    if len(data) < 8:
        raise src.corrupt("RF64 ds64 chunk is too short")
    struct.pack_into("<Q", data, 0, riff_size)
    return chunk_bytes(b"ds64", bytes(data))


def kept(src: Source, form: RiffForm, chunk: riff.Chunk) -> list[Piece]:
    """``chunk`` copied as it is, its pad byte restored when the file lost it.

    Raises:
        CorruptMedia: more than the pad byte is missing.
    """
    span = form.stored_span(chunk)
    missing = 8 + chunk.size + (chunk.size & 1) - span
    if missing not in (0, 1):
        raise src.corrupt(f"RIFF chunk {chunk.name!r} at {chunk.offset} is truncated")
    return [Keep(chunk.offset, span)] + ([b"\x00"] if missing else [])


# --- the WAV carrier ------------------------------------------------------------------


def _plan(src: Source, payload: bytes) -> list[Piece]:
    """The labelled file: every chunk but AIGC copies, then the label chunk.

    Raises:
        CorruptMedia: the RIFF structure is broken.
        UnsupportedFormat: the file would outgrow RIFF's 4 GiB.
    """
    form = top_level(src)
    body: list[Piece] = []
    ds64_at: int | None = None
    ds64: riff.Chunk | None = None
    for chunk in form.chunks:
        if is_key(chunk.fourcc):
            continue
        if chunk.fourcc == b"ds64" and ds64 is None:
            ds64, ds64_at = chunk, len(body)
            body.append(ds64_with_size(src, chunk, 0))
            continue
        if chunk.list_type == b"INFO":
            entries = read_info(src, chunk)
            if any(is_key(e.fourcc) for e in entries):
                body.append(info_list([e for e in entries if not is_key(e.fourcc)]))
                continue
        body += kept(src, form, chunk)
    body.append(chunk_bytes(KEY, payload))
    if ds64 is not None and ds64_at is not None:
        body[ds64_at] = ds64_with_size(src, ds64, 4 + piece_size(body))
    head = riff_header(form, piece_size(body), src)
    return [head, *body, Keep(form.end, src.size - form.end)]


class WavCarrier(Carrier):
    """WAV and RF64 (``RIFF``/``RF64`` form ``WAVE``)."""

    name: ClassVar[str] = "wav"
    containers: ClassVar[frozenset[str]] = frozenset({"riff"})
    kinds: ClassVar[frozenset[MediaKind] | None] = frozenset({MediaKind.AUDIO})
    """RIFF is also WebP (image) and AVI (video); only WAVE is audio."""

    def read(self, path: Path, limits: Limits) -> CarrierRead:
        found = CarrierRead()
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            riff_copies(src, self.name, found, avi=False)
        return found

    def write(self, src: Path, dst: Path, payload: str, limits: Limits) -> None:
        splice_file(src, dst, payload, limits, _plan)

    def content_digest(self, path: Path, limits: Limits) -> str:
        return av_packet_digest(path, limits)
