"""Third-party marks: Stable Diffusion's dwtDct words, TrustMark, VideoSeal, AudioSeal.

The Stable Diffusion marks are embedded with invisible-watermark's own
encoder (its ``maxDct.py`` loaded by file path: the package's ``__init__``
needs PyTorch) exactly as the reference pipelines call it, and read back by
deepguard's decoder. TrustMark's decoder runs on a small ONNX graph built
here byte by byte (``onnx`` is not a dependency); its packets are vectors
produced by Adobe's reference ``DataLayer``.
"""

from __future__ import annotations

import importlib.util
import io
import os
import struct
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
import pywt
from PIL import Image, ImageDraw

from deepguard.config import Limits
from deepguard.errors import (
    ConfigError,
    DeepguardError,
    DependencyError,
    WatermarkError,
)
from deepguard.media.image import load_image
from deepguard.watermark.base import Status
from deepguard.watermark.thirdparty import (
    SD_MARKS,
    ModelDetectorConfig,
    ThirdPartyDetector,
    _dwtdct,
    check_model_file,
    detect_sd_marks,
    detect_third_party,
    load_model_detector,
)
from deepguard.watermark.thirdparty._torch import (
    audioseal_detection,
    videoseal_detection,
)
from deepguard.watermark.thirdparty.models import parse_bits
from deepguard.watermark.thirdparty.sd_marks import TRIALS, binomial_tail
from deepguard.watermark.thirdparty.trustmark import (
    SCHEMAS,
    TrustMarkDetector,
    decode_packet,
)
from media_factory import gradient

Rgb = npt.NDArray[np.uint8]
MARKS = {mark.method: mark for mark in SD_MARKS}

# How the reference pipelines hand images to the encoder: (channel order,
# dtype). SD v1/v2 scripts convert to BGR uint8; SDXL pipelines pass float32;
# some pipelines pass the RGB array as if it were BGR.
PIPELINES = (("bgr", "uint8"), ("bgr", "float"), ("rgb", "uint8"))

PHOTOS = (
    "faces/test/alex_lacamoire1.jpg",
    "faces/test/johnsnow_test1.jpg",
    "faces/test/kit_with_rose.jpg",
    "faces/test/obama1.jpg",
    "faces/test/obama_and_biden.jpg",
    "faces/extra_obama3.jpg",
    "faces/extra_two_people.jpg",
    "media/P1000827.jpg",
    "media/prerelease.jpg",
)


# --- invisible-watermark's encoder, as the SD pipelines use it --------------


def sd_embed(
    max_dct: ModuleType, rgb: Rgb, bits: tuple[int, ...], order: str, dtype: str
) -> Rgb:
    """Mark ``rgb`` the way the reference pipelines do, returning RGB uint8."""
    array = np.ascontiguousarray(rgb[:, :, ::-1] if order == "bgr" else rgb)
    if dtype == "float":
        array = array.astype(np.float32)  # SDXL: float input, saved as uint8
    encoder = max_dct.EmbedMaxDct(list(bits), wmLen=len(bits))
    marked = np.clip(encoder.encode(array), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(marked[:, :, ::-1] if order == "bgr" else marked)


def jpeg(rgb: Rgb, quality: int) -> Rgb:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))


def load_photo(path: Path, max_side: int = 1024) -> Rgb:
    image = Image.open(path).convert("RGB")
    image.thumbnail((max_side, max_side))
    return np.asarray(image)


@pytest.fixture(scope="module")
def photos(shared_data: Path) -> dict[str, Rgb]:
    return {name: load_photo(shared_data / name) for name in PHOTOS}


def by_method(detections: list[Any]) -> dict[str, Any]:
    return {d.method: d for d in detections}


# --- Stable Diffusion marks -----------------------------------------------------


def test_words_are_the_reference_words() -> None:
    assert MARKS["sd-v1"].n_bits == 136 and MARKS["sd-2"].n_bits == 32
    assert np.packbits(MARKS["sd-v1"].bits).tobytes() == b"StableDiffusionV1"
    assert np.packbits(MARKS["sd-2"].bits).tobytes() == b"SDV2"
    sdxl = int("".join(map(str, MARKS["sdxl"].bits)), 2)
    assert sdxl == 0xB3EC907BB19E and MARKS["sdxl"].n_bits == 48
    assert MARKS["sdxl"].script_threshold == 36


