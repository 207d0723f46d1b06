"""Images, attacks and metrics for the image watermark benchmark.

Why a fixed, seeded corpus: robustness numbers move a lot with content (flat
skies hide nothing, foliage hides a lot), so every method must see exactly the
same pixels and every run must see the same ones as the last, or a ratio
between two runs means nothing. The corpus mixes three kinds of content:

* scikit-image's bundled pictures (the ones that load without a download);
* the real photos in ``../shared/data`` (``media/`` and ``faces/``), decoded
  the way deepguard decodes uploads (:func:`deepguard.media.image.load_image`);
* crops and resizes of those at the sizes platforms serve (256x256 up to
  1080p), plus generated pictures (gradients, shapes, noise textures, text)
  that look like the synthetic content a provider marks.

Attacks are pure functions of the image and a seeded generator, so every
method faces the same random crop offsets and noise.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageEnhance, ImageFont
from skimage.metrics import structural_similarity

from deepguard.config import Limits
from deepguard.errors import DeepguardError
from deepguard.media.image import load_image

RGB = npt.NDArray[np.uint8]
Bits = npt.NDArray[np.uint8]
Attack = Callable[[RGB, np.random.Generator], RGB]

STANDARD_SIZES: tuple[tuple[int, int], ...] = (
    (256, 256),
    (512, 384),
    (640, 480),
    (1280, 720),
    (1920, 1080),
)
"""Width x height of the derived images: thumbnails up to full-HD frames."""
SIZE_WEIGHTS = (0.22, 0.24, 0.24, 0.18, 0.12)
"""Fewer large images: they cost the most to mark, attack and read."""
MAX_SIDE = 1920
"""Native-size images are shrunk to this long side: 1080p is the target."""
MIN_SIDE = 128
"""Pictures with a shorter side are skipped: no mark can live in them."""
MAX_UPSCALE = 2.5
"""A crop is never blown up by more than this to reach its target size."""
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".gif", ".heic", ".heif"}
    | {".avif"}
)
_SKIMAGE_NOT_IMAGES = frozenset(
    {"download_all", "file_hash", "lbp_frontal_face_cascade_filename", "lfw_subset"}
)
"""skimage.data entries that are not pictures: utilities, a path, 25x25 face stacks."""


@dataclass(frozen=True, slots=True)
class Source:
    """A picture the corpus is derived from, in RGB."""

    name: str
    rgb: RGB


@dataclass(frozen=True, slots=True)
class Sample:
    """One image of the corpus; ``name`` says where it came from and its size."""

    name: str
    rgb: RGB

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]


# -- sources ------------------------------------------------------------------


def _to_rgb(array: npt.NDArray[np.generic]) -> RGB | None:
    """Any bundled picture as HxWx3 uint8, or None when it is not a picture."""
    if array.dtype == np.bool_:
        return None  # binary masks (horse, binary_blobs) are not photographs
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        return None  # a disparity map with unknown pixels, not a picture
    if array.ndim == 3 and array.shape[2] == 4:
        rgba = Image.fromarray(np.asarray(array, dtype=np.uint8), "RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        array = np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3:
        return None
    if array.dtype != np.uint8:
        lo, hi = float(array.min()), float(array.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        array = np.round((array.astype(np.float64) - lo) * scale).astype(np.uint8)
    return np.ascontiguousarray(array, dtype=np.uint8)


def skimage_sources() -> tuple[list[Source], dict[str, str]]:
    """Every scikit-image picture that loads offline, and why others were skipped.

    Pictures that scikit-image fetches with pooch on first use raise here
    (pooch is absent or the network is): they are skipped, so the corpus never
    depends on a download.
    """
    import skimage.data

    sources: list[Source] = []
    skipped: dict[str, str] = {}
    for name in sorted(skimage.data.__all__):
        if name in _SKIMAGE_NOT_IMAGES:
            continue
        loader = getattr(skimage.data, name)
        if not callable(loader):
            continue
        try:
            loaded = loader()
        except Exception as exc:  # pooch missing, no network, broken file
            skipped[name] = f"needs a download ({type(exc).__name__})"
            continue
        parts = loaded if isinstance(loaded, tuple) else (loaded,)
        for i, part in enumerate(parts):
            label = name if len(parts) == 1 else f"{name}[{i}]"
            rgb = _to_rgb(np.asarray(part)) if isinstance(part, np.ndarray) else None
            if rgb is None:
                skipped[label] = "not a colour or grey picture"
            elif min(rgb.shape[:2]) < MIN_SIDE:
                skipped[label] = f"shorter side under {MIN_SIDE} px"
            else:
                sources.append(Source(f"skimage:{label}", rgb))
    return sources, skipped


def file_sources(
    root: Path, folders: tuple[str, ...] = ("media", "faces")
) -> tuple[list[Source], dict[str, str]]:
    """Decodable photos under ``root/<folder>``, read as deepguard reads uploads."""
    sources: list[Source] = []
    skipped: dict[str, str] = {}
    limits = Limits()
    for folder in folders:
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            label = f"{folder}:{path.relative_to(base).as_posix()}"
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    image = load_image(path, limits=limits, max_side=2 * MAX_SIDE)
            except DeepguardError as exc:
                skipped[label] = str(exc)
                continue
            rgb = np.asarray(image, dtype=np.uint8)
            if min(rgb.shape[:2]) < MIN_SIDE:
                skipped[label] = f"shorter side under {MIN_SIDE} px"
                continue
            sources.append(Source(label, np.ascontiguousarray(rgb)))
    return sources, skipped


def load_sources(shared: Path | None) -> tuple[list[Source], dict[str, str]]:
    """scikit-image pictures plus, when present, the shared photos."""
    sources, skipped = skimage_sources()
    if shared is not None and shared.is_dir():
        more, more_skipped = file_sources(shared)
        sources += more
        skipped.update(more_skipped)
    return sources, skipped


# -- generated pictures ---------------------------------------------------------

_WORDS = (
    *("generated", "sample", "studio", "render", "portrait", "landscape", "city"),
    *("night", "river", "market", "summer", "neon", "poster", "forest", "street"),
    *("coffee", "archive", "preview"),
)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def _colour(rng: np.random.Generator, alpha: int | None = None) -> tuple[int, ...]:
    rgb = tuple(int(v) for v in rng.integers(0, 256, size=3))
    return rgb if alpha is None else (*rgb, alpha)


def generated_image(size: tuple[int, int], seed: int) -> RGB:
    """A synthetic picture: gradient, smooth noise texture, shapes and text.

    Why these ingredients: generated content has large smooth regions (where a
    mark is easiest to see and to destroy), sharp edges and rendered text, and
    a benchmark made only of photos would flatter any method.
    """
    rng = np.random.default_rng([seed, 0x6E])
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = xx * math.cos(angle) + yy * math.sin(angle)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1.0)
    a, b = rng.uniform(0, 255, size=(2, 3)).astype(np.float32)
    canvas = a + ramp[:, :, None] * (b - a)
    cell = int(rng.integers(16, 96))
    coarse = rng.normal(0, 1, size=(height // cell + 3, width // cell + 3, 3))
    texture = cv2.resize(
        coarse.astype(np.float32),
        (width + 3 * cell, height + 3 * cell),
        interpolation=cv2.INTER_CUBIC,
    )[cell : cell + height, cell : cell + width]
    canvas += float(rng.uniform(8, 40)) * texture
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), "RGB")
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    short = min(width, height)
    for _ in range(int(rng.integers(4, 14))):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        w = int(rng.integers(short // 12, short // 2 + 2))
        h = int(rng.integers(short // 12, short // 2 + 2))
        fill = _colour(rng, int(rng.integers(120, 256)))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=fill)
        elif kind == 1:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=fill)
        else:
            points = [
                (x0 + int(rng.integers(-w, w)), y0 + int(rng.integers(-h, h)))
                for _ in range(int(rng.integers(3, 7)))
            ]
            draw.polygon(points, fill=fill)
    for _ in range(int(rng.integers(1, 5))):
        words = " ".join(str(w) for w in rng.choice(_WORDS, size=3))
        font = _font(int(short * rng.uniform(0.04, 0.12)))
        xy = (int(rng.integers(0, width * 3 // 4)), int(rng.integers(0, height - 8)))
        draw.text(xy, words, font=font, fill=_colour(rng, 255))
    image = Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")
    grain = rng.normal(0, 2.0, size=(height, width, 3))
    return np.clip(np.asarray(image, np.float64) + grain, 0, 255).astype(np.uint8)


# -- the corpus ---------------------------------------------------------------


def _resize(rgb: RGB, size: tuple[int, int]) -> RGB:
    """Pillow bicubic (antialiased when shrinking), what most pipelines use."""
    if (rgb.shape[1], rgb.shape[0]) == size:
        return rgb
    image = Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.uint8)


def native(source: Source) -> RGB:
    """The source at its own size, long side capped at :data:`MAX_SIDE`."""
    h, w = source.rgb.shape[:2]
    scale = min(1.0, MAX_SIDE / max(w, h))
    return _resize(source.rgb, (round(w * scale), round(h * scale)))


def crop_to(source: RGB, size: tuple[int, int], rng: np.random.Generator) -> RGB | None:
    """A random crop with the aspect of ``size``, resized to it; None if too small."""
    height, width = source.shape[:2]
    tw, th = size
    if th > tw and width > height:
        return None  # keep portrait targets for portrait sources only
    aspect = tw / th
    max_w = min(float(width), height * aspect)
    lowest = max(0.35, tw / (MAX_UPSCALE * max_w))
    if lowest > 1.0:
        return None
    cw = max_w * float(rng.uniform(lowest, 1.0))
    ch = cw / aspect
    cwi, chi = max(1, round(cw)), max(1, round(ch))
    x0 = int(rng.integers(0, width - cwi + 1))
    y0 = int(rng.integers(0, height - chi + 1))
    return _resize(source[y0 : y0 + chi, x0 : x0 + cwi], size)


def build_dataset(n: int, seed: int, sources: list[Source]) -> list[Sample]:
    """``n`` distinct images: native sources, generated pictures, crops and resizes.

    About a quarter are sources at native size, 15 % generated, the rest
    random crops of random sources resized to :data:`STANDARD_SIZES`; the mix
    and every choice in it follow from ``seed``.
    """
    rng = np.random.default_rng([seed, 0xDA7A])
    samples: list[Sample] = []
    seen: set[bytes] = set()

    def add(name: str, rgb: RGB) -> None:
        digest = hashlib.blake2b(rgb.tobytes(), digest_size=16).digest()
        if digest not in seen and len(samples) < n:
            seen.add(digest)
            samples.append(Sample(f"{name}@{rgb.shape[1]}x{rgb.shape[0]}", rgb))

    n_native = min(len(sources), n // 4)
    for i in sorted(rng.permutation(len(sources))[:n_native].tolist()):
        add(f"{sources[i].name}#native", native(sources[i]))
    n_generated = max(2, n * 15 // 100)
    for i in range(n_generated):
        size = STANDARD_SIZES[int(rng.choice(len(STANDARD_SIZES), p=SIZE_WEIGHTS))]
        add(f"generated#{i}", generated_image(size, seed * 1_000_003 + i))
    order = rng.permutation(len(sources)).tolist() if sources else []
    cursor = 0
    for attempt in range(50 * n):
        if len(samples) >= n or not sources:
            break
        size = STANDARD_SIZES[int(rng.choice(len(STANDARD_SIZES), p=SIZE_WEIGHTS))]
        if rng.random() < 0.15:
            size = (size[1], size[0])  # some portrait crops
        for _ in range(len(sources)):  # the next source that is large enough
            source = sources[order[cursor % len(sources)]]
            cursor += 1
            rgb = crop_to(source.rgb, size, rng)
            if rgb is not None:
                add(f"{source.name}#crop{attempt}", rgb)
                break
    while len(samples) < n:  # no sources at all: generated pictures only
        size = STANDARD_SIZES[len(samples) % len(STANDARD_SIZES)]
        add(f"generated#{len(samples)}", generated_image(size, seed + len(samples)))
    return samples


def full_hd(sources: list[Source], seed: int) -> RGB:
    """One 1920x1080 picture for timing: the first source large enough, cropped."""
    rng = np.random.default_rng([seed, 0x1080])
    for source in sources:
        h, w = source.rgb.shape[:2]
        if w >= 1280 and h >= 720 and w >= h:
            crop = crop_to(source.rgb, (1920, 1080), rng)
            if crop is not None:
                return crop
    return generated_image((1920, 1080), seed)


# -- attacks --------------------------------------------------------------------


def _encode(rgb: RGB, fmt: str, quality: int) -> RGB:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt, quality=quality)
    buf.seek(0)
    with Image.open(buf) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def jpeg(quality: int) -> Attack:
    """Pillow JPEG at ``quality`` (4:2:0 chroma, libjpeg's default tables)."""
    return lambda rgb, rng: _encode(rgb, "JPEG", quality)


def webp(quality: int) -> Attack:
    return lambda rgb, rng: _encode(rgb, "WEBP", quality)


def rescale(factor: float, fy: float | None = None) -> Attack:
    """Bicubic resize by ``factor`` (width) and ``fy`` (height, default the same)."""

    def run(rgb: RGB, rng: np.random.Generator) -> RGB:
        h, w = rgb.shape[:2]
        size = (max(1, round(w * factor)), max(1, round(h * (fy or factor))))
        return _resize(rgb, size)

    return run


def crop_area(fraction: float) -> Attack:
    """Keep ``fraction`` of the area, same aspect, at a random offset."""

    def run(rgb: RGB, rng: np.random.Generator) -> RGB:
        h, w = rgb.shape[:2]
        side = math.sqrt(fraction)
        cw, ch = max(1, round(w * side)), max(1, round(h * side))
        x0 = int(rng.integers(0, w - cw + 1))
        y0 = int(rng.integers(0, h - ch + 1))
        return np.ascontiguousarray(rgb[y0 : y0 + ch, x0 : x0 + cw])

    return run


def rotate(degrees: float) -> Attack:
    """Rotate about the centre, keep the size, fill corners by reflection."""

    def run(rgb: RGB, rng: np.random.Generator) -> RGB:
        h, w = rgb.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degrees, 1.0)
        out = cv2.warpAffine(
            rgb,
            matrix,
            (w, h),
            flags=cv2.INTER_CUBIC,
            borderMode=cv2.BORDER_REFLECT_101,
        )
        return np.asarray(out, dtype=np.uint8)

    return run


