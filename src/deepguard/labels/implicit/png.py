"""PNG label carrier: a ``tEXt`` chunk ``AIGC`` mirrored in XMP.

The TC260 practice guide lists two places for a PNG label, a text chunk with
keyword ``AIGC`` and the ``TC260:AIGC`` XMP property (``iTXt`` keyword
``XML:com.adobe.xmp``); readers in the wild look at one or the other, so
the writer fills both with the same JSON.

How copies are counted. The standard allows one label per file, yet the
writer stores that one label twice. The pair is therefore treated as one
logical label: each XMP value that is identical (ignoring surrounding
whitespace) to a text-chunk value is that chunk's mirror and is not returned
as a copy of its own. Every text chunk is returned, as is every XMP value
with no identical text-chunk partner (one partner each), so two ``tEXt``
chunks, or a ``tEXt`` and an XMP value that disagree, are still reported as
two copies. ``iTXt`` and ``zTXt`` chunks with keyword ``AIGC`` are read like
``tEXt``, and a label in the EXIF UserComment of an ``eXIf`` chunk is a copy
of its own (the writer blanks it in place).

Writing removes every ``AIGC`` text chunk and the ``TC260:AIGC`` property
from every XMP packet (keeping the packets' other properties), then adds a
``tEXt`` chunk after ``IHDR`` and puts the label into the first XMP packet,
or into a new ``iTXt`` packet after ``IHDR`` when there is none. Image
chunks are copied byte for byte.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar, Final

from deepguard.config import Limits
from deepguard.errors import CorruptMedia, UnsupportedFormat
from deepguard.labels.fields import RawLabel
from deepguard.labels.implicit import xmp_label
from deepguard.labels.implicit._digest import digest_parts
from deepguard.labels.implicit._exif_label import (
    comment_blanks,
    exif_copies,
    user_comments,
)
from deepguard.labels.implicit._splice import copy_span, iter_span, rewriting
from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.media.containers import png
from deepguard.media.containers._binary import Source, u32be

__all__ = ["PngCarrier"]

_KEYWORD_BYTES: Final = b"AIGC"
_XMP_KEYWORD: Final = png.XMP_KEYWORD.encode("latin-1")
_EXIF: Final = b"eXIf"
_IMAGE_ANCILLARY: Final = frozenset(
    {
        b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"cICP", b"mDCv",
        b"cLLi", b"acTL", b"fcTL", b"fdAT",
    }
)  # fmt: skip
"""Ancillary chunks that change how pixels decode or animate, so are content."""


class PngCarrier(Carrier):
    """Label in ``tEXt AIGC`` plus ``TC260:AIGC`` in the XMP ``iTXt`` chunk."""

    name: ClassVar[str] = "png"
    containers: ClassVar[frozenset[str]] = frozenset({"png"})

    def read(self, path: Path, limits: Limits) -> CarrierRead:
        found = CarrierRead()
        texts: list[RawLabel] = []
        mirrors: list[RawLabel] = []
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            _check_signature(src)
            try:
                for chunk in png.iter_chunks(src):
                    if chunk.type in png.TEXT_CHUNKS:
                        _read_text(src, chunk, texts, mirrors, found.errors)
                    elif chunk.type == _EXIF:
                        found.copies += _exif_labels(src, chunk, found.errors)
            except CorruptMedia as exc:
                found.errors.append(exc.msg)
        found.copies += _one_logical_label(texts, mirrors)
        found.copies.sort(key=lambda r: r.offset or 0)
        return found

    def write(self, src: Path, dst: Path, payload: str, limits: Limits) -> None:
        with rewriting(src, dst, limits) as (source, out):
            _check_signature(source)
            chunks = list(png.iter_chunks(source))
            _write(source, chunks, out, payload)

    def content_digest(self, path: Path, limits: Limits) -> str:
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            _check_signature(src)
            chunks = list(png.iter_chunks(src))
            return digest_parts(_content_parts(src, chunks), domain="png")


def _check_signature(src: Source) -> None:
    if src.read_upto(0, len(png.SIGNATURE)) != png.SIGNATURE:
        raise src.corrupt("not a PNG: missing signature")


def _keyword(src: Source, chunk: png.Chunk) -> bytes:
    """The keyword of a text chunk, read without reading its text."""
    head = src.read_upto(chunk.data_offset, min(chunk.length, 80))
    return head.partition(b"\x00")[0]


def _read_text(
    src: Source,
    chunk: png.Chunk,
    texts: list[RawLabel],
    mirrors: list[RawLabel],
    errors: list[str],
) -> None:
    """Collect the label copies of one text chunk; damage becomes an error."""
    keyword = _keyword(src, chunk)
    if keyword not in (_KEYWORD_BYTES, _XMP_KEYWORD):
        return
    where = f"{chunk.name} {keyword.decode('latin-1')}"
    try:
        text = png.read_text(src, chunk)
        if not _crc_ok(src, chunk):
            errors.append(f"PNG {where} chunk at offset {chunk.offset}: bad CRC")
    except (CorruptMedia, UnsupportedFormat) as exc:
        errors.append(exc.msg)
        return
    if keyword == _KEYWORD_BYTES:
        texts.append(RawLabel("png", where, text.text, chunk.offset))
        return
    packet = text.text.encode("utf-8")
    mirrors += xmp_label.packet_copies(
        "png", packet, src, errors, where=where, offset=chunk.offset
    )


def _crc_ok(src: Source, chunk: png.Chunk) -> bool:
    body = src.read(chunk.offset + 4, 4 + chunk.length, "PNG chunk")
    stored = u32be(src.read(chunk.data_offset + chunk.length, 4, "PNG chunk CRC"))
    return zlib.crc32(body) & 0xFFFFFFFF == stored


def _one_logical_label(
    texts: list[RawLabel], mirrors: list[RawLabel]
) -> list[RawLabel]:
    """Text copies, plus XMP copies that are not a text copy's mirror."""
    unpaired = [t.payload.strip() for t in texts]
    copies = list(texts)
    for raw in mirrors:
        value = raw.payload.strip()
        if value in unpaired:
            unpaired.remove(value)
        else:
            copies.append(raw)
    return copies


