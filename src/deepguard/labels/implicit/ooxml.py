"""Office Open XML (DOCX, PPTX, XLSX): a custom document property ``AIGC``.

The label is a ``vt:lpwstr`` property named ``AIGC`` in the package's custom
properties part (``docProps/custom.xml``), the same place Word, PowerPoint
and Excel show under File > Properties > Custom, so Office keeps it on save.

Writing copies the archive member by member. Every member the label does not
concern is copied *raw*: its compressed bytes, CRC, method, timestamps and
attributes are carried over unchanged, so nothing is recompressed and the
document parts are byte-identical. Only ``docProps/custom.xml`` (created or
edited, other properties kept, the new one numbered after them), and where
needed ``[Content_Types].xml`` (an ``Override`` for the part) and
``_rels/.rels`` (the custom-properties relationship) are rewritten.

The archive is untrusted: member names that escape the package, encrypted
members, overlapping members (the "zip bomb" trick of pointing many entries
at one compressed stream), sizes deflate cannot produce, and XML with a
DOCTYPE or entity declarations are refused with one-line errors. ZIP64
archives (4 GiB and over) are read but not written.
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
import re
import struct
import urllib.parse
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar, Final
from xml.dom import minidom
from xml.parsers.expat import ExpatError

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

__all__ = ["OoxmlCarrier"]

CUSTOM_NS: Final = (
    "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
)
VT_NS: Final = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
TYPES_NS: Final = "http://schemas.openxmlformats.org/package/2006/content-types"
RELS_NS: Final = "http://schemas.openxmlformats.org/package/2006/relationships"
CUSTOM_REL: Final = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
    "custom-properties"
)
CUSTOM_TYPE: Final = (
    "application/vnd.openxmlformats-officedocument.custom-properties+xml"
)
FMTID: Final = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
"""The format id every user-defined Office property carries."""

CONTENT_TYPES: Final = "[Content_Types].xml"
PACKAGE_RELS: Final = "_rels/.rels"
DEFAULT_PART: Final = "docProps/custom.xml"
PROPERTY: Final = "AIGC"

_CHUNK: Final = 1024 * 1024
_LOCAL_HEADER: Final = struct.Struct("<4s5H3L2H")
_CENTRAL_HEADER: Final = struct.Struct("<4s6H3L5H2L")
_END_RECORD: Final = struct.Struct("<4s4H2LH")
_ZIP32_MAX: Final = 0xFFFFFFFF
_MAX_DEFLATE_RATIO: Final = 1100
"""Deflate cannot expand one byte into more than about 1032 bytes."""
_DTD: Final = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_ENCODING: Final = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_OPC_ENCODINGS: Final = frozenset({"utf-8", "utf8", "utf-16", "utf16"})
_RELS_MARKER: Final = "/custom-properties"
_NEW_DATE: Final = (1980, 1, 1, 0, 0, 0)
_XML_CHAR: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _excluded(name: str, custom_part: str) -> bool:
    """Members a label write may change: document properties and packaging."""
    return (
        name.startswith("docProps/")
        or name in (CONTENT_TYPES, PACKAGE_RELS)
        or name == custom_part
    )


# --- the archive -------------------------------------------------------------


def _unsafe_name(name: str) -> bool:
    """Names that are absolute, climb out of the package or are not portable."""
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        return True
    if re.match(r"[A-Za-z]:", name):
        return True
    return any(part == ".." for part in name.split("/"))


@dataclass(frozen=True, slots=True)
class _Local:
    """A member's local header as stored: the name bytes and its extra field."""

    name: bytes
    extra: bytes
    data_offset: int


