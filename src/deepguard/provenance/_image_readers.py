"""Readers for containers we walk ourselves: JPEG, PNG, RIFF, GIF, TIFF, ISO BMFF.

Each reader walks the structure with :mod:`deepguard.media.containers` and
yields traces. A broken embedded blob (an XMP packet with a DTD, an EXIF
block with a bad offset, a zTXt bomb) becomes a :class:`ReadFailure` and the
walk goes on; only a broken container structure ends the reader.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from deepguard.errors import DeepguardError
from deepguard.media.containers import gif, isobmff, jpeg, png, riff, tiff, xmp
from deepguard.media.containers._binary import Source
from deepguard.media.probe import MediaKind
from deepguard.provenance._classify import wants_xmp
from deepguard.provenance._tag_readers import id3_bytes_traces
from deepguard.provenance._trace import C2paHint, ReadContext, ReadFailure, Trace

__all__ = [
    "exif_traces",
    "read_gif",
    "read_isobmff",
    "read_jpeg",
    "read_png",
    "read_riff",
    "read_tiff",
    "xmp_traces",
]

_Out = Iterator[Trace | ReadFailure | C2paHint]
_C2PA_POINTER: Final = "dcterms:provenance"
"""XMP property through which C2PA points to a remote (or embedded) store."""


def xmp_traces(ctx: ReadContext, data: bytes, carrier: str, offset: int | None) -> _Out:
    """Traces for the XMP properties any rule reads; a bad packet is a failure."""
    try:
        props = xmp.parse(data, path=ctx.src.path, max_bytes=ctx.src.max_blob)
    except DeepguardError as exc:
        yield ReadFailure(carrier, exc, offset)
        return
    if _C2PA_POINTER in props:
        yield C2paHint(carrier, offset)
    for key, value in props.items():
        if not wants_xmp(key):
            continue
        for item in value if isinstance(value, list) else (value,):
            if item:
                yield Trace("xmp", key, item, carrier, offset)


def exif_traces(ctx: ReadContext, data: bytes, data_offset: int, carrier: str) -> _Out:
    """Traces for an embedded EXIF block (a TIFF structure at ``data_offset``)."""
    view = Source.from_bytes(
        data, path=ctx.src.path, max_blob=ctx.src.max_blob, base=data_offset
    )
    try:
        fields = list(tiff.iter_fields(view))
    except DeepguardError as exc:
        yield ReadFailure(carrier, exc, data_offset)
        return
    for field in fields:
        yield from _tiff_field(ctx, field, carrier)


def _tiff_field(ctx: ReadContext, field: tiff.Field, carrier: str) -> _Out:
    if isinstance(field.value, bytes):
        yield from xmp_traces(ctx, field.value, f"{carrier}/XMP", field.offset)
    elif field.value:
        yield Trace("exif", f"exif:{field.name}", field.value, carrier, field.offset)


def _text(data: bytes) -> str:
    text = data.rstrip(b"\x00")
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        return text.decode("latin-1")


def read_jpeg(ctx: ReadContext) -> _Out:
    """EXIF (APP1), XMP (APP1, extended XMP reassembled) and COM text."""
    for blob in jpeg.iter_blobs(ctx.src):
        if blob.kind == "exif":
            yield from exif_traces(ctx, blob.data, blob.data_offset, blob.carrier)
        elif blob.kind == "xmp":
            yield from xmp_traces(ctx, blob.data, blob.carrier, blob.offset)
        elif blob.kind == "jumbf":
            yield C2paHint(blob.carrier, blob.offset)
        else:
            yield Trace("tag", "jpeg:COM", _text(blob.data), blob.carrier, blob.offset)


def read_png(ctx: ReadContext) -> _Out:
    """tEXt/zTXt/iTXt chunks (XMP among them) and the eXIf chunk."""
    src = ctx.src
    for chunk in png.iter_chunks(src):
        carrier = f"png:{chunk.name}"
        try:
            if chunk.type in png.TEXT_CHUNKS:
                text = png.read_text(src, chunk)
            elif chunk.type == b"eXIf":
                data = src.read_blob(chunk.data_offset, chunk.length, "PNG eXIf chunk")
                yield from exif_traces(ctx, data, chunk.data_offset, carrier)
                continue
            else:
                if chunk.type == b"caBX":
                    yield C2paHint(carrier, chunk.offset)
                continue
        except DeepguardError as exc:
            yield ReadFailure(carrier, exc, chunk.offset)
            continue
        if text.keyword == png.XMP_KEYWORD:
            yield from xmp_traces(ctx, text.text.encode("utf-8"), carrier, chunk.offset)
        elif text.text:
            yield Trace("png", f"png:{text.keyword}", text.text, carrier, chunk.offset)


def read_riff(ctx: ReadContext) -> _Out:
    """WebP XMP/EXIF, AVI/WAV LIST/INFO entries, ``AIGC``, ``_PMX`` and ID3."""
    src = ctx.src
    for chunk in riff.iter_chunks(src):
        if chunk.fourcc == b"C2PA":
            yield C2paHint(chunk.path, chunk.offset)
        if chunk.fourcc == b"LIST" or (
            chunk.fourcc not in _RIFF_PAYLOADS and chunk.parent != b"INFO"
        ):
            continue
        try:
            data = src.read_blob(
                chunk.data_offset, chunk.size, f"RIFF {chunk.name!r} chunk"
            )
        except DeepguardError as exc:
            yield ReadFailure(chunk.path, exc, chunk.offset)
            continue
        yield from _riff_chunk(ctx, chunk, data)


_RIFF_PAYLOADS: Final = frozenset(
    {b"XMP ", b"_PMX", b"EXIF", b"AIGC", b"strn", b"id3 ", b"ID3 "}
)


def _riff_chunk(ctx: ReadContext, chunk: riff.Chunk, data: bytes) -> _Out:
    carrier = chunk.path
    if chunk.fourcc in (b"XMP ", b"_PMX"):
        yield from xmp_traces(ctx, data, carrier, chunk.offset)
    elif chunk.fourcc == b"EXIF":
        skip = len(jpeg.EXIF_SIGNATURE) if data.startswith(jpeg.EXIF_SIGNATURE) else 0
        yield from exif_traces(ctx, data[skip:], chunk.data_offset + skip, carrier)
    elif chunk.fourcc in (b"id3 ", b"ID3 "):
        yield from id3_bytes_traces(ctx, data, carrier, chunk.offset)
    else:
        field = f"riff:{chunk.name.strip()}"
        value = riff.text_value(data)
        if value:
            yield Trace("tag", field, value, carrier, chunk.offset)


def read_gif(ctx: ReadContext) -> _Out:
    """The XMP application extension and comment extensions."""
    src = ctx.src
    for ext in gif.iter_extensions(src):
        carrier = f"gif:{ext.name}"
        if ext.app_id is not None and ext.app_id.startswith(b"C2PA_GIF"):
            yield C2paHint(carrier, ext.offset)
        try:
            if ext.app_id == gif.XMP_APP_ID:
                packet = gif.read_xmp(src, ext)
                if packet:
                    yield from xmp_traces(ctx, packet, carrier, ext.offset)
            elif ext.name == "comment":
                text = _text(gif.read_subblocks(src, ext))
                if text:
                    yield Trace("tag", "gif:comment", text, carrier, ext.offset)
        except DeepguardError as exc:
            yield ReadFailure(carrier, exc, ext.offset)


def read_tiff(ctx: ReadContext) -> _Out:
    """IFD0 software/author tags, XMP (tag 700) and EXIF UserComment."""
    for field in tiff.iter_fields(ctx.src):
        yield from _tiff_field(ctx, field, f"tiff:{field.ifd}")


def read_isobmff(ctx: ReadContext) -> _Out:
    """Movie and track tags, XMP boxes and HEIF XMP/EXIF items.

    Movie-level tags are reported as ``mp4:<key>`` (``heif:<key>`` for
    images) and track tags as ``stream<N>:<key>``, the names ffmpeg uses.
    """
    prefix = "heif" if ctx.item.kind is MediaKind.IMAGE else "mp4"
    for entry in isobmff.iter_metadata(ctx.src):
        if isinstance(entry, isobmff.Tag):
            scope = entry.scope.replace("track", "stream")
            field = (
                f"{prefix}:{entry.key}" if scope == "movie" else f"{scope}:{entry.key}"
            )
            carrier = f"isobmff:{entry.box.location}"
            yield Trace("tag", field, entry.value, carrier, entry.box.offset)
        elif entry.kind == "xmp":
            yield from xmp_traces(ctx, entry.data, entry.carrier, entry.offset)
        elif entry.kind == "c2pa":
            yield C2paHint(entry.carrier, entry.offset)
        else:
            yield from exif_traces(ctx, entry.data, entry.offset, entry.carrier)
