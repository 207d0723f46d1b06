"""Bounded reads and error translation shared by the container walkers.

Every walker needs the same guarantees against hostile input: a length field
is checked against the bytes that actually remain before anything is read or
skipped, no single metadata blob is larger than ``max_metadata_bytes``, and a
parsing error surfaces as one ``CorruptMedia`` that names the file and the
broken structure. Keeping them here (Pillow's ``_binary.py``) means a walker
cannot forget one.
"""

from __future__ import annotations

import contextlib
import io
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

from deepguard.errors import CorruptMedia, MediaError, MediaLimitExceeded

__all__ = [
    "DEFAULT_MAX_BLOB",
    "Source",
    "inflate",
    "translate_errors",
    "u16be",
    "u16le",
    "u32be",
    "u32le",
    "u64be",
    "u64le",
]

DEFAULT_MAX_BLOB: Final = 16 * 1024**2
"""Same default as ``Limits.max_metadata_bytes``."""

_U16BE = struct.Struct(">H")
_U16LE = struct.Struct("<H")
_U32BE = struct.Struct(">I")
_U32LE = struct.Struct("<I")
_U64BE = struct.Struct(">Q")
_U64LE = struct.Struct("<Q")


def u16be(data: bytes, offset: int = 0) -> int:
    """Big-endian unsigned 16-bit integer at ``offset``."""
    return int(_U16BE.unpack_from(data, offset)[0])


def u16le(data: bytes, offset: int = 0) -> int:
    """Little-endian unsigned 16-bit integer at ``offset``."""
    return int(_U16LE.unpack_from(data, offset)[0])


def u32be(data: bytes, offset: int = 0) -> int:
    """Big-endian unsigned 32-bit integer at ``offset``."""
    return int(_U32BE.unpack_from(data, offset)[0])


def u32le(data: bytes, offset: int = 0) -> int:
    """Little-endian unsigned 32-bit integer at ``offset``."""
    return int(_U32LE.unpack_from(data, offset)[0])


def u64be(data: bytes, offset: int = 0) -> int:
    """Big-endian unsigned 64-bit integer at ``offset``."""
    return int(_U64BE.unpack_from(data, offset)[0])


def u64le(data: bytes, offset: int = 0) -> int:
    """Little-endian unsigned 64-bit integer at ``offset``."""
    return int(_U64LE.unpack_from(data, offset)[0])


