"""What the image carriers share: the TC260 XMP property.

Every XMP-capable image stores the GB 45438 label the same way: the JSON in
the property ``AIGC`` of the namespace ``http://www.tc260.org.cn/ns/AIGC/1.0/``
(prefix ``TC260``). This module builds such a packet, finds the property in
any packet (attribute or element form, whatever prefix the writer bound to
the namespace) and edits a packet without disturbing anything else in it.

Why edit the bytes rather than re-serialise a parsed tree: ElementTree drops
the ``<?xpacket?>`` wrapper, comments and padding and renames every prefix,
so a round trip would rewrite other tools' metadata. Instead the packet is
scanned once with expat, which reports where each element starts and ends;
the label property is cut out at those offsets and a new ``rdf:Description``
holding it is inserted before ``</rdf:RDF>``. XMP allows several
descriptions of the same resource, and a self-contained one (it declares its
own prefixes) is valid whatever the rest of the packet binds.

Packets are untrusted XML: before expat sees one, :func:`xmp.parse` rejects
DOCTYPE/ENTITY declarations, oversized packets and malformed XML, and the
expat handlers refuse declarations again in case the check is bypassed.

:func:`packet_copies` turns one packet's values into label copies the same
way for every format, so a damaged packet is reported alike everywhere.
"""

from __future__ import annotations

import re
import xml.parsers.expat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from deepguard.errors import CorruptMedia, LabelError, UnsupportedFormat
from deepguard.labels.fields import RawLabel
from deepguard.media.containers import xmp
from deepguard.media.containers._binary import DEFAULT_MAX_BLOB, Source

__all__ = [
    "NAMESPACE",
    "PREFIX",
    "PROPERTY",
    "find_labels",
    "fit_packet",
    "new_packet",
    "packet_copies",
    "remove_labels",
    "set_label",
]

NAMESPACE: Final = "http://www.tc260.org.cn/ns/AIGC/1.0/"
PREFIX: Final = "TC260"
PROPERTY: Final = "AIGC"

_RDF: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_META: Final = frozenset({"adobe:ns:meta/", "adobe:ns:meta"})
_NAME: Final = rb"[^\s/>=]+"
_TAG_OPEN: Final = re.compile(rb"<(" + _NAME + rb")")
_ATTR: Final = re.compile(rb"(\s+)(" + _NAME + rb")\s*=\s*(\"[^\"]*\"|'[^']*')")
_TAG_CLOSE: Final = re.compile(rb"\s*(/?)>")
_EMPTY_HEAD: Final = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
    f'<rdf:RDF xmlns:rdf="{_RDF}">\n'
).encode()
_EMPTY_TAIL: Final = b'</rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>'
_SPACE: Final = frozenset({b" ", b"\t", b"\r", b"\n"})
_BAD_XML_CHARS: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]"
)
"""Characters XML 1.0 cannot carry, and lone surrogates UTF-8 cannot encode."""


def new_packet(payload: str) -> bytes:
    """A minimal XMP packet whose only property is ``TC260:AIGC``.

    The value is written as an element (as exiftool does), not an attribute,
    because XML normalises whitespace inside attribute values. The layout is
    the one :func:`set_label` produces, so relabelling our own packet keeps
    its size whenever the new label is as long as the old one.

    Raises:
        LabelError: ``payload`` holds characters XML cannot represent.
    """
    return _EMPTY_HEAD + _description(payload, "").encode() + _EMPTY_TAIL


def find_labels(
    packet: bytes, *, path: str | Path | None = None, max_bytes: int = DEFAULT_MAX_BLOB
) -> list[str]:
    """Every ``TC260:AIGC`` value in ``packet``, in document order.

    An array value (``rdf:Bag``/``Seq``/``Alt``) yields one value per item,
    since each item is a copy of the label.

    Raises:
        CorruptMedia: the packet declares a DTD or is not well-formed XML.
        MediaLimitExceeded: the packet is larger than ``max_bytes``.
        UnsupportedFormat: the packet is not UTF-8.
    """
    return _scan(packet, path, max_bytes).values


