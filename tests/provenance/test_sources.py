"""IPTC digital source type normalisation (provenance._sources)."""

from __future__ import annotations

import pytest

from deepguard.provenance._sources import AI_CODES, SYNTHETIC_CODES, source_code


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (
            "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
            "trainedAlgorithmicMedia",
        ),
        (
            "https://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia/",
            "trainedAlgorithmicMedia",
        ),
        (
            "HTTP://CV.IPTC.ORG/newscodes/digitalsourcetype/TRAINEDALGORITHMICMEDIA",
            "trainedAlgorithmicMedia",
        ),
        ("http://c2pa.org/digitalsourcetype/compositeSynthetic", "compositeSynthetic"),
        ("digsrctype:algorithmicMedia", "algorithmicMedia"),
        (
            " compositeWithTrainedAlgorithmicMedia ",
            "compositeWithTrainedAlgorithmicMedia",
        ),
        (
            "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
            "digitalCapture",
        ),
        ("http://cv.iptc.org/newscodes/digitalsourcetype/", None),
        ("digitalCapture", None),
        ("https://example.com/trainedAlgorithmicMedia", None),
    ],
)
def test_source_code(value: str, code: str | None) -> None:
    assert source_code(value) == code


def test_ai_and_synthetic_codes_do_not_overlap() -> None:
    assert not AI_CODES & SYNTHETIC_CODES
