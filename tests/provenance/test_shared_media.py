"""The detector on every real file in ../shared/data/media, with known answers.

What exiftool shows in these files: camera photos edited in Lightroom or
Photoshop (no AI traces), a PDF from Adobe Express whose C2PA manifests
declare trainedAlgorithmicMedia, two MP4s and a PDF with test manifests, a
JPEG that points to a remote manifest and one with a pre-release manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).resolve().parents[2] / "../shared/data"
MEDIA = DATA / "media"
Scan = Callable[..., Any]
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="../shared/data absent")

FILES = sorted(p.name for p in MEDIA.iterdir()) if MEDIA.exists() else []
NO_TRACES = {
    "IMG_0003.jpg",
    "P1000827.jpg",
    "TUSCANY.TIF",
    "earth_apollo17.jpg",
    "libpng-test.png",
    "mars.webp",
    "sample1.avif",
    "sample1.gif",
    "sample1.heic",
    "sample1.heif",
    "sample1.m4a",
    "sample1.mp3",
    "sample1.png",
    "sample1.webp",
    "test.avi",
    "test.webp",
    "test_lossless.webp",
    "test_xmp.webp",
    "thumbnail.jpg",
    "LICENSE-c2pa-python-APACHE",
    "LICENSE-c2pa-python-MIT",
}


@pytest.mark.parametrize("name", FILES)
def test_every_file_runs_without_error(scan: Scan, name: str) -> None:
    found = scan(MEDIA / name)
    assert found.of("provenance.read_error") == []
    assert found.of("c2pa.error") == [] or name == "prerelease.jpg"
    if name in NO_TRACES:
        assert found == []


def test_adobe_express_pdf_declares_ai_generation(scan: Scan) -> None:
    found = scan(MEDIA / "pdf-file.pdf")
    manifest = found.one("c2pa.manifest")
    assert manifest.details["validation_state"] == "Valid"
    assert str(manifest.details["claim_generator"]).startswith("Adobe_Express")
    ai = found.of("c2pa.ai_source")
    assert ai
    assert {f.details["digitalSourceType"] for f in ai} == {
        "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    }


@pytest.mark.parametrize("name", ["video1.mp4", "legacy.mp4"])
def test_test_manifests_in_mp4(scan: Scan, name: str) -> None:
    manifest = scan(MEDIA / name).one("c2pa.manifest")
    assert manifest.details["validation_state"] == "Valid"
    assert "c2patool" in str(manifest.details["claim_generator"])


def test_remote_manifest_is_reported_not_fetched(scan: Scan) -> None:
    found = scan(MEDIA / "cloudx.jpg")
    remote = found.one("c2pa.remote_manifest")
    assert remote.details["url"] == (
        "https://cai-manifestx.adobe.com/manifests/"
        "adobe-urn-uuid-5f37e182-3687-462e-a7fb-573462780391"
    )
    assert remote.where == {"carrier": "jpeg:APP1/xmp", "offset": 10038}
    assert found.of("c2pa.manifest") == []


def test_prerelease_manifest_is_a_c2pa_error(scan: Scan) -> None:
    error = scan(MEDIA / "prerelease.jpg").one("c2pa.error")
    assert "prerelease" in str(error.details["value"])
    assert error.details["error"] == "Other"


def test_signed_test_image_valid_then_trusted(scan: Scan, tmp_path: Path) -> None:
    from deepguard.media.item import MediaItem
    from deepguard.provenance import ProvenanceDetector

    path = DATA / "c2pa/C_signed.jpg"
    found = scan(path)
    manifest = found.one("c2pa.manifest")
    assert manifest.details["validation_state"] == "Valid"
    assert manifest.details["signature_issuer"] == "C2PA Test Signing Cert"
    assert (
        manifest.details["claim_generator"] == "make_test_images/0.26.0 c2pa-rs/0.26.0"
    )
    assert manifest.details["actions"] == [
        {
            "manifest": manifest.details["active_manifest"],
            "action": "c2pa.created",
            "digitalSourceType": (
                "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"
            ),
            "softwareAgent": "Make Test Images 0.26.0",
        }
    ]
    synthetic = found.one("c2pa.synthetic_source")
    assert synthetic.details["action"] == "c2pa.created"
    assert found.of("c2pa.ai_source") == []

    trusted = ProvenanceDetector(DATA / "c2pa/trust_config_test_settings.json")
    findings = trusted.run(MediaItem.open(path))
    manifest = next(f for f in findings if f.kind == "c2pa.manifest")
    assert manifest.details["validation_state"] == "Trusted"
    assert "signingCredential.untrusted" not in manifest.details["validation_failures"]
