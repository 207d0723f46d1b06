from __future__ import annotations

from typing import Any

from deepguard.scan.finding import Finding
from deepguard.scan.verdict import Role, decide, role_of


def f(kind: str, **details: Any) -> Finding:
    return Finding(
        detector="provenance", kind=kind, confidence=1.0, summary=kind, details=details
    )


def test_nothing_gives_null() -> None:
    verdict = decide([])
    assert verdict.aigc_label is None
    assert verdict.reasons == ()
    assert decide([f("c2pa.manifest", validation_state="Valid")]).aigc_label is None


def test_sd_parameters_is_suspected_and_names_the_chunk() -> None:
    finding = Finding(
        detector="provenance",
        kind="png.sd_parameters",
        confidence=1.0,
        summary="web UI generation settings",
        details={"keyword": "parameters"},
    )
    verdict = decide([finding])
    assert verdict.aigc_label == "3"
    assert (
        "png.sd_parameters [parameters]: web UI generation settings" in verdict.reasons
    )


def test_reason_does_not_repeat_a_field_the_summary_names() -> None:
    finding = Finding(
        detector="provenance",
        kind="generator.name",
        confidence=0.9,
        summary="exif:Software names the AI generator Midjourney",
        details={"field": "exif:Software"},
    )
    reasons = decide([finding]).reasons
    assert (
        reasons[1] == "generator.name: exif:Software names the AI generator Midjourney"
    )


def test_xmp_trained_algorithmic_media_is_label_1() -> None:
    finding = f(
        "xmp.digital_source_type",
        field="Iptc4xmpExt:DigitalSourceType",
        ai_generated=True,
    )
    verdict = decide([finding, f("generator.name", field="Software")])
    assert verdict.aigc_label == "1"
    assert "Iptc4xmpExt:DigitalSourceType" in verdict.reasons[0]


def test_synthetic_source_type_is_only_a_trace() -> None:
    assert decide([f("xmp.digital_source_type", synthetic=True)]).aigc_label == "3"
    assert role_of(f("xmp.digital_source_type")) is Role.INFO


def test_c2pa_ai_claim_needs_a_valid_manifest() -> None:
    valid = f("c2pa.ai_source", validation_state="Trusted")
    invalid = f("c2pa.ai_source", validation_state="Invalid")
    assert decide([valid]).aigc_label == "1"
    assert decide([invalid]).aigc_label == "3"


def test_valid_implicit_label_keeps_its_declared_label() -> None:
    assert decide([f("label.implicit", label="1", valid=True)]).aigc_label == "1"
    assert decide([f("label.implicit", label="2", valid=True)]).aigc_label == "2"
    # Strongest claim wins.
    both = [
        f("label.implicit", label="3", valid=True),
        f("c2pa.ai_source", validation_state="Valid"),
    ]
    assert decide(both).aigc_label == "1"


def test_broken_labels_and_raw_fields_are_traces() -> None:
    assert decide([f("label.implicit", label="1", valid=False)]).aigc_label == "3"
    assert decide([f("label.noncompliant", problems=["x"])]).aigc_label == "3"
    assert decide([f("label.signature_invalid")]).aigc_label == "3"
    assert decide([f("aigc.raw", field="TXXX:AIGC", label="1")]).aigc_label == "3"
    assert decide([f("label.explicit", status="too_small")]).aigc_label == "3"
    assert decide([f("label.signature_unverified")]).aigc_label is None


def test_unknown_kinds_never_change_the_verdict() -> None:
    assert decide([f("brand.new.kind", ai_generated=True)]).aigc_label is None
