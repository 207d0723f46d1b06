"""Finding and safely parsing XMP packets (containers.xmp)."""

from __future__ import annotations

import mmap
import time
from pathlib import Path

import pytest

from deepguard.errors import CorruptMedia, MediaLimitExceeded
from deepguard.media.containers import xmp

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def packet(body: str, ns: str = "") -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
        f'<rdf:Description rdf:about="" {ns}>{body}</rdf:Description>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def test_attributes_elements_and_conventional_prefixes() -> None:
    ns = (
        'xmlns:ns1="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        'xmlns:xap="http://ns.adobe.com/xap/1.0/" '
        'xmlns:t="http://www.tc260.org.cn/ns/AIGC/1.0/" '
        'xap:CreatorTool="Midjourney"'
    )
    body = (
        "<ns1:DigitalSourceType>http://cv.iptc.org/newscodes/digitalsourcetype/"
        "trainedAlgorithmicMedia</ns1:DigitalSourceType>"
        '<t:AIGC>{"AIGC":{"Label":"1"}}</t:AIGC>'
    )
    props = xmp.parse(packet(body, ns))
    assert props["xmp:CreatorTool"] == "Midjourney"
    assert props["Iptc4xmpExt:DigitalSourceType"].endswith("trainedAlgorithmicMedia")
    assert props["TC260:AIGC"] == '{"AIGC":{"Label":"1"}}'


def test_unknown_namespace_keeps_its_declared_prefix() -> None:
    props = xmp.parse(packet("<acme:Tool>x</acme:Tool>", 'xmlns:acme="urn:acme:1"'))
    assert props == {"acme:Tool": "x"}


def test_alt_seq_bag_and_structs() -> None:
    ns = (
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" '
        'xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
    )
    body = (
        '<dc:description><rdf:Alt><rdf:li xml:lang="de">Bild</rdf:li>'
        '<rdf:li xml:lang="x-default">A picture</rdf:li></rdf:Alt></dc:description>'
        "<dc:creator><rdf:Seq><rdf:li>Ann</rdf:li><rdf:li>Bo</rdf:li></rdf:Seq>"
        "</dc:creator>"
        "<dc:subject><rdf:Bag><rdf:li>ai</rdf:li></rdf:Bag></dc:subject>"
        "<xmpMM:History><rdf:Seq>"
        '<rdf:li stEvt:action="saved" stEvt:softwareAgent="Adobe Firefly"/>'
        '<rdf:li rdf:parseType="Resource"><stEvt:action>edited</stEvt:action></rdf:li>'
        "</rdf:Seq></xmpMM:History>"
        '<Iptc4xmpExt:LocationShown rdf:parseType="Resource">'
        "<Iptc4xmpExt:City>Paris</Iptc4xmpExt:City></Iptc4xmpExt:LocationShown>"
        '<xmpMM:DerivedFrom rdf:resource="urn:x"/>'
    )
    props = xmp.parse(packet(body, ns))
    assert props["dc:description"] == "A picture"
    assert props["dc:creator"] == ["Ann", "Bo"]
    assert props["dc:subject"] == ["ai"]
    assert props["xmpMM:History[1]/stEvt:softwareAgent"] == "Adobe Firefly"
    assert props["xmpMM:History[1]/stEvt:action"] == "saved"
    assert props["xmpMM:History[2]/stEvt:action"] == "edited"
    assert props["Iptc4xmpExt:LocationShown/Iptc4xmpExt:City"] == "Paris"
    assert props["xmpMM:DerivedFrom"] == "urn:x"


def test_billion_laughs_is_rejected_before_parsing() -> None:
    lol = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            b'<!ENTITY lol%d "%s">'
            % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
            for i in range(1, 10)
        )
        + b']><x:xmpmeta xmlns:x="adobe:ns:meta/">&lol9;</x:xmpmeta>'
    )
    started = time.perf_counter()
    with pytest.raises(CorruptMedia, match="DOCTYPE or ENTITY"):
        xmp.parse(lol, path="evil.jpg")
    assert time.perf_counter() - started < 1.0


def test_entity_without_doctype_keyword_is_rejected() -> None:
    with pytest.raises(CorruptMedia, match="DOCTYPE or ENTITY"):
        xmp.parse(b'<!entity x SYSTEM "file:///etc/passwd"><x:xmpmeta/>')


def test_malformed_xml_names_the_file() -> None:
    with pytest.raises(CorruptMedia) as info:
        xmp.parse(b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><unclosed>", path="/a/b.png")
    assert str(info.value).startswith("/a/b.png: XMP packet is not well-formed")


def test_size_limit() -> None:
    with pytest.raises(MediaLimitExceeded):
        xmp.parse(packet("x" * 2000), max_bytes=1000)


def test_leading_signature_and_trailing_padding_are_ignored() -> None:
    data = b"http://ns.adobe.com/xap/1.0/\x00" + packet("") + b" " * 100 + b"\x00\x00"
    assert xmp.parse(data) == {}


def test_find_packets_in_bytes_and_mmap(tmp_path: Path) -> None:
    one = packet("")
    two = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>'
    data = b"\x00junk" + one + b"middle" + two + b"<x:xmpmeta no end"
    found = list(xmp.find_packets(data))
    assert found == [(5, one), (5 + len(one) + 6, two)]
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    with (
        path.open("rb") as fh,
        mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm,
    ):
        assert list(xmp.find_packets(mm)) == found
        assert list(xmp.find_packets(mm, 5 + len(one), len(mm))) == found[1:]


def test_find_packets_skips_packets_over_the_limit() -> None:
    big = packet("x" * 5000)
    assert list(xmp.find_packets(big, max_bytes=1000)) == []
    assert list(xmp.find_packets(big)) == [(0, big)]
