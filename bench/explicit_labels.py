"""Explicit-label detection: OCR recall on compliant labels, accuracy on others.

What it measures. ``--n`` images carry a compliant label (a phrase with both
GB elements, glyph height 5.5-12 % of the shortest side, on a random corner
or edge), drawn either as deepguard renders it (text on a translucent box) or
in the outlined, box-less style many platforms use; backgrounds are busy
(smooth noise, gradients, shapes, text clutter and, when ../shared/data is
present, real photos) and every image is re-encoded as JPEG quality 70.
Another ``--n`` images are non-compliant in one of four ways: a 3 % label on
an edge (expected ``too_small``), a compliant-size label in the middle
(``wrong_position``), "Made with AI"-style notices without the generation
element (``incomplete``) and no label at all, with decoy words such as
"AIR", "MAIL" and "生成器" (``absent``). ``--videos`` short clips have the
label on the opening frames for 2-3 s (expected ``compliant``, rendered with
deepguard's video renderer) or 0.5-1.5 s (``too_short``).

The peer is plain RapidOCR with a substring test for the reference phrases
and no geometry, the obvious way to "check for a label"; it sees exactly the
same OCR output. A second row shows deepguard judging height by the OCR box
instead of the glyph pixels, to show what the pixel measurement buys.

Everything is generated from ``--seed``: tune on one seed, report others.

Run:  .venv/bin/python bench/explicit_labels.py [--n 200] [--videos 20] [--seed 0]

Prints a table and writes bench/out/explicit_labels.json.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from rich.console import Console
from rich.table import Table

from deepguard.labels.explicit._geometry import EDGE_POSITIONS, classify_position
from deepguard.labels.explicit.detect_visual import (
    DetectOptions,
    ImageLabelReport,
    detect_image,
    detect_video_file,
)
from deepguard.labels.explicit.fonts import FontChoice, covers, find_font, load_font
from deepguard.labels.explicit.ocr import OcrBox, OcrEngine
from deepguard.labels.explicit.phrases import LABEL_PHRASES, STRICT_LABEL_PHRASES
from deepguard.labels.explicit.render_image import (
    POSITIONS,
    InvalidLabelStyle,
    LabelStyle,
    draw_label,
    fit_font_size,
    paint_notice,
)
from deepguard.labels.explicit.render_video import VideoLabelStyle, render_video_file

REPO = Path(__file__).resolve().parents[1]
JSON_OUT = REPO / "bench" / "out" / "explicit_labels.json"
SHARED_PHOTOS = (REPO / ".." / "shared" / "data").resolve()

SIZES = [
    (640, 480),
    (800, 600),
    (1024, 768),
    (1280, 720),
    (1920, 1080),
    (1080, 1080),
    (720, 1280),
    (480, 640),
    (1600, 1200),
    (1080, 1920),
]
CLUTTER = [
    "新品上市",
    "限时优惠",
    "欢迎光临",
    "北京欢迎你",
    "咖啡",
    "智能家居",
    "生成器",
    "合成器",
    "人工",
    "SALE 50%",
    "OPEN",
    "AIR",
    "MAIL",
    "Aid station",
    "Paris 2024",
    "camera",
    "generation",
    "HELLO",
    "2024-05-01",
    "No. 7",
]
INCOMPLETE = ["Made with AI", "Created with AI", "AI制作", "由AI创作"]
VARIANTS = ["too_small", "wrong_position", "incomplete", "absent"]
DEEPGUARD_LATIN = [
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"),
]


# --- generation ---------------------------------------------------------------


@dataclass
class Fonts:
    """The fonts labels are drawn with: every CJK face found, plus Latin ones."""

    cjk: list[FontChoice]
    latin: list[FontChoice]

    @classmethod
    def discover(cls) -> Fonts:
        base = find_font()
        cjk = [base]
        second = FontChoice(base.path, 1)
        try:
            if covers(second, "人工智能生成合成AI"):
                cjk.append(second)
        except OSError:
            pass
        latin = [FontChoice(p) for p in DEEPGUARD_LATIN if p.is_file()]
        return cls(cjk=cjk, latin=latin)

    def pick(self, rng: np.random.Generator, text: str) -> FontChoice:
        pool = self.cjk + (self.latin if text.isascii() else [])
        return pool[int(rng.integers(len(pool)))]

    @property
    def names(self) -> list[str]:
        return [f"{f.path.name}#{f.index}" for f in self.cjk + self.latin]


def photo_pool() -> list[Path]:
    if not SHARED_PHOTOS.is_dir():
        return []
    return sorted(
        p
        for p in SHARED_PHOTOS.rglob("*")
        if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.stat().st_size > 20_000
    )


def rand_colour(rng: np.random.Generator, alpha: int | None = None) -> tuple[int, ...]:
    rgb = tuple(int(v) for v in rng.integers(0, 256, 3))
    return rgb if alpha is None else (*rgb, alpha)


def background(
    rng: np.random.Generator, size: tuple[int, int], photos: list[Path], fonts: Fonts
) -> Image.Image:
    """A busy picture: photo or synthetic base, shapes, noise and text clutter."""
    w, h = size
    kind = rng.choice(
        ["photo", "field", "gradient"] if photos else ["field", "gradient"]
    )
    if kind == "photo":
        with Image.open(photos[int(rng.integers(len(photos)))]) as im:
            base = im.convert("RGB")
        scale = max(w / base.width, h / base.height) * float(rng.uniform(1.0, 1.6))
        base = base.resize(
            (math.ceil(base.width * scale), math.ceil(base.height * scale))
        )
        x = int(rng.integers(0, base.width - w + 1))
        y = int(rng.integers(0, base.height - h + 1))
        img = base.crop((x, y, x + w, y + h))
    elif kind == "field":
        cell = int(rng.integers(6, 64))
        small = rng.integers(0, 256, (max(2, h // cell), max(2, w // cell), 3))
        img = Image.fromarray(small.astype(np.uint8)).resize((w, h), Image.BICUBIC)
    else:
        a, b = np.array(rand_colour(rng)), np.array(rand_colour(rng))
        angle = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:h, 0:w]
        t = (xx * math.cos(angle) + yy * math.sin(angle)) / math.hypot(w, h)
        t = (t - t.min()) / max(1e-6, float(np.ptp(t)))
        arr = a[None, None, :] * (1 - t[..., None]) + b[None, None, :] * t[..., None]
        img = Image.fromarray(arr.astype(np.uint8))
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for _ in range(int(rng.integers(5, 40))):
        x0, y0 = int(rng.integers(-w // 4, w)), int(rng.integers(-h // 4, h))
        x1 = x0 + int(rng.integers(10, max(11, w // 3)))
        y1 = y0 + int(rng.integers(10, max(11, h // 3)))
        colour = rand_colour(rng, int(rng.integers(60, 256)))
        shape = rng.choice(["ellipse", "rect", "line", "poly"])
        if shape == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == "rect":
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        elif shape == "line":
            draw.line((x0, y0, x1, y1), fill=colour, width=int(rng.integers(1, 12)))
        else:
            pts = [(int(rng.integers(0, w)), int(rng.integers(0, h))) for _ in range(5)]
            draw.polygon(pts, fill=colour)
    img = Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")
    shortest = min(w, h)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(2, 10))):
        word = CLUTTER[int(rng.integers(len(CLUTTER)))]
        font = load_font(
            fonts.pick(rng, word), int(shortest * rng.uniform(0.025, 0.09))
        )
        xy = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        draw.text(xy, word, font=font, fill=rand_colour(rng))
    noise = float(rng.uniform(0, 12))
    if noise > 1:
        arr = np.asarray(img).astype(np.int16) + rng.normal(0, noise, (h, w, 3)).astype(
            np.int16
        )
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.0))))
    return img


def draw_outlined(
    img: Image.Image,
    text: str,
    font: FontChoice,
    height_px: int,
    position: str | tuple[int, int],
    margin: int,
    rng: np.random.Generator,
    *,
    check_position: bool = True,
) -> None:
    """Box-less label: light text with a dark outline and drop shadow.

    Like deepguard's renderer, refuses a named position whose label would
    reach the middle of the picture (``check_position``).
    """
    size, bbox = fit_font_size(font, text, height_px)
    pil_font = load_font(font, size)
    stroke = max(1, round(height_px * 0.07))
    tw, th = bbox[2] - bbox[0] + 2 * stroke, bbox[3] - bbox[1] + 2 * stroke
    w, h = img.size
    if isinstance(position, tuple):
        x, y = position
    else:
        v, _, hz = position.partition("-")
        if not hz and v in ("left", "right"):
            v, hz = "middle", v
        x = {"left": margin, "": (w - tw) // 2, "right": w - margin - tw}[hz]
        y = {"top": margin, "middle": (h - th) // 2, "bottom": h - margin - th}[v]
    if tw > w or th > h:
        raise InvalidLabelStyle("does not fit")
    if (
        check_position
        and classify_position((x, y, x + tw, y + th), w, h) not in EDGE_POSITIONS
    ):
        raise InvalidLabelStyle("crosses the middle")
    fill = (255, 255, 255) if rng.random() < 0.7 else (255, 230, 0)
    origin = (x + stroke - bbox[0], y + stroke - bbox[1])
    draw = ImageDraw.Draw(img)
    shadow = max(1, stroke)
    draw.text(
        (origin[0] + shadow, origin[1] + shadow), text, font=pil_font, fill=(0, 0, 0)
    )
    draw.text(
        origin,
        text,
        font=pil_font,
        fill=fill,
        stroke_width=stroke,
        stroke_fill=(0, 0, 0),
    )


def label_compliant(
    rng: np.random.Generator,
    img: Image.Image,
    fonts: Fonts,
    phrases: Sequence[str],
    *,
    ratio_range: tuple[float, float] = (0.055, 0.12),
    positions: Sequence[str] = POSITIONS,
) -> dict[str, Any]:
    """Draw a compliant label, retrying with shorter phrases if it does not fit."""
    shortest = min(img.size)
    for _ in range(50):
        text = phrases[int(rng.integers(len(phrases)))]
        ratio = float(rng.uniform(*ratio_range))
        position = positions[int(rng.integers(len(positions)))]
        font = fonts.pick(rng, text)
        style_kind = "box" if rng.random() < 0.6 else "outline"
        try:
            if style_kind == "box":
                dark = rng.random() < 0.75
                style = LabelStyle(
                    text=text,
                    position=position,  # type: ignore[arg-type]
                    height_ratio=ratio,
                    margin_ratio=float(rng.uniform(0.005, 0.04)),
                    padding_ratio=float(rng.uniform(0.15, 0.5)),
                    text_rgba=(255, 255, 255, 255) if dark else (0, 0, 0, 255),
                    box_rgba=(
                        (0, 0, 0, int(rng.integers(110, 230)))
                        if dark
                        else (255, 255, 255, int(rng.integers(150, 240)))
                    ),
                    font=font,
                )
                draw_label(img, style)
            else:
                draw_outlined(
                    img,
                    text,
                    font,
                    math.ceil(ratio * shortest),
                    position,
                    round(rng.uniform(0.005, 0.04) * shortest),
                    rng,
                )
        except InvalidLabelStyle:
            continue
        return {"text": text, "ratio": ratio, "position": position, "style": style_kind}
    raise RuntimeError("could not place a label")


def label_variant(
    rng: np.random.Generator, img: Image.Image, fonts: Fonts, variant: str
) -> dict[str, Any]:
    """Draw one non-compliant variant; returns its ground truth."""
    w, h = img.size
    shortest = min(w, h)
    if variant == "absent":
        return {"text": None}
    if variant == "incomplete":
        return label_compliant(rng, img, fonts, INCOMPLETE)
    for _ in range(50):
        text = STRICT_LABEL_PHRASES[int(rng.integers(len(STRICT_LABEL_PHRASES)))]
        font = fonts.pick(rng, text)
        if variant == "too_small":
            ratio = 0.03
            position: Any = POSITIONS[int(rng.integers(len(POSITIONS)))]
        else:
            ratio = float(rng.uniform(0.055, 0.12))
            _, bbox = fit_font_size(font, text, math.ceil(ratio * shortest))
            pad = round(0.3 * ratio * shortest)
            bw, bh = bbox[2] - bbox[0] + 2 * pad, bbox[3] - bbox[1] + 2 * pad
            jitter = 0.05
            cx = w / 2 + rng.uniform(-jitter, jitter) * w
            cy = h / 2 + rng.uniform(-jitter, jitter) * h
            position = (int(cx - bw / 2), int(cy - bh / 2))
        height_px = max(1, math.ceil(ratio * shortest))
        try:
            if rng.random() < 0.6:
                paint_notice(
                    img,
                    text,
                    font=font,
                    text_height_px=height_px,
                    position=position,
                    margin_px=round(0.02 * shortest),
                    padding_px=max(1, round(0.3 * height_px)),
                )
            else:
                draw_outlined(
                    img,
                    text,
                    font,
                    height_px,
                    position,
                    round(0.02 * shortest),
                    rng,
                    check_position=False,
                )
        except InvalidLabelStyle:
            continue
        return {"text": text, "ratio": ratio, "position": str(position)}
    raise RuntimeError("could not place a label")


def jpeg_q70(img: Image.Image) -> np.ndarray:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))


# --- judging ------------------------------------------------------------------


class RecordingEngine(OcrEngine):
    """The shared OCR engine, also keeping each call's lines for the peer."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[OcrBox]] = []

    def read(self, image: Any, *, bgr: bool = False) -> list[OcrBox]:
        boxes = super().read(image, bgr=bgr)
        self.calls.append(boxes)
        return boxes


