from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

from deepguard.cli.main import main
from media_factory import image_bytes, write_empty_video, write_image, write_video

XMP_TRAINED = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" '
    b'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    b'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/'
    b'trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>'
)


def jpeg_with_xmp(path: Path, xmp: bytes) -> Path:
    data = image_bytes("JPEG")
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    path.write_bytes(data[:2] + segment + data[2:])
    return path


def png_with_sd_parameters(path: Path) -> Path:
    from PIL.PngImagePlugin import PngInfo

    from media_factory import gradient

    info = PngInfo()
    info.add_text(
        "parameters",
        "a cat in a hat\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, "
        "CFG scale: 7, Seed: 1234, Size: 64x48, Model: sd_xl_base_1.0",
    )
    gradient().save(path, "PNG", pnginfo=info)
    return path


def run_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEEPGUARD_HOME": str(home), "PYTHONWARNINGS": "ignore"}
    env.pop("DEEPGUARD_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "deepguard", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def json_lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_scan_json_schema_and_verdicts(tmp_path: Path) -> None:
    sd = png_with_sd_parameters(tmp_path / "sd.png")
    xmp = jpeg_with_xmp(tmp_path / "xmp.jpg", XMP_TRAINED)
    plain = write_image(tmp_path / "plain.webp", "WEBP")
    proc = run_cli(
        "scan", "--json", str(sd), str(xmp), str(plain), home=tmp_path / "home"
    )
    assert proc.returncode == 0, proc.stderr
    docs = json_lines(proc.stdout)
    assert [d["file"]["path"] for d in docs] == [str(sd), str(xmp), str(plain)]  # type: ignore[index]
    for doc in docs:
        assert doc["schema"] == "deepguard.scan/1"
        assert set(doc["file"]) >= {"path", "sha256", "kind", "mime", "size"}  # type: ignore[arg-type]
        assert doc["errors"] == []
        for finding in doc["findings"]:  # type: ignore[union-attr]
            assert set(finding) >= {
                "detector",
                "kind",
                "confidence",
                "summary",
                "details",
                "where",
            }
            assert 0 <= finding["confidence"] <= 1
    sd_doc, xmp_doc, plain_doc = docs
    assert sd_doc["verdict"]["aigc_label"] == "3"  # type: ignore[index]
    assert any("parameters" in r for r in sd_doc["verdict"]["reasons"])  # type: ignore[index]
    assert xmp_doc["verdict"]["aigc_label"] == "1"  # type: ignore[index]
    assert plain_doc["verdict"]["aigc_label"] is None  # type: ignore[index]


def test_c2pa_signed_file(tmp_path: Path, shared_data: Path) -> None:
    path = shared_data / "c2pa" / "C_signed.jpg"
    proc = run_cli("scan", "--json", "--no-store", str(path), home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (doc,) = json_lines(proc.stdout)
    manifests = [f for f in doc["findings"] if f["kind"] == "c2pa.manifest"]  # type: ignore[union-attr,index]
    assert manifests and manifests[0]["details"]["validation_state"] in (
        "Valid",
        "Trusted",
    )


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


def _bad_inputs(tmp_path: Path) -> dict[str, Path]:
    bad = tmp_path / "bad"
    bad.mkdir()
    out: dict[str, Path] = {}
    out["empty"] = bad / "empty.jpg"
    out["empty"].write_bytes(b"")
    for fmt in ("JPEG", "PNG"):
        data = image_bytes(fmt, size=(128, 128))
        out[f"trunc_{fmt}"] = bad / f"truncated.{fmt.lower()}"
        out[f"trunc_{fmt}"].write_bytes(data[: len(data) // 2])
    video = write_video(tmp_path / "full.mp4", seconds=1.0).read_bytes()
    out["trunc_mp4"] = bad / "truncated.mp4"
    out["trunc_mp4"].write_bytes(video[: len(video) // 3])
    out["bomb"] = bad / "bomb.png"
    out["bomb"].write_bytes(_png_claiming(50_000, 50_000))
    out["zip"] = bad / "archive.mp4"
    with zipfile.ZipFile(out["zip"], "w") as zf:
        zf.writestr("x.txt", "not a video")
    out["zero"] = write_empty_video(bad / "zero.mp4")
    out["dir"] = bad / "folder.jpg"
    out["dir"].mkdir()
    out["unreadable"] = bad / "secret.png"
    out["unreadable"].write_bytes(image_bytes("PNG"))
    out["unreadable"].chmod(0)
    return out


def test_bad_inputs_each_get_one_line_and_batch_goes_on(tmp_path: Path) -> None:
    bad = _bad_inputs(tmp_path)
    unreadable = bad.pop("unreadable")
    good = write_image(tmp_path / "good.jpg", "JPEG")
    wrong_ext = tmp_path / "really_a_png.mp4"
    wrong_ext.write_bytes(image_bytes("PNG"))
    inputs = [*bad.values(), good, wrong_ext]
    if os.geteuid() != 0:
        bad["unreadable"] = unreadable
        inputs.append(unreadable)
    cmd = ["scan", "--json", "--no-recursive", "--workers", "2", *map(str, inputs)]
    proc = run_cli(*cmd, home=tmp_path / "home")
    assert proc.returncode == 1, proc.stderr
    docs = {d["file"]["path"]: d for d in json_lines(proc.stdout)}  # type: ignore[index]
    assert len(docs) == len(inputs)
    assert docs[str(good)]["errors"] == []
    assert docs[str(wrong_ext)]["errors"] == []
    assert docs[str(wrong_ext)]["file"]["mime"] == "image/png"  # type: ignore[index]
    expected = {
        "empty": "empty file",
        "trunc_JPEG": "",
        "trunc_PNG": "",
        "trunc_mp4": "",
        "bomb": "max_pixels",
        "zip": "zip archive",
        "zero": "no video stream",
        "dir": "is a directory",
        "unreadable": "permission denied",
    }
    _assert_one_line_errors(
        proc, docs, {k: (bad[k], v) for k, v in expected.items() if k in bad}
    )


def _assert_one_line_errors(
    proc: subprocess.CompletedProcess[str],
    docs: dict[str, dict[str, object]],
    expected: dict[str, tuple[Path, str]],
) -> None:
    error_lines = [
        line for line in proc.stderr.splitlines() if line.startswith("error:")
    ]
    for key, (path, needle) in expected.items():
        assert docs[str(path)]["errors"], f"{key} produced no error"
        lines = [ln for ln in error_lines if ln.startswith(f"error: {path}: ")]
        assert lines, f"no one-line error for {key}: {proc.stderr}"
        assert needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


def test_unreadable_file_without_root_read_override(tmp_path: Path) -> None:
    """Root reads everything, so run the CLI as root without the capabilities
    that bypass file permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)."""
    if os.geteuid() != 0:
        pytest.skip("covered by the batch test when not running as root")
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("running as root without setpriv: cannot drop capabilities")
    secret = tmp_path / "secret.png"
    secret.write_bytes(image_bytes("PNG"))
    secret.chmod(0)
    good = write_image(tmp_path / "good.png", "PNG")
    env = {**os.environ, "DEEPGUARD_HOME": str(tmp_path / "home")}
    env.pop("DEEPGUARD_CONFIG", None)
    drop = "-dac_override,-dac_read_search"
    proc = subprocess.run(
        [
            *(setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}"),
            *(sys.executable, "-m", "deepguard", "scan", "--json", "-j", "1"),
            *(str(secret), str(good)),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    docs = {d["file"]["path"]: d for d in json_lines(proc.stdout)}  # type: ignore[index]
    assert docs[str(good)]["errors"] == []
    _assert_one_line_errors(proc, docs, {"unreadable": (secret, "permission denied")})


def test_history_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    sd = png_with_sd_parameters(tmp_path / "sd.png")
    assert (
        main(["--home", str(home), "scan", "--quiet", "--workers", "1", str(sd)]) == 0
    )
    capsys.readouterr()
    assert main(["--home", str(home), "history", "--json"]) == 0
    rows = json_lines(capsys.readouterr().out)
    assert len(rows) == 1 and rows[0]["aigc_label"] == "3"
    sha = str(rows[0]["sha256"])
    assert main(["--home", str(home), "show", sha[:10], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["file"]["sha256"] == sha and shown["verdict"]["aigc_label"] == "3"
    assert main(["--home", str(home), "show", "abcdef0123"]) == 2
    assert "abcdef0123" in capsys.readouterr().err


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert main(["--home", str(tmp_path), "scan"]) == 2
    assert main(["--home", str(tmp_path), "history", "--label", "7"]) == 2
    assert (
        main(["--home", str(tmp_path), "scan", "--detector", "nope", str(tmp_path)])
        == 2
    )
