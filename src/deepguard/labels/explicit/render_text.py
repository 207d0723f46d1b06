"""Add a GB 45438 notice to text and Markdown files.

For text the standard asks for a notice with both elements at the start, the
end or in the middle. The notice is added as a prefix, a suffix or both, in
the file's own encoding (UTF-8 with or without BOM, UTF-16/32 with BOM,
GB18030) and with its own line endings; the body bytes are copied untouched,
streamed, so a large file is never held in memory and nothing in it is
re-encoded. Markdown gets the prefix after YAML (``---``) or TOML (``+++``)
front matter, so the metadata block (and an implicit ``AIGC:`` label in it)
stays where parsers look for it, and notices are separated from the body by
a blank line so they render as their own paragraph.

Adding is idempotent: a notice already at that end of the file is not added
again.
"""

from __future__ import annotations

import codecs
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, Literal

from deepguard._atomic import atomic_output
from deepguard.config import Limits
from deepguard.errors import MediaLimitExceeded, UnsupportedFormat
from deepguard.labels.explicit.phrases import match_label
from deepguard.labels.explicit.render_image import InvalidLabelStyle

__all__ = [
    "DEFAULT_NOTICE_EN",
    "DEFAULT_NOTICE_ZH",
    "RenderedText",
    "TextNoticeStyle",
    "add_notice",
    "render_text_file",
]

DEFAULT_NOTICE_ZH: Final = "【本内容由人工智能生成】"
DEFAULT_NOTICE_EN: Final = "[AI-generated content]"

Placement = Literal["prefix", "suffix", "both"]

_MARKDOWN_SUFFIXES: Final = frozenset({".md", ".markdown", ".mdx", ".mkd"})
_BOMS: Final[tuple[tuple[bytes, str], ...]] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_FENCES: Final = ("---", "+++")
_COPY_CHUNK: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class TextNoticeStyle:
    """The notice text, where it goes, and whether the file is Markdown.

    ``markdown=None`` decides from the file name (``.md``...) or a front
    matter fence on the first line.
    """

    notice: str = DEFAULT_NOTICE_ZH
    placement: Placement = "prefix"
    markdown: bool | None = None

    def __post_init__(self) -> None:
        found = match_label(self.notice)
        if found is None or not found.both_elements:
            msg = (
                f"notice {self.notice!r} lacks an AI element (人工智能/AI) and a "
                "generation element (生成/合成)"
            )
            raise InvalidLabelStyle(msg)
        if "\n" in self.notice or "\r" in self.notice:
            raise InvalidLabelStyle("the notice must be a single line")
        if self.placement not in ("prefix", "suffix", "both"):
            raise InvalidLabelStyle("placement must be prefix, suffix or both")


@dataclass(frozen=True, slots=True)
class RenderedText:
    """What :func:`render_text_file` wrote and how it read the input."""

    path: Path
    encoding: str
    newline: str
    markdown: bool
    added: tuple[str, ...]
    """"prefix" and/or "suffix"; empty when the notices were already there."""


def add_notice(
    text: str,
    style: TextNoticeStyle | None = None,
    *,
    markdown: bool = False,
    newline: str | None = None,
) -> str:
    """``text`` with the notice added (the in-memory form of the file writer)."""
    style = style or TextNoticeStyle()
    newline = newline or _newline(text)
    markdown = style.markdown if style.markdown is not None else markdown
    at = _prefix_at(text, markdown)
    head, body = text[:at], text[at:]
    prefix = suffix = ""
    if style.placement in ("prefix", "both") and not _starts_with(body, style.notice):
        prefix = _prefix_block(style.notice, newline, markdown, head)
    wants_suffix = style.placement in ("suffix", "both") and (
        not prefix or body.strip()  # an empty body needs the notice only once
    )
    if wants_suffix and not _ends_with(text, style.notice):
        suffix = _suffix_block(style.notice, newline, markdown, text)
    return head + prefix + body + suffix