_PEER_NEEDLES = [p.lower().replace(" ", "") for p in LABEL_PHRASES]


def peer_status(boxes: Sequence[OcrBox]) -> str:
    """Plain OCR + substring: compliant when any reference phrase is read."""
    for box in boxes:
        text = box.text.lower().replace(" ", "")
        if any(n in text for n in _PEER_NEEDLES):
            return "compliant"
    return "absent"


def box_height_status(report: ImageLabelReport) -> str:
    """deepguard's rules, but with the OCR box height as the text height."""
    shortest = min(report.width, report.height)
    opts = report.options
    best: tuple[int, float] | None = None
    status = "absent"
    for hit in report.hits:
        failures = [f for f in hit.failures if f != "too_small"]
        ratio = hit.box_height_px / shortest
        if ratio < opts.min_height_ratio * (1 - opts.tolerance):
            failures.append("too_small")
        order = ["incomplete", "too_small", "wrong_position"]
        failures.sort(key=order.index)
        key = (len(failures), -ratio)
        if best is None or key < best:
            best = key
            status = failures[0] if failures else "compliant"
    return status


@dataclass
class Tally:
    """Outcomes of one group of cases for the three judges."""

    expected: str
    n: int = 0
    ours: int = 0
    ours_binary: int = 0
    peer_binary: int = 0
    box_only: int = 0
    box_only_binary: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    """How the deciding hit's text height was measured (glyph ink or OCR box)."""

    def add(self, ours: str, peer: str, box: str) -> None:
        positive = self.expected == "compliant"
        self.n += 1
        self.statuses[ours] += 1
        self.ours += ours == self.expected
        self.ours_binary += (ours == "compliant") == positive
        self.peer_binary += (peer == "compliant") == positive
        self.box_only += box == self.expected
        self.box_only_binary += (box == "compliant") == positive


def pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f}%" if n else "-"


# --- runs ---------------------------------------------------------------------


def run_images(
    rng: np.random.Generator,
    n: int,
    fonts: Fonts,
    photos: list[Path],
    engine: RecordingEngine,
    failures: list[dict[str, Any]],
    dump: Path | None = None,
) -> tuple[dict[str, Tally], list[float], dict[str, Tally], list[float]]:
    tallies: dict[str, Tally] = {"compliant": Tally("compliant")}
    by_style: dict[str, Tally] = defaultdict(lambda: Tally("compliant"))
    for v in VARIANTS:
        tallies[v] = Tally(v)
    ms: list[float] = []
    height_errors: list[float] = []
    cases = [("compliant", i) for i in range(n)] + [
        (VARIANTS[i % len(VARIANTS)], i) for i in range(n)
    ]
    for expected, i in cases:
        size = SIZES[int(rng.integers(len(SIZES)))]
        img = background(rng, size, photos, fonts)
        if expected == "compliant":
            truth = label_compliant(rng, img, fonts, STRICT_LABEL_PHRASES)
        else:
            truth = label_variant(rng, img, fonts, expected)
        pixels = jpeg_q70(img)
        report = detect_image(pixels, engine=engine)
        ms.append(report.ocr_ms)
        ours, peer = report.status, peer_status(engine.calls[-1])
        box = box_height_status(report)
        tallies[expected].add(ours, peer, box)
        if report.best is not None:
            tallies[expected].sources[report.best.height_source] += 1
        if expected == "compliant":
            by_style[truth["style"]].add(ours, peer, box)
            if truth["style"] == "box" and report.best is not None:
                drawn = math.ceil(truth["ratio"] * min(size))
                height_errors.append(report.best.height_px / drawn - 1)
        if ours != expected:
            if dump is not None:
                dump.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels).save(dump / f"{expected}-{i}.png")
            best = report.best
            failures.append(
                {
                    "case": i,
                    "expected": expected,
                    "got": ours,
                    "size": size,
                    "truth": truth,
                    "best": best.to_dict() if best else None,
                    "ocr": [b.text for b in engine.calls[-1]][:12],
                }
            )
    return tallies, ms, dict(by_style), height_errors