def test_haar_approximation_matches_pywavelets() -> None:
    """Both conventions' cA agree with PyWavelets on OpenCV's U plane.

    The 8-bit one bit for bit, so that votes on a residue of exactly 18 and
    ties on plateaus fall as in the reference decoder.
    """
    rgb = np.array(gradient(203, 157, seed=3))
    rgb[40:100, 20:140] = (200, 180, 90)  # a plateau of equal values
    for order in _dwtdct.Order:
        bgr = np.ascontiguousarray(
            rgb[:, :, ::-1] if order is _dwtdct.Order.BGR else rgb
        )
        u8 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV)[:156, :200, 1]
        exact = pywt.dwt2(u8, "haar")[0]
        np.testing.assert_array_equal(_dwtdct._rounded_approximation(rgb, order), exact)
        yuv = cv2.cvtColor(bgr.astype(np.float32), cv2.COLOR_BGR2YUV)
        expected = pywt.dwt2(yuv[:156, :200, 1].astype(np.float64), "haar")[0]
        ours = _dwtdct._float_approximation(_dwtdct._cell_sums(rgb), order)
        np.testing.assert_allclose(ours, expected, atol=2e-3)


def test_binomial_tail_is_exact() -> None:
    assert binomial_tail(48, 48) == 2.0**-48
    assert binomial_tail(0, 10) == 1.0
    assert binomial_tail(36, 48) == pytest.approx(3.586e-4, rel=1e-3)
    assert TRIALS == 48


@pytest.fixture(scope="module")
def marked_photos(
    max_dct: ModuleType, photos: dict[str, Rgb]
) -> dict[tuple[str, str, str, str], Rgb]:
    """Every photo marked with every word through every pipeline, made once."""
    return {
        (name, mark.method, order, dtype): sd_embed(
            max_dct, rgb, mark.bits, order, dtype
        )
        for name, rgb in photos.items()
        for mark in SD_MARKS
        for order, dtype in PIPELINES
    }


@pytest.mark.shared_data
@pytest.mark.parametrize(("order", "dtype"), PIPELINES)
def test_each_mark_found_in_real_photos(
    marked_photos: dict[tuple[str, str, str, str], Rgb], order: str, dtype: str
) -> None:
    for (name, method, *pipeline), marked in marked_photos.items():
        if tuple(pipeline) != (order, dtype):
            continue
        found = by_method(detect_sd_marks(marked))
        assert found[method].present, (name, method)
        assert found[method].p_value <= 1e-6
        others = [m for m, d in found.items() if d.present and m != method]
        assert others == [], (name, method, others)


@pytest.mark.shared_data
def test_script_reading_agrees_with_the_reference_decoder(
    max_dct: ModuleType, marked_photos: dict[tuple[str, str, str, str], Rgb]
) -> None:
    """``script_matching_bits`` is exactly what invisible-watermark's decoder says."""
    for (name, method, *pipeline), marked in marked_photos.items():
        mark = MARKS[method]
        reference = max_dct.EmbedMaxDct([], wmLen=mark.n_bits).decode(
            np.ascontiguousarray(marked[:, :, ::-1])
        )
        expected = int(np.count_nonzero(reference == np.asarray(mark.bits)))
        ours = by_method(detect_sd_marks(marked))[method].details
        assert ours["script_matching_bits"] == expected, (name, method, pipeline)


def test_found_in_generated_images_and_detect_third_party(max_dct: ModuleType) -> None:
    rgb = np.asarray(gradient(640, 480, seed=7))
    marked = sd_embed(max_dct, rgb, MARKS["sdxl"].bits, "bgr", "float")
    present = detect_third_party(marked)
    assert [d.method for d in present] == ["sdxl"]
    details = present[0].details
    assert details["matching_bits"] == details["total_bits"] == 48
    assert present[0].score > 5 and len(present[0].bit_confidence) == 48
    assert detect_third_party(rgb) == []


@pytest.mark.shared_data
def test_jpeg_quality_90(marked_photos: dict[tuple[str, str, str, str], Rgb]) -> None:
    """Some marks survive JPEG q90, none is ever mistaken for another.

    dwtDct lives in quantised chroma, so survival depends on the photo; the
    136-bit SD v1 word marked by a float pipeline survives in 6 of these 9.
    """
    survived: dict[tuple[str, str, str], int] = {}
    for (_, method, order, dtype), marked in marked_photos.items():
        found = by_method(detect_sd_marks(jpeg(marked, 90)))
        wrong = [m for m, d in found.items() if d.present and m != method]
        assert wrong == []
        key = (method, order, dtype)
        survived[key] = survived.get(key, 0) + found[method].present
    assert survived[("sd-v1", "bgr", "float")] >= 5
    assert survived[("sd-v1", "bgr", "uint8")] >= 2
    assert survived[("sd-v1", "rgb", "uint8")] >= 2
    for method in ("sd-2", "sdxl"):
        assert sum(n for (m, _, _), n in survived.items() if m == method) >= 2


