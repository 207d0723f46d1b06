"""PNG chunk walker and text-chunk decoding (tEXt, zTXt, iTXt).

Generators write their traces into text chunks (AUTOMATIC1111 ``parameters``,
ComfyUI ``prompt``/``workflow``, XMP in iTXt ``XML:com.adobe.xmp``, GB 45438
``AIGC``); the walker yields chunk headers only and seeks past IDAT, so the
caller reads just the chunks it wants. Compressed text is inflated with a cap
so that a small zTXt cannot expand into gigabytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from deepguard.media.containers._binary import Source, inflate, translate_errors, u32be

__all__ = [
    "SIGNATURE",
    "TEXT_CHUNKS",
    "XMP_KEYWORD",
    "Chunk",
    "TextChunk",
    "iter_chunks",
    "read_text",
]

SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
TEXT_CHUNKS: Final = frozenset({b"tEXt", b"zTXt", b"iTXt"})
XMP_KEYWORD: Final = "XML:com.adobe.xmp"
_MAX_LENGTH: Final = 0x7FFFFFFF
"""The PNG specification caps chunk lengths at 2^31 - 1."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk header; the payload is read on demand."""

    type: bytes
    offset: int
    """View offset of the chunk's length field."""
    length: int

    @property
    def data_offset(self) -> int:
        return self.offset + 8

    @property
    def name(self) -> str:
        return self.type.decode("latin-1")


@dataclass(frozen=True, slots=True)
class TextChunk:
    """A decoded tEXt, zTXt or iTXt chunk."""

    chunk: Chunk
    keyword: str
    text: str
    compressed: bool = False
    language: str = ""
    translated_keyword: str = ""


def iter_chunks(src: Source) -> Iterator[Chunk]:
    """Yield chunk headers from IHDR to IEND without reading payloads.

    Raises:
        CorruptMedia: no PNG signature, a length over 2^31 - 1 or past the end
            of the file, or the file ends before IEND.
    """
    if src.read_upto(0, len(SIGNATURE)) != SIGNATURE:
        raise src.corrupt("not a PNG: missing signature")
    pos = len(SIGNATURE)
    while True:
        if pos >= src.size:
            msg = f"PNG ends at offset {src.absolute(pos)} without an IEND chunk"
            raise src.corrupt(msg)
        head = src.read(pos, 8, "PNG chunk header")
        length, ctype = u32be(head), head[4:8]
        name = ctype.decode("latin-1")
        if length > _MAX_LENGTH:
            where = src.absolute(pos)
            msg = f"PNG chunk {name!r} at offset {where} has invalid length {length}"
            raise src.corrupt(msg)
        src.check_span(pos + 8, length, f"PNG chunk {name!r}")
        src.check_span(pos + 8 + length, 4, f"CRC of PNG chunk {name!r}")
        yield Chunk(type=ctype, offset=pos, length=length)
        if ctype == b"IEND":
            return
        pos += 12 + length


def read_text(src: Source, chunk: Chunk) -> TextChunk:
    """Decode a text chunk; compressed text is inflated up to ``src.max_blob``.

    tEXt and zTXt are Latin-1 by specification; iTXt is UTF-8. Undecodable
    text is replaced rather than rejected, because a detector would rather see
    a damaged value than none.

    Raises:
        CorruptMedia: the chunk has no keyword separator, an unknown
            compression method or invalid compressed data.
        MediaLimitExceeded: the chunk or its inflated text exceeds
            ``max_metadata_bytes``.
    """
    if chunk.type not in TEXT_CHUNKS:
        msg = f"PNG chunk {chunk.name!r} is not a text chunk"
        raise ValueError(msg)
    what = f"PNG {chunk.name} chunk at offset {src.absolute(chunk.offset)}"
    data = src.read_blob(chunk.data_offset, chunk.length, what)
    with translate_errors(src.path, what):
        keyword, sep, rest = data.partition(b"\x00")
        if not sep or not 1 <= len(keyword) <= 79:
            msg = "missing or invalid keyword"
            raise ValueError(msg)
        key = keyword.decode("latin-1")
        if chunk.type == b"tEXt":
            return TextChunk(chunk, key, rest.decode("latin-1"))
        if chunk.type == b"zTXt":
            _check_method(rest[0])
            text = inflate(rest[1:], max_out=src.max_blob, what=what, path=src.path)
            return TextChunk(chunk, key, text.decode("latin-1"), compressed=True)
        return _itxt(src, chunk, key, rest, what)


def _itxt(src: Source, chunk: Chunk, key: str, rest: bytes, what: str) -> TextChunk:
    compressed, method = rest[0], rest[1]
    language, sep1, rest = rest[2:].partition(b"\x00")
    translated, sep2, body = rest.partition(b"\x00")
    if not (sep1 and sep2):
        msg = "missing language or translated keyword"
        raise ValueError(msg)
    if compressed:
        _check_method(method)
        body = inflate(body, max_out=src.max_blob, what=what, path=src.path)
    return TextChunk(
        chunk=chunk,
        keyword=key,
        text=body.decode("utf-8", errors="replace"),
        compressed=bool(compressed),
        language=language.decode("latin-1"),
        translated_keyword=translated.decode("utf-8", errors="replace"),
    )


def _check_method(method: int) -> None:
    if method != 0:
        msg = f"unknown compression method {method}"
        raise ValueError(msg)