def brightness(factor: float) -> Attack:
    """Pillow brightness: every channel times ``factor``, clipped."""

    def run(rgb: RGB, rng: np.random.Generator) -> RGB:
        image = ImageEnhance.Brightness(Image.fromarray(rgb)).enhance(factor)
        return np.asarray(image, dtype=np.uint8)

    return run


def contrast(factor: float) -> Attack:
    """Pillow contrast: distance from the mean grey times ``factor``, clipped."""

    def run(rgb: RGB, rng: np.random.Generator) -> RGB:
        image = ImageEnhance.Contrast(Image.fromarray(rgb)).enhance(factor)
        return np.asarray(image, dtype=np.uint8)

    return run


def gaussian_noise(sigma: float) -> Attack:
    def run(rgb: RGB, rng: np.random.Generator) -> RGB:
        noisy = rgb.astype(np.float32) + rng.normal(0, sigma, rgb.shape)
        return np.clip(np.round(noisy), 0, 255).astype(np.uint8)

    return run


def blur(sigma: float) -> Attack:
    def run(rgb: RGB, rng: np.random.Generator) -> RGB:
        return np.asarray(cv2.GaussianBlur(rgb, (0, 0), sigmaX=sigma), np.uint8)

    return run


def screenshot(rgb: RGB, rng: np.random.Generator) -> RGB:
    """Shrink to 0.8, blow back up by 1.25 (to the original size), JPEG q80."""
    h, w = rgb.shape[:2]
    small = _resize(rgb, (max(1, round(w * 0.8)), max(1, round(h * 0.8))))
    return _encode(_resize(small, (w, h)), "JPEG", 80)