def unmarked_images(shared_data: Path | None) -> Iterator[tuple[str, Rgb]]:
    """Real photos and generated images of many kinds, none of them marked."""
    if shared_data is not None:
        for path in sorted(shared_data.rglob("*")):
            if path.suffix.lower() in {
                ".jpg",
                ".png",
                ".webp",
                ".tif",
                ".avif",
                ".heic",
            }:
                with warnings.catch_warnings():
                    # Pillow warns converting palette PNGs with byte transparency.
                    warnings.simplefilter("ignore", UserWarning)
                    image = load_image(path, limits=Limits(), max_side=1200)
                if image.width * image.height >= 256 * 256:
                    yield path.name, np.asarray(image)
    rng = np.random.default_rng(11)
    for seed in range(12):
        size = (320 + 61 * seed, 256 + 37 * seed)
        base = np.asarray(gradient(*size, seed=seed))
        yield f"gradient-{seed}", base
        yield f"gradient-{seed}-q75", jpeg(base, 75)
    for seed in range(6):
        yield f"noise-{seed}", rng.integers(0, 256, (384, 512, 3), dtype=np.uint8)
    for value in ((0, 0, 0), (255, 255, 255), (200, 30, 40), (128, 128, 128)):
        yield f"flat-{value}", np.full((300, 400, 3), value, dtype=np.uint8)
    for seed in range(6):
        image = Image.new(
            "RGB", (512, 384), tuple(int(v) for v in rng.integers(0, 256, 3))
        )
        draw = ImageDraw.Draw(image)
        for _ in range(25):
            x, y = rng.integers(0, 512), rng.integers(0, 384)
            colour = tuple(int(v) for v in rng.integers(0, 256, 3))
            draw.rectangle(
                (x, y, x + rng.integers(8, 120), y + rng.integers(8, 90)), fill=colour
            )
            draw.text((y, x % 384), "deepguard 1234", fill=colour)
        yield f"shapes-{seed}", np.asarray(image)
        yield f"shapes-{seed}-q90", jpeg(np.asarray(image), 90)


def test_unmarked_images_never_present(request: pytest.FixtureRequest) -> None:
    try:
        shared: Path | None = request.getfixturevalue("shared_data")
    except pytest.skip.Exception:
        shared = None
    count = 0
    for name, rgb in unmarked_images(shared):
        count += 1
        for detection in detect_sd_marks(rgb):
            assert not detection.present, (name, detection.method, detection.details)
            assert detection.status is Status.ABSENT
            assert detection.p_value > 1e-6
    assert count >= (60 if shared is not None else 40)


def test_small_grey_and_bad_inputs() -> None:
    small = np.asarray(gradient(200, 200))
    for detection in detect_sd_marks(small):
        assert detection.status is Status.UNDETECTABLE
        assert "200x200" in (detection.reason or "") and "256x256" in (
            detection.reason or ""
        )
    grey = np.full((512, 512), 90, dtype=np.uint8)
    assert all("chroma" in (d.reason or "") for d in detect_sd_marks(grey))
    thin = np.zeros((4, 20000, 3), dtype=np.uint8)  # enough pixels, no 8x8 cell
    for detection in detect_sd_marks(thin):
        assert "8x8 cells" in (detection.reason or "")
    rgba = np.dstack(
        [np.asarray(gradient(300, 300)), np.full((300, 300), 255, np.uint8)]
    )
    assert all(d.status is Status.ABSENT for d in detect_sd_marks(rgba))
    with pytest.raises(WatermarkError, match="8-bit"):
        detect_sd_marks(np.zeros((300, 300, 3), dtype=np.float32))
    with pytest.raises(WatermarkError, match="shape"):
        detect_sd_marks(np.zeros((300, 300, 5), dtype=np.uint8))


