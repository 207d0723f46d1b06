"""Render the HTML report in headless Chromium and look at the pixels.

String checks cannot tell whether a browser actually shows the thumbnails
(a broken data URI, a CSP that blocks ``data:`` images, CSS that collapses the
column all pass them). A screenshot can: a pure-magenta image must come out
magenta on screen, and must not when the preview is switched off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from deepguard.config import Limits
from deepguard.report import write_html
from deepguard.scan import Finding, ScanResult
from report_factory import scanned, write_h264

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium not installed (run scripts/install-sysdeps.sh)",
)
MAGENTA = (255, 0, 255)


def screenshot(html: Path, png: Path, profile: Path) -> Image.Image:
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,1600",
        f"--screenshot={png}",
        html.as_uri(),
    ]
    env = {**os.environ, "HOME": str(profile)}
    proc = subprocess.run(cmd, capture_output=True, timeout=120, env=env, check=False)
    assert png.exists(), proc.stderr.decode(errors="replace")[-2000:]
    with Image.open(png) as im:
        return im.convert("RGB")


def magenta_pixels(im: Image.Image) -> int:
    px = np.asarray(im, dtype=np.int16)
    near = (px[:, :, 0] > 235) & (px[:, :, 1] < 25) & (px[:, :, 2] > 235)
    return int(near.sum())


def make_mp4(path: Path) -> Path:
    def frames() -> Iterator[npt.NDArray[np.uint8]]:
        for i in range(20):
            pixels = np.zeros((128, 128, 3), dtype=np.uint8)
            pixels[:, :, 1] = np.linspace(0, 255, 128, dtype=np.uint8)[None, :]
            pixels[i * 4 : i * 4 + 24, 40:88] = (250, 250, 250)
            yield pixels

    return write_h264(
        path, frames(), side=128, options={"preset": "ultrafast", "g": "5"}
    )


@pytest.fixture
def results(tmp_path: Path) -> list[ScanResult]:
    media = tmp_path / "media"
    media.mkdir()
    magenta = media / "magenta.png"
    Image.new("RGB", (400, 300), MAGENTA).save(magenta)
    noise = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    photo = media / "noise.jpg"
    Image.fromarray(noise, "RGB").save(photo, quality=90)
    ai = Finding(
        detector="provenance",
        kind="xmp.digital_source_type",
        confidence=1.0,
        summary="IPTC digital source type: trainedAlgorithmicMedia",
        details={"ai_generated": True},
    )
    return [
        scanned(magenta, ai),
        scanned(photo),
        scanned(make_mp4(media / "clip.mp4")),
    ]


def test_thumbnails_are_visible_in_chromium(
    tmp_path: Path, results: list[ScanResult]
) -> None:
    html = write_html(results, tmp_path / "report.html", limits=Limits())
    shot = screenshot(html, tmp_path / "report.png", tmp_path / "profile")

    assert shot.size == (1280, 1600)
    # The 256 x 192 magenta preview, less anti-aliased edges and rounded corners.
    assert magenta_pixels(shot) > 0.8 * 256 * 192
    # The noise photo and the video strip make a busy page, unlike a blank one.
    colours = shot.getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 5_000


def test_without_previews_no_magenta_reaches_the_screen(
    tmp_path: Path, results: list[ScanResult]
) -> None:
    """The control for the test above: the magenta comes from the thumbnail."""
    html = write_html(
        results, tmp_path / "report.html", limits=Limits(), max_thumbnails=0
    )
    shot = screenshot(html, tmp_path / "report.png", tmp_path / "profile")

    assert magenta_pixels(shot) == 0
    colours = shot.getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) < 5_000