def packet_copies(
    carrier: str,
    packet: bytes,
    src: Source,
    errors: list[str],
    *,
    where: str,
    offset: int | None,
) -> list[RawLabel]:
    """The label copies in ``packet``, located ``<where> TC260:AIGC``.

    A damaged packet is recorded in ``errors`` rather than raised: the file's
    other label places can still be read, and the damage makes a missing
    label inconclusive instead of absent.

    Raises:
        MediaLimitExceeded: the packet is larger than ``src.max_blob``.
    """
    try:
        values = find_labels(packet, path=src.path, max_bytes=src.max_blob)
    except (CorruptMedia, UnsupportedFormat) as exc:
        errors.append(exc.msg)
        return []
    location = f"{where} {PREFIX}:{PROPERTY}"
    return [RawLabel(carrier, location, value, offset) for value in values]


def remove_labels(
    packet: bytes, *, path: str | Path | None = None, max_bytes: int = DEFAULT_MAX_BLOB
) -> bytes:
    """``packet`` without any ``TC260:AIGC`` property; other bytes are kept.

    Raises:
        CorruptMedia, MediaLimitExceeded, UnsupportedFormat: see
            :func:`find_labels`.
    """
    scan = _scan(packet, path, max_bytes)
    return _cut(packet, scan.cuts) if scan.cuts else packet


def set_label(
    packet: bytes | None,
    payload: str,
    *,
    path: str | Path | None = None,
    max_bytes: int = DEFAULT_MAX_BLOB,
) -> bytes:
    """``packet`` carrying ``payload`` as its one ``TC260:AIGC`` value.

    Every existing value is removed and all other properties are kept. With
    no packet, or a packet that has no RDF to add to, a new one is built.

    Raises:
        CorruptMedia, MediaLimitExceeded, UnsupportedFormat: see
            :func:`find_labels`.
        LabelError: ``payload`` holds characters XML cannot represent.
    """
    if packet is None:
        return new_packet(payload)
    scan = _scan(packet, path, max_bytes)
    insert_at = scan.rdf_close if scan.rdf_close is not None else scan.meta_close
    if insert_at is None:
        return new_packet(payload)
    block = _description(payload, scan.about)
    if scan.rdf_close is None:
        block = f'<rdf:RDF xmlns:rdf="{_RDF}">{block}</rdf:RDF>'
    # A property cannot contain the end tag, so every cut is wholly before
    # or wholly after the insertion point.
    before = [(s, e) for s, e in scan.cuts if e <= insert_at]
    after = [(s - insert_at, e - insert_at) for s, e in scan.cuts if s >= insert_at]
    head = _cut(packet[:insert_at], before)
    tail = _cut(packet[insert_at:], after)
    return head + block.encode("utf-8") + tail


def fit_packet(packet: bytes, size: int) -> bytes | None:
    """``packet`` made exactly ``size`` bytes long by resizing its padding.

    XMP packets end with whitespace padding before ``<?xpacket end`` so that
    they can be edited in place; this spends or adds padding there. Returns
    None when the packet cannot fit (too little padding, or no trailer, in
    which case a shorter packet is returned unchanged for the caller to pad).
    """
    end = packet.rfind(b"<?xpacket end")
    if end < 0:
        return packet if len(packet) <= size else None
    excess = len(packet) - size
    if excess <= 0:
        return packet[:end] + b" " * -excess + packet[end:]
    pad = end
    while pad > 0 and packet[pad - 1 : pad] in _SPACE:
        pad -= 1
    if end - pad < excess:
        return None
    return packet[: end - excess] + packet[end:]


def _description(payload: str, about: str) -> str:
    return (
        f'<rdf:Description rdf:about="{_escape(about, attribute=True)}"'
        f' xmlns:rdf="{_RDF}" xmlns:{PREFIX}="{NAMESPACE}">'
        f"<{PREFIX}:{PROPERTY}>{_escape(payload)}</{PREFIX}:{PROPERTY}>"
        "</rdf:Description>\n"
    )