def test_script_rule_is_reported_not_decisive(max_dct: ModuleType) -> None:
    """The SD script rule is reported alongside our decision, never instead."""
    rgb = np.asarray(gradient(512, 512, seed=2))
    marked = sd_embed(max_dct, rgb, MARKS["sdxl"].bits, "bgr", "uint8")
    details = by_method(detect_sd_marks(marked))["sdxl"].details
    assert details["meets_script_threshold"] is True
    assert details["script_matching_bits"] >= 36
    # A word 8 bits short of the mark: the script rule says yes, we say no.
    bits = list(MARKS["sdxl"].bits)
    for i in range(0, 48, 6):
        bits[i] = 1 - bits[i]
    near = by_method(
        detect_sd_marks(sd_embed(max_dct, rgb, tuple(bits), "bgr", "uint8"))
    )
    assert near["sdxl"].details["script_matching_bits"] == 40
    assert near["sdxl"].details["meets_script_threshold"] is True
    assert not near["sdxl"].present


# --- TrustMark ------------------------------------------------------------------

# Packets made by Adobe's reference trustmark.datalayer.DataLayer (100 bits):
# (schema, data bits, packet).
TRUSTMARK_VECTORS = (
    (
        "BCH_5",
        "1011011110011000111111000000011111011111011100000110110110111",
        "1011011110011000111111000000011111011111011100000110110110111000"
        "110010101101111010011011000010000001",
    ),
    (
        "BCH_SUPER",
        "1100101011110000111100001010101011001100",
        "1100101011110000111100001010101011001100110000100011001010011110"
        "011011010000000001110011111011000000",
    ),
    (
        "BCH_4",
        "01" * 34,
        "0101010101010101010101010101010101010101010101010101010101010101"
        "010101001000100000011110110100000010",
    ),
    (
        "BCH_3",
        "001" * 25,
        "0010010010010010010010010010010010010010010010010010010010010010"
        "010010010010011110011010010000010011",
    ),
)
TEXT_PACKET = (
    "1100100110010111001011110000110011111101011100001111001011001011"
    "100011100010111011101100101100000001"
)  # text mode, BCH_5: "deepguard"


def bits_of(text: str) -> npt.NDArray[np.uint8]:
    return np.array([int(c) for c in text], dtype=np.uint8)


@pytest.mark.parametrize(("schema", "data", "packet"), TRUSTMARK_VECTORS)
def test_trustmark_packets_decode_and_correct(
    schema: str, data: str, packet: str
) -> None:
    clean = decode_packet(bits_of(packet))
    assert clean is not None and clean.schema.name == schema and clean.data == data
    assert clean.corrected == 0 and clean.version_field_exact
    t = next(s.t for s in SCHEMAS if s.name == schema)
    noisy = bits_of(packet)
    rng = np.random.default_rng(len(data))
    flips = rng.choice(len(data), size=t, replace=False)
    noisy[flips] ^= 1
    fixed = decode_packet(noisy)
    assert fixed is not None and fixed.data == data and fixed.corrected == t
    assert fixed.p_value > clean.p_value


def test_trustmark_version_bit_flip_and_text() -> None:
    packet = bits_of(TRUSTMARK_VECTORS[0][2])
    packet[-1] ^= 1  # the version now names BCH_SUPER; BCH_5 is found anyway
    found = decode_packet(packet)
    assert found is not None and found.schema.name == "BCH_5"
    assert not found.version_field_exact
    text = decode_packet(bits_of(TEXT_PACKET))
    assert text is not None and text.text == "deepguard"
    assert decode_packet(np.ones(100, dtype=np.uint8)) is None
    with pytest.raises(WatermarkError, match="100 bits"):
        decode_packet(np.zeros(99, dtype=np.uint8))


# A minimal ONNX protobuf writer: enough for a Slice + Reshape graph.


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, value: int | bytes | str) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _tensor_type(dims: list[int | str]) -> bytes:
    shape = b"".join(
        _field(1, _field(1, d) if isinstance(d, int) else _field(2, d)) for d in dims
    )
    return _field(1, _field(1, 1) + _field(2, shape))  # float tensor of that shape


def _int64_initializer(name: str, values: list[int]) -> bytes:
    raw = struct.pack(f"<{len(values)}q", *values)
    return _field(1, len(values)) + _field(2, 7) + _field(8, name) + _field(9, raw)


