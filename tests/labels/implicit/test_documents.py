"""Implicit labels in documents and text: PDF, OOXML, Markdown, plain text.

Every format is checked the same way: a label written is read back with the
same fields, the content is untouched (and its digest unchanged), a second
write leaves one label, other metadata survives, an independent reader
(exiftool, pypdf, PyYAML) sees the label, and hostile input ends in a
deepguard error or a recorded read error, never another exception.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import struct
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, StreamObject

from deepguard.config import Limits
from deepguard.demo.samples import minimal_pdf
from deepguard.errors import (
    CorruptMedia,
    DeepguardError,
    MediaLimitExceeded,
    UnsupportedFormat,
)
from deepguard.labels.fields import AigcFields, LabelStatus, assess
from deepguard.labels.implicit.carrier import Carrier, CarrierRead
from deepguard.labels.implicit.markdown import MarkdownCarrier
from deepguard.labels.implicit.ooxml import OoxmlCarrier
from deepguard.labels.implicit.pdf import PdfCarrier
from deepguard.labels.implicit.text import TextCarrier
from deepguard.media.probe import probe

LIMITS = Limits()
FIELDS = AigcFields(
    label="1",
    content_producer="001191440300708461136T1XGW3",
    produce_id="doc-0001",
)
SECOND = FIELDS.replace(
    content_propagator="001191440300708461136T2XGW3", propagate_id="share-7"
)
Exiftool = Callable[..., subprocess.CompletedProcess[str]]
"""The conftest ``exiftool`` fixture: runs exiftool with the TC260 config."""

PDF = PdfCarrier()
OOXML = OoxmlCarrier()
MARKDOWN = MarkdownCarrier()
TEXT = TextCarrier()


def _read(carrier: Carrier, path: Path) -> Any:
    found = carrier.read(path, LIMITS)
    return assess(found.copies, errors=found.errors, carrier=carrier.name)


def _labelled(carrier: Carrier, src: Path, fields: AigcFields = FIELDS) -> Path:
    dst = src.with_name(f"labelled-{src.name}")
    carrier.write(src, dst, fields.to_json(), LIMITS)
    return dst


def _check_duplicates_relabel(carrier: Carrier, src: Path) -> Path:
    """Check ``src``, holding a label and a malformed copy; return it relabelled.

    As it is, the file reads as noncompliant with two copies; labelled once
    more, it holds exactly the new label.
    """
    reading = _read(carrier, src)
    assert len(reading.copies) == 2
    assert reading.status is LabelStatus.NONCOMPLIANT
    assert any("not valid JSON" in p for p in reading.problems)
    out = _labelled(carrier, src)
    assert [c.fields for c in _read(carrier, out).copies] == [FIELDS]
    return out


def _tags(exiftool: Exiftool, path: Path, *args: str) -> dict[str, Any]:
    """What exiftool (taught the TC260 namespace) reads from ``path``."""
    result: list[dict[str, Any]] = json.loads(
        exiftool("-j", "-a", "-G1", *args, path).stdout
    )
    return result[0]


def _outcome(action: Callable[[], object]) -> object:
    """What a carrier call on hostile input did: a result or a deepguard error."""
    try:
        return action()
    except (CorruptMedia, UnsupportedFormat, MediaLimitExceeded) as exc:
        assert "\n" not in str(exc)
        return exc


def _hostile(carrier: Carrier, path: Path, tmp_path: Path) -> list[object]:
    """Read, write and digest ``path``; each must fail cleanly or succeed."""
    dst = tmp_path / f"out-{path.name}"
    outcomes = [
        _outcome(lambda: carrier.read(path, LIMITS)),
        _outcome(lambda: carrier.write(path, dst, FIELDS.to_json(), LIMITS)),
        _outcome(lambda: carrier.content_digest(path, LIMITS)),
    ]
    read = outcomes[0]
    assert isinstance(read, CarrierRead | DeepguardError)
    if outcomes[1] is None:  # written: the output holds exactly our label
        found = carrier.read(dst, LIMITS)
        assert [c.payload for c in found.copies] == [FIELDS.to_json()]
    return outcomes


# --- PDF ---------------------------------------------------------------------


def _pdf_bytes(
    text: str = "Hello from deepguard",
    *,
    info: bytes | None = b"/Title (Field notes) /Author (A. Person)",
    mediabox: bytes = b"0 0 320 160",
    eol: bool = True,
) -> bytes:
    """A one-page PDF 1.4 with a text content stream and a correct xref."""
    return minimal_pdf(text, info=info, mediabox=mediabox, eol=eol)


def _page_streams(path: Path) -> list[bytes]:
    reader = PdfReader(path)
    return [page.get_contents().get_data() for page in reader.pages]  # type: ignore[union-attr]


def _xmp(aigc: str | None) -> bytes:
    prop = ""
    if aigc is not None:
        prop = f" TC260:AIGC='{aigc}'"
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF'
        ' xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        f' xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"{prop}>'
        "<dc:format>application/pdf</dc:format></rdf:Description></rdf:RDF>"
        '</x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def _with_xmp(src: bytes, xmp: bytes, info: dict[str, str]) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(src)))
    writer.xmp_metadata = xmp
    stream = writer.root_object["/Metadata"].get_object()
    assert isinstance(stream, StreamObject)
    stream[NameObject("/Type")] = NameObject("/Metadata")
    stream[NameObject("/Subtype")] = NameObject("/XML")
    writer.add_metadata(info)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "notes.pdf"
    path.write_bytes(_pdf_bytes())
    return path


def test_pdf_round_trip_is_an_incremental_update(pdf: Path) -> None:
    original = pdf.read_bytes()
    assert _read(PDF, pdf).status is LabelStatus.NOT_FOUND
    out = _labelled(PDF, pdf)
    data = out.read_bytes()
    assert data.startswith(original) and len(data) > len(original)
    assert pdf.read_bytes() == original
    reading = _read(PDF, out)
    assert reading.status is LabelStatus.COMPLIANT
    assert reading.fields == FIELDS
    assert len(reading.copies) == 1
    assert reading.copies[0].raw.location == "Info /AIGC"
    assert _page_streams(out) == _page_streams(pdf)
    assert PDF.content_digest(out, LIMITS) == PDF.content_digest(pdf, LIMITS)
    meta = PdfReader(out).metadata
    assert meta is not None
    assert (meta.title, meta.author) == ("Field notes", "A. Person")
    # The JSON is stored as a plain literal that byte scanners can find.
    assert b'/AIGC ({"AIGC":{"Label":"1"' in data[len(original) :]


def test_pdf_second_write_leaves_one_label(pdf: Path) -> None:
    first = _labelled(PDF, pdf)
    second = first.with_name("second.pdf")
    PDF.write(first, second, SECOND.to_json(), LIMITS)
    assert second.read_bytes().startswith(first.read_bytes())
    reading = _read(PDF, second)
    assert reading.status is LabelStatus.COMPLIANT
    assert [c.fields for c in reading.copies] == [SECOND]
    assert reading.errors == ()
    # A third update still finds a clean structure and stays incremental.
    third = first.with_name("third.pdf")
    PDF.write(second, third, FIELDS.to_json(), LIMITS)
    assert third.read_bytes().startswith(second.read_bytes())
    assert _read(PDF, third).fields == FIELDS


def test_pdf_label_removed_by_a_later_revision_is_not_a_copy(pdf: Path) -> None:
    labelled = _labelled(PDF, pdf)
    writer = PdfWriter(PdfReader(labelled), incremental=True)
    info = writer._info
    assert info is not None
    del info[NameObject("/AIGC")]
    cleared = labelled.with_name("cleared.pdf")
    writer.write(cleared)
    assert cleared.read_bytes().startswith(labelled.read_bytes())
    assert b"/AIGC" in cleared.read_bytes()  # still in the file's history
    reading = _read(PDF, cleared)
    assert reading.status is LabelStatus.NOT_FOUND
    assert reading.errors == ()


def test_pdf_file_without_info_or_final_newline(tmp_path: Path) -> None:
    src = tmp_path / "bare.pdf"
    src.write_bytes(_pdf_bytes(info=None, eol=False))
    out = _labelled(PDF, src)
    assert out.read_bytes().startswith(src.read_bytes())
    assert _read(PDF, out).fields == FIELDS
    assert PdfReader(out).metadata == {"/AIGC": FIELDS.to_json()}
    assert PDF.content_digest(out, LIMITS) == PDF.content_digest(src, LIMITS)


def test_pdf_xmp_copy_is_reported_and_removed_on_write(
    tmp_path: Path, pdf: Path, exiftool: Exiftool
) -> None:
    old = FIELDS.replace(produce_id="old-xmp").to_json()
    src = tmp_path / "xmp.pdf"
    src.write_bytes(_with_xmp(pdf.read_bytes(), _xmp(old), {"/AIGC": old}))
    reading = _read(PDF, src)
    assert [c.raw.location for c in reading.copies] == [
        "Info /AIGC",
        "XMP TC260:AIGC",
    ]
    assert reading.status is LabelStatus.NONCOMPLIANT
    assert any("2 label copies" in p for p in reading.problems)
    assert _tags(exiftool, src)["XMP-TC260:AIGC"] == old
    out = _labelled(PDF, src)
    tags = _tags(exiftool, out)
    assert "XMP-TC260:AIGC" not in tags
    assert tags["PDF:AIGC"] == FIELDS.to_json()
    assert tags["XMP-dc:Format"] == "application/pdf"
    reading = _read(PDF, out)
    assert reading.status is LabelStatus.COMPLIANT
    assert [c.raw.location for c in reading.copies] == ["Info /AIGC"]
    stream = PdfReader(out).root_object["/Metadata"].get_object()
    assert isinstance(stream, StreamObject)
    xmp = stream.get_data()
    assert b"TC260:AIGC" not in xmp
    assert b"<dc:format>application/pdf</dc:format>" in xmp
    assert PDF.content_digest(out, LIMITS) == PDF.content_digest(src, LIMITS)


def test_pdf_independent_readers_see_the_label(pdf: Path, exiftool: Exiftool) -> None:
    out = _labelled(PDF, pdf)
    meta = PdfReader(out).metadata
    assert meta is not None and str(meta["/AIGC"]) == FIELDS.to_json()
    tags = _tags(exiftool, out, "-PDF:all")
    assert tags["PDF:AIGC"] == FIELDS.to_json()
    assert tags["PDF:Title"] == "Field notes"
    assert "ExifTool:Warning" not in tags


def test_pdf_digest_ignores_metadata_but_not_pages(tmp_path: Path, pdf: Path) -> None:
    base = PDF.content_digest(pdf, LIMITS)
    retitled = tmp_path / "retitled.pdf"
    retitled.write_bytes(_pdf_bytes(info=b"/Title (Another title)"))
    assert PDF.content_digest(retitled, LIMITS) == base
    with_xmp = tmp_path / "with-xmp.pdf"
    with_xmp.write_bytes(_with_xmp(pdf.read_bytes(), _xmp(None), {"/X": "y"}))
    assert PDF.content_digest(with_xmp, LIMITS) == base
    edited = tmp_path / "edited.pdf"
    edited.write_bytes(_pdf_bytes("Hello from someone else"))
    assert PDF.content_digest(edited, LIMITS) != base
    resized = tmp_path / "resized.pdf"
    resized.write_bytes(_pdf_bytes(mediabox=b"0 0 320 161"))
    assert PDF.content_digest(resized, LIMITS) != base
    two_pages = tmp_path / "two-pages.pdf"
    writer = PdfWriter(clone_from=PdfReader(pdf))
    writer.add_blank_page(320, 160)
    writer.write(two_pages)
    assert PDF.content_digest(two_pages, LIMITS) != base


def test_pdf_damaged_xref_is_rewritten_whole(tmp_path: Path) -> None:
    data = _pdf_bytes()
    at = data.rindex(b"startxref\n") + len(b"startxref\n")
    broken = data[:at] + b"9" + data[at:]  # startxref points past the file
    src = tmp_path / "broken-xref.pdf"
    src.write_bytes(broken)
    before = PDF.read(src, LIMITS)
    assert before.copies == [] and before.errors  # repaired: inconclusive
    assert _read(PDF, src).status is LabelStatus.INCONCLUSIVE
    out = _labelled(PDF, src)
    assert not out.read_bytes().startswith(broken)
    found = PDF.read(out, LIMITS)
    assert found.errors == []
    assert assess(found.copies).fields == FIELDS
    assert PDF.content_digest(out, LIMITS) == PDF.content_digest(src, LIMITS)


def test_pdf_shared_sample(
    shared_data: Path, tmp_path: Path, exiftool: Exiftool
) -> None:
    src = tmp_path / "pdf-file.pdf"
    shutil.copyfile(shared_data / "media" / "pdf-file.pdf", src)
    original = src.read_bytes()
    assert _read(PDF, src).status is LabelStatus.NOT_FOUND
    out = _labelled(PDF, src)
    assert out.read_bytes().startswith(original)
    assert _read(PDF, out).fields == FIELDS
    assert _page_streams(out) == _page_streams(src)
    assert PDF.content_digest(out, LIMITS) == PDF.content_digest(src, LIMITS)
    tags = _tags(exiftool, out, "-PDF:all")
    assert tags["PDF:AIGC"] == FIELDS.to_json()
    assert tags["PDF:Creator"] == "Adobe Express"


def test_pdf_oversized_label_is_reported_not_parsed(tmp_path: Path) -> None:
    huge = "A" * (1024 * 1024 + 10)
    src = tmp_path / "huge.pdf"
    src.write_bytes(_pdf_bytes(info=b"/AIGC (" + huge.encode() + b")"))
    reading = _read(PDF, src)
    assert reading.status is LabelStatus.NONCOMPLIANT
    assert "1 MiB" in reading.problems[0]
    small = Limits(max_metadata_bytes=4096)
    with pytest.raises(MediaLimitExceeded, match="max_metadata_bytes"):
        PDF.read(src, small)


def _encrypted(user: str) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.encrypt(user, "owner-secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_encrypted_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(_encrypted("user-secret"))
    with pytest.raises(UnsupportedFormat, match="encrypted"):
        PDF.read(locked, LIMITS)
    with pytest.raises(UnsupportedFormat, match="encrypted"):
        PDF.write(locked, tmp_path / "out.pdf", FIELDS.to_json(), LIMITS)
    open_pdf = tmp_path / "owner-only.pdf"
    open_pdf.write_bytes(_encrypted(""))
    assert PDF.read(open_pdf, LIMITS).copies == []
    with pytest.raises(UnsupportedFormat, match="encrypted"):
        PDF.write(open_pdf, tmp_path / "out.pdf", FIELDS.to_json(), LIMITS)


def _xref_loop() -> bytes:
    data = _pdf_bytes(info=b"/AIGC (" + FIELDS.to_json().encode() + b")")
    at = len(data)
    return data + (
        b"xref\n0 1\n0000000000 65535 f \ntrailer\n"
        b"<< /Size 7 /Root 1 0 R /Info 6 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n"
        % (at, at)
    )


HOSTILE_PDFS: dict[str, Callable[[], bytes]] = {
    "truncated-half": lambda: _pdf_bytes()[: len(_pdf_bytes()) // 2],
    "truncated-trailer": lambda: _pdf_bytes()[:-30],
    "xref-loop": _xref_loop,
    "deep-array": lambda: _pdf_bytes(info=b"/Title " + b"[" * 5000 + b"]" * 5000),
    "deep-dict": lambda: _pdf_bytes(info=b"/AIGC " + b"<<" * 3000 + b">>" * 3000),
    "garbage": lambda: b"%PDF-1.7\n" + bytes(range(256)) * 64,
    "huge-length": lambda: _pdf_bytes().replace(b"/Length ", b"/Length 99999999"),
    "bad-filter": lambda: _pdf_bytes().replace(
        b"<< /Length", b"<< /Filter /FlateDecode /Length"
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_PDFS))
def test_pdf_hostile_input_fails_cleanly(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(HOSTILE_PDFS[name]())
    original = path.read_bytes()
    _hostile(PDF, path, tmp_path)
    assert path.read_bytes() == original


def test_pdf_xref_loop_is_read_and_rewritten(tmp_path: Path) -> None:
    src = tmp_path / "loop.pdf"
    src.write_bytes(_xref_loop())
    found = PDF.read(src, LIMITS)
    assert any("Circular xref" in e for e in found.errors)
    assert assess(found.copies).fields == FIELDS
    out = _labelled(PDF, src, SECOND)
    found = PDF.read(out, LIMITS)
    assert found.errors == []
    assert [c.payload for c in found.copies] == [SECOND.to_json()]


# --- OOXML -------------------------------------------------------------------

_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Default Extension="png" ContentType="image/png"/>'
    '<Override PartName="/{main}" ContentType="{main_type}"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/'
    'vnd.openxmlformats-package.core-properties+xml"/>'
    "{extra}</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats'
    '.org/officeDocument/2006/relationships/officeDocument" Target="{main}"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/'
    '2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
    "{extra}</Relationships>"
)
_CORE = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
    'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
    "<dc:title>{title}</dc:title></cp:coreProperties>"
)
_CUSTOM_REL = (
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/custom-properties" '
    'Target="docProps/custom.xml"/>'
)
_CUSTOM_OVERRIDE = (
    '<Override PartName="/docProps/custom.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.custom-properties+xml"/>'
)
_OFFICE = "application/vnd.openxmlformats-officedocument."
_MAINS = {
    "docx": (
        "word/document.xml",
        _OFFICE + "wordprocessingml.document.main+xml",
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/'
        '2006/main"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body>'
        "</w:document>",
    ),
    "pptx": (
        "ppt/presentation.xml",
        _OFFICE + "presentationml.presentation.main+xml",
        '<p:presentation xmlns:p="http://schemas.openxmlformats.org/'
        'presentationml/2006/main"><!-- {text} --></p:presentation>',
    ),
    "xlsx": (
        "xl/workbook.xml",
        _OFFICE + "spreadsheetml.sheet.main+xml",
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
        'main"><sheets><sheet name="{text}" sheetId="1"/></sheets></workbook>',
    ),
}


def _custom_xml(*props: tuple[str, str, int]) -> str:
    body = "".join(
        f'<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="{pid}"'
        f' name="{name}"><vt:lpwstr>{value}</vt:lpwstr></property>'
        for name, value, pid in props
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        'custom-properties" xmlns:vt="http://schemas.openxmlformats.org/'
        f'officeDocument/2006/docPropsVTypes">{body}</Properties>'
    )


def _ooxml(
    kind: str = "docx",
    *,
    text: str = "Hello",
    title: str = "Field notes",
    custom: str | bytes | None = None,
    extra: dict[str, bytes] | None = None,
    streamed: bool = False,
) -> bytes:
    """A minimal OOXML package; ``streamed`` writes data descriptors."""
    main, main_type, body = _MAINS[kind]
    has_custom = custom is not None
    members: dict[str, str | bytes] = {
        "[Content_Types].xml": _TYPES.format(
            main=main,
            main_type=main_type,
            extra=_CUSTOM_OVERRIDE if has_custom else "",
        ),
        "_rels/.rels": _RELS.format(main=main, extra=_CUSTOM_REL if has_custom else ""),
        main: body.format(text=text),
        "docProps/core.xml": _CORE.format(title=title),
    }
    if custom is not None:
        members["docProps/custom.xml"] = custom
    buf = io.BytesIO()
    target: Any = _Unseekable(buf) if streamed else buf
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, value in members.items():
            zf.writestr(name, value if isinstance(value, bytes) else value.encode())
        zf.writestr(
            zipfile.ZipInfo("word/media/image1.png", (2024, 5, 6, 7, 8, 10)),
            b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
            compress_type=zipfile.ZIP_STORED,
        )
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
        zf.comment = b"made by a test"
    return buf.getvalue()


class _Unseekable(io.RawIOBase):
    """A write-only stream that cannot seek, so zipfile writes data descriptors."""

    def __init__(self, sink: io.BytesIO) -> None:
        self.sink = sink

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self.sink.write(data)

    def flush(self) -> None:
        pass


def _raw_members(path: Path) -> dict[str, tuple[int, int, int, bytes]]:
    """Each member's method, CRC, size and *compressed* bytes as stored."""
    out = {}
    data = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            at = info.header_offset
            name_len, extra_len = struct.unpack_from("<2H", data, at + 26)
            start = at + 30 + name_len + extra_len
            raw = data[start : start + info.compress_size]
            out[info.filename] = (info.compress_type, info.CRC, info.file_size, raw)
    return out


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _custom_props(path: Path) -> list[tuple[str, str, str]]:
    import xml.etree.ElementTree as ET

    ns = "{http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}"
    with zipfile.ZipFile(path) as zf:
        root = ET.fromstring(zf.read("docProps/custom.xml"))
    return [
        (p.get("name", ""), p.get("pid", ""), "".join(p.itertext()))
        for p in root.iter(ns + "property")
    ]