def overlay(fraction: float) -> Attack:
    """An opaque 3:1 logo box with text over ``fraction`` of the area, anywhere."""

    def run(rgb: RGB, rng: np.random.Generator) -> RGB:
        h, w = rgb.shape[:2]
        area = fraction * w * h
        bw = min(float(w), math.sqrt(area * 3.0))
        bh = min(float(h), area / bw)
        bwi, bhi = round(bw), round(bh)
        x0 = int(rng.integers(0, w - bwi + 1))
        y0 = int(rng.integers(0, h - bhi + 1))
        image = Image.fromarray(rgb)
        draw = ImageDraw.Draw(image)
        box = (x0, y0, x0 + bwi - 1, y0 + bhi - 1)
        draw.rounded_rectangle(box, radius=bhi // 5, fill=_colour(rng))
        font = _font(bhi // 3)
        draw.text(
            (x0 + bhi // 4, y0 + bhi // 3), "LOGO studio", font=font, fill="white"
        )
        return np.asarray(image, dtype=np.uint8)

    return run


def mirror(rgb: RGB, rng: np.random.Generator) -> RGB:
    return np.ascontiguousarray(rgb[:, ::-1])


def identity(rgb: RGB, rng: np.random.Generator) -> RGB:
    return rgb


@dataclass(frozen=True, slots=True)
class AttackSpec:
    name: str
    run: Attack


ATTACKS: tuple[AttackSpec, ...] = (
    AttackSpec("none", identity),
    AttackSpec("jpeg q90", jpeg(90)),
    AttackSpec("jpeg q70", jpeg(70)),
    AttackSpec("jpeg q50", jpeg(50)),
    AttackSpec("jpeg q30", jpeg(30)),
    AttackSpec("webp q50", webp(50)),
    AttackSpec("resize 0.5", rescale(0.5)),
    AttackSpec("resize 0.75", rescale(0.75)),
    AttackSpec("resize 1.5", rescale(1.5)),
    AttackSpec("crop 80% area", crop_area(0.80)),
    AttackSpec("crop 50% area", crop_area(0.50)),
    AttackSpec("crop 25% area", crop_area(0.25)),
    AttackSpec("rotate 2°", rotate(2.0)),
    AttackSpec("rotate 5°", rotate(5.0)),
    AttackSpec("brightness +30%", brightness(1.3)),
    AttackSpec("brightness -30%", brightness(0.7)),
    AttackSpec("contrast x1.5", contrast(1.5)),
    AttackSpec("noise σ5", gaussian_noise(5.0)),
    AttackSpec("noise σ10", gaussian_noise(10.0)),
    AttackSpec("blur σ1", blur(1.0)),
    AttackSpec("screenshot", screenshot),
    AttackSpec("overlay 10%", overlay(0.10)),
    AttackSpec("mirror", mirror),
    AttackSpec("aspect +10% width", rescale(1.1, 1.0)),
)
"""Every attack the robustness table has a row for, in table order."""

ATTACK_NOTES = (
    "Rotations keep the size and fill the corners by reflection "
    "(cv2 BORDER_REFLECT_101); crops keep the aspect at a seeded random offset; "
    "resizes are Pillow bicubic; JPEG/WebP are Pillow (4:2:0); brightness and "
    "contrast are Pillow ImageEnhance; screenshot = 0.8x, back to full size, "
    "JPEG q80; overlay = an opaque 3:1 logo box over 10% of the area."
)


def attack_rng(seed: int, image: int, attack: int) -> np.random.Generator:
    """The generator one attack uses on one image: the same for every method."""
    return np.random.default_rng([seed, image, attack, 0xA77])


# -- metrics --------------------------------------------------------------------


def luma(rgb: RGB) -> npt.NDArray[np.float64]:
    """BT.601 luma, the plane JPEG keeps at full resolution."""
    weights = np.array([0.299, 0.587, 0.114])
    return np.asarray(np.asarray(rgb, dtype=np.float64) @ weights, dtype=np.float64)


def psnr(reference: RGB, test: RGB) -> float:
    """PSNR over all three channels, in dB (inf when identical)."""
    diff = reference.astype(np.float64) - test.astype(np.float64)
    mse = float(np.mean(diff * diff))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def ssim_luma(reference: RGB, test: RGB) -> float:
    """SSIM of the luma planes: structure, the thing a mark must not disturb."""
    ssim = structural_similarity(  # type: ignore[no-untyped-call]
        luma(reference), luma(test), data_range=255.0
    )
    return float(ssim)


def bit_accuracy(expected: Bits, got: Bits | None) -> float:
    """Fraction of matching bits; 0.5 (a coin) when nothing was decoded."""
    if got is None or len(got) != len(expected):
        return 0.5
    return float(np.mean(np.asarray(got, np.uint8) == np.asarray(expected, np.uint8)))


def binomial_tail(n: int, k: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2): a fair coin matching k of n bits."""
    if k <= 0:
        return 1.0
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2.0**n


@functools.cache
def decision_rule(has_detector: bool, bits: int, fpr: float, prefix: str = "") -> str:
    """How a method decides "marked": its own detector, or a bit threshold."""
    if has_detector:
        return f"{prefix}p <= {fpr:g}"
    return f">= {binomial_threshold(bits, fpr)}/{bits} bits"


def binomial_threshold(n: int, fpr: float) -> int:
    """Fewest matching bits out of ``n`` whose chance under a fair coin is <= fpr.

    Returns ``n + 1`` when even all ``n`` bits matching is not that unlikely
    (n < 20 for fpr 1e-6): such a payload can never be claimed at that rate.
    """
    for k in range(n + 1):
        if binomial_tail(n, k) <= fpr:
            return k
    return n + 1


# -- what the harness asks of every method ----------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    """What a method read back from one image.

    Attributes:
        bits: the payload bits it decoded (after error correction where the
            method has some), or None when it could not decode anything.
        present: its own detector's verdict; None for methods without one
            (``has_detector`` false: the harness then applies the binomial
            rule, see :func:`is_present`).
        ecc_ok: whether the bits passed the method's error-correcting code;
            None for methods without one.
        p_value, score: the detector's statistic, when it has one.
    """

    bits: Bits | None
    present: bool | None = None
    ecc_ok: bool | None = None
    p_value: float | None = None
    score: float | None = None


class Method(Protocol):
    """One watermarking method as the harness drives it.

    ``index`` names the corpus image, so a method may embed a different
    payload in every image (deepguard does; the peers embed one fixed string).
    """

    name: str
    bits: int
    has_detector: bool

    def embed(self, rgb: RGB, index: int) -> RGB: ...

    def expected(self, index: int) -> Bits: ...

    def read(self, rgb: RGB) -> Reading: ...


def is_present(method: Method, reading: Reading, index: int, fpr: float) -> bool:
    """The method's detector verdict, else the binomial rule on matching bits."""
    if method.has_detector:
        return bool(reading.present)
    if reading.bits is None:
        return False
    expected = method.expected(index)
    if len(reading.bits) != len(expected):
        return False
    matches = int(np.sum(np.asarray(reading.bits, np.uint8) == expected))
    return matches >= binomial_threshold(len(expected), fpr)
