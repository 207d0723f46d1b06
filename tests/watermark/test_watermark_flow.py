"""The provider-to-platform flow: label --watermark, strip, scan, restore."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepguard.cli.main import main
from deepguard.config import Settings
from deepguard.media.item import MediaItem, sha256_file
from deepguard.scan.verdict import decide
from deepguard.store import MemoryStore
from deepguard.watermark.detector import WatermarkDetector
from deepguard.watermark.payload import Payload

PRODUCER = "001191440300708461136T1XGW3"


def photo(path: Path, size: tuple[int, int] = (640, 480), seed: int = 3) -> Path:
    """A textured synthetic photo: smooth shapes plus grain, like real content."""
    rng = np.random.default_rng(seed)
    h, w = size[1], size[0]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 110 + 60 * np.sin(xx / 37.0) * np.cos(yy / 23.0)
    rgb = np.stack([base, base * 0.8 + 30, 200 - base * 0.5], axis=-1)
    rgb += rng.normal(0, 9, rgb.shape)
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(path)
    return path


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_label_watermark_then_strip_then_scan_restores_the_producer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = ["--home", str(tmp_path / "home")]
    src = photo(tmp_path / "gen.png")
    before = sha256_file(src)
    out = tmp_path / "gen.labelled.png"
    args = ["label", str(src), "--producer-code", PRODUCER, "--produce-id", "job42"]
    assert main([*home, *args, "--watermark", "-o", str(out), "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    payload = Payload.for_content(PRODUCER, "job42")
    assert outcome["watermark"]["payload"] == payload.hex()
    assert sha256_file(src) == before  # the input is never changed

    # A violator re-encodes to JPEG, which drops the PNG metadata label.
    stripped = tmp_path / "reupload.jpg"
    Image.open(out).convert("RGB").save(stripped, quality=60)
    assert main([*home, "scan", str(stripped), "--json"]) == 0
    [result] = lines(capsys.readouterr().out)
    verdict = result["verdict"]
    assert verdict["aigc_label"] == "1"
    assert verdict["reasons"][0].startswith("label stripped or altered")
    assert PRODUCER in verdict["reasons"][0] and "job42" in verdict["reasons"][0]
    [mark] = [f for f in result["findings"] if f["kind"] == "watermark.deepguard"]
    assert mark["details"]["records"][0]["ProduceID"] == "job42"


def test_watermark_cli_embed_and_detect(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = ["--home", str(tmp_path / "home")]
    src = photo(tmp_path / "a.png", seed=5)
    plain = photo(tmp_path / "b.png", seed=6)
    embed = ["watermark", "embed", str(src), "--producer-code", PRODUCER]
    assert main([*home, *embed, "--produce-id", "p1", "--json"]) == 0
    marked = Path(json.loads(capsys.readouterr().out)["output"])
    assert marked == tmp_path / "a.marked.png"
    missing = tmp_path / "missing.png"
    code = main(
        [*home, "watermark", "detect", str(marked), str(missing), str(plain), "--json"]
    )
    captured = capsys.readouterr()
    assert code == 1  # one file failed; the others were still examined
    assert "missing.png" in captured.err and "Traceback" not in captured.err
    rows = {Path(str(r["file"])).name: r for r in lines(captured.out)}
    assert rows["a.marked.png"]["status"] == "present"
    assert rows["a.marked.png"]["producer"] == PRODUCER
    assert rows["b.png"]["status"] == "absent"


def test_embed_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    src = photo(tmp_path / "a.png")
    before = sha256_file(src)
    code = main(
        [
            "--home",
            str(tmp_path / "home"),
            "watermark",
            "embed",
            str(src),
            "--producer-code",
            PRODUCER,
            "--produce-id",
            "p",
            "-o",
            str(src),
        ]
    )
    assert code != 0
    assert sha256_file(src) == before


def test_detector_without_a_record_names_the_producer_tag(tmp_path: Path) -> None:
    from deepguard.watermark.files import embed_file

    src = photo(tmp_path / "a.png")
    payload = Payload.for_content(PRODUCER, "x")
    embed_file(src, tmp_path / "m.png", payload)
    detector = WatermarkDetector(records=lambda: MemoryStore())
    findings = detector.run(MediaItem.open(tmp_path / "m.png"))
    [mark] = [f for f in findings if f.kind == "watermark.deepguard"]
    assert mark.details["producer_tag"] == payload.producer_tag
    verdict = decide(findings)
    assert verdict.aigc_label == "1"
    assert f"producer tag {payload.producer_tag:05x}" in verdict.reasons[0]


def test_detector_reports_tiny_images_as_undetectable(tmp_path: Path) -> None:
    path = tmp_path / "tiny.png"
    Image.new("RGB", (40, 30), (120, 80, 60)).save(path)
    detector = WatermarkDetector.from_settings(Settings(home=tmp_path / "home"))
    findings = detector.run(MediaItem.open(path))
    assert [f.kind for f in findings] == ["watermark.undetectable"]
    assert decide(findings).aigc_label is None