class _Package:
    """A validated OOXML zip archive, open for reading.

    Validation happens once, up front, so that reading, digesting and writing
    share the same refusals (see the module docstring).
    """

    def __init__(self, zf: zipfile.ZipFile, fh: BinaryIO, path: Path, limits: Limits):
        self.zf = zf
        self.fh = fh
        self.path = path
        self.limits = limits
        self.size = fh.seek(0, 2)
        self.members = zf.infolist()
        self._validate()

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: Path, limits: Limits) -> Iterator[_Package]:
        """Open and validate ``path``.

        Raises:
            CorruptMedia: not a readable zip, or a hostile one.
            UnsupportedFormat: a member is encrypted.
            MediaLimitExceeded: the members expand past ``max_file_bytes``.
        """
        try:
            fh = path.open("rb")
        except OSError as exc:
            raise MediaError(f"cannot open: {exc.strerror or exc}", path=path) from exc
        with fh:
            try:
                zf = zipfile.ZipFile(fh)
            except NotImplementedError as exc:  # a zip feature Python lacks
                msg = f"unsupported zip archive: {exc}"
                raise UnsupportedFormat(msg, path=path) from exc
            except (
                zipfile.BadZipFile,
                OSError,
                ValueError,
                EOFError,
                struct.error,
                OverflowError,
            ) as exc:
                msg = f"not a readable zip archive: {exc}"
                raise CorruptMedia(msg, path=path) from exc
            with zf:
                yield cls(zf, fh, path, limits)

    def _validate(self) -> None:
        seen: set[str] = set()
        total = 0
        for info in self.members:
            name = info.filename
            if _unsafe_name(name):
                msg = f"zip member name {name!r} is unsafe (absolute or path traversal)"
                raise CorruptMedia(msg, path=self.path)
            if name.casefold() in seen:  # OPC part names ignore letter case
                raise CorruptMedia(f"zip member {name!r} appears twice", path=self.path)
            seen.add(name.casefold())
            if info.flag_bits & 0x1:
                msg = f"zip member {name!r} is encrypted"
                raise UnsupportedFormat(msg, path=self.path)
            if info.compress_type == zipfile.ZIP_STORED and (
                info.file_size != info.compress_size
            ):
                msg = f"stored zip member {name!r} has mismatched sizes"
                raise CorruptMedia(msg, path=self.path)
            if (
                info.compress_type == zipfile.ZIP_DEFLATED
                and info.file_size > _MAX_DEFLATE_RATIO * max(info.compress_size, 1)
            ):
                msg = (
                    f"zip member {name!r} claims {info.file_size} bytes from"
                    f" {info.compress_size}, more than deflate can produce"
                )
                raise CorruptMedia(msg, path=self.path)
            total += info.file_size
        if total > self.limits.max_file_bytes:
            msg = (
                f"zip members expand to {total} bytes, over the max_file_bytes"
                f" limit of {self.limits.max_file_bytes}"
            )
            raise MediaLimitExceeded(
                msg,
                path=self.path,
                limit="max_file_bytes",
                value=total,
                maximum=self.limits.max_file_bytes,
            )
        self._check_layout()

    def _check_layout(self) -> None:
        """Members must lie inside the file, one after another, never overlapping."""
        ordered = sorted(self.members, key=lambda info: info.header_offset)
        following: list[zipfile.ZipInfo | None] = [*ordered[1:], None]
        for info, after in zip(ordered, following[: len(ordered)], strict=True):
            end = (
                info.header_offset
                + _LOCAL_HEADER.size
                + len(_name_bytes(info))
                + info.compress_size
            )
            limit = after.header_offset if after is not None else self.size
            if end > limit:
                what = "overlaps the next member" if after else "runs past the end"
                msg = f"zip member {info.filename!r} {what} (damaged or a zip bomb)"
                raise CorruptMedia(msg, path=self.path)

    def info(self, name: str) -> zipfile.ZipInfo | None:
        """The member for part ``name``, whatever its letter case."""
        wanted = name.casefold()
        for info in self.members:
            if info.filename.casefold() == wanted:
                return info
        return None

    def resolve(self, name: str) -> str:
        """The stored spelling of part ``name`` (``name`` itself when absent)."""
        info = self.info(name)
        return info.filename if info is not None else name

    def read_part(self, name: str) -> bytes | None:
        """A small XML part, or ``None`` when the package has none.

        Raises:
            MediaLimitExceeded: the part is over ``max_metadata_bytes``.
            CorruptMedia: its compressed data is damaged.
            UnsupportedFormat: it uses a compression method we cannot read.
        """
        info = self.info(name)
        if info is None:
            return None
        limit = self.limits.max_metadata_bytes
        if info.file_size > limit:
            msg = (
                f"{name} is {info.file_size} bytes, over the max_metadata_bytes"
                f" limit of {limit}"
            )
            raise MediaLimitExceeded(
                msg,
                path=self.path,
                limit="max_metadata_bytes",
                value=info.file_size,
                maximum=limit,
            )
        with self._member_errors(name):
            return self.zf.read(info)

    def member_digest(self, info: zipfile.ZipInfo) -> bytes:
        """SHA-256 of a member's uncompressed bytes, read in chunks."""
        h = hashlib.sha256()
        with self._member_errors(info.filename), self.zf.open(info) as member:
            while chunk := member.read(_CHUNK):
                h.update(chunk)
        return h.digest()

    @contextlib.contextmanager
    def _member_errors(self, name: str) -> Iterator[None]:
        try:
            yield
        except NotImplementedError as exc:
            msg = f"zip member {name!r} uses an unsupported compression method"
            raise UnsupportedFormat(msg, path=self.path) from exc
        except (
            zipfile.BadZipFile,
            zlib.error,
            OSError,
            EOFError,
            ValueError,
            struct.error,
        ) as exc:
            msg = f"zip member {name!r} is damaged: {exc}"
            raise CorruptMedia(msg, path=self.path) from exc

    def local(self, info: zipfile.ZipInfo) -> _Local:
        """The stored local header of ``info``, checked against the directory."""
        self.fh.seek(info.header_offset)
        head = self.fh.read(_LOCAL_HEADER.size)
        if len(head) != _LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
            msg = f"zip member {info.filename!r} has no local header"
            raise CorruptMedia(msg, path=self.path)
        name_len, extra_len = struct.unpack_from("<2H", head, 26)
        name = self.fh.read(name_len)
        extra = self.fh.read(extra_len)
        if name != _name_bytes(info):
            msg = f"zip member {info.filename!r} has a different local name"
            raise CorruptMedia(msg, path=self.path)
        data_offset = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
        if data_offset + info.compress_size > self.size:
            msg = f"zip member {info.filename!r} is truncated"
            raise CorruptMedia(msg, path=self.path)
        return _Local(name, extra, data_offset)

    def custom_part(self, errors: list[str] | None = None) -> str:
        """The custom-properties part named by ``_rels/.rels`` (or the default).

        A damaged ``_rels/.rels`` is recorded in ``errors`` when given (a
        reader can still look in the default place) and raised otherwise.
        """
        try:
            rels = self.read_part(PACKAGE_RELS)
            if rels is None:
                return self.resolve(DEFAULT_PART)
            doc = _parse_xml(rels, PACKAGE_RELS, self.path)
            target = _custom_target(doc, self.path)
        except CorruptMedia as exc:
            if errors is None:
                raise
            errors.append(exc.msg)
            return self.resolve(DEFAULT_PART)
        return self.resolve(target or DEFAULT_PART)