class Source:
    """A read-only, bounds-checked view of a file or of bytes embedded in one.

    Offsets given to the methods are relative to the view; ``base`` is where
    the view starts in the file, so that an EXIF block parsed out of a JPEG
    APP1 segment still reports absolute file offsets (``absolute()``).

    Why not plain ``fh.read``: a walker that trusts a length field either
    allocates gigabytes or loops on garbage; here every read is checked
    against the view's size first and blobs against ``max_blob``.
    """

    __slots__ = ("_fh", "base", "max_blob", "path", "size")

    def __init__(
        self,
        fh: BinaryIO,
        *,
        size: int,
        path: str | Path | None = None,
        max_blob: int = DEFAULT_MAX_BLOB,
        base: int = 0,
    ) -> None:
        self._fh = fh
        self.size = size
        self.path = path
        self.max_blob = max_blob
        self.base = base

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: Path, *, max_blob: int = DEFAULT_MAX_BLOB) -> Iterator[Source]:
        """Open ``path`` read-only for the duration of a ``with`` block.

        Raises:
            MediaError: the file cannot be opened or measured.
        """
        try:
            fh = path.open("rb")
        except OSError as exc:
            msg = f"cannot open: {exc.strerror or exc}"
            raise MediaError(msg, path=path) from exc
        with fh:
            try:
                size = fh.seek(0, io.SEEK_END)
            except OSError as exc:
                msg = f"cannot seek: {exc.strerror or exc}"
                raise MediaError(msg, path=path) from exc
            yield cls(fh, size=size, path=path, max_blob=max_blob)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        path: str | Path | None = None,
        max_blob: int = DEFAULT_MAX_BLOB,
        base: int = 0,
    ) -> Source:
        """A view over ``data``, which sits at file offset ``base``."""
        return cls(
            io.BytesIO(data), size=len(data), path=path, max_blob=max_blob, base=base
        )

    def absolute(self, offset: int) -> int:
        """The file offset of view offset ``offset``."""
        return self.base + offset

    def corrupt(self, msg: str) -> CorruptMedia:
        """A ``CorruptMedia`` for this file (the caller raises it)."""
        return CorruptMedia(msg, path=self.path)

    def check_span(self, offset: int, length: int, what: str) -> None:
        """Raise unless ``length`` bytes at ``offset`` lie inside the view.

        Raises:
            CorruptMedia: the span starts or ends outside the view.
        """
        if offset < 0 or length < 0 or offset + length > self.size:
            msg = (
                f"{what} at offset {self.absolute(offset)} claims {length} bytes"
                f" but only {max(0, self.size - offset)} remain"
            )
            raise self.corrupt(msg)

    def read(self, offset: int, length: int, what: str) -> bytes:
        """Exactly ``length`` bytes at ``offset``.

        Meant for fixed-size headers; use :meth:`read_blob` for anything whose
        length comes from the file.

        Raises:
            CorruptMedia: the bytes are not all there.
        """
        self.check_span(offset, length, what)
        self._fh.seek(offset)
        data = self._fh.read(length)
        if len(data) != length:
            msg = f"{what} at offset {self.absolute(offset)} is truncated"
            raise self.corrupt(msg)
        return data

    def read_upto(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset`` (fewer at the end of the view)."""
        if offset < 0 or offset >= self.size or length <= 0:
            return b""
        self._fh.seek(offset)
        return self._fh.read(min(length, self.size - offset))

    def read_blob(self, offset: int, length: int, what: str) -> bytes:
        """A metadata blob whose ``length`` came from the file.

        Raises:
            CorruptMedia: the blob extends past the end of the view.
            MediaLimitExceeded: the blob is larger than ``max_blob``.
        """
        self.check_span(offset, length, what)
        self.check_blob_size(length, f"{what} at offset {self.absolute(offset)}")
        return self.read(offset, length, what)

    def check_blob_size(self, length: int, what: str) -> None:
        """Raise if a blob of ``length`` bytes would exceed ``max_blob``.

        ``what`` names the blob (with its offset where known) in the message.

        Raises:
            MediaLimitExceeded: ``length`` is over ``max_blob``.
        """
        if length > self.max_blob:
            msg = (
                f"{what} is {length} bytes, over the max_metadata_bytes limit"
                f" of {self.max_blob}"
            )
            raise MediaLimitExceeded(
                msg,
                path=self.path,
                limit="max_metadata_bytes",
                value=length,
                maximum=self.max_blob,
            )


def inflate(
    data: bytes, *, max_out: int, what: str, path: str | Path | None = None
) -> bytes:
    """Decompress a zlib stream without producing more than ``max_out`` bytes.

    Why bounded: a few kilobytes of deflate expand to gigabytes (a "zip bomb"),
    so the output is capped before it is allocated.

    Raises:
        CorruptMedia: the stream is not valid zlib or is incomplete.
        MediaLimitExceeded: the stream expands to more than ``max_out`` bytes.
    """
    decoder = zlib.decompressobj()
    try:
        out = decoder.decompress(data, max_out + 1)
    except zlib.error as exc:
        msg = f"{what}: invalid compressed data ({exc})"
        raise CorruptMedia(msg, path=path) from exc
    if len(out) > max_out or decoder.unconsumed_tail:
        msg = (
            f"{what} expands to more than the max_metadata_bytes limit of"
            f" {max_out} bytes"
        )
        raise MediaLimitExceeded(
            msg, path=path, limit="max_metadata_bytes", maximum=max_out
        )
    if not decoder.eof:
        msg = f"{what}: compressed data is truncated"
        raise CorruptMedia(msg, path=path)
    return out


@contextlib.contextmanager
def translate_errors(path: str | Path | None, structure: str) -> Iterator[None]:
    """Turn low-level parsing exceptions into one ``CorruptMedia``.

    ``struct.error``, ``IndexError``, ``ValueError`` (which includes
    ``UnicodeDecodeError``) and ``zlib.error`` all mean the bytes do not
    describe a valid ``structure``; callers should see one exception type
    that names the file and the structure.

    Raises:
        CorruptMedia: the wrapped code raised one of the exceptions above.
    """
    try:
        yield
    except (struct.error, IndexError, ValueError, zlib.error, EOFError) as exc:
        msg = f"broken {structure}: {exc}"
        raise CorruptMedia(msg, path=path) from exc