def trustmark_like_model(
    size: int = 256, bits: int = 100, input_dims: list[int | str] | None = None
) -> bytes:
    """A "decoder" whose logits are the first ``bits`` red pixels of row 0."""
    nodes = _field(
        1,
        _field(1, "image")
        + _field(1, "starts")
        + _field(1, "ends")
        + _field(1, "axes")
        + _field(2, "row")
        + _field(3, "slice")
        + _field(4, "Slice"),
    ) + _field(
        1,
        _field(1, "row")
        + _field(1, "shape")
        + _field(2, "output")
        + _field(3, "flat")
        + _field(4, "Reshape"),
    )
    initializers = b"".join(
        _field(5, _int64_initializer(name, values))
        for name, values in (
            ("starts", [0, 0, 0]),
            ("ends", [1, 1, bits]),
            ("axes", [1, 2, 3]),
            ("shape", [1, bits]),
        )
    )
    dims = input_dims or [1, 3, size, size]
    graph = (
        nodes
        + _field(2, "trustmark-like")
        + initializers
        + _field(11, _field(1, "image") + _field(2, _tensor_type(dims)))
        + _field(12, _field(1, "output") + _field(2, _tensor_type([1, bits])))
    )
    return _field(1, 8) + _field(7, graph) + _field(8, _field(1, "") + _field(2, 13))


def packet_image(packet: str, size: int = 256, width: int | None = None) -> Rgb:
    """An image whose first row spells ``packet`` in red (255 = 1, 0 = 0)."""
    width = width or size
    rgb = np.full((size, width, 3), 128, dtype=np.uint8)
    left = (width - size) // 2
    rgb[:, left : left + 100, 0] = np.array([255 if c == "1" else 0 for c in packet])
    return rgb


@pytest.fixture
def trustmark_model(tmp_path: Path) -> Path:
    path = tmp_path / "decoder_Q.onnx"
    path.write_bytes(trustmark_like_model())
    return path


def test_trustmark_detector_runs_an_onnx_decoder(trustmark_model: Path) -> None:
    config = ModelDetectorConfig("trustmark", trustmark_model)
    detector = load_model_detector(config)
    assert isinstance(detector, TrustMarkDetector) and detector.size == 256
    found = detector.detect(packet_image(TEXT_PACKET))
    assert found.present and found.method == "trustmark"
    assert found.details["schema"] == "BCH_5" and found.details["text"] == "deepguard"
    assert found.p_value < 1e-9
    # A wide image is centre-cropped to a square first, as TrustMark does.
    wide = packet_image(TRUSTMARK_VECTORS[1][2], width=600)
    wide[:, :100] = 255 - wide[:, :100]
    assert detector.detect(wide).details["data_bits"] == TRUSTMARK_VECTORS[1][1]
    # Black: the decoder "reads" all zeros, a codeword, and it is refused.
    black = detector.detect(np.zeros((300, 300, 3), dtype=np.uint8))
    assert not black.present and "all-zero" in black.details["reason"]
    grey = detector.detect(np.full((300, 300, 3), 200, dtype=np.uint8))
    assert grey.status is Status.ABSENT
    assert detector.detect(np.zeros((8, 8, 3), np.uint8)).status is Status.UNDETECTABLE
    both = ThirdPartyDetector.from_configs([config]).detect_image(
        packet_image(TEXT_PACKET)
    )
    assert [d.method for d in both] == ["trustmark"]


def test_trustmark_symbolic_input_and_p_variant(tmp_path: Path) -> None:
    path = tmp_path / "decoder_P.onnx"
    path.write_bytes(trustmark_like_model(input_dims=["batch", 3, "h", "w"]))
    detector = load_model_detector(ModelDetectorConfig("trustmark", path, variant="P"))
    assert isinstance(detector, TrustMarkDetector) and detector.size == 224
    found = detector.detect(packet_image(TRUSTMARK_VECTORS[0][2], size=224))
    assert found.present and found.details["data_bits"] == TRUSTMARK_VECTORS[0][1]


