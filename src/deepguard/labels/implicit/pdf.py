"""PDF: the label is the ``/AIGC`` entry of the document information dictionary.

Reading looks at the current document state only: the Info dictionary the
latest cross-reference section leads to, and ``TC260:AIGC`` in the catalog's
XMP metadata stream (a second copy, which the standard's one-copy rule makes
a problem). An ``/AIGC`` that an earlier revision had and a later one removed
is history, not a label, and is not reported.

Writing appends an *incremental update* (a new Info dictionary, any changed
objects, a cross-reference stream and a trailer whose ``/Prev`` points at the
old one), so the original bytes stay an exact prefix of the output: digital
signatures stay valid and nothing already in the file is re-encoded. The
earlier revisions, earlier labels included, stay in the file as its history,
as every incremental PDF edit leaves them.

An incremental update is not attempted when pypdf had to repair the file's
cross-reference data or trailer (a broken ``startxref``, a ``/Prev`` loop, a
truncated table): an update chained to a damaged table would carry the
damage on, so such files are rewritten whole instead, which also leaves a
consistent file. Encrypted PDFs are refused: writing into them would need the
owner password.

pypdf is pure Python and forgiving, which on hostile input means deep
recursion, odd exception types and warnings; every call is wrapped so that
failures become one ``CorruptMedia`` naming the file, its warnings are
collected instead of printed, and page digests are bounded by
``max_decode_s``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Final
from xml.dom import minidom
from xml.parsers.expat import ExpatError

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    StreamObject,
    TextStringObject,
)

from deepguard.config import Limits
from deepguard.errors import (
    CorruptMedia,
    DeepguardError,
    MediaError,
    MediaLimitExceeded,
    UnsupportedFormat,
)
from deepguard.labels.fields import RawLabel
from deepguard.labels.implicit._digest import digest_parts
from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.media.containers import xmp

__all__ = ["PdfCarrier"]

CARRIER: Final = "pdf"
INFO_KEY: Final = "/AIGC"
TC260_NS: Final = "http://www.tc260.org.cn/ns/AIGC/1.0/"
XMP_KEY: Final = "TC260:AIGC"
_XREF_STREAM_VERSION: Final = (1, 5)
"""The update's cross-reference stream is a PDF 1.5 feature."""
_MAX_XOBJECT_DEPTH: Final = 8
_ENCRYPTED: Final = "encrypted PDF: a label cannot be written without the password"
_MAX_OBJECT_NUMBER: Final = 1_000_000
"""pypdf's own ceiling for the object numbers of an incremental clone."""
_REPAIRS: Final = (
    "xref",
    "trailer",
    "eof marker",
    "%%eof",
    "rebuild",
    "object streams",
    "wrong pointing",
    "invalid object number",
    "truncated",
    "root found",
    "root object",
    "object count",
    "ref repaired",
    "object header",
)
"""Fragments of the pypdf warnings that mean it repaired the file's structure
(cross-reference data, trailer, end marker), as opposed to complaints about
one object's content."""


# --- running pypdf safely ----------------------------------------------------