def _name_bytes(info: zipfile.ZipInfo) -> bytes:
    """The member name as stored (UTF-8 when flagged, else code page 437)."""
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    return info.filename.encode(encoding)


# --- XML parts ---------------------------------------------------------------


def _parse_xml(data: bytes, part: str, path: Path) -> minidom.Document:
    """Parse a package part that must not declare a DTD or entities.

    OPC allows only UTF-8 and UTF-16; refusing other declared encodings also
    stops a DOCTYPE from hiding in an encoding the byte check cannot see
    (UTF-16 is covered by checking the bytes without their NULs).

    Raises:
        CorruptMedia: a DTD, another encoding, or XML that is not well formed.
    """
    plain = data.replace(b"\x00", b"")
    if _DTD.search(plain):
        raise CorruptMedia(f"{part} declares a DOCTYPE or ENTITY", path=path)
    declared = _ENCODING.search(plain[:256])
    if declared and declared.group(1).decode("ascii").lower() not in _OPC_ENCODINGS:
        msg = f"{part} declares encoding {declared.group(1).decode('ascii')!r}"
        raise CorruptMedia(msg, path=path)
    try:
        return minidom.parseString(data)
    except (ExpatError, ValueError) as exc:
        msg = f"{part} is not well-formed XML: {exc}"
        raise CorruptMedia(msg, path=path) from exc


