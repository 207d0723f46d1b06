"""Offline C2PA reading (provenance.c2pa_reader)."""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from deepguard.errors import ConfigError
from deepguard.provenance.c2pa_reader import C2paReader, supported_mime_types

DATA = Path(__file__).resolve().parents[2] / "../shared/data"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="../shared/data absent")
AI_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), "orange").save(buf, "JPEG")
    return buf.getvalue()


def test_unsupported_mime_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "a.mkv"
    path.write_bytes(b"\x1a\x45\xdf\xa3")
    assert "video/x-matroska" not in supported_mime_types()
    assert C2paReader(detector="provenance").read(path, "video/x-matroska") == []


def test_no_manifest_means_no_findings(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg_bytes())
    assert C2paReader(detector="provenance").read(path, "image/jpeg") == []


def test_network_fetches_stay_off_whatever_the_trust_file_says(tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    trust.write_text(
        json.dumps(
            {
                "trust": {"trust_anchors": "PEM"},
                "verify": {"remote_manifest_fetch": True, "ocsp_fetch": True, "x": 1},
            }
        )
    )
    settings = C2paReader(trust, detector="provenance").settings
    assert settings["verify"] == {
        "remote_manifest_fetch": False,
        "ocsp_fetch": False,
        "x": 1,
    }
    assert settings["trust"] == {"trust_anchors": "PEM"}
    assert C2paReader(detector="provenance").settings == {
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}
    }


@pytest.mark.parametrize("content", [None, "{not json", "[1, 2]"])
def test_bad_trust_settings_are_a_config_error(
    tmp_path: Path, content: str | None
) -> None:
    trust = tmp_path / "trust.json"
    if content is not None:
        trust.write_text(content)
    with pytest.raises(ConfigError) as info:
        C2paReader(trust, detector="provenance")
    assert str(info.value).startswith(str(trust))


@needs_data
def test_tampered_image_is_invalid_with_half_confidence(tmp_path: Path) -> None:
    data = bytearray((DATA / "c2pa/C_signed.jpg").read_bytes())
    data[-100] ^= 0xFF  # inside the image data the manifest hashes
    path = tmp_path / "tampered.jpg"
    path.write_bytes(bytes(data))
    findings = C2paReader(detector="provenance").read(path, "image/jpeg")
    manifest = next(f for f in findings if f.kind == "c2pa.manifest")
    assert manifest.details["validation_state"] == "Invalid"
    assert "assertion.dataHash.mismatch" in manifest.details["validation_failures"]
    assert manifest.confidence == 0.5
    synthetic = next(f for f in findings if f.kind == "c2pa.synthetic_source")
    assert synthetic.confidence == 0.5
    assert synthetic.details["validation_state"] == "Invalid"


@needs_data
@pytest.mark.parametrize(
    ("source", "kind"),
    [
        (AI_SOURCE, "c2pa.ai_source"),
        (
            "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia",
            "c2pa.ai_source",
        ),
        (
            "http://cv.iptc.org/newscodes/digitalsourcetype/compositeSynthetic",
            "c2pa.synthetic_source",
        ),
        ("http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture", None),
    ],
)
def test_action_source_types(
    tmp_path: Path, sign_c2pa: Callable[..., bytes], source: str, kind: str | None
) -> None:
    actions: list[dict[str, object]] = [
        {
            "action": "c2pa.created",
            "digitalSourceType": source,
            "softwareAgent": "Gen 1",
        },
        {"action": "c2pa.edited"},
    ]
    path = tmp_path / "a.jpg"
    path.write_bytes(sign_c2pa(jpeg_bytes(), "image/jpeg", actions))
    findings = C2paReader(detector="provenance").read(path, "image/jpeg")
    manifest = next(f for f in findings if f.kind == "c2pa.manifest")
    listed = manifest.details["actions"]
    assert [a["action"] for a in listed] == ["c2pa.created", "c2pa.edited"]
    assert listed[0]["digitalSourceType"] == source
    assert listed[1]["digitalSourceType"] is None
    sources = [f for f in findings if f.kind != "c2pa.manifest"]
    if kind is None:
        assert sources == []
    else:
        (finding,) = sources
        assert finding.kind == kind
        assert finding.details["softwareAgent"] == "Gen 1"
        assert finding.details["manifest"] == manifest.details["active_manifest"]
        assert finding.where == {"carrier": "c2pa", "offset": None}


@needs_data
def test_reader_survives_pickling_for_worker_processes() -> None:
    reader = C2paReader(DATA / "c2pa/trust_config_test_settings.json", detector="p")
    path = DATA / "c2pa/C_signed.jpg"
    first = reader.read(path, "image/jpeg")
    clone = pickle.loads(pickle.dumps(reader))
    assert clone.settings == reader.settings
    assert clone.read(path, "image/jpeg") == first
    assert first[0].details["validation_state"] == "Trusted"