def render_text_file(
    src: Path,
    dst: Path,
    *,
    style: TextNoticeStyle | None = None,
    limits: Limits | None = None,
) -> RenderedText:
    """Write ``src`` with the notice to ``dst``, atomically, body bytes unchanged.

    Raises:
        UnsupportedFormat: the file is not text in a supported encoding.
        MediaLimitExceeded: the file is over ``limits.max_file_bytes``.
    """
    style = style or TextNoticeStyle()
    limits = limits or Limits()
    size = src.stat().st_size
    if size > limits.max_file_bytes:
        msg = f"file is {size} bytes, over the max_file_bytes limit"
        raise MediaLimitExceeded(
            msg,
            path=src,
            limit="max_file_bytes",
            value=size,
            maximum=limits.max_file_bytes,
        )
    with src.open("rb") as fh:
        raw_head = fh.read(min(size, limits.max_metadata_bytes))
        tail = _read_tail(fh, size, len(raw_head), style.notice)
    encoding, bom = _encoding(raw_head, src)
    head = _decode_head(raw_head[len(bom) :], encoding, src)
    newline = _newline(head)
    markdown = (
        style.markdown
        if style.markdown is not None
        else src.suffix.lower() in _MARKDOWN_SUFFIXES or _front_matter_end(head) > 0
    )
    at = _prefix_at(head, markdown)
    cut = len(bom) + len(head[:at].encode(encoding))
    added: list[str] = []
    prefix = suffix = b""
    body_head = head[at:]
    if style.placement in ("prefix", "both") and not _starts_with(
        body_head, style.notice
    ):
        prefix = _encode(
            _prefix_block(style.notice, newline, markdown, head[:at]), encoding
        )
        added.append("prefix")
    ending = _decode_tail(tail, encoding) if tail else head
    wants_suffix = style.placement in ("suffix", "both") and (
        not prefix or bool(tail) or body_head.strip()
    )
    if wants_suffix and not _ends_with(ending, style.notice):
        suffix = _encode(
            _suffix_block(style.notice, newline, markdown, ending), encoding
        )
        added.append("suffix")
    with atomic_output(dst) as tmp, src.open("rb") as fh, tmp.open("wb") as out:
        out.write(fh.read(cut))
        out.write(prefix)
        shutil.copyfileobj(fh, out, _COPY_CHUNK)
        out.write(suffix)
    return RenderedText(dst, encoding, newline, markdown, tuple(added))


# --------------------------------------------------------------------- helpers


def _encoding(raw: bytes, path: Path) -> tuple[str, bytes]:
    """Encoding and BOM: a BOM decides; else UTF-8, else GB18030."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return name, bom
    if b"\x00" in raw:
        raise UnsupportedFormat(
            "binary content (NUL bytes): not a text file", path=path
        )
    for name in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(name)().decode(raw, final=False)
        except UnicodeDecodeError:
            continue
        return name, b""
    raise UnsupportedFormat("not text in UTF-8, UTF-16/32 or GB18030", path=path)


def _decode_head(raw: bytes, encoding: str, path: Path) -> str:
    """Decode the head; a character cut at its end is left for the copy."""
    try:
        return codecs.getincrementaldecoder(encoding)().decode(raw, final=False)
    except UnicodeDecodeError as exc:
        msg = f"invalid {encoding} text: {exc.reason}"
        raise UnsupportedFormat(msg, path=path) from exc


def _read_tail(fh: BinaryIO, size: int, head_len: int, notice: str) -> bytes:
    """The last bytes, enough to hold the notice in any supported encoding."""
    want = 4 * (len(notice) + 8)
    if size <= head_len:
        return b""
    fh.seek(max(head_len, size - want))
    return fh.read()


def _decode_tail(tail: bytes, encoding: str) -> str:
    # The tail may start mid-character: skip what cannot be decoded there.
    unit = 4 if "32" in encoding else 2 if "16" in encoding else 1
    for skip in range(0, 4, unit):
        try:
            return tail[skip:].decode(encoding)
        except UnicodeDecodeError:
            continue
    return tail.decode(encoding, errors="ignore")


def _encode(text: str, encoding: str) -> bytes:
    # Every encoding _encoding() accepts covers all of Unicode, so this cannot
    # fail; "surrogatepass" keeps a lone surrogate in the notice from raising.
    return text.encode(encoding, errors="surrogatepass")


def _newline(text: str) -> str:
    """The file's line ending: the first one found, else LF."""
    lf = text.find("\n")
    cr = text.find("\r")
    if cr >= 0 and (lf < 0 or cr < lf):
        return "\r\n" if text[cr : cr + 2] == "\r\n" else "\r"
    return "\n"


def _front_matter_end(text: str) -> int:
    """Index just past a closing front matter fence line, or 0."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") not in _FENCES:
        return 0
    fence = lines[0].rstrip("\r\n")
    closers = {fence, "..."} if fence == "---" else {fence}
    offset = len(lines[0])
    for line in lines[1:]:
        offset += len(line)
        if line.rstrip("\r\n") in closers and line.endswith(("\n", "\r")):
            return offset
        if line.rstrip("\r\n") in closers:
            return offset  # fence on the last line without a newline
    return 0


def _prefix_at(text: str, markdown: bool) -> int:
    return _front_matter_end(text) if markdown else 0


def _prefix_block(notice: str, newline: str, markdown: bool, before: str) -> str:
    """The prefix lines; ``before`` is what precedes them (front matter)."""
    lead = newline if before and not before.endswith(("\n", "\r")) else ""
    return lead + notice + newline + (newline if markdown else "")


def _suffix_block(notice: str, newline: str, markdown: bool, body: str) -> str:
    block = ""
    if body and not body.endswith(("\n", "\r")):
        block += newline
    if markdown and body:
        block += newline
    return block + notice + newline


def _starts_with(body: str, notice: str) -> bool:
    return body.lstrip().startswith(notice)


def _ends_with(body: str, notice: str) -> bool:
    return body.rstrip().endswith(notice)