def _serialize(doc: minidom.Document) -> bytes:
    return doc.toxml(encoding="UTF-8", standalone=True)


def _children(root: minidom.Element, ns: str, local: str) -> list[minidom.Element]:
    return [
        node
        for node in root.childNodes
        if isinstance(node, minidom.Element)
        and node.namespaceURI == ns
        and node.localName == local
    ]


def _root(
    doc: minidom.Document, ns: str, local: str, part: str, path: Path
) -> minidom.Element:
    root = doc.documentElement
    if root is None or root.namespaceURI != ns or root.localName != local:
        raise CorruptMedia(f"{part} is not a {local} document", path=path)
    return root


def _qname(root: minidom.Element, local: str) -> str:
    """``local`` in the root's namespace, spelled with the root's prefix."""
    return f"{root.prefix}:{local}" if root.prefix else local


def _text(node: minidom.Node) -> str:
    if isinstance(node, minidom.Text):
        return str(node.data)
    return "".join(_text(child) for child in node.childNodes)


def _custom_target(doc: minidom.Document, path: Path) -> str | None:
    """The package-relative part name of the custom-properties relationship."""
    root = _root(doc, RELS_NS, "Relationships", PACKAGE_RELS, path)
    for rel in _children(root, RELS_NS, "Relationship"):
        if not rel.getAttribute("Type").endswith(_RELS_MARKER):
            continue
        if rel.getAttribute("TargetMode") == "External":
            continue
        target = urllib.parse.unquote(rel.getAttribute("Target")).lstrip("/")
        name = posixpath.normpath(target) if target else ""
        if not name or name == "." or _unsafe_name(name):
            msg = f"{PACKAGE_RELS} points custom properties at {target!r}"
            raise CorruptMedia(msg, path=path)
        return name
    return None


def _properties(data: bytes, part: str, path: Path) -> list[tuple[str, str]]:
    """``(name, value)`` of every custom property, in document order."""
    root = _root(_parse_xml(data, part, path), CUSTOM_NS, "Properties", part, path)
    return [
        (prop.getAttribute("name"), _text(prop))
        for prop in _children(root, CUSTOM_NS, "property")
    ]


def _is_label(name: str) -> bool:
    # Office treats property names case-insensitively ("aigc" is "AIGC").
    return name.strip().casefold() == PROPERTY.casefold()


def _new_custom_part(payload: str) -> bytes:
    doc = minidom.parseString(
        f'<Properties xmlns="{CUSTOM_NS}" xmlns:vt="{VT_NS}"/>'.encode()
    )
    root = doc.documentElement
    assert root is not None
    _append_property(doc, root, payload, pid=2)
    return _serialize(doc)


def _set_property(data: bytes, payload: str, part: str, path: Path) -> bytes:
    """``data`` with every ``AIGC`` property replaced by one holding ``payload``."""
    doc = _parse_xml(data, part, path)
    root = _root(doc, CUSTOM_NS, "Properties", part, path)
    pids = [1]
    for prop in _children(root, CUSTOM_NS, "property"):
        if _is_label(prop.getAttribute("name")):
            root.removeChild(prop)
            continue
        with contextlib.suppress(ValueError):
            pids.append(int(prop.getAttribute("pid")))
    _append_property(doc, root, payload, pid=max(pids) + 1)
    return _serialize(doc)