@pytest.mark.parametrize("kind", sorted(_MAINS))
@pytest.mark.parametrize("streamed", [False, True], ids=["sized", "descriptors"])
def test_ooxml_round_trip(kind: str, streamed: bool, tmp_path: Path) -> None:
    src = tmp_path / f"doc.{kind}"
    src.write_bytes(_ooxml(kind, streamed=streamed))
    original = src.read_bytes()
    assert probe(src).container == "zip"
    assert _read(OOXML, src).status is LabelStatus.NOT_FOUND
    out = _labelled(OOXML, src)
    assert src.read_bytes() == original
    reading = _read(OOXML, out)
    assert reading.status is LabelStatus.COMPLIANT
    assert reading.fields == FIELDS
    assert reading.copies[0].raw.location == "docProps/custom.xml property AIGC"
    before, after = _raw_members(src), _raw_members(out)
    changed = {"[Content_Types].xml", "_rels/.rels"}
    for name, stored in before.items():
        if name not in changed:
            assert after[name] == stored, name  # copied raw, compression kept
    assert set(after) == set(before) | {"docProps/custom.xml"}
    members = _members(out)
    assert b"/docProps/custom.xml" in members["[Content_Types].xml"]
    assert b"relationships/custom-properties" in members["_rels/.rels"]
    assert b"rId1" in members["_rels/.rels"] and b"rId2" in members["_rels/.rels"]
    with zipfile.ZipFile(out) as zf:
        assert zf.comment == b"made by a test"
        image = zf.getinfo("word/media/image1.png")
        assert image.date_time == (2024, 5, 6, 7, 8, 10)
    assert OOXML.content_digest(out, LIMITS) == OOXML.content_digest(src, LIMITS)
    assert probe(out).mime == probe(src).mime


