"""The HTML report: structure, escaping of hostile input, and real thumbnails."""

from __future__ import annotations

import base64
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepguard.config import Limits
from deepguard.report import render_html, write_html
from deepguard.scan import Finding, ScanError, Verdict
from report_factory import scanned as scan
from report_factory import write_h264

LIMITS = Limits()
XSS_IMG = "<img src=x onerror=alert(1)>"


# --- media made on the spot --------------------------------------------------


def make_jpeg(path: Path, color: tuple[int, int, int], size: tuple[int, int]) -> Path:
    Image.new("RGB", size, color).save(path, "JPEG", quality=95)
    return path


def make_mp4(path: Path, *, seconds: float = 2.0, fps: int = 10, gop: int = 5) -> Path:
    """H.264 with a keyframe every ``gop`` frames, each frame a flat grey level."""
    frames = (
        np.full((96, 96, 3), 40 + i * 8, dtype=np.uint8)
        for i in range(int(seconds * fps))
    )
    options = {"preset": "ultrafast", "g": str(gop), "keyint_min": str(gop)}
    return write_h264(path, frames, side=96, options=options, fps=fps)


def make_wav(path: Path) -> Path:
    import wave

    t = np.arange(8000) / 8000.0
    pcm = (np.sin(2 * np.pi * 220 * t) * 0.5 * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm.tobytes())
    return path


def finding(kind: str, summary: str = "seen", **details: object) -> Finding:
    return Finding(
        detector="provenance",
        kind=kind,
        confidence=0.9,
        summary=summary,
        details=dict(details),
        where={"offset": 20},
    )


# --- helpers to read the report back -----------------------------------------


def cards(html: str) -> list[str]:
    return re.findall(r"<article class=\"card.*?</article>", html, flags=re.S)


def totals(html: str) -> dict[str, int]:
    tiles = re.findall(
        r'<div class="tile (\w+)"><dt>[^<]*</dt><dd class="\w+">(\d+)</dd>', html
    )
    return {css: int(count) for css, count in tiles}


def data_images(html: str) -> list[Image.Image]:
    uris = re.findall(r'src="data:image/(?:jpeg|png);base64,([A-Za-z0-9+/=]+)"', html)
    return [Image.open(io.BytesIO(base64.b64decode(u))) for u in uris]


# --- structure ---------------------------------------------------------------


def test_one_card_per_result_with_totals_and_badges(tmp_path: Path) -> None:
    labelled = scan(
        make_jpeg(tmp_path / "a.jpg", (10, 200, 10), (64, 48)),
        finding("xmp.digital_source_type", ai_generated=True),
    )
    traced = scan(
        make_jpeg(tmp_path / "b.jpg", (10, 10, 200), (64, 48)),
        finding("png.sd_parameters", keyword="parameters"),
    )
    plain = scan(make_jpeg(tmp_path / "c.jpg", (90, 90, 90), (64, 48)))
    declared = scan(make_jpeg(tmp_path / "d.jpg", (90, 0, 90), (64, 48)))
    declared.verdict = Verdict(aigc_label="2", reasons=("declared by the uploader",))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 10)
    failed = scan(broken)
    assert not failed.ok

    html = render_html([labelled, traced, plain, declared, failed], limits=LIMITS)

    found = cards(html)
    assert len(found) == 5
    assert totals(html) == {
        "files": 5,
        "ok": 4,
        "failed": 1,
        "l1": 1,
        "l2": 1,
        "l3": 1,
        "none": 2,
    }
    assert '<span class="badge l1">Label 1 · AI-generated</span>' in found[0]
    assert '<span class="badge l3">Label 3 · suspected AI-generated</span>' in found[1]
    assert '<span class="badge none">no AI indication</span>' in found[2]
    assert '<span class="badge l2">Label 2 · possibly AI-generated</span>' in found[3]
    assert "declared by the uploader" in found[3]
    error = failed.errors[0]
    assert '<span class="badge err">1 error</span>' in found[4]
    assert f"<strong>{error.error}</strong>" in found[4]
    assert '<ul class="errors">' in found[4] and '<ul class="errors">' not in found[2]
    # Reasons and the findings table of the traced file.
    assert "AI-generation traces without a valid implicit label" in found[1]
    assert "<code>png.sd_parameters</code>" in found[1]
    assert "<details><summary>1 field(s)</summary>" in found[1]


