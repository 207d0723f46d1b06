"""Provider labels, platform propagates, anyone verifies: the whole flow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL.PngImagePlugin import PngInfo

from deepguard.config import Limits, Settings, load_settings
from deepguard.labels.apply import label_file
from deepguard.labels.detector import LabelsDetector
from deepguard.labels.fields import AigcFields, LabelStatus
from deepguard.labels.implicit import carrier_for, read_label, write_label
from deepguard.labels.inspect import inspect_label
from deepguard.labels.integrity import SignatureStatus
from deepguard.labels.keys import KeyStore, TrustedKeys
from deepguard.labels.propagate import propagate_file
from deepguard.media.item import MediaItem, sha256_file
from deepguard.media.probe import probe
from deepguard.scan.scanner import Scanner
from deepguard.scan.verdict import decide
from media_factory import gradient, write_audio, write_image

PRODUCER = "001191440300708461136T1XGW3"
PLATFORM = "0091110108MA01ABCDE9X120000"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path / "home")


def trust(settings: Settings, *codes: str) -> TrustedKeys:
    store = KeyStore(settings.keys_dir)
    for code in codes:
        store.export_public(store.for_provider(code).name, settings.trust_dir)
    return TrustedKeys.from_directory(settings.trust_dir)


@pytest.mark.parametrize("algorithm", ["ed25519", "sm2"])
def test_signed_label_verifies_and_input_is_untouched(
    tmp_path: Path, settings: Settings, algorithm: str
) -> None:
    src = write_image(tmp_path / "gen.png", "PNG", size=(96, 64))
    before = sha256_file(src)
    KeyStore(settings.keys_dir).create(PRODUCER, algorithm=algorithm)
    out = tmp_path / "out" / "gen.png"
    outcome = label_file(src, settings=settings, producer_code=PRODUCER, out=out)
    assert sha256_file(src) == before
    assert outcome.signed_with and algorithm in outcome.signed_with
    found = inspect_label(out, trusted=trust(settings, PRODUCER))
    assert found.reading.status is LabelStatus.COMPLIANT
    assert [c.status for c in found.signatures] == [SignatureStatus.VALID]


def test_unsigned_label_says_so(tmp_path: Path, settings: Settings) -> None:
    src = write_image(tmp_path / "gen.jpg", "JPEG")
    outcome = label_file(
        src, settings=settings, producer_code=PRODUCER, out=tmp_path / "o.jpg"
    )
    assert outcome.signed_with is None
    assert any("not signed" in n for n in outcome.notes)
    found = inspect_label(tmp_path / "o.jpg")
    assert [c.status for c in found.signatures] == [SignatureStatus.UNSIGNED]


def test_edited_content_breaks_the_signature(
    tmp_path: Path, settings: Settings
) -> None:
    src = write_audio(tmp_path / "voice.wav", seconds=0.5)
    KeyStore(settings.keys_dir).create(PRODUCER)
    out = tmp_path / "labelled.wav"
    label_file(src, settings=settings, producer_code=PRODUCER, out=out)
    data = bytearray(out.read_bytes())
    at = data.index(b"data") + 8 + 100  # one sample inside the data chunk
    data[at] ^= 0x55
    out.write_bytes(bytes(data))
    detector = LabelsDetector(trust(settings, PRODUCER))
    findings = detector.run(MediaItem.open(out))
    kinds = {f.kind for f in findings}
    assert "label.signature_invalid" in kinds
    implicit = next(f for f in findings if f.kind == "label.implicit")
    assert implicit.details["valid"] is False
    assert decide(findings).aigc_label == "3"


def test_forged_label_fields_break_the_signature(
    tmp_path: Path, settings: Settings
) -> None:
    src = write_image(tmp_path / "a.png", "PNG")
    KeyStore(settings.keys_dir).create(PRODUCER)
    signed = tmp_path / "signed.png"
    label_file(src, settings=settings, producer_code=PRODUCER, out=signed)
    fields = read_label(signed).fields
    assert fields is not None
    forged = tmp_path / "forged.png"
    write_label(signed, fields.replace(produce_id="someone-else"), out=forged)
    found = inspect_label(forged, trusted=trust(settings, PRODUCER))
    assert found.signature_invalid


def test_propagation_keeps_producer_fields_and_both_signatures(
    tmp_path: Path, settings: Settings
) -> None:
    store = KeyStore(settings.keys_dir)
    store.create(PRODUCER)
    store.create(PLATFORM, algorithm="sm2")
    src = write_image(tmp_path / "gen.jpg", "JPEG", size=(80, 60))
    labelled = tmp_path / "labelled.jpg"
    label_file(src, settings=settings, producer_code=PRODUCER, out=labelled)
    producer_fields = read_label(labelled).fields
    assert producer_fields is not None
    out = tmp_path / "platform.jpg"
    decision = propagate_file(
        labelled, settings=settings, platform_code=PLATFORM, out=out
    )
    assert decision.label == "1"
    assert decision.signed
    written = read_label(out).fields
    assert written is not None
    assert written.label == producer_fields.label
    assert written.produce_id == producer_fields.produce_id
    assert written.reserved_code1 == producer_fields.reserved_code1
    assert written.content_propagator == PLATFORM
    found = inspect_label(out, trusted=trust(settings, PRODUCER, PLATFORM))
    assert [c.status for c in found.signatures] == [
        SignatureStatus.VALID,
        SignatureStatus.VALID,
    ]
    assert json.loads(json.dumps(decision.to_dict()))["notice"].endswith("AI-generated")


def _png_with_parameters(path: Path) -> Path:
    info = PngInfo()
    info.add_text("parameters", "a cat\nSteps: 20, Sampler: Euler a, Seed: 1, Model: x")
    gradient(64, 48).save(path, "PNG", pnginfo=info)
    return path


@pytest.mark.parametrize(
    ("declared", "traces", "expected"),
    [(True, False, "2"), (False, True, "3"), (True, True, "2"), (False, False, None)],
)
def test_art6_classes_without_a_producer_label(
    tmp_path: Path,
    settings: Settings,
    declared: bool,
    traces: bool,
    expected: str | None,
) -> None:
    src = tmp_path / "upload.png"
    if traces:
        _png_with_parameters(src)
    else:
        write_image(src, "PNG")
    out = tmp_path / "out.png"
    decision = propagate_file(
        src, settings=settings, platform_code=PLATFORM, declared_ai=declared, out=out
    )
    assert decision.label == expected, decision.reasons
    if expected is None:
        assert not out.exists() and decision.written is None
        return
    reading = read_label(out)
    assert reading.status is LabelStatus.COMPLIANT
    assert reading.fields == AigcFields(
        label=expected,
        content_producer=PLATFORM,
        produce_id=decision.written["PropagateID"] if decision.written else "",
        content_propagator=PLATFORM,
        propagate_id=decision.written["PropagateID"] if decision.written else "",
    )
    assert not decision.signed and any("ReservedCode2" in n for n in decision.notes)


def test_scan_verdict_uses_the_labels_detector(
    tmp_path: Path, settings: Settings
) -> None:
    src = write_image(tmp_path / "gen.webp", "WEBP")
    out = tmp_path / "labelled.webp"
    label_file(src, settings=settings, producer_code=PRODUCER, out=out)
    result = Scanner.from_settings(settings, metadata_only=True).scan_path(out)
    assert result.verdict.aigc_label == "1"
    assert any(f.kind == "label.implicit" for f in result.findings)
    broken = tmp_path / "broken.webp"
    carrier = carrier_for(probe(out), out)
    carrier.write(out, broken, '{"AIGC":{"Label":"1"}}', Limits())
    result = Scanner.from_settings(settings, metadata_only=True).scan_path(broken)
    kinds = {f.kind for f in result.findings}
    assert {"label.implicit", "label.noncompliant"} <= kinds
    assert result.verdict.aigc_label == "3"


def test_display_notice_is_rendered_and_then_labelled(
    tmp_path: Path, settings: Settings
) -> None:
    """propagate --display-label: the notice is drawn, then the label written."""
    from deepguard.labels.explicit.detect_visual import detect_image_file

    src = write_image(tmp_path / "upload.jpg", "JPEG", size=(480, 320))
    out = tmp_path / "shown.jpg"
    decision = propagate_file(
        src,
        settings=settings,
        platform_code=PLATFORM,
        declared_ai=True,
        display_label=True,
        out=out,
    )
    assert decision.label == "2" and decision.display_notice
    assert "可能为AI生成" in decision.display_notice
    report = detect_image_file(out)
    assert report.status == "compliant", report.to_dict()
    assert read_label(out).fields is not None


def test_provider_explicit_label_on_text(tmp_path: Path, settings: Settings) -> None:
    src = tmp_path / "article.md"
    src.write_text("# Title\n\nGenerated paragraph.\n", encoding="utf-8")
    out = tmp_path / "labelled.md"
    outcome = label_file(
        src, settings=settings, producer_code=PRODUCER, out=out, explicit=True
    )
    assert outcome.explicit is not None
    text = out.read_text(encoding="utf-8")
    assert "AI生成" in text.split("---", 2)[2]  # the notice follows the front matter
    assert read_label(out).status is LabelStatus.COMPLIANT
