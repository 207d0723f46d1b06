"""Readers that go through PyAV or mutagen: Matroska/FLV/TS tags, ID3, Vorbis.

Why libraries here and our own walkers elsewhere: these tag formats (EBML,
AMF0, ID3v2 with its unsynchronisation and frame encodings, Vorbis comments
in Ogg pages) are intricate, and the libraries are correct and fast at them.
PyAV is opened so that it does not decode a frame (``skip_frame=all`` and a
tiny probe), which keeps an HD video under a millisecond; mutagen is used
only for audio. Every library exception becomes ``CorruptMedia``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, Final

import av
import mutagen
import mutagen.id3

from deepguard.errors import CorruptMedia
from deepguard.provenance._trace import C2paHint, ReadContext, ReadFailure, Trace

__all__ = ["id3_bytes_traces", "read_av", "read_id3", "read_vorbis"]

_Out = Iterator[Trace | ReadFailure | C2paHint]

_AV_OPTIONS: Final = {"probesize": "32", "analyzeduration": "0", "skip_frame": "all"}
"""Read headers only: no frame is decoded to fill in stream parameters."""
_AV_PREFIX: Final = {"matroska": "mkv", "mpegts": "ts"}
_ID3_TEXT_SKIP: Final = frozenset(
    {"APIC", "GEOB", "PRIV", "MCDI", "SYLT", "USLT", "POPM"}
)
"""Binary frames and lyrics: never generator names, sometimes megabytes."""
_ID3_HEADER: Final = 10
_FLAC_MAX_BLOCKS: Final = 1024


def read_av(ctx: ReadContext) -> _Out:
    """Container and per-stream tags through PyAV (Matroska, FLV, MPEG-TS).

    Raises:
        CorruptMedia: FFmpeg cannot open the file.
    """
    container_name = ctx.item.probe.container
    prefix = _AV_PREFIX.get(container_name, container_name)
    path = ctx.item.path
    traces: list[Trace] = []
    try:
        with av.open(str(path), metadata_errors="ignore", options=_AV_OPTIONS) as box:
            for key, value in box.metadata.items():
                traces.append(Trace("tag", f"{prefix}:{key}", value, f"{prefix}:tags"))
            for stream in box.streams:
                carrier = f"{prefix}:stream{stream.index}"
                for key, value in stream.metadata.items():
                    field = f"stream{stream.index}:{key}"
                    traces.append(Trace("tag", field, value, carrier))
    except (av.FFmpegError, OSError, ValueError) as exc:
        msg = f"cannot read {prefix} tags: {exc}"
        raise CorruptMedia(msg, path=path) from exc
    yield from (t for t in traces if t.value)


def read_id3(ctx: ReadContext) -> _Out:
    """ID3v2 frames at the start of an MP3 and the ID3v1 tag at its end.

    Raises:
        CorruptMedia: the ID3v2 tag is malformed.
        MediaLimitExceeded: the ID3v2 tag is larger than ``max_metadata_bytes``.
    """
    src = ctx.src
    head = src.read_upto(0, _ID3_HEADER)
    if head[:3] == b"ID3" and len(head) == _ID3_HEADER:
        footer = _ID3_HEADER if head[5] & 0x10 else 0
        size = _ID3_HEADER + _synchsafe(head[6:10]) + footer
        data = src.read_blob(0, min(size, src.size), "ID3v2 tag")
        yield from id3_bytes_traces(ctx, data, f"id3v2.{head[3]}", 0, strict=True)
    yield from _id3v1(ctx)


def id3_bytes_traces(
    ctx: ReadContext,
    data: bytes,
    carrier: str,
    offset: int | None,
    *,
    strict: bool = False,
) -> _Out:
    """Traces for an ID3v2 tag held in ``data`` (MP3 head, WAV ``id3 `` chunk).

    With ``strict`` a malformed tag raises; otherwise it is a ``ReadFailure``.
    """
    try:
        tags = mutagen.id3.ID3(io.BytesIO(data))  # type: ignore[no-untyped-call]
    except mutagen.id3.ID3NoHeaderError:
        return
    except (mutagen.MutagenError, ValueError, EOFError) as exc:
        error = CorruptMedia(f"malformed ID3 tag: {exc}", path=ctx.item.path)
        if strict:
            raise error from exc
        yield ReadFailure(carrier, error, offset)
        return
    for frame in tags.values():  # type: ignore[no-untyped-call]
        field, value = _id3_frame(frame)
        if field and value:
            yield Trace("tag", field, value, carrier, offset)


def _id3_frame(frame: Any) -> tuple[str | None, str]:
    frame_id = str(frame.FrameID)
    if frame_id in _ID3_TEXT_SKIP:
        return None, ""
    desc = str(getattr(frame, "desc", "") or "")
    if frame_id in ("TXXX", "WXXX"):
        field = f"id3:{frame_id}:{desc}"
    elif frame_id == "COMM":
        field = f"id3:COMM:{desc}" if desc else "id3:COMM"
    else:
        field = f"id3:{frame_id}"
    if hasattr(frame, "url"):
        return field, str(frame.url)
    text = getattr(frame, "text", None)
    if isinstance(text, list):
        return field, "\n".join(str(t) for t in text)
    return None, ""


def _synchsafe(raw: bytes) -> int:
    return (
        (raw[0] & 0x7F) << 21
        | (raw[1] & 0x7F) << 14
        | (raw[2] & 0x7F) << 7
        | raw[3] & 0x7F
    )


def _id3v1(ctx: ReadContext) -> _Out:
    src = ctx.src
    if src.size < 128:
        return
    tail = src.read(src.size - 128, 128, "ID3v1 tag")
    if tail[:3] != b"TAG":
        return
    fields = (
        ("title", 3, 33),
        ("artist", 33, 63),
        ("album", 63, 93),
        ("comment", 97, 127),
    )
    for name, start, end in fields:
        value = tail[start:end].split(b"\x00", 1)[0].decode("latin-1").strip()
        if value:
            yield Trace("tag", f"id3v1:{name}", value, "id3v1", src.size - 128 + start)


def read_vorbis(ctx: ReadContext) -> _Out:
    """Vorbis comments of FLAC, Ogg Vorbis/Opus/FLAC/Speex/Theora via mutagen.

    Raises:
        CorruptMedia: mutagen cannot parse the file.
        MediaLimitExceeded: a FLAC metadata block (a cover picture, say) is
            larger than ``max_metadata_bytes``; mutagen would load it whole.
    """
    path = ctx.item.path
    container_name = ctx.item.probe.container
    if container_name == "flac":
        _check_flac_blocks(ctx)
    try:
        audio = mutagen.File(str(path))
    except (mutagen.MutagenError, ValueError, EOFError, OSError) as exc:
        msg = f"cannot read {container_name} comments: {exc}"
        raise CorruptMedia(msg, path=path) from exc
    tags = getattr(audio, "tags", None)
    if tags is None:
        return
    carrier = f"{container_name}:vorbis_comment"
    try:
        pairs = list(tags)
    except (TypeError, ValueError):
        return  # not a Vorbis comment block (e.g. ID3 inside FLAC): nothing to read
    for pair in pairs:
        if isinstance(pair, tuple) and len(pair) == 2 and pair[1]:
            yield Trace("tag", f"vorbis:{pair[0]}", str(pair[1]), carrier)


def _check_flac_blocks(ctx: ReadContext) -> None:
    """Walk the FLAC metadata block headers and refuse oversized blocks.

    Raises:
        CorruptMedia: a block header runs past the end of the file.
        MediaLimitExceeded: a block is larger than ``max_metadata_bytes``.
    """
    src = ctx.src
    pos = 4  # after "fLaC"
    for _ in range(_FLAC_MAX_BLOCKS):
        head = src.read(pos, 4, "FLAC metadata block header")
        size = int.from_bytes(head[1:4], "big")
        src.check_span(pos + 4, size, "FLAC metadata block")
        if size > src.max_blob:
            src.read_blob(pos + 4, size, "FLAC metadata block")  # raises the limit
        if head[0] & 0x80:  # last-metadata-block flag
            return
        pos += 4 + size