def write_clip(
    path: Path,
    rng: np.random.Generator,
    fonts: Fonts,
    photos: list[Path],
    *,
    seconds: float,
    fps: int,
    size: tuple[int, int],
    label_s: float | None,
) -> dict[str, Any]:
    """A panning busy clip; a label on frames before ``label_s`` if given."""
    w, h = size
    canvas = background(rng, (w + 200, h + 60), photos, fonts)
    truth: dict[str, Any] = {}
    placement: list[Any] = []
    if label_s is not None:
        probe = canvas.crop((0, 0, w, h))
        for _ in range(50):
            text = STRICT_LABEL_PHRASES[int(rng.integers(len(STRICT_LABEL_PHRASES)))]
            pos = POSITIONS[int(rng.integers(len(POSITIONS)))]
            style = LabelStyle(
                text=text,
                position=pos,
                height_ratio=float(rng.uniform(0.06, 0.1)),
                font=fonts.pick(rng, text),
            )
            try:
                draw_label(probe.copy(), style)
            except InvalidLabelStyle:
                continue
            placement.append(style)
            truth = {"text": text, "position": pos, "label_s": label_s}
            break
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        frames = round(seconds * fps)
        for k in range(frames):
            x = int(200 * k / max(1, frames - 1))
            y = int(30 + 30 * math.sin(k / 10))
            frame_img = canvas.crop((x, y, x + w, y + h))
            if placement and k / fps < (label_s or 0) - 1e-9:
                draw_label(frame_img, placement[0])
            frame = av.VideoFrame.from_ndarray(np.asarray(frame_img), format="rgb24")
            frame.pts = k
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return truth


