"""GIF label carrier: ``TC260:AIGC`` in the ``XMP DataXMP`` application extension.

XMP in GIF is stored raw, not as sub-blocks, followed by a 258-byte "magic
trailer" (0x01, 0xFF down to 0x00, then the block terminator) that lets a
reader unaware of XMP skip the packet as if it were sub-blocks.

Writing removes every XMP extension that holds a label and writes one XMP
extension right after the logical screen descriptor and global colour
table, before the first image; the first existing packet's other properties
are carried over into it. A GIF87a header becomes GIF89a, the first version
with extensions. Image data is copied byte for byte.

The content digest covers the logical screen descriptor, the global colour
table, graphic-control and plain-text extensions and every image (descriptor,
local colour table, LZW data): what a decoder draws, and nothing a label
write touches.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar, Final

from deepguard.config import Limits
from deepguard.errors import CorruptMedia
from deepguard.labels.implicit import xmp_label
from deepguard.labels.implicit._digest import digest_parts
from deepguard.labels.implicit._splice import copy_span, iter_span, rewriting
from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.media.containers import gif
from deepguard.media.containers._binary import Source

__all__ = ["GifCarrier"]

_GRAPHIC_CONTROL: Final = 0xF9
_PLAIN_TEXT: Final = 0x01
MAGIC_TRAILER: Final = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"


class GifCarrier(Carrier):
    """Label in the XMP application extension."""

    name: ClassVar[str] = "gif"
    containers: ClassVar[frozenset[str]] = frozenset({"gif"})

    def read(self, path: Path, limits: Limits) -> CarrierRead:
        found = CarrierRead()
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            _screen_end(src)  # a damaged header fails the read, not recorded
            try:
                for block in gif.iter_blocks(src):
                    if _is_xmp(block):
                        _read_xmp(src, block, found)
            except CorruptMedia as exc:
                found.errors.append(exc.msg)
        return found

    def write(self, src: Path, dst: Path, payload: str, limits: Limits) -> None:
        with rewriting(src, dst, limits) as (source, out):
            start = _screen_end(source)
            blocks = list(gif.iter_blocks(source))
            _write(source, start, blocks, out, payload)

    def content_digest(self, path: Path, limits: Limits) -> str:
        with Source.open(path, max_blob=limits.max_metadata_bytes) as src:
            start = _screen_end(src)
            blocks = list(gif.iter_blocks(src))
            return digest_parts(_content_parts(src, start, blocks), domain="gif")


def _screen_end(src: Source) -> int:
    """Offset just after the logical screen descriptor and global colour table.

    Raises:
        CorruptMedia: no GIF signature, or the colour table is truncated.
    """
    end = gif.screen_end(src)
    src.check_span(13, end - 13, "GIF global colour table")
    return end


def _is_xmp(block: gif.Block) -> bool:
    return block.extension is not None and block.extension.app_id == gif.XMP_APP_ID


def _packet(src: Source, block: gif.Block) -> bytes | None:
    """The XMP packet of an XMP extension block (None for other blocks)."""
    ext = block.extension
    return gif.read_xmp(src, ext) if ext is not None else None


def _read_xmp(src: Source, block: gif.Block, found: CarrierRead) -> None:
    packet = _packet(src, block)
    if packet is not None:
        found.copies += xmp_label.packet_copies(
            "gif", packet, src, found.errors, where="XMP DataXMP", offset=block.offset
        )


def _xmp_extension(packet: bytes) -> bytes:
    return b"\x21\xff\x0b" + gif.XMP_APP_ID + packet + MAGIC_TRAILER


def _write(
    src: Source, start: int, blocks: list[gif.Block], out: BinaryIO, payload: str
) -> None:
    xmps = [b for b in blocks if _is_xmp(b)]
    old = _packet(src, xmps[0]) if xmps else None
    packet = xmp_label.set_label(old, payload, path=src.path, max_bytes=src.max_blob)
    out.write(b"GIF89a")
    copy_span(src, out, 6, start - 6, what="GIF screen descriptor")
    out.write(_xmp_extension(packet))
    for block in blocks:
        if _is_xmp(block):
            if block is not xmps[0]:
                _write_unlabelled(src, block, out)
            continue
        if block.kind == "trailer":
            copy_span(src, out, block.offset, src.size - block.offset)
            return
        copy_span(src, out, block.offset, block.end - block.offset)


def _write_unlabelled(src: Source, block: gif.Block, out: BinaryIO) -> None:
    """Keep a further XMP extension, or its label-free packet if it had one."""
    packet = _packet(src, block)
    if packet and xmp_label.find_labels(packet, path=src.path, max_bytes=src.max_blob):
        cleaned = xmp_label.remove_labels(packet, path=src.path, max_bytes=src.max_blob)
        out.write(_xmp_extension(cleaned))
    else:
        copy_span(src, out, block.offset, block.end - block.offset)


def _content_parts(src: Source, start: int, blocks: list[gif.Block]) -> Iterator[bytes]:
    yield src.read(6, start - 6, "GIF screen descriptor")
    for block in blocks:
        ext = block.extension
        drawn = block.kind == "image" or (
            ext is not None and ext.label in (_GRAPHIC_CONTROL, _PLAIN_TEXT)
        )
        if drawn:
            yield from iter_span(
                src, block.offset, block.end - block.offset, "GIF block"
            )