def test_ooxml_keeps_other_custom_properties(tmp_path: Path) -> None:
    custom = _custom_xml(
        ("Department", "R&amp;D", 2),
        ("AIGC", '{"AIGC":{"Label":"2"}}', 3),
        ("Reviewed", "yes", 5),
    )
    src = tmp_path / "props.docx"
    src.write_bytes(_ooxml(custom=custom))
    out = _labelled(OOXML, src)
    props = _custom_props(out)
    assert props[:2] == [("Department", "2", "R&D"), ("Reviewed", "5", "yes")]
    assert props[2] == ("AIGC", "6", FIELDS.to_json())
    again = out.with_name("again.docx")
    OOXML.write(out, again, SECOND.to_json(), LIMITS)
    assert [p[0] for p in _custom_props(again)] == ["Department", "Reviewed", "AIGC"]
    reading = _read(OOXML, again)
    assert reading.status is LabelStatus.COMPLIANT
    assert [c.fields for c in reading.copies] == [SECOND]
    members = _members(again)
    assert members["[Content_Types].xml"].count(b"/docProps/custom.xml") == 1
    assert members["_rels/.rels"].count(b"custom-properties") == 1
    assert (
        _raw_members(again)["word/document.xml"]
        == _raw_members(src)["word/document.xml"]
    )


