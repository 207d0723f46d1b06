"""Byte splicing for the writers: media data is copied, never re-encoded.

A stream-copy writer (MP4, Matroska, FLV, AVI, WAV) describes its output as
pieces: new bytes, or spans kept from the source, and :func:`splice_file`
plans them with the source open and then copies them out. Media data is
copied in blocks, never loaded whole and never re-encoded; a writer only
says which bytes change. The image writers stream their output instead
(:func:`rewriting`), copying spans with :func:`copy_span`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, Final, NamedTuple

from deepguard.config import Limits
from deepguard.errors import CorruptMedia, MediaError
from deepguard.media.containers._binary import Source

__all__ = [
    "Keep",
    "Piece",
    "copy_span",
    "iter_span",
    "piece_size",
    "rewriting",
    "splice_file",
    "write_pieces",
]

_COPY_BLOCK: Final = 1 << 20


class Keep(NamedTuple):
    """``length`` bytes copied unchanged from ``offset`` of the source file."""

    offset: int
    length: int


Piece = bytes | Keep
"""A part of an output file: new bytes, or a span kept from the source."""


def piece_size(pieces: Iterable[Piece]) -> int:
    """Total bytes the pieces write."""
    return sum(p.length if isinstance(p, Keep) else len(p) for p in pieces)


def write_pieces(src: Path, dst: Path, pieces: Iterable[Piece]) -> None:
    """Write ``pieces`` to ``dst``, copying kept spans from ``src`` in blocks.

    Why pieces: media data is never loaded into memory or re-encoded; a
    writer only describes which bytes change.

    Raises:
        CorruptMedia: ``src`` is shorter than a kept span (it changed).
        MediaError: the input cannot be read or the output cannot be written.
    """
    try:
        with src.open("rb") as fin, dst.open("wb") as fout:
            for piece in pieces:
                if not isinstance(piece, Keep):
                    fout.write(piece)
                    continue
                fin.seek(piece.offset)
                left = piece.length
                while left:
                    block = fin.read(min(left, _COPY_BLOCK))
                    if not block:
                        msg = f"file ended inside bytes {piece.offset}+{piece.length}"
                        raise CorruptMedia(msg, path=src)
                    fout.write(block)
                    left -= len(block)
    except OSError as exc:
        msg = f"cannot write the labelled copy: {exc.strerror or exc}"
        raise MediaError(msg, path=src) from exc


def splice_file(
    src: Path,
    dst: Path,
    payload: str,
    limits: Limits,
    plan: Callable[[Source, bytes], list[Piece]],
) -> None:
    """Write ``src`` to ``dst`` as the pieces ``plan`` gives for ``payload``.

    ``plan`` reads only structure and metadata, under ``limits``, and gets
    the payload as UTF-8; the file is closed before the pieces are copied.

    Raises:
        DeepguardError: ``plan`` refused the file, or :func:`write_pieces`
            failed.
    """
    with Source.open(src, max_blob=limits.max_metadata_bytes) as view:
        pieces = plan(view, payload.encode("utf-8"))
    write_pieces(src, dst, pieces)


@contextlib.contextmanager
def rewriting(
    src: Path, dst: Path, limits: Limits
) -> Iterator[tuple[Source, BinaryIO]]:
    """``src`` opened for bounded reads, and ``dst`` opened for the output.

    The image writers stream the output while they walk the source, so both
    are open together; metadata reads are held to ``limits`` as in reading.

    Raises:
        MediaError: ``src`` cannot be opened.
    """
    with (
        Source.open(src, max_blob=limits.max_metadata_bytes) as source,
        dst.open("wb") as out,
    ):
        yield source, out


def iter_span(src: Source, start: int, length: int, what: str) -> Iterator[bytes]:
    """The bytes of ``[start, start + length)`` in pieces of at most 1 MiB.

    Raises:
        CorruptMedia: the span runs past the end of the file.
    """
    src.check_span(start, length, what)
    pos, end = start, start + length
    while pos < end:
        size = min(_COPY_BLOCK, end - pos)
        yield src.read(pos, size, what)
        pos += size


def copy_span(
    src: Source,
    out: BinaryIO,
    start: int,
    length: int,
    *,
    patches: Mapping[int, bytes] | None = None,
    what: str = "data",
) -> None:
    """Copy a span of ``src`` to ``out``, overwriting ``patches`` on the way.

    ``patches`` maps source offsets to replacement bytes of the same length
    (a neutralised EXIF value, a blanked orphan packet); patches outside the
    span are ignored, so callers can pass one map for the whole file.

    Raises:
        CorruptMedia: the span runs past the end of the file.
    """
    pos = start
    for piece in iter_span(src, start, length, what):
        if patches:
            piece = _patched(piece, pos, patches)
        out.write(piece)
        pos += len(piece)


def _patched(piece: bytes, pos: int, patches: Mapping[int, bytes]) -> bytes:
    end = pos + len(piece)
    buf: bytearray | None = None
    for at, data in patches.items():
        lo, hi = max(at, pos), min(at + len(data), end)
        if lo >= hi:
            continue
        if buf is None:
            buf = bytearray(piece)
        buf[lo - pos : hi - pos] = data[lo - at : hi - at]
    return bytes(buf) if buf is not None else piece
