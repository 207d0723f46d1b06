"""Find XMP packets in bytes and parse them safely into a flat mapping.

Why flat: detectors ask "what is ``Iptc4xmpExt:DigitalSourceType``?" and do
not care whether a writer used an attribute, an element or an ``rdf:Alt``;
so every property becomes one ``"prefix:Name"`` key, with conventional
prefixes whatever the document declared (``Iptc4xmpExt`` even if the file
says ``ns1``). Arrays become lists (``rdf:Seq``/``rdf:Bag``) or their
``x-default`` entry (``rdf:Alt``); structures are flattened with a path,
e.g. ``xmpMM:History[1]/stEvt:softwareAgent``.

Why the DTD guard: XMP is untrusted XML. A packet with a DOCTYPE or ENTITY
declaration is never legitimate XMP and is how entity-expansion ("billion
laughs") and external-entity attacks are delivered, so such packets are
rejected before the parser sees them.
"""

from __future__ import annotations

import io
import mmap
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from deepguard.errors import CorruptMedia, MediaLimitExceeded
from deepguard.media.containers._binary import DEFAULT_MAX_BLOB

__all__ = [
    "NAMESPACES",
    "XmpValue",
    "find_packets",
    "parse",
    "strip_to_packet",
]

XmpValue = str | list[str]

NAMESPACES: Final = {
    "adobe:ns:meta/": "x",
    "http://ns.adobe.com/xap/1.0/": "xmp",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/dc/terms/": "dcterms",
    "http://ns.adobe.com/photoshop/1.0/": "photoshop",
    "http://iptc.org/std/Iptc4xmpExt/2008-02-29/": "Iptc4xmpExt",
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": "Iptc4xmpCore",
    "http://ns.adobe.com/tiff/1.0/": "tiff",
    "http://ns.adobe.com/exif/1.0/": "exif",
    "http://cipa.jp/exif/1.0/": "exifEX",
    "http://ns.adobe.com/exif/1.0/aux/": "aux",
    "http://ns.adobe.com/xap/1.0/mm/": "xmpMM",
    "http://ns.adobe.com/xap/1.0/rights/": "xmpRights",
    "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#": "stEvt",
    "http://ns.adobe.com/xap/1.0/sType/ResourceRef#": "stRef",
    "http://ns.adobe.com/xmp/1.0/DynamicMedia/": "xmpDM",
    "http://ns.adobe.com/pdf/1.3/": "pdf",
    "http://ns.adobe.com/camera-raw-settings/1.0/": "crs",
    "http://ns.useplus.org/ldf/xmp/1.0/": "plus",
    "http://www.tc260.org.cn/ns/AIGC/1.0/": "TC260",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf",
}
"""Namespace URI -> the prefix every XMP reader expects."""

_RDF: Final = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_XML_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"
_ARRAYS: Final = frozenset({_RDF + "Alt", _RDF + "Seq", _RDF + "Bag"})
_SKIP_ATTRS: Final = frozenset({_RDF + "about", _RDF + "parseType", _XML_LANG})
_MAX_DEPTH: Final = 16
_DTD: Final = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_STARTS: Final = (b"<?xpacket begin", b"<x:xmpmeta", b"<x:xapmeta")
_START: Final = re.compile(rb"<(?:\?xpacket begin|x:xmpmeta|x:xapmeta)")
_ENDS: Final = {
    b"<?xpacket begin": b"<?xpacket end",
    b"<x:xmpmeta": b"</x:xmpmeta>",
    b"<x:xapmeta": b"</x:xapmeta>",
}