def test_ooxml_custom_part_named_by_the_relationship(tmp_path: Path) -> None:
    """The relationship decides where custom properties live, in any case."""
    data = _ooxml(custom=_custom_xml(("AIGC", "old", 2), ("Keep", "me", 3)))
    renamed = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as zin,
        zipfile.ZipFile(renamed, "w", zipfile.ZIP_DEFLATED) as zout,
    ):
        for info in zin.infolist():
            body = zin.read(info)
            name = info.filename
            if name == "docProps/custom.xml":
                name = "props/Custom.xml"
            body = body.replace(b"docProps/custom.xml", b"props/custom.xml")
            zout.writestr(name, body)
    src = tmp_path / "moved.docx"
    src.write_bytes(renamed.getvalue())
    reading = _read(OOXML, src)
    assert [c.raw.location for c in reading.copies] == [
        "props/Custom.xml property AIGC"
    ]
    out = _labelled(OOXML, src)
    assert set(_members(out)) == set(_members(src))
    assert [c.fields for c in _read(OOXML, out).copies] == [FIELDS]
    with zipfile.ZipFile(out) as zf:
        custom = zf.read("props/Custom.xml")
    assert b"Keep" in custom and b"old" not in custom
    assert OOXML.content_digest(out, LIMITS) == OOXML.content_digest(src, LIMITS)


