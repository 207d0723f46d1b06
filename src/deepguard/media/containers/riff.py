"""RIFF chunk walker for WebP, WAV and AVI (including LIST/INFO and RF64).

One walker serves the three formats because they share the chunk grammar:
``RIFF <size> <form>`` then ``<fourcc> <size> <data> [pad]`` chunks, with
``LIST <size> <type>`` nesting. The walker descends into LISTs except the
ones holding media samples (AVI ``movi``, ``rec ``), which it skips by
seeking, and yields every chunk header with the LIST type it sits in, so a
caller can pick ``INFO/ISFT``, WebP ``XMP ``/``EXIF`` or a GB 45438 ``AIGC``
chunk without reading audio or video data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from deepguard.media.containers._binary import Source, u32le, u64le

__all__ = ["SAMPLE_LISTS", "Chunk", "iter_chunks", "text_value"]

SAMPLE_LISTS: Final = frozenset({b"movi", b"rec "})
"""LIST types that hold media samples; never descended into."""
_MAX_DEPTH: Final = 16
_RF64_UNSET: Final = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk header.

    ``parent`` is the form type (``WEBP``, ``WAVE``, ``AVI ``) for top-level
    chunks and the LIST type (``INFO``, ``hdrl`` ...) for nested ones. A LIST
    chunk itself is yielded with ``list_type`` set before its children.
    """

    fourcc: bytes
    offset: int
    """View offset of the chunk's four-character code."""
    size: int
    """Payload size from the header (RF64: from the ``ds64`` chunk)."""
    parent: bytes
    depth: int
    list_type: bytes | None = None

    @property
    def data_offset(self) -> int:
        return self.offset + 8

    @property
    def name(self) -> str:
        return self.fourcc.decode("latin-1")

    @property
    def path(self) -> str:
        """Human-readable location such as ``riff:LIST/INFO/ISFT``."""
        parent = self.parent.decode("latin-1").strip()
        return f"riff:{parent}/{self.name.strip()}"


def iter_chunks(src: Source) -> Iterator[Chunk]:
    """Yield every chunk of every ``RIFF``/``RF64`` sequence in the file.

    AVI files over 1 GiB continue with further ``RIFF AVIX`` sequences; those
    are walked too. Anything after the last sequence is ignored, as players do.

    Raises:
        CorruptMedia: no RIFF header, or a chunk runs past its parent.
    """
    head = src.read_upto(0, 12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64"):
        raise src.corrupt("not a RIFF file: missing RIFF header")
    pos = 0
    while pos + 12 <= src.size:
        head = src.read(pos, 12, "RIFF header")
        if head[:4] not in (b"RIFF", b"RF64"):
            return
        size, form = u32le(head, 4), head[8:12]
        ds64: dict[bytes, int] = {}
        if head[:4] == b"RF64" or size == _RF64_UNSET or size < 4:
            # RF64 keeps the real size in ds64; streaming writers leave it unset.
            end = src.size
        else:
            end = min(pos + 8 + size + (size & 1), src.size)
        yield from _walk(src, pos + 12, end, form, 0, ds64)
        pos = end


def _walk(
    src: Source, pos: int, end: int, parent: bytes, depth: int, ds64: dict[bytes, int]
) -> Iterator[Chunk]:
    if depth > _MAX_DEPTH:
        msg = (
            f"RIFF LISTs nested deeper than {_MAX_DEPTH} at offset {src.absolute(pos)}"
        )
        raise src.corrupt(msg)
    while pos + 8 <= end:
        head = src.read(pos, 8, "RIFF chunk header")
        fourcc, size = head[:4], u32le(head, 4)
        if size == _RF64_UNSET and fourcc in ds64:
            size = ds64[fourcc]
        name = fourcc.decode("latin-1")
        if pos + 8 + size > end:
            where = src.absolute(pos)
            msg = (
                f"RIFF chunk {name!r} at offset {where} claims {size} bytes but its"
                f" parent ends at {src.absolute(end)}"
            )
            raise src.corrupt(msg)
        if fourcc == b"ds64":
            ds64.update(_read_ds64(src, pos, size))
        if fourcc == b"LIST" and size >= 4:
            list_type = src.read(pos + 8, 4, "RIFF LIST type")
            yield Chunk(fourcc, pos, size, parent, depth, list_type)
            if list_type not in SAMPLE_LISTS:
                yield from _walk(
                    src, pos + 12, pos + 8 + size, list_type, depth + 1, ds64
                )
        else:
            yield Chunk(fourcc, pos, size, parent, depth)
        pos += 8 + size + (size & 1)


def _read_ds64(src: Source, pos: int, size: int) -> dict[bytes, int]:
    """RF64's 64-bit sizes: riff size, data size, sample count (EBU Tech 3306)."""
    if size < 24:
        return {}
    body = src.read(pos + 8, 24, "RF64 ds64 chunk")
    return {b"data": u64le(body, 8)}


def text_value(data: bytes) -> str:
    """Decode a RIFF text payload (INFO entries are NUL-terminated strings)."""
    text = data.split(b"\x00", 1)[0]
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        return text.decode("latin-1")
