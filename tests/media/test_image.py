from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepguard.config import Limits
from deepguard.errors import CorruptMedia, MediaLimitExceeded
from deepguard.media.image import image_size, load_image
from media_factory import gradient, image_bytes


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size but holds almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    im = gradient(60, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "rotated.jpg"
    im.save(path, "JPEG", exif=exif.tobytes())
    loaded = load_image(path, limits=Limits())
    assert loaded.size == (30, 60)
    assert loaded.mode == "RGB"


def test_thumbnail_decode(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    gradient(800, 600).save(path, "JPEG")
    thumb = load_image(path, limits=Limits(), max_side=100)
    assert max(thumb.size) == 100


def test_huge_png_header_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_claiming(50_000, 50_000))
    with pytest.raises(MediaLimitExceeded) as info:
        image_size(path, limits=Limits())
    assert info.value.limit == "max_pixels"
    assert str(info.value).startswith(f"{path}: image is 50000x50000")


def test_truncated_jpeg_and_png(tmp_path: Path) -> None:
    for fmt in ("JPEG", "PNG"):
        data = image_bytes(fmt, size=(128, 128))
        path = tmp_path / f"cut.{fmt.lower()}"
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(CorruptMedia) as info:
            load_image(path, limits=Limits())
        assert str(info.value).startswith(str(path))
        assert "\n" not in str(info.value)


def test_pixels_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    im = gradient(32, 16)
    im.save(path)
    assert np.array_equal(np.asarray(load_image(path, limits=Limits())), np.asarray(im))


def test_heic_opens(shared_data: Path) -> None:
    assert image_size(shared_data / "media" / "sample1.heic", limits=Limits())[:2] == (
        1440,
        960,
    )


def test_palette_with_transparency_decodes_without_a_warning(tmp_path: Path) -> None:
    # A GIF-style palette image whose transparency is a byte string: Pillow
    # warns on a direct RGB conversion, and the suite turns warnings into errors.
    palette = Image.new("P", (40, 30))
    palette.putpalette([i % 256 for i in range(768)])
    palette.paste(7, (0, 0, 20, 30))
    palette.info["transparency"] = bytes([0] * 7 + [255] * 249)
    path = tmp_path / "pal.png"
    palette.save(path, transparency=palette.info["transparency"])
    rgb = load_image(path, limits=Limits())
    assert rgb.mode == "RGB" and rgb.size == (40, 30)
