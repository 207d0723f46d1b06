"""Drawing explicit labels on images, and writing labelled image files."""

from __future__ import annotations

import hashlib
import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, PngImagePlugin

from deepguard.config import Limits
from deepguard.errors import (
    CorruptMedia,
    DependencyError,
    LabelError,
    MediaLimitExceeded,
    UnsupportedFormat,
)
from deepguard.labels.explicit import fonts
from deepguard.labels.explicit._geometry import EDGE_POSITIONS, classify_position
from deepguard.labels.explicit.render_image import (
    POSITIONS,
    InvalidLabelStyle,
    LabelStyle,
    draw_label,
    label_overlay,
    render_image_file,
)
from media_factory import gradient

GREY = (128, 128, 128)


def _ink_rows(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, int]:
    """First and last row inside ``box`` with a text pixel at least half covered.

    White text drawn at coverage c onto the box (black, alpha 170) and then
    composited over grey 128 gives 255c * A + 128 (1 - A), A = (170 + 85c)/255:
    about 127.6 at half coverage, 43 for the bare box.
    """
    region = np.asarray(image.crop(box).convert("L"))
    rows = np.flatnonzero((region >= 126).any(axis=1))
    return int(rows[0]), int(rows[-1])


@pytest.mark.parametrize("ratio", [0.05, 0.06, 0.083, 0.12])
@pytest.mark.parametrize(
    ("size", "text"),
    [((640, 480), "AI生成"), ((480, 800), "AI-generated"), ((1000, 300), "AI合成")],
)
def test_text_pixels_are_at_least_the_ratio_of_the_shortest_side(
    ratio: float, size: tuple[int, int], text: str
) -> None:
    image = Image.new("RGB", size, GREY)
    placement = draw_label(image, LabelStyle(text=text, height_ratio=ratio))
    top, bottom = _ink_rows(image, placement.box)
    measured = bottom - top + 1
    assert measured >= math.ceil(ratio * min(size))
    assert placement.text_height_px >= ratio * min(size)
    # Not wildly over either: the font is fitted to the glyphs, not guessed.
    assert placement.text_height_px <= math.ceil(ratio * min(size)) + 2


@pytest.mark.parametrize("position", POSITIONS)
def test_every_named_position_is_an_edge_or_corner(position: str) -> None:
    image = Image.new("RGB", (800, 600), GREY)
    style = LabelStyle(position=position)  # type: ignore[arg-type]
    placement = draw_label(image, style)
    x0, y0, x1, y1 = placement.box
    assert 0 <= x0 < x1 <= 800 and 0 <= y0 < y1 <= 600
    assert classify_position(placement.box, 800, 600) == position
    assert placement.position == position


def test_pixels_outside_the_label_are_untouched() -> None:
    base = gradient(320, 240)
    image = base.copy()
    placement = draw_label(image, LabelStyle(position="top-right"))
    before, after = np.asarray(base).copy(), np.asarray(image).copy()
    x0, y0, x1, y1 = placement.box
    before[y0:y1, x0:x1] = 0
    after[y0:y1, x0:x1] = 0
    assert np.array_equal(before, after)
    assert not np.array_equal(np.asarray(base), np.asarray(image))


def test_overlay_patch_matches_direct_drawing() -> None:
    direct = Image.new("RGB", (400, 300), GREY)
    placement = draw_label(direct, LabelStyle())
    patch, where = label_overlay((400, 300), LabelStyle())
    pasted = Image.new("RGB", (400, 300), GREY)
    pasted.paste(patch, where.box[:2], patch)
    assert where == placement
    diff = np.abs(np.asarray(direct, np.int16) - np.asarray(pasted, np.int16))
    assert diff.max() <= 2  # alpha rounding only


@pytest.mark.parametrize("ratio", [0.0, 0.03, 0.049, float("nan"), 0.6])
def test_ratios_below_five_percent_are_refused(ratio: float) -> None:
    with pytest.raises(InvalidLabelStyle) as info:
        LabelStyle(height_ratio=ratio)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, LabelError)


@pytest.mark.parametrize(
    "text", ["Hello", "生成", "AI", "人工智能", "Not AI-generated"]
)
def test_text_without_both_elements_is_refused(text: str) -> None:
    with pytest.raises(InvalidLabelStyle, match="generation element"):
        LabelStyle(text=text)


def test_label_text_must_be_one_line() -> None:
    with pytest.raises(InvalidLabelStyle, match="single line"):
        LabelStyle(text="AI\n生成")


def test_label_too_wide_for_the_image_is_refused() -> None:
    image = Image.new("RGB", (200, 600), GREY)
    with pytest.raises(InvalidLabelStyle, match="shorter text"):
        draw_label(image, LabelStyle(text="本内容由人工智能生成", height_ratio=0.12))


def test_side_label_that_would_cross_the_middle_is_refused() -> None:
    image = Image.new("RGB", (600, 600), GREY)
    style = LabelStyle(text="本内容由人工智能生成", position="left", height_ratio=0.08)
    with pytest.raises(InvalidLabelStyle, match="reaches the middle"):
        draw_label(image, style)
    draw_label(image, LabelStyle(text=style.text, position="bottom", height_ratio=0.08))


def test_tiny_images_get_a_readable_minimum_height() -> None:
    image = Image.new("RGB", (160, 120), GREY)
    placement = draw_label(image, LabelStyle(text="AI生成"))
    assert placement.text_height_px >= 10


def test_missing_font_raises_dependency_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(fonts, "KNOWN_FONT_PATHS", (tmp_path / "none.ttc",))
    monkeypatch.setattr(fonts, "_fontconfig_match", lambda: None)
    with pytest.raises(DependencyError, match="fonts-wqy-microhei"):
        fonts.find_font()
    with pytest.raises(DependencyError, match="fonts-wqy-microhei"):
        draw_label(Image.new("RGB", (300, 200)), LabelStyle())


