"""YAML front matter as the label carrier of Markdown and plain text.

Text has no metadata of its own, so both text carriers keep the label where
static-site generators, note apps and Pandoc already keep document metadata:
a ``---`` block at the very top whose ``AIGC:`` key holds the label JSON as a
quoted scalar::

    ---
    title: Field notes
    AIGC: '{"AIGC":{"Label":"1","ContentProducer":"...","ProduceID":"..."}}'
    ---
    The text itself.

Why a dedicated parser and not a YAML library: the input is untrusted, only
one top-level key matters, and everything else in the block must survive a
label write byte for byte (comments, key order, quoting, line endings). So
the block is treated as lines: ``AIGC`` entries are found and replaced, every
other line is copied. Values are read the way YAML reads scalars (single- and
double-quoted, folded over several lines, block ``|``/``>``, plain), so a
label written by a YAML library is still found.

The block must end within ``max_metadata_bytes``; only that head of the file
is decoded, and the body is streamed (and checked to be UTF-8) in chunks.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar, Final

from deepguard.config import Limits
from deepguard.errors import (
    CorruptMedia,
    MediaError,
    MediaLimitExceeded,
    UnsupportedFormat,
)
from deepguard.labels.fields import RawLabel
from deepguard.labels.implicit._digest import digest_parts
from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.media.probe import MediaKind, ProbeResult

__all__ = [
    "FrontMatterCarrier",
    "FrontMatterLabel",
    "render_entry",
    "split_front_matter",
]

_BOM: Final = b"\xef\xbb\xbf"
_UTF16_BOMS: Final = (b"\xff\xfe", b"\xfe\xff")
_CHUNK: Final = 1024 * 1024
_DIGEST_DOMAIN: Final = "text-body"
"""Shared by both carriers: a labelled plain-text file starts with ``---`` and
is then probed as Markdown, and its digest must not change because of that."""
_KEY: Final = re.compile(r"""(?:AIGC|"AIGC"|'AIGC')[ \t]*:(?:[ \t]+(.*))?""")
_BLOCK_HEADER: Final = re.compile(r"[|>][1-9+-]{0,2}(?:[ \t]+#.*)?")
_DOUBLE_ESCAPES: Final = {
    "0": "\0",
    "a": "\a",
    "b": "\b",
    "t": "\t",
    "\t": "\t",
    "n": "\n",
    "v": "\v",
    "f": "\f",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    '"': '"',
    "/": "/",
    "\\": "\\",
    "N": "\x85",
    "_": "\xa0",
    "L": "\u2028",
    "P": "\u2029",
}
_HEX_ESCAPES: Final = {"x": 2, "u": 4, "U": 8}


@dataclass(frozen=True, slots=True)
class _Entry:
    """One top-level ``AIGC`` key: block lines ``[start, stop)`` and its value."""

    start: int
    stop: int
    value: str
    offset: int


@dataclass(frozen=True, slots=True)
class FrontMatterLabel:
    """Where the front matter is and which of its lines hold labels.

    ``lines`` are the decoded lines between the delimiters, each with its own
    line ending, so a rewrite reproduces them exactly.
    """

    bom: bytes
    opening: str
    lines: tuple[str, ...]
    closing: str
    body_start: int
    entries: tuple[_Entry, ...]

    @property
    def newline(self) -> str:
        """The line ending the file's own front matter uses."""
        return _ending(self.opening) or "\n"


def _ending(line: str) -> str:
    if line.endswith("\r\n"):
        return "\r\n"
    if line.endswith(("\n", "\r")):
        return line[-1]
    return ""


def _is_delimiter(line: bytes, marks: tuple[bytes, ...]) -> bool:
    return line.rstrip(b"\r\n").rstrip(b" \t") in marks