def test_ooxml_utf16_custom_part(tmp_path: Path) -> None:
    custom = _custom_xml(("Client", "ACME", 2), ("AIGC", "old", 3))
    custom = custom.replace('encoding="UTF-8"', 'encoding="UTF-16"')
    src = tmp_path / "utf16.docx"
    src.write_bytes(_ooxml(custom=custom.encode("utf-16")))
    assert [c.payload for c in OOXML.read(src, LIMITS).copies] == ["old"]
    out = _labelled(OOXML, src)
    assert _custom_props(out) == [
        ("Client", "2", "ACME"),
        ("AIGC", "3", FIELDS.to_json()),
    ]


def test_ooxml_independent_reader(tmp_path: Path, exiftool: Exiftool) -> None:
    src = tmp_path / "doc.docx"
    src.write_bytes(_ooxml(custom=_custom_xml(("Client", "ACME", 2))))
    out = _labelled(OOXML, src)
    tags = _tags(exiftool, out)
    assert tags["XML:AIGC"] == FIELDS.to_json()
    assert tags["XML:Client"] == "ACME"
    assert tags["XMP-dc:Title"] == "Field notes"


def test_ooxml_duplicate_and_malformed_labels(tmp_path: Path) -> None:
    payload = FIELDS.to_json().replace("&", "&amp;")
    src = tmp_path / "dup.docx"
    src.write_bytes(
        _ooxml(custom=_custom_xml(("AIGC", payload, 2), ("aigc", "{not json", 3)))
    )
    _check_duplicates_relabel(OOXML, src)


def test_ooxml_digest_covers_the_document_only(tmp_path: Path) -> None:
    def digest(data: bytes) -> str:
        path = tmp_path / "d.docx"
        path.write_bytes(data)
        return OOXML.content_digest(path, LIMITS)

    base = digest(_ooxml())
    assert digest(_ooxml(title="Another title")) == base
    assert digest(_ooxml(custom=_custom_xml(("X", "1", 2)))) == base
    assert digest(_ooxml(text="Hallo")) != base
    assert digest(_ooxml(extra={"word/media/image2.png": b"x"})) != base


def _patch_central(data: bytes, name: bytes, field: str, value: int) -> bytes:
    """Change a central-directory field of member ``name``."""
    offsets = {"flags": 8, "file_size": 24}
    out = bytearray(data)
    at = out.find(b"PK\x01\x02" + b"", 0)
    while at >= 0:
        name_len = struct.unpack_from("<H", out, at + 28)[0]
        if out[at + 46 : at + 46 + name_len] == name:
            fmt = "<H" if field == "flags" else "<L"
            struct.pack_into(fmt, out, at + offsets[field], value)
            return bytes(out)
        at = out.find(b"PK\x01\x02", at + 4)
    raise AssertionError(name)


