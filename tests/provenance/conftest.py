"""Fixtures for the provenance tests: run the detector, build small media.

Test modules get everything through fixtures and never ``import conftest``,
so they work under any pytest import mode and next to other conftest files.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import c2pa
import pytest
from PIL import Image, PngImagePlugin

from deepguard.config import Limits
from deepguard.media.item import MediaItem
from deepguard.provenance import ProvenanceDetector
from deepguard.scan.finding import Finding
from media_factory import jpeg_segment

DATA = Path(__file__).resolve().parents[2] / "../shared/data"


class Findings(list[Finding]):
    """The detector's findings with helpers to pick them by kind."""

    def of(self, kind: str) -> list[Finding]:
        return [f for f in self if f.kind == kind]

    def one(self, kind: str) -> Finding:
        found = self.of(kind)
        assert len(found) == 1, f"expected one {kind}, got {[f.kind for f in self]}"
        return found[0]


Scan = Callable[..., Findings]


@pytest.fixture(scope="session")
def detector() -> ProvenanceDetector:
    return ProvenanceDetector()


@pytest.fixture
def scan(detector: ProvenanceDetector) -> Scan:
    """Probe ``path`` like the scanner does and run the detector on it."""

    def run(path: Path, *, limits: Limits | None = None) -> Findings:
        item = MediaItem.open(path, limits=limits)
        return Findings(detector.run(item))

    return run


def _insert_before_idat(data: bytes, *chunks: bytes) -> bytes:
    at = data.index(b"IDAT") - 4
    return data[:at] + b"".join(chunks) + data[at:]


@pytest.fixture
def make_png(tmp_path: Path) -> Callable[..., Path]:
    """A PNG with the given text chunks, then ``raw`` chunks, then IDAT."""

    def make(
        texts: dict[str, str] | None = None,
        *,
        itxt: dict[str, str] | None = None,
        raw: tuple[bytes, ...] = (),
        name: str = "image.png",
    ) -> Path:
        info = PngImagePlugin.PngInfo()
        for key, value in (texts or {}).items():
            info.add_text(key, value)
        for key, value in (itxt or {}).items():
            info.add_itxt(key, value)
        buf = io.BytesIO()
        Image.new("RGB", (16, 16), "green").save(buf, "PNG", pnginfo=info)
        path = tmp_path / name
        path.write_bytes(_insert_before_idat(buf.getvalue(), *raw))
        return path

    return make


_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"


@pytest.fixture
def make_jpeg(tmp_path: Path) -> Callable[..., Path]:
    """A JPEG with optional EXIF (Pillow) and hand-built APPn/COM segments."""

    def make(
        *,
        exif: Image.Exif | None = None,
        xmp: bytes | None = None,
        segments: tuple[bytes, ...] = (),
        name: str = "image.jpg",
    ) -> Path:
        buf = io.BytesIO()
        image = Image.new("RGB", (16, 16), "red")
        if exif is not None:
            image.save(buf, "JPEG", exif=exif.tobytes())
        else:
            image.save(buf, "JPEG")
        data = buf.getvalue()
        extra = list(segments)
        if xmp is not None:
            extra.insert(0, jpeg_segment(0xE1, _XMP_HEADER + xmp))
        path = tmp_path / name
        path.write_bytes(data[:2] + b"".join(extra) + data[2:])
        return path

    return make


def _sign_c2pa(data: bytes, mime: str, actions: list[dict[str, object]]) -> bytes:
    manifest = {
        "claim_generator_info": [{"name": "deepguard-test", "version": "1.0"}],
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}],
    }
    cert = (DATA / "c2pa/es256_certs.pem").read_bytes()
    key = (DATA / "c2pa/es256_private.key").read_bytes()
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", cert, key, None))
    out = io.BytesIO()
    with c2pa.Builder(manifest) as builder:
        builder.sign(signer, mime, io.BytesIO(data), out)
    return out.getvalue()


@pytest.fixture
def sign_c2pa() -> Callable[[bytes, str, list[dict[str, object]]], bytes]:
    """Signs bytes offline with the c2pa-python ES256 test certificate."""
    if not DATA.exists():
        pytest.skip("../shared/data absent")
    return _sign_c2pa