def split_front_matter(
    head: bytes, *, complete: bool, path: Path, limit: int
) -> FrontMatterLabel | None:
    """Find the front matter at the top of ``head``; ``None`` when there is none.

    ``complete`` says whether ``head`` is the whole file. A ``---`` line
    without a closing delimiter is a Markdown thematic break, not front
    matter, but only a complete head can show that.

    Raises:
        MediaLimitExceeded: an opened block does not close within ``head``.
        CorruptMedia: the block is not UTF-8.
    """
    bom = _BOM if head.startswith(_BOM) else b""
    raw_lines = head[len(bom) :].splitlines(keepends=True)
    if (
        not raw_lines
        or not _is_delimiter(raw_lines[0], (b"---",))
        or not raw_lines[0].endswith((b"\n", b"\r"))
    ):
        return None
    # The last line of a partial head may be cut anywhere (even between the
    # CR and LF of one line break), so only a complete head may close on it.
    last = len(raw_lines) if complete else len(raw_lines) - 1
    for index in range(1, last):
        if _is_delimiter(raw_lines[index], (b"---", b"...")):
            return _block(bom, raw_lines, index, path)
    if complete:
        return None
    msg = f"front matter does not end within the max_metadata_bytes limit of {limit}"
    raise MediaLimitExceeded(msg, path=path, limit="max_metadata_bytes", maximum=limit)


def _block(
    bom: bytes, raw_lines: list[bytes], close: int, path: Path
) -> FrontMatterLabel:
    try:
        decoded = [line.decode("utf-8") for line in raw_lines[: close + 1]]
    except UnicodeDecodeError as exc:
        msg = f"front matter is not valid UTF-8 ({exc.reason})"
        raise CorruptMedia(msg, path=path) from exc
    body_start = len(bom) + sum(len(line) for line in raw_lines[: close + 1])
    lines = tuple(decoded[1:close])
    offset = len(bom) + len(raw_lines[0])
    offsets = []
    for raw in raw_lines[1:close]:
        offsets.append(offset)
        offset += len(raw)
    entries = tuple(_entries(lines, offsets))
    return FrontMatterLabel(bom, decoded[0], lines, decoded[close], body_start, entries)


def _entries(lines: tuple[str, ...], offsets: list[int]) -> Iterator[_Entry]:
    """Every top-level ``AIGC`` key with the lines its value spans."""
    index = 0
    while index < len(lines):
        match = _KEY.fullmatch(lines[index].rstrip("\r\n"))
        if match is None:
            index += 1
            continue
        stop = index + 1
        while stop < len(lines) and _continues(lines[stop]):
            stop += 1
        while stop > index + 1 and not lines[stop - 1].strip():
            stop -= 1  # trailing blank lines belong to nobody
        more = [line.rstrip("\r\n") for line in lines[index + 1 : stop]]
        value = _scalar((match.group(1) or "").rstrip(), more)
        yield _Entry(index, stop, value, offsets[index])
        index = stop


def _continues(line: str) -> bool:
    """Whether ``line`` still belongs to the value of the key above it."""
    return not line.strip() or line[0] in " \t"


def _scalar(first: str, more: list[str]) -> str:
    """The value of a YAML scalar that starts with ``first`` (after ``key:``)."""
    if not first and more:
        start = next((n for n, line in enumerate(more) if line.strip()), len(more))
        if start < len(more):
            first, more = more[start].strip(), more[start + 1 :]
    if first.startswith("'"):
        return _single_quoted("\n".join([first[1:], *more]))
    if first.startswith('"'):
        return _double_quoted("\n".join([first[1:], *more]))
    if _BLOCK_HEADER.fullmatch(first):
        return _block_scalar(first, more)
    return _plain(first, more)