def run_videos(
    rng: np.random.Generator,
    count: int,
    fonts: Fonts,
    photos: list[Path],
    engine: RecordingEngine,
    failures: list[dict[str, Any]],
) -> tuple[dict[str, Tally], list[float], list[float]]:
    tallies = {"compliant": Tally("compliant"), "too_short": Tally("too_short")}
    seconds: list[float] = []
    errors: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(count):
            expected = "compliant" if i % 2 == 0 else "too_short"
            fps = int(rng.choice([24, 25, 30]))
            size = (640, 360) if rng.random() < 0.7 else (360, 640)
            path = Path(tmp) / f"clip{i}.mp4"
            if expected == "compliant":
                plain = Path(tmp) / f"plain{i}.mp4"
                write_clip(
                    plain,
                    rng,
                    fonts,
                    photos,
                    seconds=4,
                    fps=fps,
                    size=size,
                    label_s=None,
                )
                opening = float(rng.uniform(2.0, 3.0))
                text = STRICT_LABEL_PHRASES[
                    int(rng.integers(len(STRICT_LABEL_PHRASES)))
                ]
                if len(text) > 8 and size[0] < size[1]:
                    text = "AI生成"
                style = VideoLabelStyle(
                    opening=LabelStyle(
                        text=text,
                        position=POSITIONS[int(rng.integers(len(POSITIONS)))],
                        height_ratio=float(rng.uniform(0.06, 0.1)),
                        font=fonts.pick(rng, text),
                    ),
                    opening_s=opening,
                )
                render_video_file(plain, path, style=style)
                true_s = math.ceil(opening * fps - 1e-9) / fps
            else:
                label_s = float(rng.uniform(0.5, 1.5))
                write_clip(
                    path,
                    rng,
                    fonts,
                    photos,
                    seconds=4,
                    fps=fps,
                    size=size,
                    label_s=label_s,
                )
                true_s = math.ceil(label_s * fps - 1e-9) / fps
            before = len(engine.calls)
            started = time.perf_counter()
            report = detect_video_file(path, engine=engine)
            seconds.append(time.perf_counter() - started)
            first = engine.calls[before] if len(engine.calls) > before else []
            peer = peer_status(first)
            tallies[expected].add(report.status, peer, report.status)
            if report.opening_capped:
                # Measured up to the end of the opening window only.
                errors.append(max(0.0, report.opening_visible_s - true_s))
            else:
                errors.append(abs(report.opening_visible_s - true_s))
            if report.status != expected:
                failures.append(
                    {
                        "video": i,
                        "expected": expected,
                        "got": report.status,
                        "true_s": true_s,
                        "visible_s": report.opening_visible_s,
                        "samples": [
                            (round(s.timestamp, 2), s.report.status)
                            for s in report.samples
                        ],
                    }
                )
    return tallies, seconds, errors


