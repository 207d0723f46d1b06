from __future__ import annotations

from pathlib import Path

from detectors_for_tests import FailingDetector, MarkerDetector

from deepguard.scan.scanner import Scanner
from media_factory import write_image


def test_scan_result_fields(tmp_path: Path) -> None:
    path = write_image(tmp_path / "a.png", "PNG")
    with path.open("ab") as fh:
        fh.write(b"AI-TRACE")
    result = Scanner(detectors=[MarkerDetector()]).scan_path(path)
    doc = result.to_dict()
    assert doc["schema"] == "deepguard.scan/1"
    assert doc["file"]["kind"] == "image" and doc["file"]["mime"] == "image/png"
    assert len(doc["file"]["sha256"]) == 64
    assert doc["media"]["width"] == 64
    assert doc["verdict"]["aigc_label"] == "3"
    assert doc["detectors"] == [
        {
            "name": "marker",
            "version": "7",
            "seconds": doc["detectors"][0]["seconds"],
            "error": None,
        }
    ]
    assert doc["findings"][0]["where"] == {"offset": path.stat().st_size - 8}
    assert {"probe", "media", "detector:marker", "total"} <= set(doc["timings"])
    assert doc["errors"] == []


def test_failing_detector_does_not_stop_others(tmp_path: Path) -> None:
    path = write_image(tmp_path / "a.jpg", "JPEG")
    with path.open("ab") as fh:
        fh.write(b"AI-TRACE")
    result = Scanner(detectors=[FailingDetector(), MarkerDetector()]).scan_path(path)
    assert [e.stage for e in result.errors] == ["detector:failing"]
    assert result.errors[0].message == f"{path}: synthetic failure"
    assert result.verdict.aigc_label == "3"


def test_unreadable_input_still_gives_a_result(tmp_path: Path) -> None:
    result = Scanner(detectors=[MarkerDetector()]).scan_path(tmp_path / "nope.png")
    assert result.file.sha256 is None
    assert result.errors[0].stage == "probe"
    assert result.errors[0].message == f"{tmp_path / 'nope.png'}: no such file"


def test_metadata_only_skips_decoding_detectors(tmp_path: Path) -> None:
    class Decoding(MarkerDetector):
        name = "decoding"
        metadata_only = False

    path = write_image(tmp_path / "a.png", "PNG")
    result = Scanner(detectors=[Decoding()], metadata_only=True).scan_path(path)
    assert result.detectors == []