def _fold(text: str) -> str:
    """YAML flow folding: a line break is a space, each empty line a newline."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    out = lines[0].rstrip(" \t")
    pending = ""
    for line in lines[1:-1]:
        stripped = line.strip(" \t")
        if not stripped:
            pending += "\n"
            continue
        out += (pending or " ") + stripped
        pending = ""
    return out + (pending or " ") + lines[-1].lstrip(" \t")


def _single_quoted(text: str) -> str:
    index = 0
    while True:
        quote = text.find("'", index)
        if quote < 0:
            return _fold(text)  # unterminated: the label parser reports it
        if text.startswith("''", quote):
            index = quote + 2
            continue
        return _fold(text[:quote]).replace("''", "'")


def _double_quoted(text: str) -> str:
    index = 0
    while index < len(text) and text[index] != '"':
        index += 2 if text[index] == "\\" else 1
    raw = text[:index]
    # An escaped line break joins lines without a space; fold the rest.
    raw = re.sub(r"\\\n[ \t]*", "", raw)
    return _unescape(_fold(raw))


def _unescape(text: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(text):
        ch = text[index]
        if ch != "\\" or index + 1 >= len(text):
            out.append(ch)
            index += 1
            continue
        code = text[index + 1]
        if code in _DOUBLE_ESCAPES:
            out.append(_DOUBLE_ESCAPES[code])
            index += 2
        elif code in _HEX_ESCAPES:
            width = _HEX_ESCAPES[code]
            digits = text[index + 2 : index + 2 + width]
            try:
                out.append(chr(int(digits, 16)) if len(digits) == width else "")
            except (ValueError, OverflowError):
                out.append("\\" + code + digits)
            index += 2 + width
        else:  # not a YAML escape: keep it, the label parser reports it
            out.append("\\" + code)
            index += 2
    return "".join(out)


def _block_scalar(header: str, more: list[str]) -> str:
    filled = [line for line in more if line.strip()]
    if not filled:
        return ""
    indent = min(len(line) - len(line.lstrip(" ")) for line in filled)
    text = "\n".join(line[indent:] for line in more)
    if header.startswith(">"):
        text = _fold(text)
    return text if "-" in header else text + "\n"


def _plain(first: str, more: list[str]) -> str:
    text = "\n".join([first, *more])
    comment = re.search(r"[ \t]#", text)
    if comment is not None:
        text = text[: comment.start()]
    return _fold(text.strip())


def render_entry(payload: str, newline: str) -> str:
    """The ``AIGC:`` line for ``payload``: single-quoted unless it cannot be.

    Single quotes need no escapes besides ``''``, so the stored text reads
    exactly like the JSON; a payload with line breaks or other characters
    that are not printable is double-quoted with JSON's ASCII escapes, which
    YAML reads the same way.
    """
    if payload.isprintable():
        return "AIGC: '" + payload.replace("'", "''") + "'" + newline
    return "AIGC: " + json.dumps(payload, ensure_ascii=True) + newline


def _bom_length(head: bytes) -> int:
    return len(_BOM) if head.startswith(_BOM) else 0


def _detect_newline(head: bytes) -> str:
    at = head.find(b"\n")
    cr = head.find(b"\r")
    if cr >= 0 and (at < 0 or cr < at):
        return "\r\n" if head[cr : cr + 2] == b"\r\n" else "\r"
    return "\n"


def _utf8_chunks(fh: BinaryIO, start: int, path: Path) -> Iterator[bytes]:
    """The bytes from ``start`` to the end, in chunks, checked to be UTF-8.

    Raises:
        CorruptMedia: the bytes are not valid UTF-8 (the message gives the
            file offset).
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = start
    fh.seek(start)
    while True:
        chunk = fh.read(_CHUNK)
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(chunk, not chunk)
        except UnicodeDecodeError as exc:
            at = offset - pending + exc.start
            msg = f"text is not valid UTF-8 (byte {at}: {exc.reason})"
            raise CorruptMedia(msg, path=path) from exc
        if not chunk:
            return
        offset += len(chunk)
        yield chunk


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise MediaError(f"cannot open: {exc.strerror or exc}", path=path) from exc


class _Head:
    """The first bytes of a text file: enough for any front matter in limits."""

    def __init__(self, fh: BinaryIO, path: Path, limits: Limits) -> None:
        size = fh.seek(0, 2)
        fh.seek(0)
        cap = limits.max_metadata_bytes + len(_BOM)
        self.data = fh.read(min(size, cap))
        self.complete = len(self.data) == size
        self.path = path
        self.limit = limits.max_metadata_bytes

    def front_matter(self) -> FrontMatterLabel | None:
        if self.data.startswith(_UTF16_BOMS):
            msg = "text is UTF-16; only UTF-8 text can carry a front-matter label"
            raise UnsupportedFormat(msg, path=self.path)
        return split_front_matter(
            self.data, complete=self.complete, path=self.path, limit=self.limit
        )