def _escape(text: str, *, attribute: bool = False) -> str:
    bad = _BAD_XML_CHARS.search(text)
    if bad:
        msg = f"label cannot be stored in XMP: it contains {bad.group()!r}"
        raise LabelError(msg)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\r", "&#13;")
    if attribute:
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
    return text


def _cut(data: bytes, cuts: list[tuple[int, int]]) -> bytes:
    pieces: list[bytes] = []
    pos = 0
    for start, end in cuts:
        pieces.append(data[pos:start])
        pos = end
    pieces.append(data[pos:])
    return b"".join(pieces)


# --- scanning -----------------------------------------------------------------


@dataclass(slots=True)
class _Scan:
    """What a packet holds: label values, the spans to cut, where to insert."""

    values: list[str] = field(default_factory=list)
    cuts: list[tuple[int, int]] = field(default_factory=list)
    """Disjoint, ordered spans that hold a label property (with its value)."""
    rdf_close: int | None = None
    """Offset of the first ``</rdf:RDF>`` end tag."""
    meta_close: int | None = None
    """Offset of the ``</x:xmpmeta>`` end tag, when the root is one."""
    about: str = ""


def _scan(packet: bytes, path: str | Path | None, max_bytes: int) -> _Scan:
    """Validate ``packet`` and locate its label properties and RDF end tag."""
    xmp.parse(packet, path=path, max_bytes=max_bytes)  # DTD, size, well-formed
    body = xmp.strip_to_packet(packet)
    if body.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in body[:64]:
        msg = "XMP packet is not UTF-8 and cannot be edited"
        raise UnsupportedFormat(msg, path=path)
    scanner = _Scanner(packet, len(packet) - len(body), path)
    scan = scanner.run(body.rstrip(b"\x00"))
    scan.cuts.sort()
    return scan


@dataclass(slots=True)
class _Frame:
    """An open element: its name, namespace scope and where its tag ends."""

    uri: str
    local: str
    scope: Mapping[str, str]
    start: int
    tag_end: int
    empty: bool
    text: list[str] | None = None
    """Character data, collected only for a label property or array item."""
    labels: int = 0
    """For an ``rdf:Description``: how many label properties it holds."""
    others: bool = False
    """For an ``rdf:Description``: whether it holds anything but labels."""


