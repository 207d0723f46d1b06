"""Annex E parsing and validation of the implicit label JSON."""

from __future__ import annotations

import json

import pytest

from deepguard.labels.fields import (
    MAX_LABEL_BYTES,
    AigcFields,
    LabelStatus,
    RawLabel,
    assess,
    check_provider_code,
    parse_label,
)

CODE = "001191440300708461136T1XGW3"
GOOD = AigcFields(label="1", content_producer=CODE, produce_id="img-0001")


def raw(payload: str | bytes, location: str = "test") -> RawLabel:
    return RawLabel(carrier="test", location=location, payload=payload)


def test_serialises_compactly_in_standard_order() -> None:
    text = GOOD.to_json()
    assert text.startswith('{"AIGC":{"Label":"1","ContentProducer":')
    assert " " not in text
    assert list(json.loads(text)["AIGC"]) == [
        "Label",
        "ContentProducer",
        "ProduceID",
        "ReservedCode1",
        "ContentPropagator",
        "PropagateID",
        "ReservedCode2",
    ]


@pytest.mark.parametrize(
    "payload",
    [
        GOOD.to_json(),
        json.dumps({"AIGC": GOOD.to_dict()}, indent=4),
        json.dumps(GOOD.to_dict()),  # bare field object
        "\n  " + GOOD.to_json() + "\x00\x00",
        b"\xef\xbb\xbf" + GOOD.to_json().encode(),
    ],
)
def test_tolerant_parsing_accepts_whitespace_and_wrapping(payload: str | bytes) -> None:
    parsed = parse_label(raw(payload))
    assert parsed.problems == ()
    assert parsed.fields == GOOD


def test_compliant_reading() -> None:
    reading = assess([raw(GOOD.to_json())])
    assert reading.status is LabelStatus.COMPLIANT
    assert reading.fields == GOOD
    assert reading.warnings == ()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            {"Label": "1", "ContentProducer": CODE},
            "required field ProduceID is missing",
        ),
        ({"Label": "4", "ContentProducer": CODE, "ProduceID": "x"}, "Label '4'"),
        ({"Label": "1", "ContentProducer": CODE, "ProduceID": "a b"}, "disallowed"),
        ({"Label": "1", "ContentProducer": CODE, "ProduceID": "生成"}, "disallowed"),
        ({"Label": "1", "ContentProducer": CODE, "ProduceID": "a\\b"}, "disallowed"),
        ({"Label": 1, "ContentProducer": CODE, "ProduceID": "x"}, "not a string"),
        (
            {"Label": "1", "ContentProducer": CODE, "ProduceID": "x", "Extra": "y"},
            "unknown field 'Extra'",
        ),
        ({"Label": "", "ContentProducer": CODE, "ProduceID": "x"}, "Label is empty"),
    ],
)
def test_noncompliant_fields_are_named(body: dict[str, object], problem: str) -> None:
    reading = assess([raw(json.dumps({"AIGC": body}))])
    assert reading.status is LabelStatus.NONCOMPLIANT
    assert any(problem in p for p in reading.problems), reading.problems


def test_escaped_quote_is_allowed() -> None:
    body = {"Label": "1", "ContentProducer": CODE, "ProduceID": 'a"b'}
    assert assess([raw(json.dumps({"AIGC": body}))]).status is LabelStatus.COMPLIANT


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ('{"AIGC":{"Label":"1",', "not valid JSON"),
        (b'{"AIGC":{"Label":"\xff\xfe"}}', "not UTF-8"),
        ('["AIGC"]', "not an object"),
        ('{"AIGC":"1"}', "AIGC value is not an object"),
        ('{"AIGC":{"Label":"1","Label":"2"}}', "duplicate key"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ],
)
def test_malformed_payloads_become_problems(payload: str | bytes, problem: str) -> None:
    reading = assess([raw(payload)])
    assert reading.status is LabelStatus.NONCOMPLIANT
    assert reading.fields is None or problem == "duplicate key"
    assert any(problem in p for p in reading.problems), reading.problems


def test_oversized_label_is_refused_unparsed() -> None:
    payload = '{"AIGC":{"Label":"1","ProduceID":"' + "x" * MAX_LABEL_BYTES + '"}}'
    parsed = parse_label(raw(payload))
    assert parsed.fields is None
    assert "over the 1 MiB limit" in parsed.problems[0]


def test_copies_that_disagree_are_noncompliant() -> None:
    other = GOOD.replace(label="3")
    reading = assess([raw(GOOD.to_json(), "XMP"), raw(other.to_json(), "EXIF")])
    assert reading.status is LabelStatus.NONCOMPLIANT
    assert any("disagree (XMP, EXIF)" in p for p in reading.problems)


def test_identical_duplicate_copies_are_noncompliant() -> None:
    reading = assess([raw(GOOD.to_json(), "a"), raw(GOOD.to_json(), "b")])
    assert reading.status is LabelStatus.NONCOMPLIANT
    assert any("where one is allowed" in p for p in reading.problems)


def test_absent_and_inconclusive() -> None:
    assert assess([]).status is LabelStatus.NOT_FOUND
    assert assess([], errors=["chunk 3 truncated"]).status is LabelStatus.INCONCLUSIVE


def test_provider_code_shape() -> None:
    assert check_provider_code(CODE) is None
    assert check_provider_code("ACME") is not None
    assert check_provider_code("11" + CODE[2:]) is not None
    assert check_provider_code(CODE[:22] + "9" + CODE[23:]) is not None
    reading = assess([raw(GOOD.replace(content_producer="ACME-01").to_json())])
    assert reading.status is LabelStatus.COMPLIANT
    assert reading.warnings and "ContentProducer" in reading.warnings[0]