def _overlapping() -> bytes:
    """Two central entries pointing at the same local data (a zip bomb trick)."""
    data = _ooxml()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        first = zf.infolist()[0]
    eocd = data.rindex(b"PK\x05\x06")
    count, cd_size, cd_start = struct.unpack_from("<H2L", data, eocd + 10)
    central = data[cd_start : cd_start + cd_size]
    copy = bytearray(central[: 46 + len(first.filename)])
    copy[46:] = b"X" * len(first.filename)  # same data, another name
    tail = struct.pack(
        "<4s4H2LH",
        b"PK\x05\x06",
        0,
        0,
        count + 1,
        count + 1,
        cd_size + len(copy),
        cd_start,
        0,
    )
    return data[:cd_start] + central + bytes(copy) + tail


HOSTILE_ZIPS: dict[str, Callable[[], bytes]] = {
    "truncated": lambda: _ooxml()[:300],
    "no-central-directory": lambda: _ooxml()[: _ooxml().rindex(b"PK\x01\x02")],
    "traversal": lambda: _ooxml(extra={"../../evil.xml": b"<x/>"}),
    "absolute": lambda: _ooxml(extra={"/etc/evil.xml": b"<x/>"}),
    "encrypted": lambda: _patch_central(_ooxml(), b"word/document.xml", "flags", 1),
    "bomb-size": lambda: _patch_central(
        _ooxml(), b"word/document.xml", "file_size", 2**31
    ),
    "overlapping": _overlapping,
    "doctype": lambda: _ooxml(
        custom='<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        'custom-properties">&a;</Properties>'
    ),
    "utf16-doctype": lambda: _ooxml(
        custom='<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x>'
        '<Properties xmlns="urn:x"/>'.encode("utf-16")
    ),
    "ebcdic": lambda: _ooxml(
        custom=b'<?xml version="1.0" encoding="cp500"?>'
        + "<Properties/>".encode("cp500")
    ),
    "not-xml": lambda: _ooxml(custom="<Properties"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_ZIPS))
