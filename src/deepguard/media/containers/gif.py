"""GIF block walker: every top-level block, and the extensions among them.

GIF has no lengths at block level: image data and extensions are chains of
sub-blocks of at most 255 bytes. The walker hops over those chains in 64 KiB
windows (one read per window, not per sub-block) and never decodes LZW data.
Readers want only the extensions (:func:`iter_extensions`); a writer that
copies the file block by block wants the images and the trailer too
(:func:`iter_blocks`), and both walk the same way.

XMP is stored in an application extension ``XMP DataXMP`` as raw bytes
followed by a 258-byte "magic trailer" that makes the packet parse as a
sub-block chain; :func:`read_xmp` returns the packet without the trailer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Literal

from deepguard.media.containers._binary import Source

__all__ = [
    "XMP_APP_ID",
    "Block",
    "Extension",
    "iter_blocks",
    "iter_extensions",
    "read_subblocks",
    "read_xmp",
    "screen_end",
]

XMP_APP_ID: Final = b"XMP DataXMP"
_EXTENSION: Final = 0x21
_IMAGE: Final = 0x2C
_TRAILER: Final = 0x3B
_APPLICATION: Final = 0xFF
_COMMENT: Final = 0xFE
_WINDOW: Final = 65536
_PACKET_ENDS: Final = (b"<?xpacket end", b"</x:xmpmeta>")


@dataclass(frozen=True, slots=True)
class Extension:
    """One extension block.

    ``app_id`` is the 11-byte identifier + authentication code of an
    application extension (``XMP DataXMP``, ``NETSCAPE2.0``), else None.
    ``data_offset`` is where its sub-block chain starts and ``end`` is just
    after the chain's terminator.
    """

    label: int
    offset: int
    data_offset: int
    end: int
    app_id: bytes | None = None

    @property
    def name(self) -> str:
        if self.label == _COMMENT:
            return "comment"
        if self.label == _APPLICATION and self.app_id is not None:
            # 8-byte identifier + 3-byte authentication code, which may be binary
            ident, auth = self.app_id[:8], self.app_id[8:]
            text = (
                ident + auth
                if (ident + auth).decode("latin-1").isprintable()
                else ident
            )
            return text.decode("latin-1").strip()
        return f"0x{self.label:02X}"


@dataclass(frozen=True, slots=True)
class Block:
    """One top-level block: an image, an extension or the trailer.

    ``end`` is just after the block (for the trailer, ``offset + 1``);
    ``extension`` is set for extension blocks.
    """

    kind: Literal["image", "extension", "trailer"]
    offset: int
    end: int
    extension: Extension | None = None


def screen_end(src: Source) -> int:
    """Offset just after the logical screen descriptor and global colour table.

    The colour table's bytes are not checked to be there; the first block
    read after it is.

    Raises:
        CorruptMedia: no GIF signature.
    """
    head = src.read_upto(0, 13)
    if len(head) < 13 or head[:6] not in (b"GIF87a", b"GIF89a"):
        raise src.corrupt("not a GIF: missing signature")
    return 13 + _color_table_size(head[10])


def iter_blocks(src: Source) -> Iterator[Block]:
    """Yield every block after the screen descriptor, the trailer last.

    Image data is skipped, not read.

    Raises:
        CorruptMedia: no GIF signature, an unknown block, or a sub-block chain
            that runs past the end of the file.
    """
    pos = screen_end(src)
    cur = _Cursor(src)
    while True:
        kind = cur.byte(pos, "GIF block introducer")
        if kind == _TRAILER:
            yield Block("trailer", pos, pos + 1)
            return
        if kind == _IMAGE:
            flags = cur.byte(pos + 9, "GIF image descriptor")
            # descriptor, local colour table, LZW minimum code size, sub-blocks
            end = cur.skip_subblocks(pos + 10 + _color_table_size(flags) + 1)
            yield Block("image", pos, end)
        elif kind == _EXTENSION:
            ext = _extension(cur, pos, cur.byte(pos + 1, "GIF extension label"))
            end = ext.end
            yield Block("extension", pos, end, ext)
        else:
            msg = f"unknown GIF block 0x{kind:02X} at offset {src.absolute(pos)}"
            raise src.corrupt(msg)
        pos = end


def iter_extensions(src: Source) -> Iterator[Extension]:
    """Yield extension blocks up to the trailer, skipping image data.

    Raises:
        CorruptMedia: see :func:`iter_blocks`.
    """
    for block in iter_blocks(src):
        if block.extension is not None:
            yield block.extension


def _extension(cur: _Cursor, pos: int, label: int) -> Extension:
    data = pos + 2
    app_id = None
    if label == _APPLICATION and cur.byte(data, "GIF application extension") == 11:
        app_id = cur.src.read(data + 1, 11, "GIF application identifier")
        data += 12
    return Extension(label, pos, data, cur.skip_subblocks(data), app_id)


def _color_table_size(flags: int) -> int:
    return 3 * (2 << (flags & 7)) if flags & 0x80 else 0


class _Cursor:
    """Byte access through a 64 KiB window, so hopping costs no extra reads."""

    __slots__ = ("_at", "_window", "src")

    def __init__(self, src: Source) -> None:
        self.src = src
        self._at = 0
        self._window = b""

    def byte(self, pos: int, what: str) -> int:
        rel = pos - self._at
        if not 0 <= rel < len(self._window):
            self._at, self._window = pos, self.src.read_upto(pos, _WINDOW)
            rel = 0
            if not self._window:
                msg = f"{what} at offset {self.src.absolute(pos)} is past the end"
                raise self.src.corrupt(msg)
        return self._window[rel]

    def skip_subblocks(self, pos: int) -> int:
        """Offset just after the terminator of the sub-block chain at ``pos``."""
        while size := self.byte(pos, "GIF sub-block"):
            pos += 1 + size
        return pos + 1


def read_subblocks(src: Source, ext: Extension) -> bytes:
    """The concatenated sub-block payloads of ``ext`` (e.g. comment text).

    Raises:
        MediaLimitExceeded: the chain is larger than ``max_metadata_bytes``.
    """
    raw = src.read_blob(ext.data_offset, ext.end - ext.data_offset, "GIF extension")
    out = bytearray()
    pos = 0
    while pos < len(raw) and raw[pos]:
        out += raw[pos + 1 : pos + 1 + raw[pos]]
        pos += 1 + raw[pos]
    return bytes(out)


def read_xmp(src: Source, ext: Extension) -> bytes | None:
    """The XMP packet of an ``XMP DataXMP`` extension, without the trailer.

    Raises:
        MediaLimitExceeded: the packet is larger than ``max_metadata_bytes``.
    """
    if ext.app_id != XMP_APP_ID:
        return None
    raw = src.read_blob(ext.data_offset, ext.end - ext.data_offset, "GIF XMP data")
    for marker in _PACKET_ENDS:
        at = raw.find(marker)
        if at >= 0:
            close = raw.find(b">", at + len(marker) - 1)
            return raw[: close + 1] if close >= 0 else raw[:at]
    # No recognisable end: drop the 258-byte trailer (0x01, 0xFF..0x00).
    return raw[:-258] if len(raw) > 258 else None