def _exif_payload(src: Source, chunk: png.Chunk) -> tuple[bytes, Source]:
    """The ``eXIf`` payload, and a view of it (offsets within the payload)."""
    data = src.read_blob(chunk.data_offset, chunk.length, "PNG eXIf chunk")
    return data, Source.from_bytes(data, path=src.path, max_blob=src.max_blob)


def _exif_labels(src: Source, chunk: png.Chunk, errors: list[str]) -> list[RawLabel]:
    _, view = _exif_payload(src, chunk)
    return exif_copies("png", view, errors, where="eXIf", base=chunk.data_offset)


def _neutralised_exif(src: Source, chunk: png.Chunk) -> bytes:
    """The ``eXIf`` chunk with labelled UserComments blanked (same length).

    An EXIF block that cannot be parsed is copied as it is: no reader can
    find a label in it either.
    """
    data, view = _exif_payload(src, chunk)
    try:
        comments = user_comments(view)
    except CorruptMedia:
        return src.read(chunk.offset, 12 + chunk.length, "PNG eXIf chunk")
    patched = bytearray(data)
    for at, blank in comment_blanks(comments).items():
        patched[at : at + len(blank)] = blank
    return _chunk(_EXIF, bytes(patched))


def _chunk(ctype: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(ctype + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", crc)


def _text_chunk(payload: str) -> bytes:
    """``tEXt AIGC``; a label is ASCII, anything else goes to ``iTXt`` as UTF-8."""
    try:
        return _chunk(b"tEXt", _KEYWORD_BYTES + b"\x00" + payload.encode("latin-1"))
    except UnicodeEncodeError:
        return _itxt(_KEYWORD_BYTES, payload.encode("utf-8"))


def _itxt(keyword: bytes, text: bytes) -> bytes:
    """An uncompressed ``iTXt`` chunk without language or translated keyword."""
    return _chunk(b"iTXt", keyword + b"\x00\x00\x00\x00\x00" + text)


def _write(src: Source, chunks: list[png.Chunk], out: BinaryIO, payload: str) -> None:
    """Copy ``chunks`` to ``out`` with exactly one label (see the module doc).

    Raises:
        CorruptMedia: the file does not start with IHDR, or an XMP packet is
            damaged.
    """
    if chunks[0].type != b"IHDR":
        raise src.corrupt(f"PNG starts with {chunks[0].name!r} instead of IHDR")
    out.write(png.SIGNATURE)
    labelled_xmp = False
    for chunk in chunks:
        if chunk.type in png.TEXT_CHUNKS:
            keyword = _keyword(src, chunk)
            if keyword == _KEYWORD_BYTES:
                continue
            if keyword == _XMP_KEYWORD:
                out.write(_edited_xmp(src, chunk, None if labelled_xmp else payload))
                labelled_xmp = True
                continue
        if chunk.type == _EXIF:
            out.write(_neutralised_exif(src, chunk))
            continue
        copy_span(src, out, chunk.offset, 12 + chunk.length, what="PNG")
        if chunk.type == b"IHDR":
            out.write(_text_chunk(payload))
            if not any(_is_xmp(src, c) for c in chunks):
                out.write(_itxt(_XMP_KEYWORD, xmp_label.new_packet(payload)))
                labelled_xmp = True
    end = chunks[-1].offset + 12 + chunks[-1].length
    copy_span(src, out, end, src.size - end, what="PNG trailing data")


def _is_xmp(src: Source, chunk: png.Chunk) -> bool:
    return chunk.type in png.TEXT_CHUNKS and _keyword(src, chunk) == _XMP_KEYWORD


def _edited_xmp(src: Source, chunk: png.Chunk, payload: str | None) -> bytes:
    """The XMP chunk without labels, or carrying ``payload`` when given.

    Raises:
        CorruptMedia: the packet is damaged, so it cannot be shown label-free.
    """
    packet = png.read_text(src, chunk).text.encode("utf-8")
    if payload is None:
        if not xmp_label.find_labels(packet, path=src.path, max_bytes=src.max_blob):
            return src.read(chunk.offset, 12 + chunk.length, "PNG XMP chunk")
        packet = xmp_label.remove_labels(packet, path=src.path, max_bytes=src.max_blob)
    else:
        packet = xmp_label.set_label(
            packet, payload, path=src.path, max_bytes=src.max_blob
        )
    return _itxt(_XMP_KEYWORD, packet)


def _content_parts(src: Source, chunks: list[png.Chunk]) -> Iterator[bytes]:
    """Critical chunks (but IEND) and image ancillary chunks, type then data."""
    for chunk in chunks:
        critical = not chunk.type[0] & 0x20
        if (critical and chunk.type != b"IEND") or chunk.type in _IMAGE_ANCILLARY:
            yield chunk.type
            yield from iter_span(
                src, chunk.data_offset, chunk.length, f"PNG {chunk.name} chunk"
            )
