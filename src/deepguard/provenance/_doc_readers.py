"""Readers for formats without a walker of ours: byte scans, PDF, OOXML, text.

For containers whose metadata we do not parse structurally (Matroska, MP3,
FLAC, PDF, BMP ...), XMP is found by searching the first and last
``metadata_scan_bytes`` of the file through ``mmap`` (a C-speed search that
never copies the file). PDF Info dictionaries are found the same way; OOXML
document properties are read from the zip with the entry size checked
first; Markdown front matter is read from the first 64 KiB.
"""

from __future__ import annotations

import mmap
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from typing import Final

from deepguard.errors import CorruptMedia, MediaLimitExceeded
from deepguard.media.containers import xmp
from deepguard.provenance._image_readers import xmp_traces
from deepguard.provenance._trace import C2paHint, ReadContext, ReadFailure, Trace

__all__ = ["read_front_matter", "read_ooxml", "read_pdf_info", "scan_xmp"]

_Out = Iterator[Trace | ReadFailure | C2paHint]

_PDF_KEY: Final = re.compile(
    rb"/(Creator|Producer|AIGC|Author|Title|Subject|Keywords)\s*(\((?!\))|<(?!<))"
)
_PDF_STRING_MAX: Final = 65536
_OCTAL: Final = re.compile(rb"[0-7]{1,3}")
_PDF_ESCAPES: Final = {
    ord("n"): b"\n",
    ord("r"): b"\r",
    ord("t"): b"\t",
    ord("b"): b"\b",
    ord("f"): b"\f",
}
_OOXML_PARTS: Final = (
    ("docProps/app.xml", "ooxml"),
    ("docProps/core.xml", "ooxml"),
    ("docProps/custom.xml", "ooxml:custom"),
)
_DTD: Final = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_FRONT_MATTER_MAX: Final = 65536
_FRONT_KEY: Final = re.compile(r"^([A-Za-z_][\w.\-]*)\s*:\s*(.*?)\s*$")


def _windows(size: int, span: int) -> list[tuple[int, int]]:
    """The first and last ``span`` bytes (one window when they overlap)."""
    if size <= 2 * span:
        return [(0, size)]
    return [(0, span), (size - span, size)]


def scan_xmp(ctx: ReadContext) -> _Out:
    """XMP packets anywhere in the first and last ``metadata_scan_bytes``."""
    packets: list[tuple[int, bytes]] = []
    span = ctx.item.limits.metadata_scan_bytes
    with (
        ctx.item.path.open("rb") as fh,
        mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm,
    ):
        for start, end in _windows(len(mm), span):
            packets.extend(xmp.find_packets(mm, start, end, max_bytes=ctx.src.max_blob))
    carrier = f"{ctx.item.probe.container}:xmp"
    for offset, packet in packets:
        yield from xmp_traces(ctx, packet, carrier, offset)


def read_pdf_info(ctx: ReadContext) -> _Out:
    """Info dictionary strings (Creator, Producer, AIGC ...) in the scan windows.

    The Info dictionary is never compressed, so a bounded search finds it
    without a PDF parser; incremental updates may repeat a key, and each
    distinct value is reported.
    """
    seen: set[tuple[str, str]] = set()
    found: list[Trace] = []
    span = ctx.item.limits.metadata_scan_bytes
    with (
        ctx.item.path.open("rb") as fh,
        mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm,
    ):
        for start, end in _windows(len(mm), span):
            for match in _PDF_KEY.finditer(mm, start, end):
                raw = mm[
                    match.end(2) - 1 : min(end, match.end(2) - 1 + _PDF_STRING_MAX)
                ]
                value = _pdf_string(raw)
                field = f"pdf:{match.group(1).decode('ascii')}"
                if value and (field, value) not in seen:
                    seen.add((field, value))
                    found.append(Trace("tag", field, value, "pdf:Info", match.start()))
    yield from found


