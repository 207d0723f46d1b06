"""The label, inspect, propagate and keys commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepguard.cli.main import main
from deepguard.media.item import sha256_file
from media_factory import write_image

PRODUCER = "001191440300708461136T1XGW3"
PLATFORM = "0091110108MA01ABCDE9X120000"


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_keys_label_inspect_propagate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = ["--home", str(tmp_path / "home")]
    assert main([*home, "keys", "create", "--provider-code", PRODUCER]) == 0
    assert (
        main([*home, "keys", "create", "--provider-code", PLATFORM, "-a", "sm2"]) == 0
    )
    capsys.readouterr()
    assert main([*home, "keys", "list", "--json"]) == 0
    keys = lines(capsys.readouterr().out)
    assert {k["algorithm"] for k in keys} == {"ed25519", "sm2"}
    trust = tmp_path / "home" / "trust"
    for key in keys:
        assert main([*home, "keys", "export", str(key["kid"]), "-o", str(trust)]) == 0
    src = write_image(tmp_path / "gen.png", "PNG")
    before = sha256_file(src)
    assert main([*home, "label", str(src), "--producer-code", PRODUCER]) == 0
    labelled = tmp_path / "gen.labelled.png"
    assert labelled.exists() and sha256_file(src) == before
    capsys.readouterr()
    assert main([*home, "inspect", "--json", str(labelled), str(src)]) == 0
    first, second = lines(capsys.readouterr().out)
    assert first["status"] == "compliant"
    assert [s["status"] for s in first["signatures"]] == ["valid"]  # type: ignore[index]
    assert second["status"] == "not_found"
    out = tmp_path / "platform.png"
    code = main(
        [*home, "propagate", str(labelled), "--platform-code", PLATFORM, "-o", str(out)]
    )
    assert code == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["label"] == "1" and decision["signed"] is True
    assert main([*home, "inspect", "--json", str(out)]) == 0
    (found,) = lines(capsys.readouterr().out)
    statuses = [s["status"] for s in found["signatures"]]  # type: ignore[index]
    assert statuses == ["valid", "valid"]


def test_inspect_bad_files_one_line_each_batch_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_image(tmp_path / "ok.jpg", "JPEG")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + b"\x01" * 5)
    missing = tmp_path / "missing.mp4"
    args = ["--home", str(tmp_path), "inspect", "--json"]
    assert main([*args, str(bad), str(missing), str(good)]) == 1
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "missing.mp4" in errors[0]
    assert "Traceback" not in captured.err
    truncated, absent, fine = lines(captured.out)
    assert truncated["status"] == "inconclusive"
    assert "IHDR" in str(truncated["errors"])
    assert "no such file" in str(absent["error"])
    assert fine["status"] == "not_found"


def test_label_refuses_bad_codes_and_ambiguous_output(tmp_path: Path) -> None:
    src = write_image(tmp_path / "a.png", "PNG")
    home = ["--home", str(tmp_path)]
    assert main([*home, "label", str(src), "--producer-code", "has space"]) == 2
    args = [*home, "label", str(src), "--producer-code", PRODUCER]
    assert main([*args, "-o", str(tmp_path / "x.png"), "--in-place"]) == 2
    assert main([*args, "--label", "7", "-o", str(tmp_path / "y.png")]) == 2


def test_label_with_c2pa_from_configured_certificate(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import c2pa

    certs = shared_data / "c2pa"
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        "[labels]\n"
        f'c2pa_cert_chain = "{certs / "es256_certs.pem"}"\n'
        f'c2pa_private_key = "{certs / "es256_private.key"}"\n',
        encoding="utf-8",
    )
    src = write_image(tmp_path / "gen.jpg", "JPEG")
    out = tmp_path / "signed.jpg"
    args = ["--home", str(home), "label", str(src), "--producer-code", PRODUCER]
    args += ["--c2pa", "--soft-binding", "org.deepguard.watermark.1:00ff", "--json"]
    assert main([*args, "-o", str(out)]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["c2pa"] and outcome["implicit"]["ContentProducer"] == PRODUCER
    with c2pa.Reader(str(out)) as reader:
        manifest = json.loads(reader.json())
    active = manifest["manifests"][manifest["active_manifest"]]
    labels = {a["label"] for a in active["assertions"]}
    assert {"cn.org.tc260.aigc", "c2pa.soft-binding"} <= labels
    aigc = next(a for a in active["assertions"] if a["label"] == "cn.org.tc260.aigc")
    assert aigc["data"]["AIGC"]["ContentProducer"] == PRODUCER
    capsys.readouterr()
    assert main(["--home", str(home), "inspect", "--json", str(out)]) == 0
    assert lines(capsys.readouterr().out)[0]["status"] == "compliant"


def test_c2pa_without_configured_certificate_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_image(tmp_path / "gen.jpg", "JPEG")
    args = ["--home", str(tmp_path), "label", str(src), "--producer-code", PRODUCER]
    assert main([*args, "--c2pa"]) == 2
    assert "c2pa_cert_chain" in capsys.readouterr().err