def test_identity_shows_short_hash_size_and_media(tmp_path: Path) -> None:
    result = scan(make_jpeg(tmp_path / "photo.jpg", (200, 100, 0), (320, 200)))
    assert result.file.sha256 is not None
    card = cards(render_html([result], limits=LIMITS))[0]
    sha = result.file.sha256
    assert f'<code title="{sha}">{sha[:12]}…{sha[-4:]}</code>' in card
    assert "320×200" in card and "image/jpeg" in card
    size = result.file.size
    assert size is not None and 1024 < size < 1024**2
    assert f"{size / 1024:.1f} KiB" in card


def test_empty_report_renders() -> None:
    html = render_html([], limits=LIMITS)
    assert "No files were scanned." in html
    assert totals(html)["files"] == 0


# --- hostile input -----------------------------------------------------------


def test_file_names_and_metadata_are_escaped(tmp_path: Path) -> None:
    # "/" cannot be in a file name, so the closing tag spans a directory.
    folder = tmp_path / "<script>alert(1)<"
    folder.mkdir()
    path = make_jpeg(folder / "script>.png", (1, 2, 3), (32, 32))
    assert str(path).endswith("<script>alert(1)</script>.png")
    result = scan(
        path,
        Finding(
            detector="provenance<b>",
            kind='generator.name"><svg onload=alert(2)>',
            confidence=0.5,
            summary=f"generator named {XSS_IMG}",
            details={"value": "</pre><script>alert(3)</script>"},
            where={"field": "'><iframe src=javascript:alert(4)>"},
        ),
    )
    result.errors.append(ScanError(stage="detector:x", error="Boom", message=XSS_IMG))

    html = render_html([result], limits=LIMITS, title="<title>&")

    assert "<script" not in html.lower()
    assert "<svg" not in html and "<iframe" not in html and "<b>" not in html
    assert XSS_IMG not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.png" in html
    assert "generator named &lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;/pre&gt;&lt;script&gt;alert(3)&lt;/script&gt;" in html
    assert "<title>&lt;title&gt;&amp;</title>" in html


def test_invisible_characters_in_names_are_shown(tmp_path: Path) -> None:
    # U+202E makes "gpj.exe" display as "exe.jpg" in a browser.
    path = make_jpeg(tmp_path / "photo\u202egpj.exe", (5, 5, 5), (16, 16))
    html = render_html([scan(path)], limits=LIMITS)
    assert "\u202e" not in html
    assert "photo\\u202egpj.exe" in html