def find_packets(
    buf: bytes | mmap.mmap,
    start: int = 0,
    end: int | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BLOB,
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, packet)`` for each XMP packet in ``buf[start:end]``.

    Works on ``bytes`` and on an ``mmap`` (whose ``find`` runs in C without
    copying the file), for formats with no structure to walk. Packets longer
    than ``max_bytes`` or without an end marker are skipped: they could not
    be parsed within the limit anyway.
    """
    stop = len(buf) if end is None else min(end, len(buf))
    pos = start
    while pos < stop:
        # One regex pass finds the earliest start marker of any kind.
        hit = _START.search(buf, pos, stop)
        if hit is None:
            return
        at, marker = hit.start(), hit.group(0)
        limit = min(stop, at + max_bytes)
        close = buf.find(_ENDS[marker], at, limit)
        gt = buf.find(b">", close + len(_ENDS[marker]) - 1, limit) if close >= 0 else -1
        if gt < 0:
            pos = at + len(marker)
            continue
        yield at, bytes(buf[at : gt + 1])
        pos = gt + 1


def strip_to_packet(data: bytes) -> bytes:
    """Drop anything before the packet (a JPEG-style signature, a BOM, NULs)."""
    starts = [at for m in (*_STARTS, b"<rdf:RDF") if (at := data.find(m)) >= 0]
    return data[min(starts) :] if starts else data


def parse(
    packet: bytes,
    *,
    path: str | Path | None = None,
    max_bytes: int = DEFAULT_MAX_BLOB,
) -> dict[str, XmpValue]:
    """Parse one XMP packet into ``{"prefix:Name": value}``.

    Raises:
        CorruptMedia: the packet declares a DTD or entities, or is not
            well-formed XML.
        MediaLimitExceeded: the packet is larger than ``max_bytes``.
    """
    if len(packet) > max_bytes:
        msg = f"XMP packet is {len(packet)} bytes, over the limit of {max_bytes}"
        raise MediaLimitExceeded(
            msg,
            path=path,
            limit="max_metadata_bytes",
            value=len(packet),
            maximum=max_bytes,
        )
    # Checked on the whole blob, before anything is cut off the front.
    if _DTD.search(packet):
        msg = "XMP packet rejected: it declares a DOCTYPE or ENTITY"
        raise CorruptMedia(msg, path=path)
    packet = strip_to_packet(packet).rstrip(b"\x00 \r\n\t")
    declared: dict[str, str] = {}
    try:
        parser = ET.iterparse(io.BytesIO(packet), events=("start-ns",))
        for _event, (prefix, uri) in parser:
            declared.setdefault(uri, prefix)
        root = parser.root  # type: ignore[attr-defined]
    except ET.ParseError as exc:
        msg = f"XMP packet is not well-formed XML: {exc}"
        raise CorruptMedia(msg, path=path) from exc
    out: dict[str, XmpValue] = {}
    names = _Names(declared)
    for rdf in root.iter(_RDF + "RDF"):
        for desc in rdf:
            if desc.tag == _RDF + "Description":
                _properties(desc, "", names, out, 0)
    return out


class _Names:
    """Clark names (``{uri}local``) -> ``prefix:local`` with conventional prefixes."""

    def __init__(self, declared: dict[str, str]) -> None:
        self._declared = declared

    def __call__(self, clark: str) -> str:
        if not clark.startswith("{"):
            return clark
        uri, _, local = clark[1:].partition("}")
        prefix = NAMESPACES.get(uri) or self._declared.get(uri) or uri
        return f"{prefix}:{local}"


def _properties(
    node: ET.Element, base: str, names: _Names, out: dict[str, XmpValue], depth: int
) -> None:
    """Add the properties of an rdf:Description or struct to ``out``."""
    if depth > _MAX_DEPTH:
        return
    for attr, value in node.attrib.items():
        if attr not in _SKIP_ATTRS and not attr.startswith(_RDF):
            out[base + names(attr)] = value
    for child in node:
        _property(child, base + names(child.tag), names, out, depth + 1)


def _property(
    elem: ET.Element, key: str, names: _Names, out: dict[str, XmpValue], depth: int
) -> None:
    resource = elem.get(_RDF + "resource")
    if resource is not None:
        out[key] = resource
        return
    kids = list(elem)
    array = next((k for k in kids if k.tag in _ARRAYS), None)
    if array is not None:
        _array(array, key, names, out, depth)
    elif elem.get(_RDF + "parseType") == "Resource":
        _properties(elem, key + "/", names, out, depth)
    elif kids and kids[0].tag == _RDF + "Description":
        _properties(kids[0], key + "/", names, out, depth)
    elif kids:
        _properties(elem, key + "/", names, out, depth)
    else:
        _attrs_or_text(elem, key, names, out, depth)


def _attrs_or_text(
    elem: ET.Element, key: str, names: _Names, out: dict[str, XmpValue], depth: int
) -> None:
    qualifiers = [a for a in elem.attrib if a not in _SKIP_ATTRS]
    if qualifiers:  # a struct written with attributes only
        _properties(elem, key + "/", names, out, depth)
    else:
        out[key] = (elem.text or "").strip()


def _array(
    array: ET.Element, key: str, names: _Names, out: dict[str, XmpValue], depth: int
) -> None:
    items = [li for li in array if li.tag == _RDF + "li"]
    simple: list[str] = []
    for n, li in enumerate(items, start=1):
        if len(li) or any(a not in _SKIP_ATTRS for a in li.attrib):
            _property(li, f"{key}[{n}]", names, out, depth + 1)
        else:
            simple.append((li.text or "").strip())
    if not simple:
        return
    if array.tag == _RDF + "Alt":
        default = [
            (li.text or "").strip()
            for li in items
            if li.get(_XML_LANG) == "x-default" and not len(li)
        ]
        out[key] = default[0] if default else simple[0]
    else:
        out[key] = simple