def one_line(error: DeepguardError) -> str:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_trustmark_bad_model_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "decoder_Q.onnx"
    with pytest.raises(ConfigError) as info:
        load_model_detector(ModelDetectorConfig("trustmark", missing))
    text = one_line(info.value)
    assert str(missing) in text and "never downloads" in text
    assert (
        "https://cai-watermark.adobe.net/watermarking/trustmark-models/decoder_Q.onnx"
        in text
    )
    assert "watermark.trustmark_model" in text
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(ConfigError, match="not a valid ONNX model") as info:
        load_model_detector(ModelDetectorConfig("trustmark", garbage))
    assert str(garbage) in one_line(info.value)
    wrong = tmp_path / "wrong.onnx"
    wrong.write_bytes(trustmark_like_model(bits=10))
    with pytest.raises(ConfigError, match="outputs 10 bits") as info:
        load_model_detector(ModelDetectorConfig("trustmark", wrong))
    one_line(info.value)
    empty = tmp_path / "empty.onnx"
    empty.touch()
    with pytest.raises(ConfigError, match="is empty"):
        load_model_detector(ModelDetectorConfig("trustmark", empty))
    with pytest.raises(ConfigError, match="not a regular file"):
        check_model_file(ModelDetectorConfig("trustmark", tmp_path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_model_file(trustmark_model: Path) -> None:
    trustmark_model.chmod(0)
    try:
        with pytest.raises(ConfigError, match="not readable"):
            check_model_file(ModelDetectorConfig("trustmark", trustmark_model))
    finally:
        trustmark_model.chmod(0o600)


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="unknown watermark model kind"):
        ModelDetectorConfig("stegastamp", Path("x"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="TrustMark variant"):
        ModelDetectorConfig("trustmark", Path("x"), variant="Z")
    with pytest.raises(ConfigError, match="neither"):
        ModelDetectorConfig("videoseal", Path("x"), expected_message="12ab")
    assert parse_bits("0x0f").tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert parse_bits(" 0110 ").tolist() == [0, 1, 1, 0]


# --- VideoSeal and AudioSeal ------------------------------------------------------


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


@pytest.mark.skipif(torch_installed(), reason="PyTorch is installed here")
@pytest.mark.parametrize("kind", ["videoseal", "audioseal"])
def test_torch_models_without_torch(tmp_path: Path, kind: Any) -> None:
    model = tmp_path / "model.jit"
    model.write_bytes(b"PK\x03\x04 not really a model")
    with pytest.raises(DependencyError, match="needs PyTorch") as info:
        load_model_detector(ModelDetectorConfig(kind, model))
    assert "VideoSeal" in one_line(info.value) or "AudioSeal" in str(info.value)


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("videoseal", "https://dl.fbaipublicfiles.com/videoseal/y_256b_img.jit"),
        ("audioseal", "https://huggingface.co/facebook/audioseal"),
    ],
)
def test_torch_models_missing_file(tmp_path: Path, kind: Any, url: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_model_detector(ModelDetectorConfig(kind, tmp_path / "absent.jit"))
    text = one_line(info.value)
    assert url in text and f"watermark.{kind}_model" in text


def test_videoseal_decision() -> None:
    rng = np.random.default_rng(5)
    message = rng.integers(0, 2, 256).astype(np.uint8)
    logits = np.where(message == 1, 3.0, -3.0) + rng.normal(0, 0.5, 256)
    preds = np.concatenate([[0.0], logits])[np.newaxis]
    found = videoseal_detection(preds, message)
    assert found.present and found.details["matching_bits"] == 256
    maps = np.repeat(np.repeat(preds[:, :, None, None], 4, axis=2), 4, axis=3)
    assert videoseal_detection(maps, message).present
    other = rng.integers(0, 2, 256).astype(np.uint8)
    assert videoseal_detection(preds, other).status is Status.ABSENT
    unknown = videoseal_detection(preds, None)
    assert unknown.status is Status.UNDETECTABLE and "expected message" in (
        unknown.reason or ""
    )
    assert unknown.details["decoded_bits"] == "".join(map(str, message))
    with pytest.raises(WatermarkError, match="bits but the model decodes"):
        videoseal_detection(preds, message[:16])
    with pytest.raises(WatermarkError, match="shape"):
        videoseal_detection(np.zeros((2, 3)), None)


def test_audioseal_decision() -> None:
    frames = np.zeros((1, 2, 1000))
    frames[0, 1, :800] = 0.9  # 80 % of the frames flagged
    frames[0, 0] = 1 - frames[0, 1]
    message = np.array([[0.9, 0.1] * 8])
    found = audioseal_detection(frames, message, None)
    assert found.present and found.score == pytest.approx(0.8)
    assert found.details["decoded_bits"] == "10" * 8 and found.p_value == 1.0
    quiet = frames.copy()
    quiet[0, 1, 300:] = 0.1
    assert not audioseal_detection(quiet, message, None).present
    wrong_message = audioseal_detection(frames, message, bits_of("01" * 8), fpr=1e-3)
    assert not wrong_message.present and wrong_message.details["matching_bits"] == 0
    with pytest.raises(WatermarkError, match="frame probabilities"):
        audioseal_detection(np.zeros((1, 3, 10)), message, None)