# --- output -------------------------------------------------------------------


def table_rows(tallies: dict[str, Tally], videos: dict[str, Tally]) -> list[list[str]]:
    rows: list[list[str]] = []
    comp = tallies["compliant"]
    rows.append(
        [
            "images: compliant (recall)",
            str(comp.n),
            pct(comp.ours, comp.n),
            pct(comp.box_only, comp.n),
            pct(comp.peer_binary, comp.n),
        ]
    )
    neg = [tallies[v] for v in VARIANTS]
    n_neg = sum(t.n for t in neg)
    rows.append(
        [
            "images: non-compliant, not passed (precision)",
            str(n_neg),
            pct(sum(t.ours_binary for t in neg), n_neg),
            pct(sum(t.box_only_binary for t in neg), n_neg),
            pct(sum(t.peer_binary for t in neg), n_neg),
        ]
    )
    rows.append(
        [
            "images: non-compliant, exact status",
            str(n_neg),
            pct(sum(t.ours for t in neg), n_neg),
            pct(sum(t.box_only for t in neg), n_neg),
            "-",
        ]
    )
    for v in VARIANTS:
        t = tallies[v]
        rows.append(
            [
                f"  {v}",
                str(t.n),
                pct(t.ours, t.n),
                pct(t.box_only, t.n),
                pct(t.peer_binary, t.n) + " (not passed)",
            ]
        )
    for name, t in videos.items():
        rows.append(
            [
                f"videos: {name}",
                str(t.n),
                pct(t.ours, t.n),
                "-",
                pct(t.peer_binary, t.n) + " (first frame)",
            ]
        )
    return rows


HEADERS = [
    "cases",
    "n",
    "deepguard",
    "deepguard, OCR box height",
    "peer: OCR + substring",
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="images per class")
    parser.add_argument("--videos", type=int, default=20, help="video clips")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=JSON_OUT)
    parser.add_argument(
        "--dump", type=Path, default=None, help="save misjudged images here"
    )
    args = parser.parse_args(argv)
    console = Console()
    rng = np.random.default_rng(args.seed)
    fonts = Fonts.discover()
    photos = photo_pool()
    engine = RecordingEngine()
    failures: list[dict[str, Any]] = []
    started = time.perf_counter()
    tallies, ms, by_style, height_errors = run_images(
        rng, args.n, fonts, photos, engine, failures, args.dump
    )
    videos, video_s, video_err = run_videos(
        rng, args.videos, fonts, photos, engine, failures
    )
    wall = time.perf_counter() - started
    rows = table_rows(tallies, videos)
    table = Table(title=f"Explicit label detection (seed {args.seed})")
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    notes = [
        f"OCR: mean {statistics.mean(ms):.0f} ms/image, median "
        f"{statistics.median(ms):.0f} ms ({engine.threads} threads)",
        (
            f"video: mean {statistics.mean(video_s):.2f} s/clip (4 s clips); "
            f"opening time error mean {statistics.mean(video_err):.3f} s, "
            f"max {max(video_err):.3f} s"
        )
        if video_s
        else "video: none",
        (
            "measured/drawn text height - 1 (box style): median "
            f"{100 * statistics.median(height_errors):+.1f}%, 5th-95th pct "
            f"{100 * float(np.percentile(height_errors, 5)):+.1f}% .. "
            f"{100 * float(np.percentile(height_errors, 95)):+.1f}%"
        )
        if height_errors
        else "no height errors",
        "recall by style: "
        + ", ".join(f"{k} {pct(t.ours, t.n)} of {t.n}" for k, t in by_style.items()),
        "text height measured on glyph pixels (else OCR box): "
        + ", ".join(
            f"{k} {pct(t.sources['ink'] + t.sources['glyphs'], t.sources.total())}"
            for k, t in tallies.items()
            if t.sources
        ),
        f"fonts: {', '.join(fonts.names)}; real photos: {len(photos)}",
        f"wall time {wall:.0f} s; {platform.processor() or platform.machine()}",
    ]
    for note in notes:
        console.print(note)
    result = {
        "seed": args.seed,
        "n": args.n,
        "videos": args.videos,
        "headers": HEADERS,
        "rows": rows,
        "notes": notes,
        "options": DetectOptions().to_dict(),
        "statuses": {k: dict(t.statuses) for k, t in {**tallies, **videos}.items()},
        "failures": failures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