def _pdf_string(raw: bytes) -> str | None:
    """Decode a PDF literal ``(...)`` or hex ``<...>`` string at ``raw[0]``."""
    if raw[:1] == b"<":
        end = raw.find(b">")
        if end < 0:
            return None
        digits = re.sub(rb"\s", b"", raw[1:end])
        try:
            return _pdf_text(
                bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode())
            )
        except ValueError:
            return None
    out = bytearray()
    depth, i = 0, 1
    while i < len(raw):
        ch = raw[i]
        if ch == 0x5C and i + 1 < len(raw):  # backslash
            i += 1
            nxt = raw[i]
            if nxt in _PDF_ESCAPES:
                out += _PDF_ESCAPES[nxt]
            elif 0x30 <= nxt <= 0x37:
                octal = _OCTAL.match(raw, i)
                code = octal.group(0) if octal else b"0"
                out.append(int(code, 8) & 0xFF)
                i += len(code) - 1
            elif nxt not in (0x0A, 0x0D):
                out.append(nxt)
        elif ch == 0x28:
            depth += 1
            out.append(ch)
        elif ch == 0x29:
            if depth == 0:
                return _pdf_text(bytes(out))
            depth -= 1
            out.append(ch)
        else:
            out.append(ch)
        i += 1
    return None


def _pdf_text(data: bytes) -> str:
    if data[:2] == b"\xfe\xff":
        return data[2:].decode("utf-16-be", errors="replace").strip()
    if data[:3] == b"\xef\xbb\xbf":
        data = data[3:]
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        return data.decode("latin-1").strip()


def read_ooxml(ctx: ReadContext) -> _Out:
    """Office document properties: application, authors, custom ``AIGC``.

    Raises:
        CorruptMedia: the file is not a readable zip archive.
    """
    path = ctx.item.path
    limit = ctx.src.max_blob
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptMedia(f"not a readable zip archive: {exc}", path=path) from exc
    with archive:
        names = set(archive.namelist())
        for part, prefix in _OOXML_PARTS:
            if part not in names:
                continue
            carrier = f"zip:{part}"
            info = archive.getinfo(part)
            if info.file_size > limit:
                msg = (
                    f"{part} is {info.file_size} bytes, over the"
                    f" max_metadata_bytes limit of {limit}"
                )
                too_big = MediaLimitExceeded(
                    msg,
                    path=path,
                    limit="max_metadata_bytes",
                    value=info.file_size,
                    maximum=limit,
                )
                yield ReadFailure(carrier, too_big)
                continue
            try:
                data = archive.read(info)
                yield from _ooxml_props(data, prefix, carrier, ctx)
            except (zipfile.BadZipFile, OSError, ET.ParseError, ValueError) as exc:
                error = CorruptMedia(f"cannot read {part}: {exc}", path=path)
                yield ReadFailure(carrier, error)


def _ooxml_props(data: bytes, prefix: str, carrier: str, ctx: ReadContext) -> _Out:
    if _DTD.search(data):
        msg = "declares a DOCTYPE or ENTITY"
        raise ValueError(msg)
    root = ET.fromstring(data)
    for elem in root:
        name = elem.tag.rsplit("}", 1)[-1]
        if prefix == "ooxml:custom":
            name = elem.get("name") or name
            text = "".join(elem.itertext()).strip()
        else:
            text = (elem.text or "").strip()
        if text:
            yield Trace("tag", f"{prefix}:{name}", text, carrier)


def read_front_matter(ctx: ReadContext) -> _Out:
    """Top-level ``key: value`` pairs of YAML front matter (Markdown)."""
    head = ctx.src.read_upto(0, _FRONT_MATTER_MAX).decode("utf-8", errors="replace")
    head = head.removeprefix("\ufeff")
    lines = head.splitlines()
    if not lines or lines[0].strip() != "---":
        return
    offset = len(lines[0].encode("utf-8")) + 1
    for line in lines[1:]:
        if line.strip() in ("---", "..."):
            return
        match = _FRONT_KEY.match(line)
        if match and match.group(2):
            value = _unquote(match.group(2))
            field = f"front_matter:{match.group(1)}"
            yield Trace("tag", field, value, "text:front_matter", offset)
        offset += len(line.encode("utf-8")) + 1


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value