def test_a_latin_only_font_is_not_taken_for_chinese(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    latin = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if not latin.is_file():
        pytest.skip("DejaVu Sans is not installed")
    monkeypatch.setattr(fonts, "KNOWN_FONT_PATHS", (latin,))
    monkeypatch.setattr(fonts, "_fontconfig_match", lambda: latin)
    with pytest.raises(DependencyError, match="no installed font"):
        fonts.find_font()
    assert fonts.find_font(text="AI-generated").path == latin
    with pytest.raises(DependencyError, match="no glyphs"):
        fonts.find_font(latin)


def test_explicit_font_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(DependencyError, match="not found"):
        fonts.find_font(tmp_path / "missing.ttf")


# --------------------------------------------------------------------- files


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _jpeg_with_metadata(path: Path) -> bytes:
    image = gradient(320, 200)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    exif[0x010F] = "deepguard-test"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><AIGC>{"Label":"1"}</AIGC></x:xmpmeta>'
    image.save(path, "JPEG", exif=exif.tobytes(), icc_profile=icc, xmp=xmp)
    return icc


def test_jpeg_keeps_format_metadata_and_is_stored_upright(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jpg", tmp_path / "out.jpg"
    icc = _jpeg_with_metadata(src)
    digest = _sha(src)
    result = render_image_file(src, dst, style=LabelStyle(position="top-left"))
    assert _sha(src) == digest
    assert result.format == "JPEG"
    with Image.open(dst) as out:
        assert out.format == "JPEG"
        assert out.size == (200, 320)  # rotated by EXIF, then stored upright
        exif = out.getexif()
        assert 0x0112 not in exif
        assert exif[0x010F] == "deepguard-test"
        assert out.info["icc_profile"] == icc
        assert b'{"Label":"1"}' in out.info["xmp"]
    assert result.placement.height_ratio >= 0.06


def test_png_text_chunks_and_alpha_survive(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    image = gradient(300, 200).convert("RGBA")
    image.putalpha(200)
    info = PngImagePlugin.PngInfo()
    info.add_text("AIGC", '{"AIGC":{"Label":"1"}}')
    info.add_itxt("Description", "生成的图片")
    image.save(src, "PNG", pnginfo=info)
    render_image_file(src, dst)
    with Image.open(dst) as out:
        assert out.format == "PNG"
        assert out.mode == "RGBA"
        assert out.text["AIGC"] == '{"AIGC":{"Label":"1"}}'
        assert out.text["Description"] == "生成的图片"
        assert out.getpixel((5, 5))[3] == 200


@pytest.mark.parametrize(("fmt", "suffix"), [("WEBP", ".webp"), ("TIFF", ".tif")])
def test_other_formats_are_rewritten_in_their_own_format(
    fmt: str, suffix: str, tmp_path: Path
) -> None:
    src, dst = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    gradient(320, 240).save(src, fmt)
    result = render_image_file(src, dst)
    with Image.open(dst) as out:
        assert out.format == fmt
        assert out.size == (320, 240)
    assert result.frames == 1


def test_every_frame_of_an_animation_is_labelled(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.gif", tmp_path / "out.gif"
    frames = [gradient(320, 240, seed=i) for i in range(3)]
    frames[0].save(
        src, save_all=True, append_images=frames[1:], duration=[100, 200, 300]
    )
    result = render_image_file(src, dst, style=LabelStyle(position="top-left"))
    assert result.frames == 3
    with Image.open(dst) as out:
        assert out.n_frames == 3
        box = result.placement.box
        durations = []
        for k in range(3):
            out.seek(k)
            durations.append(out.info["duration"])
            region = np.asarray(out.convert("RGB").crop(box))
            # White text in every frame (GIF palettes shift colours a little).
            assert (region.max(axis=2) > 180).any()
            assert (region.max(axis=2) < 60).any()  # on the dark box
        assert durations == [100, 200, 300]


def test_failed_render_leaves_no_output(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    gradient(90, 40).save(src)
    with pytest.raises(InvalidLabelStyle):
        render_image_file(src, dst, style=LabelStyle(text="本内容由人工智能生成"))
    assert not dst.exists()
    assert list(tmp_path.iterdir()) == [src]


def test_bad_inputs_give_one_line_deepguard_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(UnsupportedFormat):
        render_image_file(text, tmp_path / "a.png")
    buf = io.BytesIO()
    gradient(300, 300).save(buf, "PNG")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(buf.getvalue()[:200])
    with pytest.raises(CorruptMedia) as info:
        render_image_file(truncated, tmp_path / "b.png")
    assert "cut.png" in str(info.value)
    assert "\n" not in str(info.value)
    big = tmp_path / "big.png"
    gradient(300, 300).save(big)
    with pytest.raises(MediaLimitExceeded):
        render_image_file(big, tmp_path / "c.png", limits=Limits(max_pixels=1000))
    assert not (tmp_path / "c.png").exists()


def test_positions_reported_by_geometry_are_the_edge_set() -> None:
    assert set(POSITIONS) == EDGE_POSITIONS


@pytest.mark.parametrize("mode", ["L", "CMYK"])
def test_grey_and_cmyk_images_stay_in_their_colour_space(
    mode: str, tmp_path: Path
) -> None:
    src, dst = tmp_path / "in.jpg", tmp_path / "out.jpg"
    gradient(320, 240).convert(mode).save(src, "JPEG")
    render_image_file(src, dst)
    with Image.open(dst) as out:
        assert out.mode == mode
