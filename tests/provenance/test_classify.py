"""The trace -> finding rules (provenance._classify)."""

from __future__ import annotations

import pytest

from deepguard.provenance._classify import classify, wants_xmp
from deepguard.provenance._trace import Family, Trace


def trace(field: str, value: str, family: Family = "tag") -> Trace:
    return Trace(family, field, value, "test:carrier", 7)


def one(t: Trace) -> tuple[str, float, dict[str, object]]:
    (finding,) = classify([t], detector="provenance")
    assert finding.detector == "provenance"
    assert finding.where == {"carrier": "test:carrier", "offset": 7}
    return finding.kind, finding.confidence, finding.details


@pytest.mark.parametrize(
    ("value", "parsed", "label"),
    [
        (
            '{"AIGC":{"Label":"2","ProduceID":"x"}}',
            {"Label": "2", "ProduceID": "x"},
            "2",
        ),
        (' { "AIGC" : { "Label" : 3 } } ', {"Label": 3}, "3"),
        (
            '{"Label":"1","ContentProducer":"c"}',
            {"Label": "1", "ContentProducer": "c"},
            "1",
        ),
        ('{"other": 1}', None, None),
        ("not json", None, None),
    ],
)
def test_field_named_aigc(value: str, parsed: object, label: object) -> None:
    kind, confidence, details = one(trace("vorbis:AIGC", value))
    assert (kind, confidence) == ("aigc.raw", 1.0)
    assert details == {
        "field": "vorbis:AIGC",
        "value": value,
        "parsed": parsed,
        "label": label,
    }


def test_aigc_json_in_a_field_with_another_name() -> None:
    kind, _, details = one(trace("riff:ICMT", '{"AIGC":{"Label":"1"}}'))
    assert kind == "aigc.raw"
    assert details["label"] == "1"


def test_aigc_wins_over_generator_names_in_its_json() -> None:
    kind, _, _ = one(
        trace("id3:TXXX:AIGC", '{"AIGC":{"Label":"1","Note":"Midjourney"}}')
    )
    assert kind == "aigc.raw"


def test_raw_value_is_truncated_to_64_kib() -> None:
    _, _, details = one(trace("png:AIGC", "x" * 100_000, "png"))
    assert len(str(details["value"])) == 65536


def test_generator_confidence_depends_on_the_field() -> None:
    assert one(trace("mp4:encoder", "Kling"))[1] == 0.9
    assert one(trace("mp4:comment", "Kling"))[1] == 0.7


def test_xmp_fields_outside_the_whitelist_are_not_matched() -> None:
    assert classify([trace("dc:subject", "midjourney", "xmp")], detector="p") == []
    found = classify(
        [trace("xmpMM:History[2]/stEvt:softwareAgent", "Adobe Firefly", "xmp")],
        detector="p",
    )
    assert [f.details["generator"] for f in found] == ["Adobe Firefly"]


def test_digital_source_type_only_from_xmp() -> None:
    value = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    assert classify([trace("riff:DigitalSourceType", value)], detector="p") == []
    kind, _, details = one(trace("Iptc4xmpExt:DigitalSourceType", value, "xmp"))
    assert kind == "xmp.digital_source_type"
    assert details["code"] == "trainedAlgorithmicMedia"


def test_sd_parameters_without_a_steps_line_get_lower_confidence() -> None:
    kind, confidence, details = one(trace("png:parameters", "just a prompt", "png"))
    assert (kind, confidence) == ("png.sd_parameters", 0.8)
    assert details["parsed"] == {"prompt": "just a prompt"}


def test_exif_user_comment_that_is_not_sd_falls_through() -> None:
    assert classify([trace("exif:UserComment", "holiday", "exif")], detector="p") == []


def test_novelai_comment_needs_the_novelai_software_chunk() -> None:
    comment = trace("png:Comment", '{"steps": 28}', "png")
    assert classify([comment], detector="p") == []
    software = trace("png:Software", "NovelAI", "png")
    kinds = [f.kind for f in classify([software, comment], detector="p")]
    assert kinds == ["generator.name", "png.generator_text"]


def test_invokeai_legacy_dream_text() -> None:
    kind, _, details = one(trace("png:Dream", '"a cat" -s 50 -S 42', "png"))
    assert kind == "png.generator_text"
    assert details["parsed"] == {"text": '"a cat" -s 50 -S 42'}


@pytest.mark.parametrize(
    ("key", "wanted"),
    [
        ("Iptc4xmpExt:DigitalSourceType", True),
        ("plus:DigitalSourceType", True),
        ("TC260:AIGC", True),
        ("acme:aigc", True),
        ("Iptc4xmpExt:AISystemUsed", True),
        ("xmp:CreatorTool", True),
        ("xmpMM:History[1]/stEvt:softwareAgent", True),
        ("crs:Exposure2012", False),
        ("dc:subject", False),
    ],
)
def test_wants_xmp(key: str, wanted: bool) -> None:
    assert wants_xmp(key) is wanted