def _append_property(
    doc: minidom.Document, root: minidom.Element, payload: str, *, pid: int
) -> None:
    prop = doc.createElementNS(CUSTOM_NS, _qname(root, "property"))
    prop.setAttribute("fmtid", FMTID)
    prop.setAttribute("pid", str(pid))
    prop.setAttribute("name", PROPERTY)
    prefix = _declared_prefix(root, VT_NS)
    value = doc.createElementNS(VT_NS, f"{prefix or 'vt'}:lpwstr")
    if prefix is None:
        value.setAttribute("xmlns:vt", VT_NS)
    value.appendChild(doc.createTextNode(payload))
    prop.appendChild(value)
    root.appendChild(prop)


def _declared_prefix(root: minidom.Element, ns: str) -> str | None:
    for name, value in root.attributes.items():
        if name.startswith("xmlns:") and value == ns:
            return str(name[len("xmlns:") :])
    return None


def _with_override(data: bytes, part: str, path: Path) -> bytes | None:
    """``[Content_Types].xml`` declaring ``part``, or ``None`` if it already does."""
    doc = _parse_xml(data, CONTENT_TYPES, path)
    root = _root(doc, TYPES_NS, "Types", CONTENT_TYPES, path)
    wanted = "/" + part
    for override in _children(root, TYPES_NS, "Override"):
        if override.getAttribute("PartName").casefold() == wanted.casefold():
            if override.getAttribute("ContentType") == CUSTOM_TYPE:
                return None
            override.setAttribute("ContentType", CUSTOM_TYPE)
            return _serialize(doc)
    override = doc.createElementNS(TYPES_NS, _qname(root, "Override"))
    override.setAttribute("PartName", wanted)
    override.setAttribute("ContentType", CUSTOM_TYPE)
    root.appendChild(override)
    return _serialize(doc)


def _with_relationship(data: bytes, path: Path) -> bytes:
    """``_rels/.rels`` with a custom-properties relationship to the default part."""
    doc = _parse_xml(data, PACKAGE_RELS, path)
    root = _root(doc, RELS_NS, "Relationships", PACKAGE_RELS, path)
    ids = {rel.getAttribute("Id") for rel in _children(root, RELS_NS, "Relationship")}
    number = len(ids) + 1
    while f"rId{number}" in ids:
        number += 1
    rel = doc.createElementNS(RELS_NS, _qname(root, "Relationship"))
    rel.setAttribute("Id", f"rId{number}")
    rel.setAttribute("Type", CUSTOM_REL)
    rel.setAttribute("Target", DEFAULT_PART)
    root.appendChild(rel)
    return _serialize(doc)


# --- writing the archive -----------------------------------------------------