def test_report_is_self_contained(tmp_path: Path) -> None:
    result = scan(
        make_jpeg(tmp_path / "a.jpg", (0, 0, 0), (32, 32)),
        finding("xmp.digital_source_type", value="https://example.com/x.png"),
    )
    html = render_html([result], limits=LIMITS)
    sources = re.findall(r'\bsrc="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/") for s in sources)
    assert not re.search(r"<(link|script|iframe|object|embed)\b", html, flags=re.I)
    assert "@import" not in html and "url(" not in html and "href=" not in html
    assert "default-src 'none'; img-src data:" in html


def test_long_details_are_shortened(tmp_path: Path) -> None:
    result = scan(
        make_jpeg(tmp_path / "a.jpg", (0, 0, 0), (16, 16)),
        finding("png.comfyui_workflow", workflow="x" * 20_000),
    )
    html = render_html([result], limits=LIMITS)
    assert "x" * 20_000 not in html
    assert "more characters in the JSON result" in html


# --- thumbnails --------------------------------------------------------------


def test_jpeg_thumbnail_is_a_data_uri_of_the_image(tmp_path: Path) -> None:
    path = make_jpeg(tmp_path / "big.jpg", (220, 40, 30), (1024, 512))
    html = render_html([scan(path)], limits=LIMITS)
    assert "data:image/jpeg;base64," in html
    [thumb] = data_images(html)
    assert thumb.format == "JPEG"
    assert max(thumb.size) == 256 and thumb.size == (256, 128)
    mean = np.asarray(thumb.convert("RGB"), dtype=np.float64).mean(axis=(0, 1))
    assert np.allclose(mean, (220, 40, 30), atol=8)


def test_mp4_thumbnail_is_a_strip_of_three_keyframes(tmp_path: Path) -> None:
    path = make_mp4(tmp_path / "clip.mp4", seconds=2.0, fps=10, gop=5)
    html = render_html([scan(path)], limits=LIMITS)
    card = cards(html)[0]
    assert '<div class="strip n3">' in card
    assert re.findall(r"<figcaption>([\d.]+ s)</figcaption>", card) == [
        "0.00 s",
        "0.50 s",
        "1.00 s",
    ]
    frames = data_images(card)
    assert len(frames) == 3
    # Keyframes 0, 5 and 10 have grey levels 40, 80 and 120.
    levels = [np.asarray(f.convert("L"), dtype=np.float64).mean() for f in frames]
    assert levels == pytest.approx([40, 80, 120], abs=6)


def test_audio_thumbnail_is_a_waveform(tmp_path: Path) -> None:
    html = render_html([scan(make_wav(tmp_path / "tone.wav"))], limits=LIMITS)
    assert "waveform, first 1.0 s" in html
    [wave] = data_images(html)
    assert wave.format == "PNG" and wave.size == (256, 72)
    pixels = np.asarray(wave.convert("RGB"))
    # The envelope is drawn in blue over most of the height.
    blue = (pixels[:, :, 2] > 200) & (pixels[:, :, 0] < 100)
    assert blue.any(axis=1).sum() > 36


def test_documents_get_a_type_placeholder(tmp_path: Path) -> None:
    doc = tmp_path / "notes.md"
    doc.write_text("# Notes\n\nplain text\n", encoding="utf-8")
    card = cards(render_html([scan(doc)], limits=LIMITS))[0]
    assert '<div class="doc-icon">MD</div>' in card
    assert '<div class="note">text/markdown</div>' in card
    assert "data:image" not in card


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xd8\xff\xe0" + b"\x00" * 10,  # header cut short
        b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64,  # an MP4 with no boxes
        b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff" * 32,  # an MP3 tag, no audio
    ],
    ids=["jpeg", "mp4", "mp3"],
)
def test_corrupt_media_gets_a_placeholder(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "corrupt.bin"
    path.write_bytes(content)
    result = scan(path)
    assert result.file.kind is not None
    card = cards(render_html([result], limits=LIMITS))[0]
    assert '<div class="placeholder broken">' in card
    assert "no preview" in card
    assert "data:image" not in card


def test_changed_or_missing_files_get_a_placeholder(tmp_path: Path) -> None:
    changed = scan(make_jpeg(tmp_path / "a.jpg", (9, 9, 9), (32, 32)))
    make_jpeg(tmp_path / "a.jpg", (9, 9, 9), (64, 64))
    missing = scan(make_jpeg(tmp_path / "b.jpg", (9, 9, 9), (32, 32)))
    (tmp_path / "b.jpg").unlink()
    found = cards(render_html([changed, missing], limits=LIMITS))
    assert "file changed since the scan" in found[0]
    assert (
        "no preview: MediaError" in found[1]
        or "no preview: FileNotFoundError" in found[1]
    )
    assert all("data:image" not in c for c in found)


def test_thumbnail_work_is_capped(tmp_path: Path) -> None:
    results = [
        scan(make_jpeg(tmp_path / f"{i}.jpg", (i * 40, 0, 0), (32, 32)))
        for i in range(3)
    ]
    html = render_html(results, limits=LIMITS, max_thumbnails=1)
    found = cards(html)
    assert "data:image/jpeg" in found[0]
    for card in found[1:]:
        assert "data:image" not in card
        assert "preview skipped (limit of 1 previews)" in card


# --- writing -----------------------------------------------------------------


def test_write_html_writes_the_rendered_report(tmp_path: Path) -> None:
    result = scan(make_jpeg(tmp_path / "a.jpg", (0, 90, 0), (32, 32)))
    out = tmp_path / "out" / "report.html"
    assert write_html([result], out, limits=LIMITS) == out
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert len(cards(text)) == 1
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.html"]


def test_write_html_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report.html"
    out.write_text("previous report", encoding="utf-8")

    def fail_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail_replace)
    with pytest.raises(OSError, match="disk full"):
        write_html([], out, limits=LIMITS)
    assert out.read_text(encoding="utf-8") == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