class _Scanner:
    """Expat handlers that record where label properties sit in the packet.

    Namespace processing is left off so that expat reports names as written;
    prefixes are resolved here, which also gives the raw attribute names the
    start-tag tokenizer needs.
    """

    def __init__(self, packet: bytes, base: int, path: str | Path | None) -> None:
        self._packet = packet
        self._base = base
        self._path = path
        self._parser = xml.parsers.expat.ParserCreate()
        self._stack: list[_Frame] = []
        self._label: _Frame | None = None
        self._items: list[str] = []
        self._described = False
        self.scan = _Scan()

    def run(self, body: bytes) -> _Scan:
        p = self._parser
        p.StartElementHandler = self._start
        p.EndElementHandler = self._end
        p.CharacterDataHandler = self._text
        p.StartDoctypeDeclHandler = self._refuse
        p.EntityDeclHandler = self._refuse
        try:
            p.Parse(body, True)
        except xml.parsers.expat.ExpatError as exc:
            msg = f"XMP packet is not well-formed XML: {exc}"
            raise CorruptMedia(msg, path=self._path) from exc
        return self.scan

    def _refuse(self, *_args: object) -> None:
        msg = "XMP packet rejected: it declares a DOCTYPE or ENTITY"
        raise CorruptMedia(msg, path=self._path)

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        at = self._base + self._parser.CurrentByteIndex
        scope = dict(self._stack[-1].scope) if self._stack else {}
        for key, value in attrs.items():
            if _is_declaration(key):
                scope[key[6:]] = value
        uri, local = _resolve(name, scope, element=True)
        tag_end, empty, attr_spans = _start_tag(self._packet, at, self._path)
        parent = self._stack[-1] if self._stack else None
        frame = _Frame(uri, local, scope, at, tag_end, empty)
        self._stack.append(frame)
        is_label = (uri, local) == (NAMESPACE, PROPERTY)
        if parent is not None and self._label is None:
            parent.labels += is_label
            parent.others |= not is_label
        for key, span in attr_spans.items():
            attr = _resolve(key, scope, element=False)
            if attr == (NAMESPACE, PROPERTY):
                self.scan.values.append(attrs.get(key, ""))
                self.scan.cuts.append(span)
                frame.labels += 1
            elif not _is_declaration(key) and attr != (_RDF, "about"):
                frame.others = True
        if uri == _RDF and local == "Description" and not self._described:
            self._described = True
            self.scan.about = attrs.get(_qname(scope, _RDF, "about"), "")
        if self._label is not None:
            if uri == _RDF and local == "li":
                frame.text = []
        elif is_label:
            self._label = frame
            self._items = []
            frame.text = []

    def _text(self, data: str) -> None:
        if not self._stack:
            return
        top = self._stack[-1]
        if top.text is not None:
            top.text.append(data)
        elif data.strip():
            top.others = True

    def _end(self, name: str) -> None:
        frame = self._stack.pop()
        at = self._base + self._parser.CurrentByteIndex
        # An empty element has no end tag to insert before.
        is_rdf = frame.uri == _RDF and frame.local == "RDF"
        if is_rdf and not frame.empty and self.scan.rdf_close is None:
            self.scan.rdf_close = at
        is_meta = frame.uri in _META and frame.local in ("xmpmeta", "xapmeta")
        if is_meta and not frame.empty:
            self.scan.meta_close = at
        end = frame.tag_end if frame.empty else self._packet.find(b">", at) + 1
        if frame.uri == _RDF and frame.local == "Description":
            if frame.labels and not frame.others:
                self._cut_element(frame.start, end)  # it only held labels
            return
        if self._label is None or frame.text is None:
            return
        if frame is not self._label:
            self._items.append("".join(frame.text))  # an array item
            return
        self.scan.values += self._items or ["".join(frame.text)]
        self._cut_element(frame.start, end)
        self._label = None

    def _cut_element(self, start: int, end: int) -> None:
        """Cut an element and the insignificant whitespace before it."""
        while start > 0 and self._packet[start - 1 : start] in _SPACE:
            start -= 1
        cuts = self.scan.cuts
        cuts[:] = [(s, e) for s, e in cuts if not (start <= s and e <= end)]
        cuts.append((start, end))


def _start_tag(
    packet: bytes, at: int, path: str | Path | None
) -> tuple[int, bool, dict[str, tuple[int, int]]]:
    """End offset, emptiness and attribute spans of the start tag at ``at``.

    Exact for well-formed XML: an attribute value cannot contain its own
    quote character, so ``>`` inside a value cannot end the tag early.
    """
    m = _TAG_OPEN.match(packet, at)
    if m is None:
        raise CorruptMedia("XMP packet: cannot locate a start tag", path=path)
    pos = m.end()
    spans: dict[str, tuple[int, int]] = {}
    while a := _ATTR.match(packet, pos):
        spans[a.group(2).decode("utf-8", "replace")] = (a.start(), a.end())
        pos = a.end()
    close = _TAG_CLOSE.match(packet, pos)
    if close is None:
        msg = "XMP packet: cannot locate the end of a start tag"
        raise CorruptMedia(msg, path=path)
    return close.end(), close.group(1) == b"/", spans


def _resolve(name: str, scope: Mapping[str, str], *, element: bool) -> tuple[str, str]:
    """(namespace URI, local name); unprefixed attributes have no namespace."""
    prefix, sep, local = name.rpartition(":")
    if not sep:
        return (scope.get("", "") if element else ""), local
    return scope.get(prefix, ""), local


def _is_declaration(name: str) -> bool:
    return name == "xmlns" or name.startswith("xmlns:")


def _qname(scope: Mapping[str, str], uri: str, local: str) -> str:
    for prefix, bound in scope.items():
        if bound == uri and prefix:
            return f"{prefix}:{local}"
    return local