def _dos_time(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    year, month, day, hour, minute, second = date_time
    date = (max(year - 1980, 0) << 9) | (month << 5) | day
    return (hour << 11) | (minute << 5) | (second // 2), date


def _strip_zip64(extra: bytes) -> bytes:
    """The extra field without its ZIP64 record (sizes are rewritten as 32-bit)."""
    out = bytearray()
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<2H", extra, pos)
        if tag != 0x0001:
            out += extra[pos : pos + 4 + size]
        pos += 4 + size
    return bytes(out)


@dataclass(slots=True)
class _Entry:
    """What the central directory needs to know about one written member."""

    info: zipfile.ZipInfo
    name: bytes
    extra: bytes
    crc: int
    compress_type: int
    compress_size: int
    file_size: int
    flags: int
    offset: int
    version: int


class _ZipWriter:
    """Writes members (raw copies or new data) and then the central directory."""

    def __init__(self, out: BinaryIO, path: Path) -> None:
        self.out = out
        self.path = path
        self.entries: list[_Entry] = []

    def _check32(self, value: int, what: str) -> None:
        if value >= _ZIP32_MAX:
            msg = f"{what} needs ZIP64, which labelling does not write"
            raise UnsupportedFormat(msg, path=self.path)

    def _header(self, entry: _Entry) -> None:
        time, date = _dos_time(entry.info.date_time)
        self.out.write(
            _LOCAL_HEADER.pack(
                b"PK\x03\x04",
                entry.version,
                entry.flags,
                entry.compress_type,
                time,
                date,
                entry.crc,
                entry.compress_size,
                entry.file_size,
                len(entry.name),
                len(entry.extra),
            )
        )
        self.out.write(entry.name)
        self.out.write(entry.extra)

    def copy(self, pkg: _Package, info: zipfile.ZipInfo) -> None:
        """Copy a member's compressed bytes as they are."""
        local = pkg.local(info)
        entry = _Entry(
            info=info,
            name=local.name,
            extra=_strip_zip64(local.extra),
            crc=info.CRC,
            compress_type=info.compress_type,
            compress_size=info.compress_size,
            file_size=info.file_size,
            flags=info.flag_bits & ~0x08,  # sizes are in the header: no descriptor
            offset=self.out.tell(),
            version=info.extract_version,
        )
        for value, what in (
            (info.compress_size, info.filename),
            (info.file_size, info.filename),
            (entry.offset, "archive"),
        ):
            self._check32(value, what)
        self._header(entry)
        pkg.fh.seek(local.data_offset)
        remaining = info.compress_size
        while remaining:
            chunk = pkg.fh.read(min(_CHUNK, remaining))
            if not chunk:
                raise CorruptMedia(
                    f"zip member {info.filename!r} is truncated", path=pkg.path
                )
            self.out.write(chunk)
            remaining -= len(chunk)
        self.entries.append(entry)

    def add(self, info: zipfile.ZipInfo, data: bytes) -> None:
        """Write ``data`` deflated, keeping ``info``'s name, time and attributes."""
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed = packer.compress(data) + packer.flush()
        entry = _Entry(
            info=info,
            name=_name_bytes(info),
            extra=b"",
            crc=zlib.crc32(data),
            compress_type=zipfile.ZIP_DEFLATED,
            compress_size=len(packed),
            file_size=len(data),
            flags=info.flag_bits & 0x800,
            offset=self.out.tell(),
            version=max(info.extract_version, 20),  # deflate needs 2.0
        )
        self._check32(entry.offset, "archive")
        self._header(entry)
        self.out.write(packed)
        self.entries.append(entry)

    def finish(self, comment: bytes) -> None:
        start = self.out.tell()
        for entry in self.entries:
            info = entry.info
            time, date = _dos_time(info.date_time)
            extra = _strip_zip64(info.extra)
            self.out.write(
                _CENTRAL_HEADER.pack(
                    b"PK\x01\x02",
                    (info.create_system << 8) | info.create_version,
                    entry.version,
                    entry.flags,
                    entry.compress_type,
                    time,
                    date,
                    entry.crc,
                    entry.compress_size,
                    entry.file_size,
                    len(entry.name),
                    len(extra),
                    len(info.comment),
                    0,
                    info.internal_attr,
                    info.external_attr,
                    entry.offset,
                )
            )
            self.out.write(entry.name + extra + info.comment)
        size = self.out.tell() - start
        count = len(self.entries)
        self._check32(start + size, "archive")
        if count >= 0xFFFF:
            raise UnsupportedFormat(
                f"{count} members need ZIP64, which labelling does not write",
                path=self.path,
            )
        self.out.write(
            _END_RECORD.pack(
                b"PK\x05\x06", 0, 0, count, count, size, start, len(comment)
            )
        )
        self.out.write(comment)


def _new_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_NEW_DATE)
    info.create_system = 0
    info.create_version = info.extract_version = 20
    if not name.isascii():
        info.flag_bits |= 0x800
    return info


def _xml_payload(payload: str, path: Path) -> str:
    bad = _XML_CHAR.search(payload)
    if bad is not None:
        msg = f"label contains {bad.group(0)!r}, which XML cannot hold"
        raise UnsupportedFormat(msg, path=path)
    return payload


# --- the carrier -------------------------------------------------------------


class OoxmlCarrier(Carrier):
    """Custom property ``AIGC`` in an Office Open XML package."""

    name: ClassVar[str] = "ooxml"
    containers: ClassVar[frozenset[str]] = frozenset({"zip"})

    def read(self, path: Path, limits: Limits) -> CarrierRead:
        """Every custom property named ``AIGC`` (in any letter case).

        A damaged custom-properties part (or package relationships) is
        recorded, not raised: the archive itself was readable.
        """
        found = CarrierRead()
        with _Package.open(path, limits) as pkg:
            part = pkg.custom_part(found.errors)
            try:
                data = pkg.read_part(part)
                props = _properties(data, part, path) if data is not None else []
            except CorruptMedia as exc:
                found.errors.append(exc.msg)
                return found
        found.copies.extend(
            RawLabel(self.name, f"{part} property {name}", value)
            for name, value in props
            if _is_label(name)
        )
        return found

    def write(self, src: Path, dst: Path, payload: str, limits: Limits) -> None:
        """Copy ``src`` with one ``AIGC`` custom property; see the module docstring.

        Raises:
            CorruptMedia: the package is damaged, hostile, or lacks
                ``[Content_Types].xml`` or ``_rels/.rels``.
            UnsupportedFormat: encrypted members, ZIP64, or a payload XML
                cannot hold.
            MediaLimitExceeded: a part or the archive is over the limits.
        """
        payload = _xml_payload(payload, src)
        with _Package.open(src, limits) as pkg:
            changes = self._changes(pkg, payload)
            with dst.open("wb") as out:
                writer = _ZipWriter(out, src)
                for info in pkg.members:
                    if info.filename in changes:
                        writer.add(info, changes.pop(info.filename))
                    else:
                        writer.copy(pkg, info)
                for name, data in changes.items():
                    writer.add(_new_info(name), data)
                writer.finish(pkg.zf.comment)

    def _changes(self, pkg: _Package, payload: str) -> dict[str, bytes]:
        """New bytes for every member the label write changes or adds."""
        path = pkg.path
        types = pkg.read_part(CONTENT_TYPES)
        rels = pkg.read_part(PACKAGE_RELS)
        if types is None or rels is None:
            missing = CONTENT_TYPES if types is None else PACKAGE_RELS
            raise CorruptMedia(f"no {missing}: not an OOXML package", path=path)
        changes: dict[str, bytes] = {}
        target = _custom_target(_parse_xml(rels, PACKAGE_RELS, path), path)
        if target is None:
            target = DEFAULT_PART
            changes[pkg.resolve(PACKAGE_RELS)] = _with_relationship(rels, path)
        target = pkg.resolve(target)
        existing = pkg.read_part(target)
        if existing is None:
            changes[target] = _new_custom_part(payload)
        else:
            changes[target] = _set_property(existing, payload, target, path)
        new_types = _with_override(types, target, path)
        if new_types is not None:
            changes[pkg.resolve(CONTENT_TYPES)] = new_types
        return changes

    def content_digest(self, path: Path, limits: Limits) -> str:
        """Names and uncompressed bytes of every member but properties and packaging.

        ``docProps/*``, ``[Content_Types].xml``, ``_rels/.rels`` and the
        custom-properties part are left out: a label write may change them.
        """
        parts: list[bytes] = []
        with _Package.open(path, limits) as pkg:
            custom = pkg.custom_part()
            for info in sorted(pkg.members, key=lambda member: member.filename):
                if _excluded(info.filename, custom):
                    continue
                parts.append(info.filename.encode("utf-8"))
                parts.append(pkg.member_digest(info))
        return digest_parts(parts, domain="ooxml")