def test_ooxml_hostile_input_fails_cleanly(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.docx"
    path.write_bytes(HOSTILE_ZIPS[name]())
    read, write, digest = _hostile(OOXML, path, tmp_path)
    if name in ("traversal", "absolute", "overlapping", "bomb-size", "truncated"):
        assert isinstance(read, CorruptMedia) and isinstance(write, CorruptMedia)
        assert isinstance(digest, CorruptMedia)
    if name == "encrypted":
        assert isinstance(write, UnsupportedFormat)
    if name in ("doctype", "not-xml", "utf16-doctype", "ebcdic"):
        assert isinstance(read, CarrierRead) and read.errors and not read.copies
        assert isinstance(write, CorruptMedia)


def test_ooxml_oversized_label_is_reported(tmp_path: Path) -> None:
    src = tmp_path / "huge.docx"
    src.write_bytes(_ooxml(custom=_custom_xml(("AIGC", "A" * (1024 * 1024 + 1), 2))))
    reading = _read(OOXML, src)
    assert reading.status is LabelStatus.NONCOMPLIANT
    assert "1 MiB" in reading.problems[0]


def test_ooxml_custom_part_over_the_limit(tmp_path: Path) -> None:
    big = _custom_xml(("Notes", "x" * 5000, 2))
    src = tmp_path / "big.docx"
    src.write_bytes(_ooxml(custom=big))
    small = Limits(max_metadata_bytes=2048)
    with pytest.raises(MediaLimitExceeded, match=r"docProps/custom\.xml"):
        OOXML.read(src, small)
    with pytest.raises(MediaLimitExceeded):
        OOXML.write(src, tmp_path / "out.docx", FIELDS.to_json(), small)


def test_ooxml_needs_package_parts(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("docProps/app.xml", "<Properties/>")
    src = tmp_path / "bare.docx"
    src.write_bytes(buf.getvalue())
    assert OOXML.read(src, LIMITS).copies == []
    with pytest.raises(CorruptMedia, match=r"Content_Types"):
        OOXML.write(src, tmp_path / "out.docx", FIELDS.to_json(), LIMITS)


# --- Markdown and plain text -------------------------------------------------


def _front(path: Path) -> dict[str, Any]:
    """The front matter as PyYAML reads it (an independent reader)."""
    yaml = pytest.importorskip("yaml")
    text = path.read_text(encoding="utf-8-sig")
    block = text.replace("\r\n", "\n").split("---\n")[1]
    loaded: dict[str, Any] = yaml.safe_load(block)
    return loaded


def _body(path: Path) -> bytes:
    return path.read_bytes().split(b"---", 2)[2].split(b"\n", 1)[1]


MD = (
    "---\ntitle: Field notes\ntags:\n  - rain\n  - notes\n# a comment\n---\n"
    "# Field notes\n\nWritten on a rainy afternoon.\n"
)


def test_markdown_round_trip_keeps_other_keys(tmp_path: Path) -> None:
    src = tmp_path / "notes.md"
    src.write_text(MD, encoding="utf-8")
    assert MARKDOWN.handles(probe(src))
    assert not TEXT.handles(probe(src))
    assert _read(MARKDOWN, src).status is LabelStatus.NOT_FOUND
    out = _labelled(MARKDOWN, src)
    reading = _read(MARKDOWN, out)
    assert reading.status is LabelStatus.COMPLIANT and reading.fields == FIELDS
    text = out.read_text(encoding="utf-8")
    assert text.endswith(MD.split("---\n", 2)[2])
    assert "# a comment\n" in text
    front = _front(out)
    assert front == {
        "title": "Field notes",
        "tags": ["rain", "notes"],
        "AIGC": FIELDS.to_json(),
    }
    assert MARKDOWN.content_digest(out, LIMITS) == MARKDOWN.content_digest(src, LIMITS)
    again = _labelled(MARKDOWN, out, SECOND)
    assert [c.fields for c in _read(MARKDOWN, again).copies] == [SECOND]
    assert again.read_text(encoding="utf-8").count("AIGC:") == 1


def test_markdown_crlf_and_bom_are_kept(tmp_path: Path) -> None:
    src = tmp_path / "crlf.md"
    src.write_bytes(b"\xef\xbb\xbf" + MD.replace("\n", "\r\n").encode())
    out = _labelled(MARKDOWN, src)
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf---\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert _read(MARKDOWN, out).fields == FIELDS
    assert data.endswith(src.read_bytes().split(b"---\r\n", 2)[2])
    assert MARKDOWN.content_digest(out, LIMITS) == MARKDOWN.content_digest(src, LIMITS)


def test_markdown_reads_yaml_written_labels(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    spaced = json.dumps({"AIGC": FIELDS.to_dict()})  # with spaces: YAML folds it
    for style in ("'", '"'):
        block = yaml.safe_dump(
            {"title": "x", "AIGC": spaced}, width=40, default_style=style
        )
        assert block.count("\n") > 3  # really folded over several lines
        src = tmp_path / "yaml.md"
        src.write_text(f"---\n{block}---\nbody\n", encoding="utf-8")
        reading = _read(MARKDOWN, src)
        assert [c.raw.payload for c in reading.copies] == [spaced], style
        assert reading.fields == FIELDS


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("AIGC: 'it''s'", "it's"),
        ('AIGC: "a\\"b\\u0041\\x42"', 'a"bAB'),
        ("AIGC: plain value # comment", "plain value"),
        ("\"AIGC\": 'quoted key'", "quoted key"),
        ('AIGC: |\n  {"AIGC":\n   {}}\n', '{"AIGC":\n {}}\n'),
        ("AIGC: >-\n  one\n  two\n", "one two"),
        ("AIGC:\n  'next line'\n", "next line"),
        ("AIGC: 'unterminated", "unterminated"),
    ],
)
def test_front_matter_scalars(line: str, value: str, tmp_path: Path) -> None:
    src = tmp_path / "s.md"
    src.write_text(f"---\n{line}\nother: 1\n---\nbody\n", encoding="utf-8")
    assert [c.payload for c in MARKDOWN.read(src, LIMITS).copies] == [value]


def test_front_matter_duplicates_and_malformed(tmp_path: Path) -> None:
    src = tmp_path / "dup.md"
    src.write_text(
        f"---\nAIGC: '{FIELDS.to_json()}'\nkeep: me\nAIGC: '{{broken'\n"
        "nested:\n  AIGC: not top level\n---\nbody\n",
        encoding="utf-8",
    )
    out = _check_duplicates_relabel(MARKDOWN, src)
    assert "keep: me\n" in out.read_text() and "  AIGC: not top level\n" in (
        out.read_text()
    )


def test_front_matter_oversized_label_is_reported(tmp_path: Path) -> None:
    src = tmp_path / "huge.md"
    src.write_text(f"---\nAIGC: '{'A' * (1024 * 1024 + 1)}'\n---\nx\n")
    reading = _read(MARKDOWN, src)
    assert reading.status is LabelStatus.NONCOMPLIANT
    assert "1 MiB" in reading.problems[0]


def test_front_matter_must_close_within_the_limit(tmp_path: Path) -> None:
    src = tmp_path / "open.md"
    src.write_text("---\ntitle: x\n" + "line: y\n" * 1000 + "---\nbody\n")
    small = Limits(max_metadata_bytes=1024)
    with pytest.raises(MediaLimitExceeded, match="front matter"):
        MARKDOWN.read(src, small)
    with pytest.raises(MediaLimitExceeded):
        MARKDOWN.write(src, tmp_path / "o.md", FIELDS.to_json(), small)
    assert len(MARKDOWN.read(src, LIMITS).copies) == 0


def test_thematic_break_is_not_front_matter(tmp_path: Path) -> None:
    src = tmp_path / "hr.md"
    src.write_text("---\n\nJust a rule above.\n", encoding="utf-8")
    assert MARKDOWN.read(src, LIMITS).copies == []
    out = _labelled(MARKDOWN, src)
    assert out.read_text().endswith("---\n---\n\nJust a rule above.\n")
    assert _read(MARKDOWN, out).fields == FIELDS
    assert MARKDOWN.content_digest(out, LIMITS) == MARKDOWN.content_digest(src, LIMITS)


TXT = "A plain note.\r\nSecond line, ünïcödé.\r\n"


def test_text_gets_a_front_matter_block(tmp_path: Path) -> None:
    src = tmp_path / "note.txt"
    src.write_bytes(TXT.encode())
    assert TEXT.handles(probe(src)) and not MARKDOWN.handles(probe(src))
    assert _read(TEXT, src).status is LabelStatus.NOT_FOUND
    out = _labelled(TEXT, src)
    data = out.read_bytes()
    assert data.startswith(b"---\r\nAIGC: '")
    assert data.endswith(TXT.encode())
    assert _read(TEXT, out).fields == FIELDS
    assert _front(out) == {"AIGC": FIELDS.to_json()}
    # Once labelled, the file starts with "---" and probes as Markdown; both
    # carriers read it and its digest is the same as before the label.
    assert MARKDOWN.handles(probe(out))
    assert _read(MARKDOWN, out).fields == FIELDS
    assert MARKDOWN.content_digest(out, LIMITS) == TEXT.content_digest(src, LIMITS)
    again = _labelled(TEXT, out, SECOND)
    assert again.read_bytes().count(b"AIGC:") == 1
    assert again.read_bytes().endswith(TXT.encode())


def test_text_with_bom_and_no_newline(tmp_path: Path) -> None:
    src = tmp_path / "bom.txt"
    src.write_bytes(b"\xef\xbb\xbfone line")
    out = _labelled(TEXT, src)
    assert out.read_bytes().startswith(b"\xef\xbb\xbf---\nAIGC: ")
    assert out.read_bytes().endswith(b"---\none line")
    assert _read(TEXT, out).fields == FIELDS
    assert TEXT.content_digest(out, LIMITS) == TEXT.content_digest(src, LIMITS)


def test_text_digest_is_sensitive_to_the_body(tmp_path: Path) -> None:
    one, two = tmp_path / "one.txt", tmp_path / "two.txt"
    one.write_text("same\n")
    two.write_text("same.\n")
    assert TEXT.content_digest(one, LIMITS) != TEXT.content_digest(two, LIMITS)
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(b"same\r\n")
    assert TEXT.content_digest(one, LIMITS) != TEXT.content_digest(crlf, LIMITS)


def test_text_that_is_not_utf8(tmp_path: Path) -> None:
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\u00e9 au lait\n".encode("latin-1"))
    found = TEXT.read(latin, LIMITS)
    assert found.copies == [] and "not valid UTF-8" in found.errors[0]
    assert _read(TEXT, latin).status is LabelStatus.INCONCLUSIVE
    with pytest.raises(CorruptMedia, match="UTF-8"):
        TEXT.write(latin, tmp_path / "o.txt", FIELDS.to_json(), LIMITS)
    with pytest.raises(CorruptMedia, match="byte 3"):
        TEXT.content_digest(latin, LIMITS)
    bad_front = tmp_path / "bad-front.md"
    bad_front.write_bytes(b"---\nAIGC: '\xff'\n---\nbody\n")
    assert "UTF-8" in MARKDOWN.read(bad_front, LIMITS).errors[0]
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes("hello".encode("utf-16"))
    assert "UTF-16" in TEXT.read(utf16, LIMITS).errors[0]
    with pytest.raises(UnsupportedFormat, match="UTF-16"):
        TEXT.write(utf16, tmp_path / "o16.txt", FIELDS.to_json(), LIMITS)


def test_text_payload_with_line_breaks_is_double_quoted(tmp_path: Path) -> None:
    src = tmp_path / "n.txt"
    src.write_text("x\n")
    payload = '{"AIGC":\n{"Label":"1"}}'
    out = tmp_path / "o.txt"
    TEXT.write(src, out, payload, LIMITS)
    assert out.read_text().splitlines()[1].startswith('AIGC: "')
    assert [c.payload for c in TEXT.read(out, LIMITS).copies] == [payload]
    assert _front(out) == {"AIGC": payload}


# --- damaged files of every kind ---------------------------------------------


def _mutations(seed: bytes, rng: random.Random, count: int) -> list[bytes]:
    """Seeded random damage: flipped, deleted, inserted bytes and cut tails."""
    out = []
    for _ in range(count):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 4)):
            if not data:
                break
            at = rng.randrange(len(data))
            if rng.random() < 0.5:  # structures live near the end (xref, zip dir)
                at = max(0, len(data) - 1 - rng.randrange(min(len(data), 400)))
            action = rng.random()
            if action < 0.4:
                data[at] = rng.randrange(256)
            elif action < 0.6:
                del data[at : at + rng.randint(1, 40)]
            elif action < 0.8:
                data[at:at] = rng.randbytes(rng.randint(1, 16))
            else:
                del data[at:]
        if data:
            out.append(bytes(data))
    return out