class FrontMatterCarrier(Carrier):
    """A label in the YAML front matter at the top of a UTF-8 text file.

    Subclasses name the probe MIME types they take; the probe tells Markdown
    from plain text, the storage is the same.
    """

    containers: ClassVar[frozenset[str]] = frozenset({"text"})
    kinds: ClassVar[frozenset[MediaKind] | None] = frozenset({MediaKind.TEXT})
    mimes: ClassVar[frozenset[str]]
    location: ClassVar[str] = "front matter AIGC"

    def handles(self, probe: ProbeResult) -> bool:
        return super().handles(probe) and probe.mime in self.mimes

    def read(self, path: Path, limits: Limits) -> CarrierRead:
        """Every top-level ``AIGC`` key of the front matter.

        A file that is not UTF-8 is recorded as an error rather than raised:
        the part that could not be decoded might hold a label.
        """
        found = CarrierRead()
        with _open(path) as fh:
            head = _Head(fh, path, limits)
            try:
                block = head.front_matter()
            except (CorruptMedia, UnsupportedFormat) as exc:
                found.errors.append(exc.msg)
                return found
            if block is not None:
                found.copies.extend(
                    RawLabel(self.name, self.location, entry.value, entry.offset)
                    for entry in block.entries
                )
            try:
                for _chunk in _utf8_chunks(fh, block.body_start if block else 0, path):
                    pass
            except CorruptMedia as exc:
                found.errors.append(exc.msg)
        return found

    def write(self, src: Path, dst: Path, payload: str, limits: Limits) -> None:
        """Rewrite the front matter with one ``AIGC`` entry; copy the body.

        Other front-matter lines stay byte-identical and in order; the new
        entry takes the place of the first old one (or ends the block), and
        a file without front matter gets a block of its own.

        Raises:
            CorruptMedia: the text is not valid UTF-8.
            UnsupportedFormat: the text is UTF-16.
            MediaLimitExceeded: the payload or front matter is over the limit.
        """
        size = len(payload.encode("utf-8"))
        if size > limits.max_metadata_bytes:
            msg = (
                f"label is {size} bytes, over the max_metadata_bytes limit"
                f" of {limits.max_metadata_bytes}"
            )
            raise MediaLimitExceeded(
                msg,
                path=src,
                limit="max_metadata_bytes",
                value=size,
                maximum=limits.max_metadata_bytes,
            )
        with _open(src) as fh:
            head = _Head(fh, src, limits)
            block = head.front_matter()
            header = self._header(head.data, block, payload)
            start = block.body_start if block else _bom_length(head.data)
            with dst.open("wb") as out:
                out.write(header)
                for chunk in _utf8_chunks(fh, start, src):
                    out.write(chunk)

    def content_digest(self, path: Path, limits: Limits) -> str:
        """SHA-256 of the body after the front matter, byte for byte.

        Raises:
            CorruptMedia: the text is not valid UTF-8.
        """
        with _open(path) as fh:
            head = _Head(fh, path, limits)
            block = head.front_matter()
            start = block.body_start if block else _bom_length(head.data)
            body = hashlib.sha256()
            for chunk in _utf8_chunks(fh, start, path):
                body.update(chunk)
        return digest_parts([body.digest()], domain=_DIGEST_DOMAIN)

    @staticmethod
    def _header(head: bytes, block: FrontMatterLabel | None, payload: str) -> bytes:
        """Everything before the body: BOM, delimiters and the block's lines."""
        if block is None:
            bom = _BOM if head.startswith(_BOM) else b""
            newline = _detect_newline(head)
            text = "---" + newline + render_entry(payload, newline) + "---" + newline
            return bom + text.encode("utf-8")
        entry = render_entry(payload, block.newline)
        lines = list(block.lines)
        kept: list[str] = []
        placed = False
        drop = {n for e in block.entries for n in range(e.start, e.stop)}
        for number, line in enumerate(lines):
            if number in drop:
                if not placed:
                    kept.append(entry)
                    placed = True
                continue
            kept.append(line)
        if not placed:
            kept.append(entry)
        text = block.opening + "".join(kept) + block.closing
        return block.bom + text.encode("utf-8")