class _Collector(logging.Handler):
    """Collects pypdf's warnings from one thread (pypdf logs, it does not raise)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(" ".join(record.getMessage().split()))


@contextlib.contextmanager
def _pypdf(path: Path, action: str) -> Iterator[list[str]]:
    """Run pypdf quietly; yield the warnings it logs; translate its failures.

    Warnings from the ``warnings`` module are silenced for the duration
    (``catch_warnings`` is process-wide, as Python's warning filters are);
    log records are only collected from the calling thread.

    Raises:
        CorruptMedia: pypdf failed (any exception type, recursion included).
    """
    collector = _Collector()
    logger = logging.getLogger("pypdf")
    logger.addHandler(collector)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield collector.messages
    except DeepguardError:
        raise
    except RecursionError as exc:
        msg = f"cannot {action}: objects are nested too deeply"
        raise CorruptMedia(msg, path=path) from exc
    except MemoryError:
        raise
    except Exception as exc:  # pypdf raises many types on hostile input
        raise CorruptMedia(f"cannot {action}: {_short(exc)}", path=path) from exc
    finally:
        logger.removeHandler(collector)


def _repairs(messages: list[str]) -> list[str]:
    """The warnings that say pypdf repaired the cross-reference structure."""
    return [m for m in messages if any(key in m.lower() for key in _REPAIRS)]


def _short(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return f"required entry {exc.args[0]} is missing"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise MediaError(f"cannot read: {exc.strerror or exc}", path=path) from exc


def _reader(data: bytes, path: Path) -> PdfReader:
    """A reader over ``data``, decrypted when only an empty password is set.

    Raises:
        UnsupportedFormat: the document needs a password to be read.
    """
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted and not reader.decrypt(""):
        msg = "encrypted PDF: its metadata cannot be read without the password"
        raise UnsupportedFormat(msg, path=path)
    return reader


def _too_big(what: str, size: int, path: Path, limits: Limits) -> None:
    limit = limits.max_metadata_bytes
    if size > limit:
        msg = f"{what} is {size} bytes, over the max_metadata_bytes limit of {limit}"
        raise MediaLimitExceeded(
            msg, path=path, limit="max_metadata_bytes", value=size, maximum=limit
        )


def _resolve(obj: Any) -> Any:
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


# --- reading -----------------------------------------------------------------


def _payload(value: Any) -> str | bytes:
    """A stored Info value as the label parser takes it."""
    if isinstance(value, TextStringObject):
        return str(value)
    if isinstance(value, ByteStringObject):
        return bytes(value)
    # A name, number, array or dictionary: not printed (it may be nested
    # arbitrarily deep); the label parser reports this as not JSON.
    return f"(a PDF {type(value).__name__}, not a string)"


def _info_copy(reader: PdfReader, path: Path, limits: Limits) -> RawLabel | None:
    ref = reader.trailer.raw_get("/Info") if "/Info" in reader.trailer else None
    info = _resolve(ref)
    if not isinstance(info, DictionaryObject) or INFO_KEY not in info:
        return None
    payload = _payload(_resolve(info.raw_get(INFO_KEY)))
    size = len(payload) if isinstance(payload, bytes) else len(payload.encode())
    _too_big("Info /AIGC", size, path, limits)
    offset = None
    if isinstance(ref, IndirectObject):
        offset = reader.xref.get(ref.generation, {}).get(ref.idnum)
    return RawLabel(CARRIER, "Info /AIGC", payload, offset)


def _metadata_stream(root: Any) -> StreamObject | None:
    if not isinstance(root, DictionaryObject) or "/Metadata" not in root:
        return None
    stream = _resolve(root.raw_get("/Metadata"))
    return stream if isinstance(stream, StreamObject) else None


def _xmp_copies(
    reader: PdfReader, path: Path, limits: Limits, errors: list[str]
) -> list[RawLabel]:
    """``TC260:AIGC`` in the catalog's XMP; a damaged packet is recorded."""
    stream = _metadata_stream(_resolve(reader.trailer.raw_get("/Root")))
    if stream is None:
        return []
    try:
        data = stream.get_data()
        _too_big("XMP metadata stream", len(data), path, limits)
        values = xmp.parse(data, path=path, max_bytes=limits.max_metadata_bytes)
    except MediaLimitExceeded:
        raise
    except DeepguardError as exc:
        errors.append(f"XMP metadata: {exc.msg}")
        return []
    except Exception as exc:  # pypdf's stream decoders raise many types
        errors.append(f"XMP metadata stream cannot be decoded: {_short(exc)}")
        return []
    value = values.get(XMP_KEY)
    items = [value] if isinstance(value, str) else list(value or [])
    offset = None
    if stream.indirect_reference is not None:
        ref = stream.indirect_reference
        offset = reader.xref.get(ref.generation, {}).get(ref.idnum)
    return [RawLabel(CARRIER, f"XMP {XMP_KEY}", item, offset) for item in items]


# --- writing -----------------------------------------------------------------


class _PdfText(TextStringObject):
    """A text string written as a plain literal: ``({"AIGC":...})``.

    pypdf writes every non-alphanumeric byte as an octal escape, which is
    valid but turns the JSON into ``\\173\\042AIGC...`` for anyone searching
    the file; only the bytes PDF requires (and unprintable ones) are escaped.
    """

    def write_to_stream(self, stream: Any) -> None:
        out = bytearray(b"(")
        for byte in self.get_encoded_bytes():
            if byte in b"()\\":
                out += b"\\" + bytes([byte])
            elif 0x20 <= byte <= 0x7E:
                out.append(byte)
            else:
                out += b"\\%03o" % byte
        out += b")"
        stream.write(bytes(out))


def _writer_info(writer: PdfWriter) -> DictionaryObject:
    """The writer's own Info dictionary, created when the file has none.

    pypdf's public ``metadata`` returns a copy and ``add_metadata`` makes
    every value a plain text string, so the dictionary is reached through
    ``_info`` (pypdf is pinned; the tests check the written bytes).
    """
    if writer._info is None:
        writer.add_metadata({})
    info = writer._info
    if not isinstance(info, DictionaryObject):
        raise TypeError("pypdf returned no Info dictionary")
    return info


def _without_xmp_label(data: bytes, path: Path, limits: Limits) -> bytes | None:
    """The XMP packet without ``TC260:AIGC``, or ``None`` when it has none.

    A malformed packet that does not even mention ``AIGC`` is left alone (it
    cannot hold a label); one that does cannot be cleaned, so it is refused.

    Raises:
        CorruptMedia: the packet mentions AIGC but cannot be parsed.
    """
    try:
        values = xmp.parse(data, path=path, max_bytes=limits.max_metadata_bytes)
    except CorruptMedia:
        if b"AIGC" not in data.replace(b"\x00", b""):
            return None
        raise
    if XMP_KEY not in values:
        return None
    try:
        doc = minidom.parseString(data.rstrip(b"\x00 \t\r\n"))
    except (ExpatError, ValueError) as exc:
        msg = f"XMP metadata cannot be edited: {_short(exc)}"
        raise CorruptMedia(msg, path=path) from exc
    for element in list(doc.getElementsByTagNameNS(TC260_NS, "AIGC")):
        if element.parentNode is not None:
            element.parentNode.removeChild(element)
    for element in doc.getElementsByTagName("*"):
        if element.hasAttributeNS(TC260_NS, "AIGC"):
            element.removeAttributeNS(TC260_NS, "AIGC")
    return "".join(node.toxml() for node in doc.childNodes).encode("utf-8")


def _version(text: str) -> tuple[int, int]:
    major, _, minor = text.lstrip("%PDF-/").partition(".")
    try:
        return int(major), int(minor[:1] or 0)
    except ValueError:
        return (1, 0)


def _label(
    writer: PdfWriter, payload: str, path: Path, limits: Limits, *, update: bool
) -> None:
    """Put ``payload`` in Info ``/AIGC``; drop ``TC260:AIGC`` from the XMP."""
    _writer_info(writer)[NameObject(INFO_KEY)] = _PdfText(payload)
    stream = _metadata_stream(writer.root_object)
    if stream is not None:
        data = stream.get_data()
        _too_big("XMP metadata stream", len(data), path, limits)
        cleaned = _without_xmp_label(data, path, limits)
        if cleaned is not None:
            writer.xmp_metadata = None  # a new stream: the old may be filtered
            writer.xmp_metadata = cleaned
            new = _metadata_stream(writer.root_object)
            if new is not None:
                new[NameObject("/Type")] = NameObject("/Metadata")
                new[NameObject("/Subtype")] = NameObject("/XML")
    if update:
        root = writer.root_object
        declared = str(root.get("/Version", "")) or writer.pdf_header
        if max(_version(declared), _version(writer.pdf_header)) < _XREF_STREAM_VERSION:
            root[NameObject("/Version")] = NameObject("/1.5")


def _reserve_numbers(writer: PdfWriter, reader: PdfReader) -> bool:
    """Keep new objects clear of every number the file has used.

    pypdf numbers new objects after the highest object its cross-reference
    lists, but earlier updates' cross-reference streams are not listed; the
    trailer's ``/Size`` covers them. Without this a second update would reuse
    the number of the first one's cross-reference stream. ``False`` when the
    declared size is implausible. pypdf has no public way to reserve object
    numbers, hence ``_objects`` (pypdf is pinned; the tests write three
    updates in a row).
    """
    size = reader.trailer.get("/Size", 0)
    if not isinstance(size, int) or size - 1 > _MAX_OBJECT_NUMBER:
        return False
    objects = writer._objects
    objects.extend([None] * max(0, size - 1 - len(objects)))
    return True


def _write_update(
    data: bytes, out: BinaryIO, payload: str, path: Path, limits: Limits
) -> bool:
    """Append an incremental update; ``False`` when the file needs a rewrite."""
    if not data.endswith((b"\n", b"\r")):
        data += b"\n"  # the update's first object must start on its own line
    try:
        with _pypdf(path, "update the PDF") as complaints:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise UnsupportedFormat(_ENCRYPTED, path=path)
            writer = PdfWriter(reader, incremental=True)
            if _repairs(complaints) or not _reserve_numbers(writer, reader):
                return False  # see the module docstring
            _label(writer, payload, path, limits, update=True)
            writer.write(out)
    except CorruptMedia:
        return False
    return True


def _write_whole(
    data: bytes, out: BinaryIO, payload: str, path: Path, limits: Limits
) -> None:
    """Rewrite the whole file through pypdf (its objects, a new xref table)."""
    with _pypdf(path, "rewrite the PDF"):
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise UnsupportedFormat(_ENCRYPTED, path=path)
        writer = PdfWriter(clone_from=reader, keep_initial_header=True)
        _label(writer, payload, path, limits, update=False)
        writer.write(out)


# --- content digest ----------------------------------------------------------


class _PageHasher:
    """Hashes what a page shows: its boxes, content streams and XObjects.

    Streams shared by several pages are hashed once (by object number), and
    the walk stops when ``max_decode_s`` has passed, so a file that points
    every page at the same huge stream cannot keep a worker busy.
    """

    def __init__(self, path: Path, limits: Limits) -> None:
        self.path = path
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_decode_s
        self.cache: dict[tuple[int, int], bytes] = {}

    def _check_time(self) -> None:
        if time.monotonic() > self.deadline:
            limit = self.limits.max_decode_s
            msg = f"PDF content digest took over the max_decode_s limit of {limit}s"
            raise MediaLimitExceeded(
                msg,
                path=self.path,
                limit="max_decode_s",
                maximum=self.limits.max_decode_s,
            )

    def _stream(self, stream: StreamObject, *, decoded: bool) -> bytes:
        ref = stream.indirect_reference
        key = (ref.idnum, ref.generation) if ref is not None else None
        if key is not None and key in self.cache:
            return self.cache[key]
        self._check_time()
        # XObjects are hashed as stored: no label write re-encodes them, and
        # image codecs pypdf lacks (JBIG2, say) must not break the digest.
        data = stream.get_data() if decoded else bytes(stream._data)
        digest = hashlib.sha256(data).digest()
        if key is not None:
            self.cache[key] = digest
        return digest

    def page(self, page: Any) -> Iterator[bytes]:
        box = ",".join(repr(float(value)) for value in page.mediabox)
        yield f"page mediabox={box} rotate={int(page.rotation)}".encode()
        contents = _resolve(page.get("/Contents"))
        streams = contents if isinstance(contents, ArrayObject) else [contents]
        for item in streams:
            stream = _resolve(item)
            if isinstance(stream, StreamObject):
                yield self._stream(stream, decoded=True)
        yield from self._xobjects(_resolve(page.get("/Resources")), 0, set())

    def _xobjects(
        self, resources: Any, depth: int, seen: set[tuple[int, int]]
    ) -> Iterator[bytes]:
        if not isinstance(resources, DictionaryObject) or depth > _MAX_XOBJECT_DEPTH:
            return
        xobjects = _resolve(resources.get("/XObject"))
        if not isinstance(xobjects, DictionaryObject):
            return
        for name in sorted(xobjects):
            raw = xobjects.raw_get(name)
            if isinstance(raw, IndirectObject):
                key = (raw.idnum, raw.generation)
                if key in seen:
                    continue
                seen.add(key)
            stream = _resolve(raw)
            if not isinstance(stream, StreamObject):
                continue
            yield f"xobject {name} {stream.get('/Subtype', '')}".encode()
            yield self._stream(stream, decoded=False)
            if stream.get("/Subtype") == "/Form":
                inner = _resolve(stream.get("/Resources"))
                yield from self._xobjects(inner, depth + 1, seen)


# --- the carrier -------------------------------------------------------------


class PdfCarrier(Carrier):
    """Info dictionary ``/AIGC`` (plus ``TC260:AIGC`` in XMP when present)."""

    name: ClassVar[str] = CARRIER
    containers: ClassVar[frozenset[str]] = frozenset({"pdf"})

    def read(self, path: Path, limits: Limits) -> CarrierRead:
        """Info ``/AIGC`` and XMP ``TC260:AIGC`` of the current revision.

        When pypdf had to repair the cross-reference data, the repair is
        recorded: a truncated or damaged file may have lost the revision that
        held a label, so an absent label is then inconclusive.
        """
        found = CarrierRead()
        data = _read_bytes(path)
        with _pypdf(path, "read the PDF") as complaints:
            reader = _reader(data, path)
            repairs = _repairs(complaints)
            if repairs:
                found.errors.append(f"PDF structure was repaired: {repairs[0]}")
            info = _info_copy(reader, path, limits)
            if info is not None:
                found.copies.append(info)
            found.copies.extend(_xmp_copies(reader, path, limits, found.errors))
        return found

    def write(self, src: Path, dst: Path, payload: str, limits: Limits) -> None:
        """Write one label as an incremental update (or a whole rewrite).

        Raises:
            UnsupportedFormat: the PDF is encrypted.
            CorruptMedia: pypdf cannot read or rewrite it.
            MediaLimitExceeded: the payload or XMP is over the limits.
        """
        _too_big("label", len(payload.encode("utf-8")), src, limits)
        data = _read_bytes(src)
        with dst.open("wb") as out:
            if not _write_update(data, out, payload, src, limits):
                out.seek(0)
                out.truncate()
                _write_whole(data, out, payload, src, limits)

    def content_digest(self, path: Path, limits: Limits) -> str:
        """Page count, and per page its MediaBox, rotation, decoded content
        streams and XObject streams; document metadata is left out.

        Fonts, annotations and the outline are not covered.
        """
        data = _read_bytes(path)
        with _pypdf(path, "digest the PDF"):
            reader = _reader(data, path)
            hasher = _PageHasher(path, limits)
            parts = [f"pages {len(reader.pages)}".encode()]
            for page in reader.pages:
                parts.extend(hasher.page(page))
        return digest_parts(parts, domain="pdf-pages")