@pytest.mark.parametrize(
    ("carrier", "suffix", "make"),
    [
        (PDF, "pdf", _pdf_bytes),
        (OOXML, "docx", lambda: _ooxml(custom=_custom_xml(("AIGC", "x", 2)))),
        (MARKDOWN, "md", lambda: MD.encode()),
    ],
    ids=["pdf", "ooxml", "markdown"],
)
def test_damaged_files_fail_cleanly(
    carrier: Carrier, suffix: str, make: Callable[[], bytes], tmp_path: Path
) -> None:
    rng = random.Random(20250901)
    for number, data in enumerate(_mutations(make(), rng, 40)):
        path = tmp_path / f"damaged-{number}.{suffix}"
        path.write_bytes(data)
        _hostile(carrier, path, tmp_path)


# --- through the registry ----------------------------------------------------


@pytest.mark.parametrize("kind", ["pdf", "docx", "md", "txt"])
def test_registry_picks_these_carriers(kind: str, tmp_path: Path) -> None:
    from deepguard.labels.implicit import content_digest, read_label, write_label

    src = tmp_path / f"doc.{kind}"
    writers: dict[str, Callable[[], bytes]] = {
        "pdf": _pdf_bytes,
        "docx": _ooxml,
        "md": lambda: MD.encode(),
        "txt": lambda: TXT.encode(),
    }
    src.write_bytes(writers[kind]())
    assert read_label(src).status is LabelStatus.NOT_FOUND
    out = write_label(src, FIELDS, out=tmp_path / f"out.{kind}")
    reading = read_label(out)
    assert reading.status is LabelStatus.COMPLIANT and reading.fields == FIELDS
    assert content_digest(out) == content_digest(src)


def test_zip_without_members_is_read_cleanly_and_refused_for_writing(
    tmp_path: Path,
) -> None:
    """Found by bench/fuzz_labels.py: an empty archive broke the layout check."""
    from deepguard.errors import DeepguardError
    from deepguard.labels.implicit.ooxml import OoxmlCarrier

    empty = tmp_path / "empty.docx"
    with zipfile.ZipFile(empty, "w"):
        pass
    found = OoxmlCarrier().read(empty, Limits())
    assert found.copies == [] and found.errors == []
    with pytest.raises(DeepguardError):
        OoxmlCarrier().write(empty, tmp_path / "out.docx", '{"AIGC":{}}', Limits())
